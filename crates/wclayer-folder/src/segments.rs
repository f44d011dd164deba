//! [`Segments`]: one entry's backup stream, assembled from pieces of memory and files.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// One piece of a stream.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    /// Bytes in memory.
    Mem(Arc<[u8]>),
    /// `len` bytes of `file` from `start`, read with `pread` (so several segments can share
    /// one open file).
    File {
        file: Arc<File>,
        start: u64,
        len: u64,
    },
}

impl Seg {
    fn len(&self) -> u64 {
        match self {
            Seg::Mem(b) => b.len() as u64,
            Seg::File { len, .. } => *len,
        }
    }
}

/// A read-only, seekable stream made of [`Seg`]s back to back: a transport file's stream
/// after its 4 attribute bytes, or a plain file's content spliced into its template.
#[derive(Debug, Default)]
pub(crate) struct Segments {
    segs: Vec<Seg>,
    /// The total length: fits in a `u64`, as does every file segment's `start + len`
    /// (checked by [`Segments::new`]), so positions inside the stream never overflow.
    len: u64,
    pos: u64,
}

impl Segments {
    /// The stream of `segs` back to back; `None` when its length or a file segment's end
    /// lies past 2^64 (the lengths come from file sizes and metadata records).
    pub(crate) fn new(segs: Vec<Seg>) -> Option<Segments> {
        let mut len = 0u64;
        for seg in &segs {
            if let Seg::File { start, len, .. } = seg {
                start.checked_add(*len)?;
            }
            len = len.checked_add(seg.len())?;
        }
        Some(Segments {
            segs: segs.into_iter().filter(|s| s.len() > 0).collect(),
            len,
            pos: 0,
        })
    }

    /// The total length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

impl Read for Segments {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // `start + len` never passes the total length, and `start <= pos` inside the loop, so
        // the saturating operations below are exact (see `Segments::len`).
        let mut start = 0u64;
        for seg in &self.segs {
            let len = seg.len();
            let end = start.saturating_add(len);
            if self.pos < end {
                let within = self.pos.saturating_sub(start);
                let want = usize::try_from(end.saturating_sub(self.pos))
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                let out = buf.get_mut(..want).unwrap_or_default();
                let n = match seg {
                    Seg::Mem(b) => {
                        let from = usize::try_from(within).unwrap_or(usize::MAX);
                        let src = b.get(from..from.saturating_add(want)).unwrap_or_default();
                        out.get_mut(..src.len())
                            .unwrap_or_default()
                            .copy_from_slice(src);
                        src.len()
                    }
                    Seg::File { file, start: s, .. } => {
                        let n = wclayer_fs::read_at(file, out, s.saturating_add(within))?;
                        if n == 0 && want > 0 {
                            // The file shrank under us: the stream cannot be completed.
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "folder file shorter than when it was opened",
                            ));
                        }
                        n
                    }
                };
                self.pos = self.pos.saturating_add(n as u64);
                return Ok(n);
            }
            start = end;
        }
        Ok(0)
    }
}

impl Seek for Segments {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len().checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_and_seeks_across_pieces() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789").unwrap();
        let f = Arc::new(f);
        let mut s = Segments::new(vec![
            Seg::Mem(Arc::from(&b"ab"[..])),
            Seg::File {
                file: f.clone(),
                start: 4,
                len: 3,
            },
            Seg::Mem(Arc::from(&b""[..])),
            Seg::File {
                file: f,
                start: 0,
                len: 2,
            },
        ])
        .unwrap();
        assert_eq!(s.len(), 7);
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"ab45601");
        s.seek(SeekFrom::Start(3)).unwrap();
        let mut two = [0u8; 2];
        s.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"56");
        assert_eq!(s.stream_position().unwrap(), 5);
        assert_eq!(s.seek(SeekFrom::End(-1)).unwrap(), 6);
        assert!(s.seek(SeekFrom::Current(-7)).is_err());
        s.seek(SeekFrom::Start(100)).unwrap();
        assert_eq!(s.read(&mut two).unwrap(), 0);
    }

    #[test]
    fn lengths_past_u64_are_refused() {
        let f = Arc::new(tempfile::tempfile().unwrap());
        let big = |start| Seg::File {
            file: f.clone(),
            start,
            len: u64::MAX / 2 + 1,
        };
        assert!(Segments::new(vec![big(0), big(0)]).is_none(), "total");
        assert!(
            Segments::new(vec![big(u64::MAX / 2 + 1)]).is_none(),
            "file end"
        );
        assert_eq!(Segments::new(vec![big(0)]).unwrap().len(), u64::MAX / 2 + 1);
    }
}
