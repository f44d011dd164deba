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
use crate::registry::client::UploadError;
use crate::registry::{Client, RegistryOptions, RegistryRef};
use crate::source::{RegistrySource, tagged};

/// How [`push`] uploads.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// A repository of the same registry to mount blobs from (`--mount-from`).
    pub mount_from: Option<String>,
    /// Blobs larger than this are uploaded in `PATCH` chunks of this size.
    pub chunk_size: u64,
    /// Where blobs the layout does not hold come from when the destination has none and
    /// cannot mount them: the base image's registry, whose layers `wclayer build -o
    /// docker://` leaves there ([`BuildOptions::leave_base_blobs`]), streamed from it into
    /// the upload and checked against their digest. `None`: such a blob fails the push (a
    /// foreign layer's is left at its urls either way).
    ///
    /// [`BuildOptions::leave_base_blobs`]: crate::build::BuildOptions::leave_base_blobs
    pub base: Option<RegistrySource>,
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions {
            mount_from: None,
            chunk_size: 16 << 20,
            base: None,
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
    // Without `--mount-from`, the base `wclayer build` named on the layout's index entry,
    // when it is on the destination's registry.
    let mount_from = popts
        .mount_from
        .clone()
        .or_else(|| {
            top.annotations
                .get(media::BASE_NAME)
                .and_then(|n| RegistryRef::parse(n).ok())
                .filter(|b| b.registry == dest.registry)
                .map(|b| b.repository)
        })
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
        base: popts.base.as_ref(),
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
    base: Option<&'a RegistrySource>,
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

    /// Pushes one blob: skipped when there, mounted when it can be, else uploaded; an upload
    /// that fails for a reason that may pass (connection lost, 429, 5xx) starts again from
    /// a new upload session, after a backoff, as many times as the client retries requests.
    fn push_blob(&mut self, d: &Descriptor, what: &str) -> Result<(), Error> {
        if self.blobs.iter().any(|b| b.digest == d.digest) {
            return Ok(());
        }
        let repo = &self.dest.repository;
        if self.client.has_blob(repo, &d.digest, what)? {
            self.done(d, BlobAction::Exists);
            return Ok(());
        }
        let mut attempt = 0u32;
        let action = loop {
            match self.upload_blob(d, what) {
                Ok(action) => break action,
                Err(e) if e.transient => match self.client.retry_wait(attempt) {
                    Some(wait) => {
                        tracing::warn!("{}; uploading it again", e.error);
                        std::thread::sleep(wait);
                        attempt = attempt.saturating_add(1);
                    }
                    None => return Err(e.error),
                },
                Err(e) => return Err(e.error),
            }
        };
        self.done(d, action);
        Ok(())
    }

    /// One try at [`Pusher::push_blob`]'s upload (or mount), in a new upload session.
    fn upload_blob(&self, d: &Descriptor, what: &str) -> Result<BlobAction, UploadError> {
        let repo = &self.dest.repository;
        let mount = self.mount_from.map(|from| (&d.digest, from));
        let Some(mut location) = self.client.start_upload(repo, mount, what)? else {
            let from = self.mount_from.unwrap_or_default().to_string();
            return Ok(BlobAction::Mounted(from));
        };
        let raw: Box<dyn Read + Send> = match (self.layout.open_blob(&d.digest)?, self.base) {
            (Some(file), _) => Box::new(file),
            (None, Some(base)) => base.client.open_blob(
                &base.reference.repository,
                d.digest,
                d.size,
                &format!("{what}, from {}", base.reference),
            )?,
            (None, None) => {
                return Err(
                    Error::Invalid(format!("{what}: the layout does not hold its blob")).into(),
                );
            }
        };
        let mut blob = VerifyingReader::new(raw, Some(d.digest), d.size);
        let io_err = |e| Error::io(format!("{what}: cannot read its blob"), e);
        if d.size <= self.chunk {
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
            return Ok(BlobAction::Uploaded(1));
        }
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
                ))
                .into());
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
        Ok(BlobAction::Uploaded(n.saturating_add(1)))
    }
}

