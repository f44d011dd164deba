//! An image opened from its source: the manifest chosen by tag and platform, its config,
//! and its layers with their diffIDs, all checked; and the layers' blobs, opened on demand.

use std::io::Read;
use std::sync::Arc;

use crate::archive::DockerArchive;
use crate::digest::Digest;
use crate::doc::{self, Config, Descriptor, Manifest};
use crate::layout::Layout;
use crate::media::{self, Compression};
use crate::platform::{Platform, PlatformSpec};
use crate::registry::{Client, RegistryOptions, RegistryRef};
use crate::{Error, ImageRef};

/// Where a layer's blob is in its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    /// `blobs/sha256/<hex>` of a layout.
    Blob(Digest),
    /// An entry of a `docker save` archive.
    Entry {
        /// Its name in the archive.
        name: String,
    },
}

/// A layer of an image.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Its position, 1 for the base layer.
    pub number: usize,
    /// Its media type (a `docker save` layer file: Docker's uncompressed layer type, or its
    /// gzip type when the file is gzip).
    pub media_type: String,
    /// Its compression, `None` when only the blob's first bytes tell (a `docker save` file).
    pub compression: Option<Compression>,
    /// A foreign or non-distributable layer.
    pub foreign: bool,
    /// The blob's digest, when the source gives one.
    pub digest: Option<Digest>,
    /// The blob's size.
    pub size: u64,
    /// Where a foreign layer's blob may be fetched.
    pub urls: Vec<String>,
    /// The digest of the uncompressed tar, from the config's `rootfs.diff_ids`.
    pub diff_id: Digest,
    pub(crate) loc: Loc,
}

impl Layer {
    /// `layer N (sha256:...)` for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        match (&self.digest, &self.loc) {
            (Some(d), _) => format!("layer {} ({d})", self.number),
            (None, Loc::Entry { name }) => format!("layer {} ({name})", self.number),
            (None, Loc::Blob(d)) => format!("layer {} ({d})", self.number),
        }
    }
}

/// An image, resolved and checked.
#[derive(Clone, Debug)]
pub struct Image {
    /// The reference it was opened with.
    pub name: String,
    /// The manifest's digest, or for a `docker save` image its config's.
    pub id: Digest,
    /// The manifest's descriptor (layouts).
    pub manifest_descriptor: Option<Descriptor>,
    /// The manifest (layouts).
    pub manifest: Option<Manifest>,
    /// Whether it is a Docker image (schema 2 manifest, or a `docker save` archive).
    pub docker: bool,
    /// The config's descriptor.
    pub config_descriptor: Descriptor,
    /// The config's bytes, as stored.
    pub config_bytes: Vec<u8>,
    /// The config.
    pub config: Config,
    /// The layers, base first.
    pub layers: Vec<Layer>,
    /// The platforms of the index the manifest was chosen from (empty without one).
    pub platforms: Vec<Platform>,
}

/// An opened image source.
#[derive(Debug)]
pub enum Source {
    /// An OCI image layout.
    Layout(Layout),
    /// A `docker save` archive.
    Archive(DockerArchive),
    /// A registry.
    Registry(RegistrySource),
}

/// A registry, connected for pulling from one repository.
#[derive(Clone, Debug)]
pub struct RegistrySource {
    /// The session.
    pub client: Arc<Client>,
    /// The image.
    pub reference: RegistryRef,
}

impl Source {
    /// Opens the layout or archive `r` names.
    ///
    /// # Errors
    /// When it cannot be opened or is no layout or archive.
    pub fn open(r: &ImageRef) -> Result<Source, Error> {
        Source::open_with(r, &RegistryOptions::default())
    }

    /// Opens the layout, archive or registry `r` names; `opts` says how to reach a
    /// registry (credentials, certificates, plain HTTP).
    ///
    /// # Errors
    /// When it cannot be opened or reached, or is no layout or archive.
    pub fn open_with(r: &ImageRef, opts: &RegistryOptions) -> Result<Source, Error> {
        Ok(match r {
            ImageRef::Oci { dir, .. } => Source::Layout(Layout::open(dir)?),
            ImageRef::DockerArchive { file, .. } | ImageRef::OciArchive { file, .. } => {
                Source::Archive(DockerArchive::open(file)?)
            }
            ImageRef::Docker(reference) => {
                let scope = format!("repository:{}:pull", reference.repository);
                let client = Client::connect(reference, opts, vec![scope])
                    .map_err(|e| e.context(&r.to_string()))?;
                Source::Registry(RegistrySource {
                    client,
                    reference: reference.clone(),
                })
            }
        })
    }

