//! OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/`): read, and written so that
//! skopeo and umoci read them.
//!
//! A layout is written blob by blob into a staging directory beside `index.json`; the blobs
//! are renamed into `blobs/sha256/` (an existing blob of the same digest is kept: same
//! name, same content) after one `syncfs`, and `index.json` is replaced last, in one rename.
//! A failed or interrupted build leaves the layout as it was (a killed one leaves its staging
//! directory, removed by the next build into the same layout).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wclayer::crates::fs::{Dir, StagedDir, StagedFile, ambient_authority};

use crate::Error;
use crate::digest::{Digest, HashingWriter};
use crate::doc::{self, Descriptor, Index};
use crate::media;

/// The `oci-layout` file's content.
const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout, opened for reading.
#[derive(Debug)]
pub struct Layout {
    root: Dir,
    path: PathBuf,
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

impl Layout {
    /// Opens the layout in `path`: it must have an `oci-layout` file of version 1.
    ///
    /// # Errors
    /// When the directory cannot be opened or is no OCI image layout.
    pub fn open(path: &Path) -> Result<Layout, Error> {
        let shown = path.display();
        let root = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(|e| Error::io(format!("cannot open the OCI layout {shown}"), e))?;
        let file = match root.open_file("oci-layout") {
            Ok(f) => f,
            Err(e) if not_found(&e) => {
                return Err(Error::Invalid(format!(
                    "{shown} is not an OCI image layout (it has no oci-layout file)"
                )));
            }
            Err(e) => return Err(Error::io(format!("cannot open {shown}/oci-layout"), e)),
        };
        let what = format!("{shown}/oci-layout");
        doc::check_oci_layout(&doc::read_limited(file, &what)?, &what)?;
        Ok(Layout {
            root,
            path: path.to_path_buf(),
        })
    }

    /// The layout's directory, as given.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its `index.json`.
    ///
    /// # Errors
    /// When it is missing, too large or invalid.
    pub fn index(&self) -> Result<Index, Error> {
        let what = format!("{}/index.json", self.path.display());
        let f = self
            .root
            .open_file("index.json")
            .map_err(|e| Error::io(format!("cannot open {what}"), e))?;
        let bytes = doc::read_limited(f, &what)?;
        doc::parse_index(&bytes, None, &what)
    }

    /// The blob `d`, or `None` when the layout does not have it.
    ///
    /// # Errors
    /// When it exists and cannot be opened (or is no regular file).
    pub fn open_blob(&self, d: &Digest) -> Result<Option<File>, Error> {
        match self.root.open_file(blob_path(d)) {
            Ok(f) => Ok(Some(f)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(Error::io(
                format!("cannot open {}/{}", self.path.display(), blob_path(d)),
                e,
            )),
        }
    }

    /// The document `desc` points to, checked against its size and digest; `what` names it.
    ///
    /// # Errors
    /// When it is missing, larger than [`doc::MAX_DOCUMENT`], or does not match.
    pub fn read_document(&self, desc: &Descriptor, what: &str) -> Result<Vec<u8>, Error> {
        let f = self
            .open_blob(&desc.digest)?
            .ok_or_else(|| Error::Invalid(format!("{what} is missing from the layout")))?;
        doc::read_described(f, desc, what)
    }
}

/// `blobs/sha256/<hex>`.
#[must_use]
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// A layout being written: blobs first, `index.json` last ([`LayoutWriter::finish`]).
///
/// # Drop behaviour
/// Dropped unfinished, the blobs it staged are removed; blobs already moved into
/// `blobs/sha256/` stay (they are complete and verified, and nothing refers to them).
#[derive(Debug)]
pub struct LayoutWriter {
    root: Dir,
    path: PathBuf,
    blobs: Dir,
    staging: StagedDir,
    staged: Vec<(String, Digest)>,
    next: u64,
}

impl LayoutWriter {
    /// Opens the layout in `path` for writing, creating it (and `oci-layout`) when missing.
    ///
    /// # Errors
    /// When it cannot be created, or exists and is no OCI layout of version 1.
    pub fn create(path: &Path) -> Result<LayoutWriter, Error> {
        let shown = path.display();
        let ctx = |what: &str| format!("cannot {what} the OCI layout {shown}");
        Dir::create_ambient_dir_all(path, ambient_authority())
            .map_err(|e| Error::io(ctx("create"), e))?;
        let root = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(|e| Error::io(ctx("open"), e))?;
        match root.open_file("oci-layout") {
            Ok(_) => {
                Layout::open(path)?;
            }
            Err(e) if not_found(&e) => {
                if !root
                    .entries()
                    .map_err(|e| Error::io(ctx("list"), e))?
                    .is_empty()
                    && root.open_file("index.json").is_ok()
                {
                    return Err(Error::Invalid(format!(
                        "{shown} has an index.json but no oci-layout file: it is not an OCI layout"
                    )));
                }
                let mut f = StagedFile::create(&root, "oci-layout")
                    .map_err(|e| Error::io(ctx("write"), e))?;
                f.write_all(OCI_LAYOUT.as_bytes())
                    .and_then(|()| f.commit(true))
                    .map_err(|e| Error::io(ctx("write"), e))?;
            }
            Err(e) => return Err(Error::io(ctx("open"), e)),
        }
        for d in ["blobs", "blobs/sha256"] {
            match root.create_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(ctx("create blobs in"), e)),
            }
        }
        let blobs = root
            .open_dir("blobs/sha256")
            .map_err(|e| Error::io(ctx("open blobs in"), e))?;
        let staging =
            StagedDir::create(&root, "wclayer-build").map_err(|e| Error::io(ctx("stage in"), e))?;
        Ok(LayoutWriter {
            root,
            path: path.to_path_buf(),
            blobs,
            staging,
            staged: Vec::new(),
            next: 0,
        })
    }