fn kind(media_type: &str) -> &'static str {
    if media::is_index(media_type) {
        "the index"
    } else {
        "the manifest"
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::layout::LayoutWriter;
    use crate::registry::fake::fake;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A layout holding one image (a config and a layer), tagged `t`.
    fn layout(dir: &Path) -> Digest {
        layout_on(dir, None)
    }

    /// [`layout`], its index entry naming `base` as `wclayer build` does.
    fn layout_on(dir: &Path, base: Option<&str>) -> Digest {
        let mut w = LayoutWriter::create(dir).unwrap();
        let (config, config_size) = w.write_bytes(br#"{"os":"windows"}"#).unwrap();
        let (layer, layer_size) = w.write_bytes(&[7u8; 3000]).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{m}","config":{{"mediaType":"{c}","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"{l}","digest":"{layer}","size":{layer_size}}}]}}"#,
            m = media::OCI_MANIFEST,
            c = media::OCI_CONFIG,
            l = "application/vnd.oci.image.layer.v1.tar+gzip",
        );
        let (digest, size) = w.write_bytes(manifest.as_bytes()).unwrap();
        let desc = Descriptor {
            media_type: media::OCI_MANIFEST.to_string(),
            digest,
            size,
            urls: Vec::new(),
            platform: None,
            annotations: base
                .map(|b| (media::BASE_NAME.to_string(), b.to_string()))
                .into_iter()
                .collect(),
        };
        w.finish(&desc, "t").unwrap();
        layer
    }

    /// A layout built on an image of the destination's registry mounts its blobs from the
    /// base's repository without `--mount-from`; a base on another registry is not asked.
    #[test]
    fn the_base_named_by_the_layout_is_mounted_from() {
        let (port, seen) = fake(|req, _| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v2/") => (200, Vec::new(), Vec::new(), None),
            ("POST", p) if p.contains("mount=") => (201, Vec::new(), Vec::new(), None),
            ("POST", _) => {
                let at = vec![("Location".to_string(), "/v2/a/blobs/uploads/1".to_string())];
                (202, at, Vec::new(), None)
            }
            ("PUT", _) => (201, Vec::new(), Vec::new(), None),
            _ => (404, Vec::new(), Vec::new(), None),
        });
        let tmp = tempfile::tempdir().unwrap();
        let base = format!("127.0.0.1:{port}/windows/base:1");
        layout_on(tmp.path(), Some(&base));
        let index = std::fs::read_to_string(tmp.path().join("index.json")).unwrap();
        assert!(index.contains(media::BASE_NAME), "{index}");
        let pushed = push_to(port, tmp.path()).unwrap();
        assert!(
            pushed
                .blobs
                .iter()
                .all(|b| b.action == BlobAction::Mounted("windows/base".into())),
            "{:?}",
            pushed.blobs
        );
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .any(|r| r.path.ends_with("&from=windows%2Fbase")),
        );

        let other = tempfile::tempdir().unwrap();
        layout_on(other.path(), Some("elsewhere.example/windows/base:1"));
        let before = seen.lock().unwrap().len();
        let pushed = push_to(port, other.path()).unwrap();
        assert!(
            pushed
                .blobs
                .iter()
                .all(|b| b.action == BlobAction::Uploaded(1))
        );
        assert!(
            seen.lock().unwrap()[before..]
                .iter()
                .all(|r| !r.path.contains("mount="))
        );
    }

    /// A fake registry with no blobs whose first `fail` blob uploads (`PUT`s) answer
    /// `status`; how many upload sessions were started.
    fn registry(
        layer: Digest,
        fail: usize,
        status: u16,
    ) -> (
        u16,
        Arc<AtomicUsize>,
        Arc<Mutex<Vec<super::super::fake::Seen>>>,
    ) {
        let sessions = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&sessions);
        let failed = AtomicUsize::new(0);
        let (port, seen) = fake(move |req, _| {
            let none = (404, Vec::new(), Vec::new(), None);
            match (req.method.as_str(), req.path.as_str()) {
                ("GET", "/v2/") => (200, Vec::new(), Vec::new(), None),
                ("HEAD", _) => none,
                ("POST", _) => {
                    let n = counted.fetch_add(1, Ordering::SeqCst);
                    let at = vec![("Location".to_string(), format!("/v2/a/blobs/uploads/{n}"))];
                    (202, at, Vec::new(), None)
                }
                ("PUT", p) if p.contains(&layer.to_string().replace(':', "%3A")) => {
                    if failed.fetch_add(1, Ordering::SeqCst) < fail {
                        (status, Vec::new(), Vec::new(), None)
                    } else {
                        (201, Vec::new(), Vec::new(), None)
                    }
                }
                ("PUT", _) => (201, Vec::new(), Vec::new(), None),
                _ => none,
            }
        });
        (port, sessions, seen)
    }

    fn push_to(port: u16, dir: &Path) -> Result<Pushed, Error> {
        let dest = RegistryRef::parse(&format!("127.0.0.1:{port}/a:t")).unwrap();
        let opts = RegistryOptions {
            retries: Some(2),
            ..RegistryOptions::default()
        };
        push(
            dir,
            Some("t"),
            &dest,
            &opts,
            &PushOptions::default(),
            &mut |_| {},
        )
    }

    /// A blob upload the registry fails with a 503 starts again in a new session and the
    /// push completes; a 400 is not retried; retries run out.
    #[test]
    fn failed_uploads_start_again() {
        let tmp = tempfile::tempdir().unwrap();
        let layer = layout(tmp.path());

        let (port, sessions, seen) = registry(layer, 1, 503);
        let pushed = push_to(port, tmp.path()).unwrap();
        let uploaded = pushed.blobs.iter().find(|b| b.digest == layer).unwrap();
        assert_eq!(uploaded.action, BlobAction::Uploaded(1));
        // The layer's failed session, the one that worked, and the config's.
        assert_eq!(sessions.load(Ordering::SeqCst), 3);
        let puts = seen.lock().unwrap();
        let layer_puts = puts
            .iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/blobs/uploads/"))
            .count();
        assert_eq!(layer_puts, 3, "layer twice, config: {puts:?}");

        let (port, sessions, _) = registry(layer, 1, 400);
        let e = push_to(port, tmp.path()).unwrap_err().to_string();
        assert!(e.contains("HTTP 400"), "{e}");
        assert_eq!(sessions.load(Ordering::SeqCst), 1, "not retried");

        let (port, sessions, _) = registry(layer, 10, 502);
        let e = push_to(port, tmp.path()).unwrap_err().to_string();
        assert!(e.contains("HTTP 502"), "{e}");
        // The first try and two retries; the config is never reached.
        assert_eq!(sessions.load(Ordering::SeqCst), 3);
    }
}
