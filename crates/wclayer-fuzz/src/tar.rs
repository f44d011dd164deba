//! The target of the streaming tar reader of `wclayer-tar`.

use std::io::Read;

use wclayer_tar::archive::{ArchiveOptions, ArchiveReader, TarHeader};
use wclayer_testtools::io::ShortReader;

use crate::util::{Fnv, hash};

/// Small limits: what a hostile archive can make the reader hold or produce stays small.
pub(crate) fn small_limits(max_sparse_logical_size: u64) -> ArchiveOptions {
    let mut o = ArchiveOptions::default();
    o.max_pax_size = 64 << 10;
    o.max_global_records = 16 << 10;
    o.max_long_name = 64 << 10;
    o.max_sparse_entries = 4096;
    o.max_sparse_logical_size = max_sparse_logical_size;
    o
}

/// Logical data read per archive at most; past it, entries are skipped unread.
const READ_CAP: u64 = 32 << 20;

/// One entry as read: its header, how much data was read and its hash, and whether the
/// data read to its end.
#[derive(Debug, PartialEq, Eq)]
struct Read1 {
    header: TarHeader,
    len: u64,
    digest: u64,
    complete: bool,
}

/// Everything a pass over an archive saw.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    entries: Vec<Read1>,
    /// `None` at a clean end, else the error's text.
    error: Option<String>,
}

/// Reads every entry and its data (within [`READ_CAP`]) and checks the reader's own
/// invariants along the way.
fn read_archive(r: impl Read, input_len: u64) -> Outcome {
    let mut a = ArchiveReader::with_options(r, small_limits(16 << 20));
    let mut out = Outcome {
        entries: Vec::new(),
        error: None,
    };
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let mut last_header: Option<u64> = None;
    loop {
        let header = match a.next_entry() {
            Ok(Some(h)) => h,
            Ok(None) => {
                assert!(a.next_entry().is_ok_and(|h| h.is_none()), "the end stays");
                assert!(a.offset() <= input_len, "never past the input");
                return out;
            }
            Err(e) => {
                let text = e.to_string();
                let again = a.next_entry().expect_err("errors are sticky");
                assert_eq!(again.to_string(), text, "the same error again");
                let on_read = a
                    .read_data(&mut buf)
                    .expect_err("errors are sticky for reads");
                assert_eq!(on_read.to_string(), text, "the same error on read");
                out.error = Some(text);
                return out;
            }
        };
        assert!(a.offset() <= input_len, "never past the input");
        assert!(
            header.header_offset < a.offset(),
            "an entry's headers are behind the reader"
        );
        if let Some(last) = last_header {
            assert!(header.header_offset > last, "entries in archive order");
        }
        last_header = Some(header.header_offset);

        let mut len = 0u64;
        let mut digest = Fnv::default();
        let mut complete = false;
        while total < READ_CAP {
            let want = buf
                .len()
                .min(usize::try_from(READ_CAP - total).unwrap_or(buf.len()));
            match a.read_data(&mut buf[..want]) {
                Ok(0) => {
                    complete = true;
                    break;
                }
                Ok(n) => {
                    assert!(n <= want, "no read past the buffer");
                    len += n as u64;
                    total += n as u64;
                    digest.update(&buf[..n]);
                }
                Err(_) => break,
            }
        }
        if complete {
            let expected = if header.is_header_only() {
                0
            } else {
                u64::try_from(header.size).expect("a negative size is refused")
            };
            assert_eq!(len, expected, "an entry's data has the size of its header");
            assert_eq!(a.read_data(&mut buf).ok(), Some(0), "the end of data stays");
        }
        out.entries.push(Read1 {
            header,
            len,
            digest: digest.value(),
            complete,
        });
    }
}

/// `wclayer_tar::archive::ArchiveReader` over `data`, with small limits (PAX and long-name
/// bodies of at most 64 KiB, 16 KiB of global records, 4096 sparse entries, sparse files of
/// at most 16 MiB): every entry and its data read, at most 32 MiB of data per archive.
///
/// Asserts: the data of every entry read to its end has the size its header gives (none for
/// header-only types); the reader never reads past the input, returns entries in archive
/// order with their headers behind it, and repeats its end and its first error (sticky,
/// for `next_entry` and for reads); reading through a reader that returns short reads and
/// `Interrupted` gives the same entries, data and error.
pub fn tar_reader(data: &[u8]) {
    let len = data.len() as u64;
    let plain = read_archive(data, len);
    let short = read_archive(ShortReader::new(data, hash(data)), len);
    assert_eq!(plain, short, "short reads give the same archive");
}
