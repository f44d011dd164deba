//! Reducing each entry of a layer to an [`EntrySummary`]: a [`LayerWriter`] that hashes
//! file data as it passes (docs/diff.md).

use std::collections::BTreeMap;
use std::io;

use sha2::{Digest, Sha256};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::{
    FileBasicInfo, RawHeader, SplitError, SplitVisitor, StreamAttributes, StreamId, StreamSplitter,
};
use wclayer_layer::{LayerPath, LayerReader, LayerWriter, copy_layer};

use super::{EntrySummary, Kind, StreamDigest};
use crate::Error;

/// Metadata bodies are small by format (a security descriptor, an EA chain of at most
/// 64 KiB, a reparse buffer of at most 16 KiB, docs/ea-reparse-sd.md); a larger one is
/// refused rather than buffered.
const METADATA_LIMIT: u64 = 16 << 20;

/// Reads every entry of `r` into `sink`.
pub(crate) fn read_layer(
    r: &mut dyn LayerReader,
    sink: &mut dyn FnMut(String, EntrySummary),
) -> Result<(), Error> {
    let mut c = Collector::new(sink);
    copy_layer(r, &mut c)?;
    Ok(())
}

/// A [`LayerWriter`] that reduces each entry to an [`EntrySummary`] and hands it to `sink`,
/// hashing file data as it passes.
pub(crate) struct Collector<'s> {
    sink: &'s mut dyn FnMut(String, EntrySummary),
    open: Option<(String, FileBasicInfo, StreamSplitter, Accum)>,
}

impl<'s> Collector<'s> {
    pub(crate) fn new(sink: &'s mut dyn FnMut(String, EntrySummary)) -> Collector<'s> {
        Collector { sink, open: None }
    }

    /// Hands on the open entry.
    fn flush(&mut self) -> Result<(), wclayer_layer::Error> {
        if let Some((name, info, mut split, mut acc)) = self.open.take() {
            split.finish(&mut acc).map_err(|e| split_error(&name, e))?;
            let s = acc.finish(info).map_err(|e| problem(&name, e))?;
            (self.sink)(name, s);
        }
        Ok(())
    }
}

impl LayerWriter for Collector<'_> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        self.flush()?;
        self.open = Some((
            name.to_slash(),
            *info,
            StreamSplitter::new(),
            Accum::default(),
        ));
        Ok(())
    }

    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        self.flush()?;
        let name = name.to_slash();
        let s = EntrySummary {
            kind: Kind::HardLink,
            hard_link: Some(target.to_slash()),
            ..EntrySummary::tombstone()
        };
        (self.sink)(name, s);
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        self.flush()?;
        (self.sink)(name.to_slash(), EntrySummary::tombstone());
        Ok(())
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        let Some((name, _, split, acc)) = &mut self.open else {
            return Err(wclayer_layer::Error::NoEntry);
        };
        split.feed(buf, acc).map_err(|e| split_error(name, e))
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        self.flush()
    }
}

