//! `docker save` archives: `manifest.json` (`[{"Config": ..., "RepoTags": [...], "Layers":
//! [...]}]`), the config, and the layer tars, possibly compressed, whatever their names.
//!
//! The archive's entries are found once (their headers read, their data skipped) and then
//! read by offset; nothing is extracted.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;
use crate::digest::Digest;
use crate::doc::{self, Descriptor};
use crate::media::{self, Compression};
use crate::source::{Image, Layer, Loc};

/// Most entries an archive may have (an image has a few per layer).
const MAX_ENTRIES: usize = 1 << 16;

/// A `docker save` archive, opened.
#[derive(Debug)]
pub struct DockerArchive {
    file: File,
    path: PathBuf,
    /// Regular files: name → (offset of the data, size).
    entries: HashMap<String, (u64, u64)>,
}

/// One image of `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
    #[serde(default)]
    layer_sources: Option<HashMap<String, LayerSource>>,
}

/// A foreign layer's descriptor in `manifest.json`.
#[derive(Debug, Deserialize)]
struct LayerSource {
    #[serde(rename = "mediaType")]
    media_type: String,
    #[serde(default)]
    urls: Vec<String>,
    size: u64,
    digest: String,
}

/// The archive behind `file`, compressed with `c`, decompressed into an anonymous temporary
/// file: a tar can only be read by offset uncompressed. The expansion is limited as an
/// import's is (`RatioGuard`, [`DEFAULT_MAX_RATIO`](crate::guard::DEFAULT_MAX_RATIO)).
fn decompressed(file: File, c: Compression, shown: &str) -> Result<File, Error> {
    use std::io::BufReader;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    let consumed = Arc::new(AtomicU64::new(0));
    let raw = BufReader::with_capacity(
        256 << 10,
        crate::guard::Counted::new(file, Arc::clone(&consumed)),
    );
    let what = format!("cannot decompress {shown} ({})", c.name());
    let decoder = c.decoder(raw).map_err(|e| Error::io(what.clone(), e))?;
    let mut guarded =
        crate::guard::RatioGuard::new(decoder, consumed, crate::guard::DEFAULT_MAX_RATIO);
    let mut out = tempfile::tempfile()
        .map_err(|e| Error::io(format!("{what}: cannot create a temporary file"), e))?;
    std::io::copy(&mut guarded, &mut out).map_err(|e| Error::io(what.clone(), e))?;
    out.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(what, e))?;
    Ok(out)
}

fn clean(name: &str) -> &str {
    name.trim_start_matches("./")
}

