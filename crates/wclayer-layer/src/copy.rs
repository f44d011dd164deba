//! [`copy_layer`]: the one loop between a reader and a writer.

use std::collections::HashMap;

use crate::{Entry, Error, LayerPath, LayerReader, LayerWriter};

/// Bytes moved per read of a stream.
const COPY_BUFFER: usize = 256 << 10;

/// Copies the rest of the reader's current stream into the writer's current entry, with
/// both sides' errors typed.
fn copy_stream(
    r: &mut dyn LayerReader,
    w: &mut dyn LayerWriter,
    buf: &mut [u8],
) -> Result<u64, Error> {
    let mut total = 0u64;
    loop {
        let n = r.read_stream(buf)?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            return Ok(total);
        };
        w.write_stream(chunk)?;
        total = total.saturating_add(n as u64);
    }
}

/// What [`copy_layer`] did. The counts are statistics: they saturate rather than fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Entries added with their stream.
    pub files: u64,
    /// Names added as hard links.
    pub links: u64,
    /// Tombstones.
    pub tombstones: u64,
    /// Backup-stream bytes copied.
    pub stream_bytes: u64,
}

/// Copies every entry of `r` into `w`, then closes `w` (not `r`).
///
/// Hard links are detected as hcsshim's export does (`pkg/ociwclayer/export.go`): a file
/// whose [`crate::LinkInfo`] reports more than one link is added the first time its file id
/// is seen; later names with the same id become [`LayerWriter::add_link`] to that first
/// name, and their stream is not read.
///
/// # Errors
/// The first error of the reader or the writer; the writer is then not closed (dropping
/// it discards its output).
pub fn copy_layer(r: &mut dyn LayerReader, w: &mut dyn LayerWriter) -> Result<CopyStats, Error> {
    let mut stats = CopyStats::default();
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut first_names: HashMap<[u8; 16], LayerPath> = HashMap::new();
    while let Some(entry) = r.next()? {
        match entry {
            Entry::Tombstone { name } => {
                w.remove(&name)?;
                stats.tombstones = stats.tombstones.saturating_add(1);
            }
            Entry::File { name, info, .. } => {
                let li = r.link_info()?;
                if li.number_of_links > 1 {
                    if let Some(target) = first_names.get(&li.file_id.file_id) {
                        w.add_link(&name, target)?;
                        stats.links = stats.links.saturating_add(1);
                        continue;
                    }
                    first_names.insert(li.file_id.file_id, name.clone());
                }
                w.add(&name, &info)?;
                stats.files = stats.files.saturating_add(1);
                let copied = copy_stream(r, w, &mut buf)?;
                stats.stream_bytes = stats.stream_bytes.saturating_add(copied);
            }
        }
    }
    w.close()?;
    Ok(stats)
}
