//! [`ReportedSize`]: the size a layer reader reports for an entry (docs/layer-semantics.md §6.3).

use std::io::{Read, Seek};

use wclayer_backup::{BackupStreamReader, StreamAttributes, StreamHeader, StreamId};

/// The size the project's readers report for a non-directory entry, computed from its
/// backup-stream headers in order: the `Size` of the first `BACKUP_DATA` stream (0 without
/// one), except that a zero-length sparse data stream followed by sparse blocks reports the
/// offset of the terminating block, the file's logical size. (The reference reports 0
/// there, which makes an export drop the content; docs/compat.md.) Directories report 0
/// whatever their streams hold; that is the caller's rule.
///
/// Every reader (in-memory layer, layer directory, transport folder) uses this one rule, so
/// they report the same sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportedSize(State);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Looking,
    SparseData,
    Done(u64),
}

impl ReportedSize {
    /// Feeds the next sub-stream header.
    pub fn header(&mut self, id: StreamId, attributes: StreamAttributes, size: u64, offset: i64) {
        self.0 = match self.0 {
            State::Done(_) => return,
            State::Looking if id == StreamId::DATA => {
                if size == 0 && attributes.contains(StreamAttributes::SPARSE) {
                    State::SparseData
                } else {
                    State::Done(size)
                }
            }
            State::Looking => State::Looking,
            State::SparseData if id != StreamId::SPARSE_BLOCK => State::Done(0),
            State::SparseData if size == 0 => State::Done(u64::try_from(offset).unwrap_or(0)),
            State::SparseData => State::SparseData,
        };
    }

    /// Feeds a decoded header.
    pub fn stream_header(&mut self, h: &StreamHeader) {
        self.header(h.id, h.attributes, h.size, h.offset);
    }

    /// Whether later headers can no longer change the size.
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(self.0, State::Done(_))
    }

    /// The size so far (0 while undecided).
    #[must_use]
    pub fn value(&self) -> u64 {
        match self.0 {
            State::Done(n) => n,
            _ => 0,
        }
    }

    /// The size of a whole stream, reading only its headers (bodies are skipped by seeking).
    ///
    /// # Errors
    /// A malformed stream.
    pub fn of_stream<R: Read + Seek>(r: R) -> Result<u64, wclayer_backup::Error> {
        let mut size = ReportedSize::default();
        let mut br = BackupStreamReader::new(r);
        while !size.is_done() {
            match br.next_header_seek()? {
                Some(h) => size.stream_header(&h),
                None => break,
            }
        }
        Ok(size.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule() {
        let sparse = StreamAttributes::SPARSE;
        let none = StreamAttributes::NORMAL;
        let mut s = ReportedSize::default();
        s.header(StreamId::SECURITY_DATA, none, 52, 0);
        s.header(StreamId::DATA, none, 6, 0);
        s.header(StreamId::DATA, none, 9, 0);
        assert_eq!(s.value(), 6);

        let mut s = ReportedSize::default();
        s.header(StreamId::DATA, sparse, 0, 0);
        s.header(StreamId::SPARSE_BLOCK, sparse, 2, 0);
        assert!(!s.is_done());
        s.header(StreamId::SPARSE_BLOCK, sparse, 0, 16);
        assert_eq!(s.value(), 16);

        let mut s = ReportedSize::default();
        s.header(StreamId::DATA, sparse, 0, 0);
        s.header(StreamId::ALTERNATE_DATA, none, 3, 0);
        assert_eq!(s.value(), 0);
        assert_eq!(ReportedSize::default().value(), 0);
    }
}
