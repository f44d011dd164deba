//! Layer tars: [`verify_tar`] reads the headers leniently and checks that exporting the
//! imported layer gives back the same bytes (docs/verify.md, "How a tar is read").

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};
use wclayer_layer::{Limits, MemLayer, WalkMode, upcase_key};
use wclayer_tar::archive::{ArchiveReader, TarHeader};
use wclayer_tar::pax;

use super::rules::components;
use super::{
    Finding, Item, ItemKind, LayerKind, Options, ParentNames, Rule, Verifier, VerifyError,
    digest_string, expected_digest, read_err,
};

/// A reader that copies everything it reads into a spool file and a digest.
struct Tee<R> {
    inner: R,
    spool: BufWriter<File>,
    hash: Sha256,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        self.spool.write_all(got)?;
        self.hash.update(got);
        Ok(n)
    }
}

/// The rule item of one tar header that is not an alternate data stream.
fn tar_item(hdr: &TarHeader) -> Item {
    let trimmed = hdr.name.trim_end_matches('/');
    let (dir, base) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
    let has_sd = match hdr.record(pax::MSWINDOWS_RAWSD) {
        Some(raw) => !raw.is_empty(),
        None => hdr.record(pax::MSWINDOWS_SD).is_some_and(|s| !s.is_empty()),
    };
    let attributes = hdr
        .record(pax::MSWINDOWS_FILEATTR)
        .and_then(|v| pax::parse_fileattr(v.as_bytes()).ok())
        .unwrap_or(if hdr.typeflag == b'5' { 0x10 } else { 0 });
    let (name, kind) = if let Some(removed) = base.strip_prefix(".wh.") {
        let name = if dir.is_empty() {
            removed.to_string()
        } else {
            format!("{dir}/{removed}")
        };
        (name, ItemKind::Tombstone)
    } else if hdr.typeflag == b'1' {
        (
            hdr.name.clone(),
            ItemKind::Link {
                target: hdr.linkname.clone(),
            },
        )
    } else if hdr.typeflag == b'2' {
        (
            hdr.name.clone(),
            ItemKind::Symlink {
                target: hdr.linkname.replace('/', "\\"),
                mount_point: hdr.record(pax::MSWINDOWS_MOUNTPOINT).is_some(),
            },
        )
    } else if attributes & 0x10 != 0 {
        (hdr.name.clone(), ItemKind::Directory)
    } else {
        (hdr.name.clone(), ItemKind::File)
    };
    Item {
        name,
        kind,
        has_security_descriptor: has_sd,
        data_size: if hdr.typeflag == b'0' {
            u64::try_from(hdr.size).unwrap_or(0)
        } else {
            0
        },
        alternate_streams: 0,
    }
}

/// The entry an error message of the layer model names (they read `NAME: why`).
fn named_in(msg: &str) -> String {
    msg.split_once(": ")
        .map_or(msg, |(n, _)| n)
        .replace('\\', "/")
}

/// Verifies a layer tar (uncompressed) read from `r`, over `parents` when given.
///
/// The tar is read once: its headers are checked leniently (a name the layer model would
/// refuse is a finding), and its bytes are copied to a spool file, which is then imported
/// into a [`MemLayer`] and exported again to a second spool file; the first byte where the
/// two differ names the entry that is not a fixed point. File contents only pass through
/// (memory stays bounded by the number of names); the spool files take about three times
/// the tar's size on disk while this runs.
///
/// # Errors
/// [`VerifyError::Read`] when the input cannot be read or is not a tar, or goes over
/// `options.limits`; [`VerifyError::BadDigest`].
pub fn verify_tar(
    r: impl Read,
    parents: Option<ParentNames>,
    options: &Options,
) -> Result<Vec<Finding>, VerifyError> {
    let expected = options
        .diff_id
        .as_deref()
        .map(expected_digest)
        .transpose()?;
    let spool = tempfile::tempfile().map_err(|e| read_err("cannot create a spool file", e))?;
    let mut archive = ArchiveReader::new(Tee {
        inner: r,
        spool: BufWriter::new(spool),
        hash: Sha256::new(),
    });
    let mut budget = options.limits.budget();
    let mut items: Vec<Item> = Vec::new();
    // Where each entry starts in the tar, for naming the first byte an export changes.
    let mut starts: Vec<(u64, String)> = Vec::new();
    // The name of the last entry that gathers `NAME:stream` entries, and its item.
    let mut owner: Option<(String, usize)> = None;
    let mut inferred_delta = parents.is_some();
    while let Some(hdr) = archive
        .next_entry()
        .map_err(|e| read_err("cannot read the tar", e))?
    {
        budget
            .entry(&hdr.name)
            .map_err(|e| read_err("the tar goes over a limit", e))?;
        starts.push((
            hdr.header_offset,
            hdr.name.trim_end_matches('/').to_string(),
        ));
        if let Some((prefix, idx)) = &owner
            && hdr.typeflag == b'0'
            && hdr.name.strip_prefix(prefix.as_str()).is_some()
        {
            if let Some(it) = items.get_mut(*idx) {
                it.alternate_streams = it.alternate_streams.saturating_add(1);
            }
            continue;
        }
        let item = tar_item(&hdr);
        owner = match item.kind {
            ItemKind::Tombstone | ItemKind::Link { .. } => None,
            _ => Some((format!("{}:", hdr.name), items.len())),
        };
        if item.kind == ItemKind::Tombstone
            || components(&item.name)
                .is_ok_and(|c| c.first().is_some_and(|t| upcase_key(t) == "HIVES"))
        {
            inferred_delta = true;
        }
        items.push(item);
    }
    let mut tee = archive.into_inner();
    io::copy(&mut tee, &mut io::sink()).map_err(|e| read_err("cannot read the tar", e))?;
    let digest = digest_string(tee.hash);
    let mut spool = tee
        .spool
        .into_inner()
        .map_err(|e| read_err("cannot write a spool file", e.into_error()))?;
    let kind = options.kind.unwrap_or(if inferred_delta {
        LayerKind::Delta
    } else {
        LayerKind::Base
    });
    let mut v = Verifier::new(kind, parents);
    for it in &items {
        v.entry(it);
    }
    drop(items);
    if let Some(want) = expected
        && want != digest
    {
        v.push(Finding::new(
            Rule::DiffIdMismatch,
            "",
            format!("the tar's digest is {digest}, not {want}"),
        ));
    }
    fixed_point(&mut v, &mut spool, &starts, kind, &options.limits)?;
    Ok(v.finish())
}

