//! [`StreamSummary`]: what one file's backup stream carries, for listings.

use std::io::Read;

use crate::ea::{self, ExtendedAttribute};
use crate::reparse::ReparsePoint;
use crate::{BackupStreamReader, Error, StreamAttributes, StreamId};

/// Metadata bodies are small by format (a security descriptor, an EA chain of at most
/// 64 KiB, a reparse buffer of at most 16 KiB); refuse to buffer more than this.
const METADATA_LIMIT: u64 = 16 << 20;

/// The decoded metadata of one backup stream and the sizes of its data streams. Data bodies
/// are skipped, never held in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// The raw self-relative security descriptor (the last `BACKUP_SECURITY_DATA`).
    pub security_descriptor: Option<Vec<u8>>,
    /// The extended attributes of every `BACKUP_EA_DATA` stream, in stream order.
    pub extended_attributes: Vec<ExtendedAttribute>,
    /// The reparse point, if the stream has one.
    pub reparse_point: Option<ReparsePoint>,
    /// Size of the unnamed data stream, if there is one (the logical size for a sparse file
    /// described by sparse blocks).
    pub data_size: Option<u64>,
    /// Whether the data stream is sparse.
    pub sparse: bool,
    /// Alternate data streams: name without the `:…:$DATA` decoration, and size.
    pub alternate_streams: Vec<(String, u64)>,
    /// Ids of the other streams (link, object id, ...), in order.
    pub other_streams: Vec<StreamId>,
}

/// Why a stream could not be summarised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SummaryError {
    /// The backup stream itself is malformed.
    #[error(transparent)]
    Stream(#[from] Error),
    /// An EA chain is malformed.
    #[error("bad extended attributes")]
    Ea(#[from] ea::Error),
    /// A reparse buffer is malformed.
    #[error("bad reparse point")]
    Reparse(#[from] crate::reparse::Error),
    /// A metadata stream is larger than any valid one.
    #[error("backup stream {id} of {size} bytes is too large for metadata")]
    TooLarge {
        /// The stream id.
        id: StreamId,
        /// Its declared size.
        size: u64,
    },
}

impl StreamSummary {
    /// Reads a whole backup stream.
    ///
    /// # Errors
    /// A malformed stream, EA chain or reparse buffer.
    pub fn read(r: impl Read) -> Result<StreamSummary, SummaryError> {
        let mut s = StreamSummary::default();
        let mut br = BackupStreamReader::new(r);
        while let Some(h) = br.next_header()? {
            let mut body = || -> Result<Vec<u8>, SummaryError> {
                if h.size > METADATA_LIMIT {
                    return Err(SummaryError::TooLarge {
                        id: h.id,
                        size: h.size,
                    });
                }
                let mut buf = Vec::new();
                (&mut br)
                    .take(h.size)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::Io {
                        offset: 0,
                        source: e,
                    })?;
                Ok(buf)
            };
            match h.id {
                StreamId::SECURITY_DATA => s.security_descriptor = Some(body()?),
                StreamId::EA_DATA => s.extended_attributes.extend(ea::decode(&body()?)?),
                StreamId::REPARSE_DATA => s.reparse_point = Some(ReparsePoint::decode(&body()?)?),
                StreamId::DATA => {
                    s.sparse = h.attributes.contains(StreamAttributes::SPARSE);
                    s.data_size.get_or_insert(h.size);
                }
                StreamId::SPARSE_BLOCK if h.size == 0 => {
                    // The terminating block's offset is the logical size.
                    s.data_size = Some(u64::try_from(h.offset).unwrap_or(0));
                }
                StreamId::SPARSE_BLOCK => {}
                StreamId::ALTERNATE_DATA => {
                    let name = h.name.strip_suffix(":$DATA").unwrap_or(&h.name);
                    let name = name.strip_prefix(':').unwrap_or(name);
                    s.alternate_streams.push((name.to_string(), h.size));
                }
                other => s.other_streams.push(other),
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackupStreamWriter, StreamHeader};
    use std::io::Write;

    #[test]
    fn summarises_the_annotated_vector() {
        // docs/backup-stream.md §7
        let bytes = hex::decode("030000000000000034000000000000000000000001000080140000002400000000000000000000000102000000000005200000002102000001020000000000052000000021020000010000000000000006000000000000000000000068656c6c6f0a04000000000000000100000000000000160000003a007a006f006e0065003a00240044004100540041007a02000000000000001000000000000000000000000000000000030300464f4f0062617200").unwrap();
        let s = StreamSummary::read(&bytes[..]).unwrap();
        assert_eq!(s.security_descriptor.as_ref().map(Vec::len), Some(52));
        assert_eq!(s.data_size, Some(6));
        assert_eq!(s.alternate_streams, [("zone".to_string(), 1)]);
        assert_eq!(s.extended_attributes.len(), 1);
        assert_eq!(s.extended_attributes[0].name, b"FOO");
        assert!(s.reparse_point.is_none() && !s.sparse && s.other_streams.is_empty());
    }

    #[test]
    fn sparse_logical_size_and_errors() {
        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader {
            attributes: StreamAttributes::SPARSE,
            ..StreamHeader::new(StreamId::DATA, 0)
        })
        .unwrap();
        w.write_header(&StreamHeader::sparse_block(3, 1)).unwrap();
        w.write_all(b"x").unwrap();
        w.write_header(&StreamHeader::sparse_block(16, 0)).unwrap();
        let s = StreamSummary::read(&w.finish().unwrap()[..]).unwrap();
        assert_eq!((s.data_size, s.sparse), (Some(16), true));

        let mut w = BackupStreamWriter::new(Vec::new());
        w.write_header(&StreamHeader::new(StreamId::EA_DATA, 3))
            .unwrap();
        w.write_all(b"bad").unwrap();
        assert!(StreamSummary::read(&w.finish().unwrap()[..]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes: Vec<u8>) {
            let _ = StreamSummary::read(&bytes[..]);
        }
    }
}