/// The digest a name like `<hex>.json` or `blobs/sha256/<hex>` carries.
fn digest_in_name(name: &str) -> Option<Digest> {
    let hex = name
        .strip_prefix("blobs/sha256/")
        .or_else(|| name.strip_suffix(".json"))?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

impl DockerArchive {
    /// Opens the archive `path` and finds its entries.
    ///
    /// # Errors
    /// When it cannot be read (or decompressed), or is no tar.
    ///
    /// A compressed archive (`docker save IMAGE | gzip`, or zstd) is decompressed once into
    /// an anonymous temporary file (`TMPDIR`; on Linux one without a name, gone with the
    /// process however it ends), which is then read by offset like an uncompressed one.
    pub fn open(path: &Path) -> Result<DockerArchive, Error> {
        let shown = path.display();
        let mut file = crate::open_user_file(path)?;
        let mut head = [0u8; 4];
        let n = file
            .read(&mut head)
            .map_err(|e| Error::io(format!("cannot read {shown}"), e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(format!("cannot read {shown}"), e))?;
        let compression = Compression::sniff(head.get(..n).unwrap_or_default());
        if compression != Compression::None {
            file = decompressed(file, compression, &shown.to_string())?;
        }
        let mut entries = HashMap::new();
        let f = file
            .try_clone()
            .map_err(|e| Error::io(format!("cannot read {shown}"), e))?;
        let mut ar = tar::Archive::new(f);
        let bad = |e: std::io::Error| Error::io(format!("cannot read {shown} as a tar archive"), e);
        for e in ar.entries_with_seek().map_err(bad)? {
            let e = e.map_err(bad)?;
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            entries.insert(clean(&name).to_string(), (e.raw_file_position(), e.size()));
            if entries.len() > MAX_ENTRIES {
                return Err(Error::Invalid(format!(
                    "{shown} has more than {MAX_ENTRIES} files: not an image archive"
                )));
            }
        }
        Ok(DockerArchive {
            file,
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The entry `name` (its data), or `None` when the archive has none.
    ///
    /// # Errors
    /// When it cannot be read.
    pub fn open_entry(&self, name: &str) -> Result<Option<Box<dyn Read + Send>>, Error> {
        let Some(&(offset, size)) = self.entries.get(clean(name)) else {
            return Ok(None);
        };
        let ctx = || format!("cannot read {} in {}", name, self.path.display());
        let mut f = self.file.try_clone().map_err(|e| Error::io(ctx(), e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(ctx(), e))?;
        Ok(Some(Box::new(f.take(size))))
    }

    fn document(&self, name: &str, what: &str) -> Result<Vec<u8>, Error> {
        let &(_, size) = self
            .entries
            .get(clean(name))
            .ok_or_else(|| Error::Invalid(format!("{what}: {name} is not in the archive")))?;
        doc::check_size(size, what)?;
        let r = self
            .open_entry(name)?
            .ok_or_else(|| Error::Invalid(format!("{what}: {name} is not in the archive")))?;
        doc::read_limited(r, what)
    }

    /// The `index.json` of the OCI layout the archive holds (`oci-archive:`), after checking
    /// its `oci-layout` file.
    pub(crate) fn oci_index(&self, name: &str) -> Result<doc::Index, Error> {
        let what = format!("the oci-layout file of {name}");
        if !self.entries.contains_key("oci-layout") {
            return Err(Error::Invalid(format!(
                "{name}: the archive holds no OCI image layout (it has no oci-layout file)"
            )));
        }
        doc::check_oci_layout(&self.document("oci-layout", &what)?, &what)?;
        let what = format!("the index.json of {name}");
        doc::parse_index(&self.document("index.json", &what)?, None, &what)
    }

    /// The blob `desc` points to in the archive's layout, checked against its size and
    /// digest; `what` names it.
    pub(crate) fn read_blob(&self, desc: &Descriptor, what: &str) -> Result<Vec<u8>, Error> {
        let r = self
            .open_entry(&crate::layout::blob_path(&desc.digest))?
            .ok_or_else(|| Error::Invalid(format!("{what} is missing from the archive")))?;
        doc::read_described(r, desc, what)
    }

    /// The image `reference` names (`name:tag`, or `@N` from 0), or the only one.
    pub(crate) fn resolve(&self, name: &str, reference: Option<&str>) -> Result<Image, Error> {
        let what = format!("manifest.json of {name}");
        let bytes = self.document("manifest.json", &what)?;
        let list: Vec<Entry> = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid(format!("{what} is not valid: {e}")))?;
        let tags = || {
            let t: Vec<&str> = list
                .iter()
                .flat_map(|e| e.repo_tags.iter().flatten().map(String::as_str))
                .collect();
            if t.is_empty() {
                "none".into()
            } else {
                t.join(", ")
            }
        };
        let entry = match reference {
            None => match list.as_slice() {
                [one] => one,
                [] => {
                    return Err(Error::Invalid(format!(
                        "{name}: the archive holds no image"
                    )));
                }
                many => {
                    return Err(Error::Invalid(format!(
                        "{name}: the archive holds {} images; name one as \
                         docker-archive:FILE:NAME:TAG or :@N (its tags: {})",
                        many.len(),
                        tags()
                    )));
                }
            },
            Some(r) => {
                let by_number = r.strip_prefix('@').and_then(|n| n.parse::<usize>().ok());
                let found = match by_number {
                    Some(n) => list.get(n),
                    None => {
                        let with_latest = format!("{r}:latest");
                        list.iter().find(|e| {
                            e.repo_tags
                                .iter()
                                .flatten()
                                .any(|t| t == r || *t == with_latest)
                        })
                    }
                };
                found.ok_or_else(|| {
                    Error::Invalid(format!(
                        "{name}: the archive has no image {r} (its tags: {})",
                        tags()
                    ))
                })?
            }
        };
        let cwhat = format!("the config {} of {name}", entry.config);
        let config_bytes = self.document(&entry.config, &cwhat)?;
        let config_digest = Digest::of(&config_bytes);
        if let Some(want) = digest_in_name(clean(&entry.config))
            && want != config_digest
        {
            return Err(Error::Invalid(format!(
                "{cwhat} is corrupt: its content has digest {config_digest}"
            )));
        }
        let config = doc::parse_config(&config_bytes, &cwhat)?;
        if config.diff_ids.len() != entry.layers.len() {
            return Err(Error::Invalid(format!(
                "{name}: manifest.json lists {} layers, its config {} diffIDs",
                entry.layers.len(),
                config.diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (i, (file, diff_id)) in entry.layers.iter().zip(&config.diff_ids).enumerate() {
            let number = i.saturating_add(1);
            let foreign = entry
                .layer_sources
                .as_ref()
                .and_then(|s| s.get(&diff_id.to_string()));
            let size = self.entries.get(clean(file)).map(|&(_, s)| s);
            let (media_type, digest, size, urls, is_foreign) = match (size, foreign) {
                (Some(size), _) => (
                    media::layer_media_type(self.sniff(file)?, true)
                        .unwrap_or("application/vnd.docker.image.rootfs.diff.tar")
                        .to_string(),
                    digest_in_name(clean(file)),
                    size,
                    Vec::new(),
                    false,
                ),
                (None, Some(src)) => (
                    src.media_type.clone(),
                    Digest::parse(&src.digest).ok(),
                    src.size,
                    src.urls.clone(),
                    true,
                ),
                (None, None) => {
                    return Err(Error::Invalid(format!(
                        "{name}: layer {number} ({file}) is not in the archive"
                    )));
                }
            };
            layers.push(Layer {
                number,
                media_type,
                compression: None,
                foreign: is_foreign,
                digest,
                size,
                urls,
                diff_id: *diff_id,
                loc: Loc::Entry { name: file.clone() },
            });
        }
        Ok(Image {
            name: name.to_string(),
            id: config_digest,
            manifest_descriptor: None,
            manifest: None,
            docker: true,
            config_descriptor: Descriptor {
                media_type: media::DOCKER_CONFIG.into(),
                digest: config_digest,
                size: config_bytes.len() as u64,
                urls: Vec::new(),
                platform: None,
                annotations: Default::default(),
            },
            config_bytes,
            config,
            layers,
            platforms: Vec::new(),
        })
    }

    /// The compression of the entry `name`, from its first bytes.
    fn sniff(&self, name: &str) -> Result<Compression, Error> {
        let mut head = [0u8; 4];
        let mut n = 0usize;
        if let Some(mut r) = self.open_entry(name)? {
            while let Some(rest) = head.get_mut(n..).filter(|b| !b.is_empty()) {
                match r.read(rest) {
                    Ok(0) => break,
                    Ok(k) => n = n.saturating_add(k),
                    Err(e) => {
                        return Err(Error::io(
                            format!("cannot read {name} in {}", self.path.display()),
                            e,
                        ));
                    }
                }
            }
        }
        Ok(Compression::sniff(head.get(..n).unwrap_or_default()))
    }
}

/// The two archives [`write_archive`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// What `docker load` reads (`docker-archive:`): the OCI layout and `manifest.json`.
    Docker,
    /// An OCI image layout in a tar (`oci-archive:`), as skopeo reads and writes it.
    Oci,
}

/// Writes `image`, resolved from the OCI layout `layout`, as an archive: the layout's own
/// files (`oci-layout`, an `index.json` naming this image alone, `blobs/sha256/`: manifest,
/// config and layer blobs as they are, compressed), and for [`ArchiveFormat::Docker`]
/// `manifest.json` (`Config`, `RepoTags`, `Layers` as blob paths; `LayerSources` for foreign
/// layers, whose blobs are not in the layout and stay at their urls, as `docker save` leaves
/// them), the form Docker 25 and later `docker save` writes. `docker load` decompresses each
/// layer and checks its diffID; [`DockerArchive`] reads both forms back. `tag` is `name:tag`
/// for Docker (the image's `RepoTags`, and containerd's name of it), the layout's tag
/// (`org.opencontainers.image.ref.name`) for OCI. The blobs are streamed from the layout,
/// or, those it does not hold, from `base`: the base image's registry, where `wclayer build`
/// left its layers ([`BuildOptions::leave_base_blobs`](crate::build::BuildOptions::leave_base_blobs)),
/// checked against their digests. Entries carry mode 0644 and time 0, so the same image
/// gives the same bytes.
///
/// # Errors
/// A blob missing from the layout and from `base` (other than a foreign layer's), a blob
/// that does not match its descriptor, or a failed read or write.
pub fn write_archive(
    layout: &crate::layout::Layout,
    image: &Image,
    tag: Option<&str>,
    format: ArchiveFormat,
    base: Option<&crate::source::RegistrySource>,
    out: impl std::io::Write,
) -> Result<(), Error> {
    let docker = format == ArchiveFormat::Docker;
    use crate::layout::blob_path;
    use serde_json::json;
    let shown = layout.path().display().to_string();
    let manifest = image.manifest_descriptor.as_ref().ok_or_else(|| {
        Error::Invalid(format!(
            "{}: an image of a layout has a manifest",
            image.name
        ))
    })?;
    let write_err = |e: std::io::Error| Error::io("cannot write the archive", e);
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    let header = |size: u64, dir: bool| {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(if dir { 0o755 } else { 0o644 });
        h.set_mtime(0);
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h
    };
    let add_bytes = |tar: &mut tar::Builder<_>, name: &str, bytes: &[u8]| {
        tar.append_data(&mut header(bytes.len() as u64, false), name, bytes)
            .map_err(write_err)
    };
    add_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append_data(&mut header(0, true), dir, std::io::empty())
            .map_err(write_err)?;
    }
    let mut blobs: Vec<(Digest, u64, &str)> = vec![
        (manifest.digest, manifest.size, "the manifest"),
        (
            image.config_descriptor.digest,
            image.config_descriptor.size,
            "the config",
        ),
    ];
    let mut layers = Vec::new();
    let mut sources = serde_json::Map::new();
    for l in &image.layers {
        let digest = l.digest.ok_or_else(|| {
            Error::Invalid(format!("{}: {} has no digest", image.name, l.describe()))
        })?;
        layers.push(blob_path(&digest));
        if l.foreign && layout.open_blob(&digest)?.is_none() {
            // Not in the layout: the manifest's descriptor keeps its urls (an OCI archive,
            // as in the layout); Docker's loader reads them from `LayerSources`.
            sources.insert(
                l.diff_id.to_string(),
                json!({"mediaType": l.media_type, "size": l.size, "digest": digest.to_string(),
                       "urls": l.urls}),
            );
        } else if !blobs.iter().any(|(d, ..)| *d == digest) {
            blobs.push((digest, l.size, "a layer"));
        }
    }
    for &(digest, size, what) in &blobs {
        let what = format!("{}: {what} ({digest})", image.name);
        match (layout.open_blob(&digest)?, base) {
            (Some(f), _) => {
                let len = f
                    .metadata()
                    .map_err(|e| {
                        Error::io(format!("cannot read {shown}/{}", blob_path(&digest)), e)
                    })?
                    .len();
                if len != size {
                    return Err(Error::Invalid(format!(
                        "{what} has {len} bytes in the layout {shown}, its descriptor says {size}"
                    )));
                }
                tar.append_data(&mut header(size, false), blob_path(&digest), f.take(size))
                    .map_err(write_err)?;
            }
            // Left in the base's registry by the build: streamed into the archive, its
            // digest and size checked (a short or wrong blob fails the whole archive).
            (None, Some(b)) => {
                let raw = b.client.open_blob(
                    &b.reference.repository,
                    digest,
                    size,
                    &format!("{what}, from {}", b.reference),
                )?;
                let mut r = crate::digest::VerifyingReader::new(raw, Some(digest), size);
                tar.append_data(&mut header(size, false), blob_path(&digest), &mut r)
                    .map_err(|e| {
                        Error::io(format!("{what}: cannot copy it from {}", b.reference), e)
                    })?;
                r.finish().map_err(|e| {
                    Error::io(format!("{what}: cannot copy it from {}", b.reference), e)
                })?;
            }
            (None, None) => {
                return Err(Error::Invalid(format!(
                    "{what} is missing from the layout {shown}"
                )));
            }
        }
    }
    let mut annotations = serde_json::Map::new();
    match (tag, docker) {
        (Some(t), true) => {
            annotations.insert("io.containerd.image.name".into(), json!(normalized_name(t)));
            if let Some((_, tag)) = t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
                annotations.insert("org.opencontainers.image.ref.name".into(), json!(tag));
            }
        }
        (Some(t), false) => {
            annotations.insert("org.opencontainers.image.ref.name".into(), json!(t));
        }
        (None, _) => {}
    }
    let mut entry = json!({
        "mediaType": manifest.media_type,
        "digest": manifest.digest.to_string(),
        "size": manifest.size,
    });
    if !annotations.is_empty()
        && let Some(o) = entry.as_object_mut()
    {
        o.insert("annotations".into(), serde_json::Value::Object(annotations));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    });
    let to_bytes = |v: &serde_json::Value| {
        serde_json::to_vec(v).map_err(|e| Error::Invalid(format!("cannot encode JSON: {e}")))
    };
    add_bytes(&mut tar, "index.json", &to_bytes(&index)?)?;
    if docker {
        let mut entry = json!({
            "Config": blob_path(&image.config_descriptor.digest),
            "RepoTags": tag.map(|t| vec![t]).unwrap_or_default(),
            "Layers": layers,
        });
        if !sources.is_empty()
            && let Some(o) = entry.as_object_mut()
        {
            o.insert("LayerSources".into(), serde_json::Value::Object(sources));
        }
        add_bytes(
            &mut tar,
            "manifest.json",
            &to_bytes(&serde_json::Value::Array(vec![entry]))?,
        )?;
    }
    tar.into_inner()
        .map_err(write_err)?
        .flush()
        .map_err(write_err)
}

/// `name:tag` as containerd names images, the way Docker's reference parsing completes a
/// short name: `app:1` is `docker.io/library/app:1`, `example/app:1` is
/// `docker.io/example/app:1`; a name whose first part is a host (a `.` or `:` in it, or
/// `localhost`) stays as it is.
fn normalized_name(name: &str) -> String {
    let first = name.split('/').next().unwrap_or_default();
    let has_host =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_host {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Descriptor;
    use crate::layout::LayoutWriter;
    use crate::source::Source;
    use crate::{ImageRef, PlatformSpec};

    /// A Docker image whose base layer is foreign (its blob only at its urls, not in the
    /// layout) written as a docker-save archive: the foreign layer goes under
    /// `LayerSources`, the other blobs into the archive, and the archive reads back with
    /// the same layers, the foreign one with its urls.
    #[test]
    fn foreign_layers_stay_at_their_urls_in_a_docker_archive() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let mut w = LayoutWriter::create(&dir).unwrap();
        let foreign = Digest::of(b"the foreign blob");
        let foreign_diff = Digest::of(b"the foreign tar");
        let (layer, layer_size) = w.write_bytes(&[7u8; 3000]).unwrap();
        let layer_diff = Digest::of(b"the second tar");
        let config = format!(
            r#"{{"architecture":"amd64","os":"windows","rootfs":{{"type":"layers","diff_ids":["{foreign_diff}","{layer_diff}"]}}}}"#
        );
        let (config_digest, config_size) = w.write_bytes(config.as_bytes()).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{m}","config":{{"mediaType":"{c}","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{foreign}","size":16,"urls":["https://example.invalid/b"]}},{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":{layer_size}}}]}}"#,
            m = media::DOCKER_MANIFEST,
            c = media::DOCKER_CONFIG,
        );
        let (digest, size) = w.write_bytes(manifest.as_bytes()).unwrap();
        let desc = Descriptor {
            media_type: media::DOCKER_MANIFEST.to_string(),
            digest,
            size,
            urls: Vec::new(),
            platform: None,
            annotations: Default::default(),
        };
        w.finish(&desc, "t").unwrap();
        let r = ImageRef::parse(&format!("oci:{}:t", dir.display())).unwrap();
        let source = Source::open(&r).unwrap();
        let image = source.resolve(&r, &PlatformSpec::default()).unwrap();
        let Source::Layout(layout) = &source else {
            panic!("a layout")
        };
        // Written with and without a base registry to take missing blobs from (a registry
        // that has none): a foreign layer is never fetched from it.
        let (port, seen) = crate::registry::fake::fake(|req, _| match req.path.as_str() {
            "/v2/" => (200, Vec::new(), Vec::new(), None),
            _ => (404, Vec::new(), Vec::new(), None),
        });
        let reference =
            crate::registry::RegistryRef::parse(&format!("127.0.0.1:{port}/windows/base:1"))
                .unwrap();
        let client = crate::registry::Client::connect(
            &reference,
            &crate::registry::RegistryOptions::default(),
            vec!["repository:windows/base:pull".into()],
        )
        .unwrap();
        let base = crate::source::RegistrySource { client, reference };
        let out = tmp.path().join("a.tar");
        for base in [None, Some(&base)] {
            let f = File::create(&out).unwrap();
            write_archive(
                layout,
                &image,
                Some("win/app:1"),
                ArchiveFormat::Docker,
                base,
                f,
            )
            .unwrap();
        }
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .all(|r| !r.path.contains("/blobs/")),
            "no blob asked for"
        );

        let archive = DockerArchive::open(&out).unwrap();
        assert!(
            archive
                .entries
                .contains_key(&crate::layout::blob_path(&layer))
        );
        assert!(
            !archive
                .entries
                .contains_key(&crate::layout::blob_path(&foreign))
        );
        let back = archive
            .resolve("docker-archive:a.tar", Some("win/app:1"))
            .unwrap();
        assert_eq!(back.layers.len(), 2);
        assert!(back.layers[0].foreign, "{:?}", back.layers[0]);
        assert_eq!(back.layers[0].urls, ["https://example.invalid/b"]);
        assert_eq!(back.layers[0].digest, Some(foreign));
        assert!(!back.layers[1].foreign);
        assert_eq!(back.layers[1].diff_id, layer_diff);
    }

    #[test]
    fn short_names_are_completed_as_docker_does() {
        assert_eq!(normalized_name("app:1"), "docker.io/library/app:1");
        assert_eq!(normalized_name("example/app:1"), "docker.io/example/app:1");
        assert_eq!(
            normalized_name("registry.example:5000/win/app:v1"),
            "registry.example:5000/win/app:v1"
        );
        assert_eq!(normalized_name("localhost/app:v1"), "localhost/app:v1");
        assert_eq!(
            normalized_name("mcr.microsoft.com/windows/nanoserver:ltsc2022"),
            "mcr.microsoft.com/windows/nanoserver:ltsc2022"
        );
    }
}