    /// The image `r` names, for `platform`.
    ///
    /// # Errors
    /// No such tag, no manifest for the platform (the message lists those there are), a
    /// document that is invalid, too large, or does not match its digest, a config whose
    /// diffIDs do not match the layers.
    pub fn resolve(&self, r: &ImageRef, platform: &PlatformSpec) -> Result<Image, Error> {
        let name = r.to_string();
        let image = match (self, r) {
            (Source::Layout(l), ImageRef::Oci { tag, .. }) => {
                resolve_layout(l, &name, tag.as_deref(), platform)?
            }
            (Source::Archive(a), ImageRef::DockerArchive { reference, .. }) => {
                a.resolve(&name, reference.as_deref())?
            }
            (Source::Archive(a), ImageRef::OciArchive { tag, .. }) => {
                let index = a.oci_index(&name)?;
                let desc = tagged_in(&index, &name, tag.as_deref())?;
                resolve_from(&name, desc, platform, &|d, what| a.read_blob(d, what))?
            }
            (Source::Registry(s), ImageRef::Docker(_)) => resolve_registry(s, &name, platform)?,
            _ => return Err(Error::Invalid(format!("{name}: the source does not match"))),
        };
        if !platform.matches(&image.config.platform) {
            let available = if image.platforms.is_empty() {
                image.config.platform.to_string()
            } else {
                join(&image.platforms)
            };
            return Err(Error::Invalid(format!(
                "{name} has no image for platform {platform}; available: {available}"
            )));
        }
        Ok(image)
    }

    /// The raw blob of `layer` (compressed as stored), or `None` when the source does not
    /// hold it (a foreign layer).
    ///
    /// # Errors
    /// When it cannot be opened.
    pub fn open_layer(&self, layer: &Layer) -> Result<Option<Box<dyn Read + Send>>, Error> {
        match (self, &layer.loc) {
            (Source::Layout(l), Loc::Blob(d)) => {
                Ok(l.open_blob(d)?.map(|f| Box::new(f) as Box<dyn Read + Send>))
            }
            (Source::Archive(a), Loc::Entry { name }) => a.open_entry(name),
            (Source::Archive(a), Loc::Blob(d)) => a.open_entry(&crate::layout::blob_path(d)),
            // A foreign layer is fetched from its urls, and only when asked to.
            (Source::Registry(_), Loc::Blob(_)) if layer.foreign => Ok(None),
            (Source::Registry(s), Loc::Blob(d)) => Ok(Some(s.client.open_blob(
                &s.reference.repository,
                *d,
                layer.size,
                &format!("{}: {}", s.reference, layer.describe()),
            )?)),
            _ => Err(Error::Invalid(format!(
                "{}: not in this source",
                layer.describe()
            ))),
        }
    }

    /// The error for a layer whose blob the source does not hold.
    #[must_use]
    pub fn missing(image: &str, layer: &Layer) -> Error {
        if layer.foreign {
            let urls = if layer.urls.is_empty() {
                "it has no urls".to_string()
            } else {
                format!("its urls: {}", layer.urls.join(", "))
            };
            Error::Invalid(format!(
                "{image}: {} is a foreign layer ({}) whose blob is not in the image; fetch it \
                 from where its descriptor says ({urls}) with --allow-foreign-urls, or copy the \
                 image with its foreign layers",
                layer.describe(),
                layer.media_type
            ))
        } else {
            Error::Invalid(format!(
                "{image}: the blob of {} is missing",
                layer.describe()
            ))
        }
    }
}

/// Platforms as `a, b, c`.
pub(crate) fn join(ps: &[Platform]) -> String {
    if ps.is_empty() {
        return "none".into();
    }
    ps.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Nested indexes followed before giving up.
const MAX_DEPTH: usize = 4;

fn resolve_layout(
    l: &Layout,
    name: &str,
    tag: Option<&str>,
    platform: &PlatformSpec,
) -> Result<Image, Error> {
    let desc = tagged(l, name, tag)?;
    resolve_from(name, desc, platform, &|d, what| l.read_document(d, what))
}

/// The entry of the layout's `index.json` tagged `tag`, or its only one.
pub(crate) fn tagged(l: &Layout, name: &str, tag: Option<&str>) -> Result<Descriptor, Error> {
    tagged_in(&l.index()?, name, tag)
}

/// The entry of `index` tagged `tag` (`org.opencontainers.image.ref.name`), or its only one.
fn tagged_in(index: &doc::Index, name: &str, tag: Option<&str>) -> Result<Descriptor, Error> {
    let tags = || {
        let t: Vec<&str> = index
            .manifests
            .iter()
            .filter_map(Descriptor::ref_name)
            .collect();
        if t.is_empty() {
            "none".to_string()
        } else {
            t.join(", ")
        }
    };
    let found: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| tag.is_none() || d.ref_name() == tag)
        .collect();
    let desc = match (found.as_slice(), tag) {
        ([one], _) => (*one).clone(),
        ([], Some(t)) => {
            return Err(Error::Invalid(format!(
                "{name}: the layout has no image tagged {t} (its tags: {})",
                tags()
            )));
        }
        ([], None) => return Err(Error::Invalid(format!("{name}: the layout holds no image"))),
        (many, Some(t)) => {
            return Err(Error::Invalid(format!(
                "{name}: {} images are tagged {t} in the layout",
                many.len()
            )));
        }
        (many, None) => {
            return Err(Error::Invalid(format!(
                "{name}: the layout holds {} images; name one as oci:DIR:TAG (its tags: {})",
                many.len(),
                tags()
            )));
        }
    };
    Ok(desc)
}

