//! Layer directories: [`verify_layer_dir`] walks the metadata with the rules and compares
//! it with what is on disk (docs/verify.md, the `disk-*` rules).
//!
//! The layer directory is opened once, with ambient authority for the user's path only;
//! the reader, the export and every look at the disk go through that [`Dir`], relative to
//! it and without following a symbolic link (docs/architecture.md, "Every file-system call
//! through `wclayer-fs`"). A link planted inside the layer directory is an entry of the
//! wrong kind, never a way out.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};
use wclayer_backup::reparse::ReparsePoint;
use wclayer_fs::{Dir, FileType, Metadata, ambient_authority};
use wclayer_layer::{Entry, LayerReader, upcase_key};
use wclayer_store::LayerKind as StoreKind;

use super::{
    Finding, HashWriter, Item, ItemKind, LayerKind, Options, ParentNames, Rule, Verifier,
    VerifyError, digest_string, expected_digest, read_err,
};

/// Verifies the layer directory `path`, over `parents` when given: the rules for every
/// entry in walk order, then what is on disk against the metadata (missing files, sizes,
/// hard links broken on disk, files the metadata does not know) and, with
/// `options.diff_id`, the digest of its export.
///
/// # Errors
/// [`VerifyError::Read`] when the layer directory cannot be opened or walked;
/// [`VerifyError::BadDigest`].
pub fn verify_layer_dir(
    path: &Path,
    parents: Option<ParentNames>,
    options: &Options,
) -> Result<Vec<Finding>, VerifyError> {
    let expected = options
        .diff_id
        .as_deref()
        .map(expected_digest)
        .transpose()?;
    let what = || format!("cannot read layer {}", path.display());
    let root = Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| read_err(what(), e))?;
    let reader_root = root.try_clone().map_err(|e| read_err(what(), e))?;
    let mut traced = crate::new_layer_reader_in(reader_root, path, &options.limits)
        .map_err(|e| read_err(what(), e))?;
    let r = traced.get_mut();
    let info = r.layer_info();
    let kind = match info.kind {
        StoreKind::Base => LayerKind::Base,
        _ => LayerKind::Delta,
    };
    let mut v = Verifier::new(kind, parents);
    let mut on_disk: HashSet<String> = HashSet::new();
    // First visited name and on-disk identity of each hard-link group, by its first name.
    let mut groups: HashMap<String, (String, Option<(u64, u64)>)> = HashMap::new();
    while let Some(e) = r.next().map_err(|e| read_err(what(), e))? {
        let (name, size, attrs) = match e {
            Entry::Tombstone { name } => {
                v.entry(&Item {
                    name: name.as_str().to_string(),
                    kind: ItemKind::Tombstone,
                    has_security_descriptor: false,
                    data_size: 0,
                    alternate_streams: 0,
                });
                continue;
            }
            Entry::File { name, size, info } => (name, size, info.file_attributes),
            _ => continue,
        };
        let d = r.details().map_err(|e| read_err(what(), e))?;
        let shown = name.to_slash();
        let mut parts = d.disk_path.as_str();
        while !parts.is_empty() {
            on_disk.insert(parts.to_string());
            parts = parts.rsplit_once('/').map_or("", |(p, _)| p);
        }
        let reparse = d
            .reparse_buffer
            .as_deref()
            .and_then(|b| ReparsePoint::decode(b).ok());
        let group = d
            .names
            .first()
            .filter(|_| d.names.len() > 1)
            .map(|n| n.key());
        let meta = root.metadata(&d.disk_path);
        let ident = meta.as_ref().ok().map(|m| (m.dev, m.ino));
        let mut kind = match &reparse {
            Some(ReparsePoint::Symlink { target, .. }) => ItemKind::Symlink {
                target: target.clone(),
                mount_point: false,
            },
            Some(ReparsePoint::MountPoint { target }) => ItemKind::Symlink {
                target: target.clone(),
                mount_point: true,
            },
            _ if attrs.is_directory() => ItemKind::Directory,
            _ => ItemKind::File,
        };
        if let Some(g) = &group {
            match groups.get(g) {
                Some((first, first_ident)) => {
                    if ident.is_some() && *first_ident != ident {
                        v.push(Finding::new(
                            Rule::DiskLinks,
                            &shown,
                            format!("no longer the same file on disk as {first}, its hard link"),
                        ));
                    }
                    kind = ItemKind::Link {
                        target: first.clone(),
                    };
                }
                None => {
                    groups.insert(g.clone(), (shown.clone(), ident));
                }
            }
        }
        disk_entry(
            &mut v,
            &shown,
            &d.disk_path,
            &meta,
            &kind,
            reparse.is_some(),
            size,
        );
        v.entry(&Item {
            name: name.as_str().to_string(),
            kind,
            has_security_descriptor: d
                .security_descriptor
                .as_ref()
                .is_some_and(|s| !s.is_empty()),
            data_size: size,
            alternate_streams: d.alternate_streams.len() as u64,
        });
    }
    traced.close().map_err(|e| read_err(what(), e))?;
    let roots: &[&str] = match kind {
        LayerKind::Base => &["Files", "UtilityVM/Files"],
        LayerKind::Delta => &[""],
    };
    let skip_clone = kind == LayerKind::Delta && info.utility_vm_cloned;
    for start in roots {
        extra_files(&mut v, &root, start, &on_disk, skip_clone).map_err(|e| read_err(what(), e))?;
    }
    if let Some(want) = expected {
        let export_root = root.try_clone().map_err(|e| read_err(what(), e))?;
        let mut r = crate::new_layer_reader_in(export_root, path, &options.limits)
            .map_err(|e| read_err(what(), e))?;
        // The walk above read the whole layer: an export that fails now fails on what the
        // disk checks found (a file replaced by a symbolic link, which is never followed),
        // so it is a finding beside them, not a failure that would hide them.
        match wclayer_tar::export_tar(&mut r, HashWriter(Sha256::new())) {
            Ok((h, _)) => {
                r.close().map_err(|e| read_err(what(), e))?;
                let got = digest_string(h.0);
                if got != want {
                    v.push(Finding::new(
                        Rule::DiffIdMismatch,
                        path.display().to_string(),
                        format!("its export has the digest {got}, not {want}"),
                    ));
                }
            }
            Err(e) => v.push(Finding::new(
                Rule::DiffIdMismatch,
                path.display().to_string(),
                format!("its export fails ({e}), so it cannot have the digest {want}"),
            )),
        }
    }
    Ok(v.finish())
}

