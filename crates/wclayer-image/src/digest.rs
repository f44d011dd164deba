//! SHA-256 digests (`sha256:` and 64 lowercase hexadecimal digits), chain IDs, and the
//! readers that hash and verify what passes through them.

use std::fmt;
use std::io::{self, Read, Write};

use sha2::Digest as _;

/// A SHA-256 content digest, `sha256:<64 lowercase hex digits>`: the only form accepted, so
/// a digest can name a file (`blobs/sha256/<hex>`) without any path reaching elsewhere.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a digest ({why}; expected sha256: and 64 lowercase hexadecimal digits)")]
pub struct DigestError {
    text: String,
    why: &'static str,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`.
    ///
    /// # Errors
    /// Any other algorithm, length, or character (upper case, `/`, `..`, ...).
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let err = |why| DigestError {
            text: s.chars().take(100).collect(),
            why,
        };
        let (alg, hex) = s.split_once(':').ok_or_else(|| err("no algorithm"))?;
        if alg != "sha256" {
            return Err(err("not sha256"));
        }
        if hex.len() != 64 {
            return Err(err("not 64 digits"));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err("not lowercase hexadecimal"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex, &mut out).map_err(|_| err("not hexadecimal"))?;
        Ok(Digest(out))
    }

    /// The digest of `bytes`.
    #[must_use]
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(sha2::Sha256::digest(bytes).into())
    }

    /// The digest a finished hasher holds.
    #[must_use]
    pub fn from_hasher(h: sha2::Sha256) -> Digest {
        Digest(h.finalize().into())
    }

    /// The raw 32 bytes.
    #[must_use]
    pub fn from_bytes(b: [u8; 32]) -> Digest {
        Digest(b)
    }

    /// The 64 hexadecimal digits (a file name in `blobs/sha256/`).
    #[must_use]
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The chain ID of a layer (OCI image spec, "ChainID"): its diffID for the bottom layer,
    /// else `sha256(ChainID(parent) + " " + DiffID)` over the `sha256:<hex>` strings.
    #[must_use]
    pub fn chain(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
        match parent {
            None => *diff_id,
            Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

/// Hashes (SHA-256) and counts what is written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hash: sha2::Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Hashes what goes to `inner`.
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hash: sha2::Sha256::new(),
            len: 0,
        }
    }

    /// The writer, and the digest and length of everything written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hash), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        self.len = self.len.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a blob while checking it against its descriptor: more bytes than `size` fail at
/// once, and at its end a length other than `size` or a digest other than `digest` fails
/// (`InvalidData`, naming both digests). Without an expected digest (a `docker save` layer
/// file), the digest is only computed.
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: R,
    hash: sha2::Sha256,
    len: u64,
    expected: Option<Digest>,
    size: u64,
    /// Set once the end was reached and checked.
    checked: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// Checks `inner` against `expected` (when known) and `size`.
    pub fn new(inner: R, expected: Option<Digest>, size: u64) -> VerifyingReader<R> {
        VerifyingReader {
            inner,
            hash: sha2::Sha256::new(),
            len: 0,
            expected,
            size,
            checked: false,
        }
    }

    /// Bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.len
    }

    /// The blob's digest once its end was read and it matched, else `None`.
    pub fn verified(&self) -> Option<Digest> {
        self.checked.then(|| Digest::from_hasher(self.hash.clone()))
    }

    /// Reads what is left, checks it, and returns the blob's digest.
    ///
    /// # Errors
    /// A read error, or a size or digest that does not match.
    pub fn finish(mut self) -> io::Result<Digest> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(Digest::from_hasher(self.hash))
    }

    fn check_end(&mut self) -> io::Result<()> {
        if self.checked {
            return Ok(());
        }
        if self.len != self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the blob has {} bytes, its descriptor says {}",
                    self.len, self.size
                ),
            ));
        }
        let got = Digest::from_hasher(self.hash.clone());
        if let Some(want) = self.expected
            && got != want
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the blob is corrupt: its content has digest {got}, its descriptor says {want}"
                ),
            ));
        }
        self.checked = true;
        Ok(())
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.check_end()?;
            return Ok(0);
        }
        self.len = self.len.saturating_add(n as u64);
        if self.len > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the blob is longer than the {} bytes its descriptor says",
                    self.size
                ),
            ));
        }
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digests_are_only_sha256_and_64_lowercase_hex() {
        assert_eq!(Digest::parse(EMPTY).unwrap(), Digest::of(b""));
        assert_eq!(Digest::of(b"").to_string(), EMPTY);
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
            "sha256:../../../../etc/passwd",
            "sha256:../e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b78/2b855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\0",
            " sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            let e = Digest::parse(bad).unwrap_err();
            assert!(e.to_string().contains("is not a digest"), "{bad:?}: {e}");
        }
    }

    /// The chain IDs of the OCI image spec's example scheme, computed by hand.
    #[test]
    fn chain_ids_follow_the_image_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        assert_eq!(Digest::chain(None, &a), a);
        let ab = Digest::chain(Some(&a), &b);
        assert_eq!(ab, Digest::of(format!("{a} {b}").as_bytes()));
        assert_ne!(ab, Digest::chain(Some(&b), &a));
    }

    #[test]
    fn verifying_reader_refuses_a_wrong_size_or_digest() {
        let data = b"hello blob".to_vec();
        let d = Digest::of(&data);
        let ok = VerifyingReader::new(&data[..], Some(d), 10);
        assert_eq!(ok.finish().unwrap(), d);
        let short = VerifyingReader::new(&data[..], Some(d), 11).finish();
        assert!(short.unwrap_err().to_string().contains("10 bytes"));
        let long = VerifyingReader::new(&data[..], Some(d), 9).finish();
        assert!(long.unwrap_err().to_string().contains("longer than"));
        let wrong = VerifyingReader::new(&data[..], Some(Digest::of(b"x")), 10).finish();
        assert!(wrong.unwrap_err().to_string().contains("corrupt"));
        let unknown = VerifyingReader::new(&data[..], None, 10).finish().unwrap();
        assert_eq!(unknown, d);
    }

    proptest! {
        #[test]
        fn digest_text_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let d = Digest::from_bytes(bytes);
            prop_assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        }

        #[test]
        fn parse_never_panics_and_accepts_only_the_canonical_form(s in "\\PC{0,80}") {
            if let Ok(d) = Digest::parse(&s) {
                prop_assert_eq!(d.to_string(), s);
            }
        }

        #[test]
        fn verifying_reader_accepts_exactly_its_blob(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            flip in any::<usize>(),
        ) {
            let d = Digest::of(&data);
            let len = data.len() as u64;
            prop_assert_eq!(VerifyingReader::new(&data[..], Some(d), len).finish().unwrap(), d);
            if !data.is_empty() {
                let mut bad = data.clone();
                let i = flip % bad.len();
                bad[i] ^= 1;
                prop_assert!(VerifyingReader::new(&bad[..], Some(d), len).finish().is_err());
            }
        }
    }
}