/// Reads a document by its descriptor, checked against its size and digest.
type ReadDocument<'a> = dyn Fn(&Descriptor, &str) -> Result<Vec<u8>, Error> + 'a;

/// The image below `desc` (an index or a manifest) for `platform`.
fn resolve_from(
    name: &str,
    mut desc: Descriptor,
    platform: &PlatformSpec,
    read: &ReadDocument<'_>,
) -> Result<Image, Error> {
    let mut platforms = Vec::new();
    let mut depth = 0usize;
    while media::is_index(&desc.media_type) {
        depth = depth.saturating_add(1);
        if depth > MAX_DEPTH {
            return Err(Error::Invalid(format!(
                "{name}: indexes nested deeper than {MAX_DEPTH}"
            )));
        }
        let what = format!("the index {} of {name}", desc.digest);
        let bytes = read(&desc, &what)?;
        let idx = doc::parse_index(&bytes, Some(&desc.media_type), &what)?;
        platforms = idx
            .manifests
            .iter()
            .filter_map(|d| d.platform.clone())
            .filter(|p| p.os != "unknown")
            .collect();
        desc = idx
            .manifests
            .iter()
            .find(|d| {
                (media::is_manifest(&d.media_type) || media::is_index(&d.media_type))
                    && d.platform.as_ref().is_some_and(|p| platform.matches(p))
            })
            .cloned()
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{name} has no image for platform {platform}; available: {}",
                    join(&platforms)
                ))
            })?;
    }
    if !media::is_manifest(&desc.media_type) {
        return Err(Error::Invalid(format!(
            "{name}: {} has media type {}, neither an image manifest nor an index",
            desc.digest, desc.media_type
        )));
    }
    let what = format!("the manifest {} of {name}", desc.digest);
    let bytes = read(&desc, &what)?;
    let manifest = doc::parse_manifest(&bytes, Some(&desc.media_type), &what)?;
    let what = format!("the config {} of {name}", manifest.config.digest);
    let config_bytes = read(&manifest.config, &what)?;
    let config = doc::parse_config(&config_bytes, &what)?;
    if config.diff_ids.len() != manifest.layers.len() {
        return Err(Error::Invalid(format!(
            "{name}: its manifest has {} layers, its config {} diffIDs",
            manifest.layers.len(),
            config.diff_ids.len()
        )));
    }
    let layers = manifest
        .layers
        .iter()
        .zip(&config.diff_ids)
        .enumerate()
        .map(|(i, (l, diff_id))| Layer {
            number: i.saturating_add(1),
            media_type: l.descriptor.media_type.clone(),
            compression: Some(l.media.compression),
            foreign: l.media.foreign,
            digest: Some(l.descriptor.digest),
            size: l.descriptor.size,
            urls: l.descriptor.urls.clone(),
            diff_id: *diff_id,
            loc: Loc::Blob(l.descriptor.digest),
        })
        .collect();
    Ok(Image {
        name: name.to_string(),
        id: desc.digest,
        docker: manifest.docker,
        config_descriptor: manifest.config.clone(),
        manifest_descriptor: Some(desc),
        manifest: Some(manifest),
        config_bytes,
        config,
        layers,
        platforms,
    })
}

/// The image a registry reference names: the manifest (or index) fetched by tag or digest
/// and hashed, the documents below it fetched by digest and checked.
fn resolve_registry(
    s: &RegistrySource,
    name: &str,
    platform: &PlatformSpec,
) -> Result<Image, Error> {
    let repo = &s.reference.repository;
    let what = format!(
        "the manifest {} of {name}",
        s.reference.manifest_reference()
    );
    let (bytes, media_type, digest) =
        s.client
            .get_manifest(repo, &s.reference.manifest_reference(), &what)?;
    let top = Descriptor {
        media_type,
        digest,
        size: bytes.len() as u64,
        urls: Vec::new(),
        platform: None,
        annotations: std::collections::BTreeMap::new(),
    };
    let read = |d: &Descriptor, what: &str| -> Result<Vec<u8>, Error> {
        if d.digest == digest {
            return Ok(bytes.clone());
        }
        if media::is_manifest(&d.media_type) || media::is_index(&d.media_type) {
            doc::check_size(d.size, what)?;
            let (b, _, _) = s.client.get_manifest(repo, &d.digest.to_string(), what)?;
            if b.len() as u64 != d.size {
                return Err(Error::Invalid(format!(
                    "{what} has {} bytes, its descriptor says {}",
                    b.len(),
                    d.size
                )));
            }
            return Ok(b);
        }
        s.client.get_document(repo, d, what)
    };
    resolve_from(name, top, platform, &read)
}