/// Compares one entry with the file that holds it on disk.
fn disk_entry(
    v: &mut Verifier,
    shown: &str,
    disk_path: &str,
    meta: &io::Result<Metadata>,
    kind: &ItemKind,
    reparse: bool,
    size: u64,
) {
    let m = match meta {
        Ok(m) => m,
        Err(e) => {
            v.push(Finding::new(
                Rule::DiskMissing,
                shown,
                format!("its file {disk_path} is missing from the layer directory ({e})"),
            ));
            return;
        }
    };
    let ft = m.file_type;
    let expected = match kind {
        ItemKind::Directory if !reparse => ft == FileType::Dir,
        _ if reparse => matches!(ft, FileType::Symlink | FileType::File),
        _ => ft == FileType::File,
    };
    if !expected {
        v.push(Finding::new(
            Rule::DiskMissing,
            shown,
            format!("{disk_path} on disk is not the kind of file the metadata records"),
        ));
        return;
    }
    if !reparse && ft == FileType::File && m.size != size {
        v.push(Finding::new(
            Rule::DiskSize,
            shown,
            format!(
                "{disk_path} has {} bytes on disk; the metadata records {size}",
                m.size
            ),
        ));
    }
}

/// Reports the files below `start` (a `/`-separated path in the layer directory `root`, `""`
/// for all of it) that no entry accounts for; `.wclayer` and, when `skip_clone`, the cloned
/// `UtilityVM/Files` are not looked at. Only real directories are listed: a known name that
/// is a symbolic link on disk (already a `disk-missing` finding of its entry) is never
/// followed, and `start` itself is skipped when it is no directory.
fn extra_files(
    v: &mut Verifier,
    root: &Dir,
    start: &str,
    known: &HashSet<String>,
    skip_clone: bool,
) -> io::Result<()> {
    if !start.is_empty() && !root.metadata(start).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let mut stack = vec![start.to_string()];
    while let Some(dir) = stack.pop() {
        let d = if dir.is_empty() {
            root.try_clone()?
        } else {
            root.open_dir(&dir)?
        };
        let mut names = d.entries()?;
        names.sort();
        for n in names {
            let rel = match n.to_str() {
                Some(s) if dir.is_empty() => s.to_string(),
                Some(s) => format!("{dir}/{s}"),
                None => {
                    let lossy = n.to_string_lossy();
                    let shown = if dir.is_empty() {
                        lossy.into_owned()
                    } else {
                        format!("{dir}/{lossy}")
                    };
                    v.push(Finding::new(
                        Rule::DiskExtra,
                        shown,
                        "a file whose name is not UTF-8, unknown to the layer's metadata; export ignores it",
                    ));
                    continue;
                }
            };
            if rel == ".wclayer" || (skip_clone && upcase_key(&rel) == "UTILITYVM/FILES") {
                continue;
            }
            if !known.contains(&rel) {
                v.push(Finding::new(
                    Rule::DiskExtra,
                    &rel,
                    "on disk but unknown to the layer's metadata; export ignores it",
                ));
                continue;
            }
            // Described without following it: a symbolic link is not descended into.
            if d.metadata(&n).is_ok_and(|m| m.is_dir()) {
                stack.push(rel);
            }
        }
    }
    Ok(())
}
