//! Pushing an image from an OCI layout to a registry: every blob the registry has already
//! skipped (`HEAD`), blobs mounted from another repository of the same registry when one is
//! named, the rest uploaded (one `PUT`, or `PATCH` chunks for a blob larger than the chunk
//! size), then the config and the manifests, and the index (if the tag names one) last.

use std::io::Read;
use std::path::Path;

use crate::Error;
use crate::digest::{Digest, VerifyingReader};
use crate::doc::{self, Descriptor};
use crate::layout::Layout;
use crate::media;
use crate::registry::{Client, RegistryOptions, RegistryRef};
use crate::source::tagged;

/// How [`push`] uploads.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// A repository of the same registry to mount blobs from (`--mount-from`).
    pub mount_from: Option<String>,
    /// Blobs larger than this are uploaded in `PATCH` chunks of this size.
    pub chunk_size: u64,
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions {
            mount_from: None,
            chunk_size: 16 << 20,
        }
    }
}

/// What happened to one blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobAction {
    /// The registry had it: skipped.
    Exists,
    /// Mounted from that repository.
    Mounted(String),
    /// Uploaded, in that many requests (1: one `PUT`).
    Uploaded(u64),
    /// A foreign layer the layout does not hold: left at its urls.
    Foreign,
}

/// A blob of the pushed image.
#[derive(Clone, Debug)]
pub struct PushedBlob {
    /// Its descriptor's media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// What was done.
    pub action: BlobAction,
}

/// A pushed image.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// The digest of the manifest (or index) the tag now names.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// Manifests pushed (more than one below an index).
    pub manifests: usize,
    /// The blobs, in the order they were pushed.
    pub blobs: Vec<PushedBlob>,
}

/// Pushes the image tagged `tag` (or the only one) of the layout `dir` to `dest`.
/// `progress` is told about each blob when it is done.
///
/// # Errors
/// A layout that does not hold the image or one of its blobs, a blob whose digest does not
/// match, a registry that refuses; the message names the image and the blob.
pub fn push(
    dir: &Path,
    tag: Option<&str>,
    dest: &RegistryRef,
    opts: &RegistryOptions,
    popts: &PushOptions,
    progress: &mut dyn FnMut(&PushedBlob),
) -> Result<Pushed, Error> {
    let name = match tag {
        Some(t) => format!("oci:{}:{t}", dir.display()),
        None => format!("oci:{}", dir.display()),
    };
    let layout = Layout::open(dir)?;
    let top = tagged(&layout, &name, tag)?;
    let mut scopes = vec![format!("repository:{}:pull,push", dest.repository)];
    let mount_from = popts
        .mount_from
        .clone()
        .filter(|from| *from != dest.repository);
    if let Some(from) = &mount_from {
        scopes.push(format!("repository:{from}:pull"));
    }
    let client = Client::connect(dest, opts, scopes).map_err(|e| e.context(&dest.to_string()))?;
    let reference = dest
        .tag
        .clone()
        .or_else(|| dest.digest.map(|d| d.to_string()))
        .unwrap_or_else(|| "latest".to_string());
    let mut p = Pusher {
        layout: &layout,
        client: &client,
        dest,
        name: &name,
        mount_from: mount_from.as_deref(),
        chunk: popts.chunk_size.max(1),
        blobs: Vec::new(),
        manifests: 0,
        progress,
    };
    let (bytes, digest) = p.push_document(&top, &reference, 0)?;
    if let Some(d) = dest.digest
        && d != digest
    {
        return Err(Error::Invalid(format!(
            "{name} has digest {digest}, the destination names {d}"
        )));
    }
    Ok(Pushed {
        digest,
        media_type: top.media_type.clone(),
        size: bytes.len() as u64,
        manifests: p.manifests,
        blobs: p.blobs,
    })
}

struct Pusher<'a> {
    layout: &'a Layout,
    client: &'a Client,
    dest: &'a RegistryRef,
    name: &'a str,
    mount_from: Option<&'a str>,
    chunk: u64,
    blobs: Vec<PushedBlob>,
    manifests: usize,
    progress: &'a mut dyn FnMut(&PushedBlob),
}