    /// Whether the layout has the blob `d` already.
    #[must_use]
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blobs.metadata(d.hex()).is_ok_and(|m| m.is_file())
            || self.staged.iter().any(|(_, s)| s == d)
    }

    /// Writes a blob with what `produce` writes into it; returns its digest and size.
    ///
    /// # Errors
    /// The error of `produce`, or of writing.
    pub fn write_blob<E: From<Error>>(
        &mut self,
        produce: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    ) -> Result<(Digest, u64), E> {
        let name = format!("blob-{}", self.next);
        self.next = self.next.saturating_add(1);
        let ctx = || format!("cannot write a blob into {}", self.path.display());
        let file = self
            .staging
            .root()
            .create_file(&name)
            .map_err(|e| Error::io(ctx(), e))?;
        let mut w = HashingWriter::new(io::BufWriter::with_capacity(256 << 10, file));
        produce(&mut w)?;
        let (buf, digest, len) = w.finish();
        buf.into_inner()
            .map_err(io::IntoInnerError::into_error)
            .map_err(|e| Error::io(ctx(), e))?;
        self.staged.push((name, digest));
        Ok((digest, len))
    }

    /// Writes `bytes` as a blob; returns its digest and size.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(Digest, u64), Error> {
        self.write_blob(|w| {
            w.write_all(bytes)
                .map_err(|e| Error::io("cannot write a blob", e))
        })
    }

    /// Makes the new image visible: the staged blobs are flushed and moved into
    /// `blobs/sha256/`, then `index.json` gets `manifest` (with its annotations) tagged `tag`
    /// (replacing an entry with the same tag; the other entries are kept).
    ///
    /// # Errors
    /// When a blob cannot be moved or `index.json` is invalid or cannot be written.
    pub fn finish(self, manifest: &Descriptor, tag: &str) -> Result<(), Error> {
        let shown = self.path.display().to_string();
        let ctx = |what: &str| format!("cannot {what} in the OCI layout {shown}");
        self.staging
            .root()
            .sync_fs()
            .map_err(|e| Error::io(ctx("flush the blobs"), e))?;
        for (name, digest) in &self.staged {
            match self
                .staging
                .root()
                .rename_noreplace(name, &self.blobs, digest.hex())
            {
                Ok(()) => {}
                // The same digest: the same content, there already.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(ctx("move a blob"), e)),
            }
        }
        self.blobs
            .sync_all()
            .map_err(|e| Error::io(ctx("flush the blobs"), e))?;
        let what = format!("{shown}/index.json");
        let mut index = match self.root.open_file("index.json") {
            Ok(f) => {
                let bytes = doc::read_limited(f, &what)?;
                doc::parse_index(&bytes, None, &what)?;
                serde_json::from_slice::<Value>(&bytes)
                    .map_err(|e| Error::Invalid(format!("{what} is not valid: {e}")))?
            }
            Err(e) if not_found(&e) => json!({"schemaVersion": 2, "manifests": []}),
            Err(e) => return Err(Error::io(format!("cannot open {what}"), e)),
        };
        if let Some(obj) = index.as_object_mut() {
            obj.insert("mediaType".into(), json!(media::OCI_INDEX));
        }
        let mut annotations = manifest.annotations.clone();
        annotations.insert(media::REF_NAME.to_string(), tag.to_string());
        let mut entry = json!({
            "mediaType": manifest.media_type,
            "digest": manifest.digest.to_string(),
            "size": manifest.size,
            "annotations": annotations,
        });
        if let (Some(p), Some(obj)) = (&manifest.platform, entry.as_object_mut()) {
            obj.insert(
                "platform".into(),
                serde_json::to_value(p).unwrap_or(Value::Null),
            );
        }
        let list = index
            .get_mut("manifests")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| Error::Invalid(format!("{what} has no manifests list")))?;
        list.retain(|m| {
            m.pointer("/annotations/org.opencontainers.image.ref.name")
                .and_then(Value::as_str)
                != Some(tag)
        });
        list.push(entry);
        let bytes = serde_json::to_vec(&index)
            .map_err(|e| Error::Invalid(format!("cannot encode {what}: {e}")))?;
        let mut f = StagedFile::create(&self.root, "index.json")
            .map_err(|e| Error::io(format!("cannot write {what}"), e))?;
        f.write_all(&bytes)
            .and_then(|()| f.commit(true))
            .map_err(|e| Error::io(format!("cannot write {what}"), e))?;
        Ok(())
    }

    /// Copies `r` (a blob read from elsewhere, checked by the caller's reader) as a blob.
    ///
    /// # Errors
    /// When reading or writing fails.
    pub fn copy_blob(&mut self, r: &mut dyn Read, what: &str) -> Result<(Digest, u64), Error> {
        self.write_blob(|w| {
            io::copy(r, w)
                .map(drop)
                .map_err(|e| Error::io(format!("cannot copy {what}"), e))
        })
    }
}