impl io::Write for Collector<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_stream(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn split_error(name: &str, e: SplitError<String>) -> wclayer_layer::Error {
    match e {
        SplitError::Stream(source) => wclayer_layer::Error::Stream {
            name: name.to_string(),
            source,
        },
        SplitError::Visitor(what) => problem(name, what),
    }
}

/// An entry whose backup stream could not be summarised.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {what}")]
struct EntryProblem {
    name: String,
    what: String,
}

fn problem(name: &str, what: String) -> wclayer_layer::Error {
    wclayer_layer::Error::backend(EntryProblem {
        name: name.to_string(),
        what,
    })
}

/// What the current backup-stream body is being collected into.
enum Body {
    /// File data (the data stream or a sparse block).
    Data,
    /// A metadata stream, buffered.
    Meta(StreamId, Vec<u8>),
    /// An alternate data stream.
    Alternate(String, Sha256, u64),
    /// Anything else, skipped.
    Skip,
}

/// A [`SplitVisitor`] building one entry's summary from its backup stream.
#[derive(Default)]
pub(super) struct Accum {
    body: Option<Body>,
    /// Hash and logical position of the data stream.
    data: Option<(Sha256, u64)>,
    /// The logical size a sparse stream's last block declares.
    sparse_end: Option<u64>,
    sparse: bool,
    security_descriptor: Option<Vec<u8>>,
    extended_attributes: BTreeMap<String, StreamDigest>,
    streams: BTreeMap<String, StreamDigest>,
    reparse: Option<ReparsePoint>,
    other_streams: Vec<u32>,
}

/// Hashes `n` zero bytes (a hole of a sparse stream).
fn hash_zeros(h: &mut Sha256, mut n: u64) {
    const ZEROS: [u8; 8192] = [0; 8192];
    while n > 0 {
        let k = usize::try_from(n).unwrap_or(usize::MAX).min(ZEROS.len());
        h.update(ZEROS.get(..k).unwrap_or_default());
        n = n.saturating_sub(k as u64);
    }
}

impl Accum {
    fn data(&mut self) -> &mut (Sha256, u64) {
        self.data.get_or_insert_with(|| (Sha256::new(), 0))
    }

    pub(super) fn finish(mut self, info: FileBasicInfo) -> Result<EntrySummary, String> {
        let data = match self.data.take() {
            None => None,
            Some((mut h, pos)) => {
                let size = match self.sparse_end {
                    Some(end) if end > pos => {
                        hash_zeros(&mut h, end.saturating_sub(pos));
                        end
                    }
                    _ => pos,
                };
                Some(StreamDigest {
                    size,
                    sha256: h.finalize().into(),
                })
            }
        };
        let kind = match (&self.reparse, info.file_attributes.is_directory()) {
            (Some(ReparsePoint::MountPoint { .. }), _) => Kind::Junction,
            (Some(ReparsePoint::Symlink { .. }), true) => Kind::DirectorySymlink,
            (Some(ReparsePoint::Symlink { .. }), false) => Kind::Symlink,
            (Some(_), _) => Kind::Reparse,
            (None, true) => Kind::Directory,
            (None, false) => Kind::File,
        };
        Ok(EntrySummary {
            kind,
            info: Some(info),
            data,
            sparse: self.sparse,
            security_descriptor: self.security_descriptor,
            extended_attributes: self.extended_attributes,
            streams: self.streams,
            reparse: self.reparse,
            hard_link: None,
            other_streams: self.other_streams,
        })
    }
}

impl SplitVisitor for Accum {
    type Error = String;

    fn header(&mut self, h: &RawHeader<'_>) -> Result<(), String> {
        let id = h.id();
        self.body = Some(match id {
            StreamId::DATA => {
                self.sparse = h.attributes().contains(StreamAttributes::SPARSE);
                self.data();
                Body::Data
            }
            StreamId::SPARSE_BLOCK => {
                let offset = u64::try_from(h.offset())
                    .map_err(|_| format!("sparse block at negative offset {}", h.offset()))?;
                let (hash, pos) = self.data();
                if offset < *pos {
                    return Err(format!(
                        "sparse block at offset {offset} after data up to {pos}"
                    ));
                }
                hash_zeros(hash, offset.saturating_sub(*pos));
                *pos = offset;
                if h.size() == 0 {
                    self.sparse_end = Some(offset);
                }
                Body::Data
            }
            StreamId::SECURITY_DATA | StreamId::EA_DATA | StreamId::REPARSE_DATA => {
                if h.size() > METADATA_LIMIT {
                    return Err(format!(
                        "backup stream {id} of {} bytes is too large for metadata",
                        h.size()
                    ));
                }
                Body::Meta(id, Vec::new())
            }
            StreamId::ALTERNATE_DATA => {
                let name = h.name();
                let name = name.strip_suffix(":$DATA").unwrap_or(&name);
                let name = name.strip_prefix(':').unwrap_or(name).to_string();
                Body::Alternate(name, Sha256::new(), 0)
            }
            other => {
                self.other_streams.push(other.0);
                Body::Skip
            }
        });
        Ok(())
    }

    fn body(&mut self, bytes: &[u8]) -> Result<(), String> {
        match &mut self.body {
            Some(Body::Data) => {
                let (hash, pos) = self.data();
                hash.update(bytes);
                *pos = pos.saturating_add(bytes.len() as u64);
            }
            Some(Body::Meta(_, buf)) => buf.extend_from_slice(bytes),
            Some(Body::Alternate(_, hash, len)) => {
                hash.update(bytes);
                *len = len.saturating_add(bytes.len() as u64);
            }
            Some(Body::Skip) | None => {}
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), String> {
        match self.body.take() {
            Some(Body::Meta(StreamId::SECURITY_DATA, buf)) => self.security_descriptor = Some(buf),
            Some(Body::Meta(StreamId::EA_DATA, buf)) => {
                let eas = wclayer_backup::ea::decode(&buf)
                    .map_err(|e| format!("bad extended attributes: {e}"))?;
                for ea in eas {
                    self.extended_attributes.insert(
                        String::from_utf8_lossy(&ea.name).into_owned(),
                        StreamDigest {
                            size: ea.value.len() as u64,
                            sha256: Sha256::digest(&ea.value).into(),
                        },
                    );
                }
            }
            Some(Body::Meta(_, buf)) => {
                self.reparse = Some(
                    ReparsePoint::decode(&buf).map_err(|e| format!("bad reparse point: {e}"))?,
                );
            }
            Some(Body::Alternate(name, hash, size)) => {
                self.streams.insert(
                    name,
                    StreamDigest {
                        size,
                        sha256: hash.finalize().into(),
                    },
                );
            }
            Some(Body::Data | Body::Skip) | None => {}
        }
        Ok(())
    }
}