impl Pusher<'_> {
    /// Pushes the manifest or index `desc` (and what it refers to) as `reference`.
    fn push_document(
        &mut self,
        desc: &Descriptor,
        reference: &str,
        depth: usize,
    ) -> Result<(Vec<u8>, Digest), Error> {
        let what = format!("{}: {} {}", self.name, kind(&desc.media_type), desc.digest);
        let bytes = self.layout.read_document(desc, &what)?;
        if media::is_index(&desc.media_type) {
            if depth > 3 {
                return Err(Error::Invalid(format!("{what}: indexes nested too deep")));
            }
            let index = doc::parse_index(&bytes, Some(&desc.media_type), &what)?;
            for m in &index.manifests {
                if media::is_manifest(&m.media_type) || media::is_index(&m.media_type) {
                    self.push_document(m, &m.digest.to_string(), depth.saturating_add(1))?;
                }
            }
        } else if media::is_manifest(&desc.media_type) {
            let manifest = doc::parse_manifest(&bytes, Some(&desc.media_type), &what)?;
            for (i, l) in manifest.layers.iter().enumerate() {
                let what = format!(
                    "{}: layer {} ({})",
                    self.name,
                    i.saturating_add(1),
                    l.descriptor.digest
                );
                if l.media.foreign && self.layout.open_blob(&l.descriptor.digest)?.is_none() {
                    self.done(&l.descriptor, BlobAction::Foreign);
                    continue;
                }
                self.push_blob(&l.descriptor, &what)?;
            }
            let what = format!("{}: the config {}", self.name, manifest.config.digest);
            self.push_blob(&manifest.config, &what)?;
            self.manifests = self.manifests.saturating_add(1);
        } else {
            return Err(Error::Invalid(format!(
                "{what}: media type {} is neither a manifest nor an index",
                desc.media_type
            )));
        }
        let digest = Digest::of(&bytes);
        let at = format!("{what}: cannot push it to {}", self.dest);
        let said = self.client.put_manifest(
            &self.dest.repository,
            reference,
            &desc.media_type,
            &bytes,
            &at,
        )?;
        if let Some(s) = said
            && s != digest.to_string()
        {
            return Err(Error::Invalid(format!(
                "{at}: the registry stored it as {s}, not {digest}"
            )));
        }
        Ok((bytes, digest))
    }

    fn done(&mut self, d: &Descriptor, action: BlobAction) {
        let b = PushedBlob {
            media_type: d.media_type.clone(),
            digest: d.digest,
            size: d.size,
            action,
        };
        (self.progress)(&b);
        self.blobs.push(b);
    }

    /// Pushes one blob: skipped when there, mounted when it can be, else uploaded.
    fn push_blob(&mut self, d: &Descriptor, what: &str) -> Result<(), Error> {
        if self.blobs.iter().any(|b| b.digest == d.digest) {
            return Ok(());
        }
        let repo = &self.dest.repository;
        if self.client.has_blob(repo, &d.digest, what)? {
            self.done(d, BlobAction::Exists);
            return Ok(());
        }
        let mount = self.mount_from.map(|from| (&d.digest, from));
        let Some(mut location) = self.client.start_upload(repo, mount, what)? else {
            let from = self.mount_from.unwrap_or_default().to_string();
            self.done(d, BlobAction::Mounted(from));
            return Ok(());
        };
        let file = self
            .layout
            .open_blob(&d.digest)?
            .ok_or_else(|| Error::Invalid(format!("{what}: the layout does not hold its blob")))?;
        let mut blob = VerifyingReader::new(file, Some(d.digest), d.size);
        let io_err = |e| Error::io(format!("{what}: cannot read its blob"), e);
        let requests = if d.size <= self.chunk {
            // `finish` after the upload checks the whole blob was what the layout claims.
            self.client.upload(
                &location,
                &mut (&mut blob).take(d.size),
                0,
                d.size,
                Some(&d.digest),
                what,
            )?;
            blob.finish().map_err(io_err)?;
            1
        } else {
            let mut start = 0u64;
            let mut n = 0u64;
            while start < d.size {
                let len = self.chunk.min(d.size.saturating_sub(start));
                let mut buf = Vec::new();
                (&mut blob)
                    .take(len)
                    .read_to_end(&mut buf)
                    .map_err(io_err)?;
                if buf.len() as u64 != len {
                    return Err(Error::Invalid(format!(
                        "{what}: its blob is shorter than {} bytes",
                        d.size
                    )));
                }
                location =
                    self.client
                        .upload(&location, &mut buf.as_slice(), start, len, None, what)?;
                start = start.saturating_add(len);
                n = n.saturating_add(1);
            }
            blob.finish().map_err(io_err)?;
            self.client.upload(
                &location,
                &mut std::io::empty(),
                0,
                0,
                Some(&d.digest),
                what,
            )?;
            n.saturating_add(1)
        };
        self.done(d, BlobAction::Uploaded(requests));
        Ok(())
    }
}

fn kind(media_type: &str) -> &'static str {
    if media::is_index(media_type) {
        "the index"
    } else {
        "the manifest"
    }
}