/// Imports the spooled tar, exports it again and names the first entry whose bytes change.
fn fixed_point(
    v: &mut Verifier,
    spool: &mut File,
    starts: &[(u64, String)],
    kind: LayerKind,
    limits: &Limits,
) -> Result<(), VerifyError> {
    let spool_err = |e| read_err("cannot read the spool file", e);
    spool.seek(SeekFrom::Start(0)).map_err(spool_err)?;
    let mut layer = MemLayer::new();
    layer.set_walk_mode(Some(match kind {
        LayerKind::Base => WalkMode::Base,
        LayerKind::Delta => WalkMode::Delta,
    }));
    let refused = |v: &mut Verifier, e: &dyn fmt::Display| {
        // A refusal the rules already explain needs no second finding.
        if !v.has_errors() {
            let msg = e.to_string();
            v.push(Finding::new(
                Rule::ModelRefused,
                named_in(&msg),
                format!("wclayer cannot import or export this layer: {msg}"),
            ));
        }
    };
    if let Err(e) = wclayer_tar::import_tar_limited(
        &mut ArchiveReader::new(BufReader::new(&mut *spool)),
        &mut layer,
        limits,
    ) {
        refused(v, &e);
        return Ok(());
    }
    let out = tempfile::tempfile().map_err(|e| read_err("cannot create a spool file", e))?;
    let exported = layer
        .reader()
        .map_err(wclayer_tar::Error::from)
        .and_then(|mut r| wclayer_tar::export_tar(&mut r, BufWriter::new(out)));
    let mut out = match exported {
        Ok((w, _)) => w
            .into_inner()
            .map_err(|e| read_err("cannot write a spool file", e.into_error()))?,
        Err(e) => {
            refused(v, &e);
            return Ok(());
        }
    };
    spool.seek(SeekFrom::Start(0)).map_err(spool_err)?;
    out.seek(SeekFrom::Start(0)).map_err(spool_err)?;
    let Some(at) = first_difference(spool, &mut out).map_err(spool_err)? else {
        return Ok(());
    };
    let entry = starts
        .iter()
        .take_while(|(off, _)| *off <= at)
        .last()
        .map_or_else(|| "(end of archive)".to_string(), |(_, n)| n.clone());
    v.push(Finding::new(
        Rule::NotFixedPoint,
        entry,
        format!(
            "exported again, the tar differs from here on (byte {at}): its digest changes on export"
        ),
    ));
    Ok(())
}

/// The offset of the first byte where `a` and `b` differ (or one ends), if any.
fn first_difference(a: &mut File, b: &mut File) -> io::Result<Option<u64>> {
    let (mut ra, mut rb) = (BufReader::new(a), BufReader::new(b));
    let (mut ba, mut bb) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    let mut offset: u64 = 0;
    loop {
        let na = read_full(&mut ra, &mut ba)?;
        let nb = read_full(&mut rb, &mut bb)?;
        let (ca, cb) = (
            ba.get(..na).unwrap_or_default(),
            bb.get(..nb).unwrap_or_default(),
        );
        if let Some(i) = ca.iter().zip(cb).position(|(x, y)| x != y) {
            return Ok(Some(offset.saturating_add(i as u64)));
        }
        if na != nb {
            return Ok(Some(offset.saturating_add(na.min(nb) as u64)));
        }
        if na == 0 {
            return Ok(None);
        }
        offset = offset.saturating_add(na as u64);
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest)? {
            0 => break,
            k => n = n.saturating_add(k),
        }
    }
    Ok(n)
}
