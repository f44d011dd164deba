//! `wclayer trace`: the layer-writer calls an import makes, one JSON object per line.

use std::io::{self, Write};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wclayer::backup::{FileBasicInfo, RawHeader, SplitVisitor, StreamId, StreamSplitter};
use wclayer::crates::layer::{Error, LayerPath, LayerWriter, MemLayer};
use wclayer::crates::tar::archive::ArchiveReader;

use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::open_input;

/// Arguments of `wclayer trace`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The layer tar (`.tar`, `.tar.gz` or `.tar.zst`; `-` for standard input).
    input: String,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let input = open_input(&a.input, a.limits.max_ratio)?;
    let out = io::BufWriter::new(crate::io::Stdout::new());
    let mut tracer = Tracer {
        out,
        current: None,
        model: MemLayer::without_streams(),
    };
    let mut archive = ArchiveReader::new(input);
    wclayer::crates::tar::import_tar_limited(&mut archive, &mut tracer, &a.limits.limits())
        .map_err(|e| with_hint(wclayer::Error::Tar(e)))
        .with_context(|| format!("cannot import {}", a.input))?;
    tracer.out.flush()?;
    Ok(())
}

/// A [`LayerWriter`] that prints every call instead of storing a layer. Each call is also
/// checked against the layer model (without keeping stream bytes), so a tar that no layer
/// can hold fails here as it fails in `convert`.
struct Tracer<W: Write> {
    out: W,
    current: Option<Added>,
    model: MemLayer,
}

/// The `add` being traced: its record is printed when its stream is complete.
struct Added {
    name: String,
    info: FileBasicInfo,
    hash: Sha256,
    len: u64,
    scan: DataSizeScan,
}

impl<W: Write> Tracer<W> {
    fn finish_current(&mut self) -> Result<(), Error> {
        let Some(a) = self.current.take() else {
            return Ok(());
        };
        let mut line = format!(
            "{{\"op\":\"add\",\"name\":{},\"size\":{},\"attributes\":{},\"creation_time\":{},\"last_access_time\":{},\"last_write_time\":{},\"change_time\":{},\"stream_len\":{},\"stream_sha256\":\"{}\"",
            json(&a.name),
            a.scan.data_size.unwrap_or(0),
            a.info.file_attributes.0,
            a.info.creation_time.0,
            a.info.last_access_time.0,
            a.info.last_write_time.0,
            a.info.change_time.0,
            a.len,
            hex::encode(a.hash.finalize()),
        );
        if let Some(bak) = wclayer::crates::tar::import::mutated_backup(&a.name.replace('/', "\\"))
        {
            line.push_str(&format!(",\"mutated_backup\":{}", json(bak)));
        }
        line.push('}');
        writeln!(self.out, "{line}")?;
        Ok(())
    }
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

/// Slash form of a name as the caller spelled it.
fn spelled(p: &LayerPath) -> String {
    p.original().replace('\\', "/")
}

impl<W: Write> LayerWriter for Tracer<W> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        self.finish_current()?;
        self.model.add(name, info)?;
        self.current = Some(Added {
            name: spelled(name),
            info: *info,
            hash: Sha256::new(),
            len: 0,
            scan: DataSizeScan::new(),
        });
        Ok(())
    }

    fn add_link(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), Error> {
        self.finish_current()?;
        self.model.add_link(name, target)?;
        writeln!(
            self.out,
            "{{\"op\":\"link\",\"name\":{},\"target\":{}}}",
            json(&spelled(name)),
            json(&spelled(target))
        )?;
        Ok(())
    }

    fn remove(&mut self, name: &LayerPath) -> Result<(), Error> {
        self.finish_current()?;
        self.model.remove(name)?;
        writeln!(
            self.out,
            "{{\"op\":\"remove\",\"name\":{}}}",
            json(&spelled(name))
        )?;
        Ok(())
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), Error> {
        let a = self.current.as_mut().ok_or(Error::NoEntry)?;
        a.len = a.len.checked_add(buf.len() as u64).ok_or_else(|| {
            let source = io::Error::new(
                io::ErrorKind::FileTooLarge,
                "backup stream longer than 2^64 bytes",
            );
            Error::io(a.name.as_str(), source)
        })?;
        a.hash.update(buf);
        a.scan.feed(buf);
        Ok(())
    }

    fn close(&mut self) -> Result<(), Error> {
        self.finish_current()?;
        self.model.close()
    }
}

impl<W: Write> Write for Tracer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_stream(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Finds the size of the first unnamed data stream in a backup stream fed in pieces, the
/// size hcsshim reports for an added file, with the one backup-stream splitter.
struct DataSizeScan {
    splitter: StreamSplitter,
    data_size: Option<u64>,
}

/// The visitor half of [`DataSizeScan`].
struct FirstData<'a>(&'a mut Option<u64>);

impl SplitVisitor for FirstData<'_> {
    type Error = std::convert::Infallible;
    fn header(&mut self, h: &RawHeader<'_>) -> Result<(), Self::Error> {
        if h.id() == StreamId::DATA && self.0.is_none() {
            *self.0 = Some(h.size());
        }
        Ok(())
    }
    fn body(&mut self, _: &[u8]) -> Result<(), Self::Error> {
        Ok(())
    }
    fn end(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl DataSizeScan {
    fn new() -> DataSizeScan {
        DataSizeScan {
            splitter: StreamSplitter::lenient(),
            data_size: None,
        }
    }

    fn feed(&mut self, buf: &[u8]) {
        if self.data_size.is_none() {
            // A lenient splitter accepts any bytes; the visitor cannot fail.
            let _ = self.splitter.feed(buf, &mut FirstData(&mut self.data_size));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_first_data_stream_across_pieces() {
        let mut s = Vec::new();
        // id 3, 4 bytes, no name
        s.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        s.extend_from_slice(b"abcd");
        // id 4 with a 2-byte name, 1 byte
        s.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
        s.extend_from_slice(b"n\0z");
        // id 1, 7 bytes
        s.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for chunk in [1, 3, 7, 64] {
            let mut scan = DataSizeScan::new();
            for piece in s.chunks(chunk) {
                scan.feed(piece);
            }
            assert_eq!(scan.data_size, Some(7), "chunk {chunk}");
        }
    }
}
