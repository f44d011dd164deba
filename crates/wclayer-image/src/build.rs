//! A new image: a base image's layers (their blobs copied as they are) and new layers on
//! top, each a layer directory exported or a layer tar, compressed; a config that keeps the
//! base's fields and gets the new diffIDs and history; a manifest in the base's media types;
//! written into an OCI image layout under a tag.

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wclayer::Limits;

use crate::Error;
use crate::digest::{Digest, HashingWriter, VerifyingReader};
use crate::doc::Descriptor;
use crate::doc::Manifest;
use crate::layout::LayoutWriter;
use crate::media::{self, Compression};
use crate::platform::Platform;
use crate::source::{Image, Layer, Source};

/// A new layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewLayer {
    /// A layer directory, made over the base image's chain (`wclayer unpack` names it); it is
    /// exported as `wclayer export` does.
    Dir(PathBuf),
    /// A layer tar (`.tar`, `.tar.gz`, `.tar.zst`: detected), taken as it is uncompressed.
    Tar(PathBuf),
}

impl NewLayer {
    /// The path.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            NewLayer::Dir(p) | NewLayer::Tar(p) => p,
        }
    }
}

/// How [`build`] writes the new layers.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// gzip or zstd.
    pub compression: Compression,
    /// The compression level (gzip 1–9, default [`wclayer_compress::GZIP_LEVEL`]; zstd
    /// 1–19, default [`wclayer_compress::ZSTD_LEVEL`]).
    pub level: Option<u32>,
    /// What a layer directory's records may claim.
    pub limits: Limits,
    /// `created` of the config and the new history entries, seconds since the Unix epoch.
    pub created: u64,
    /// Leave out the blobs of a registry base's layers that the layout does not hold,
    /// describing them only: for a layout pushed or archived at once (`build -o docker://`,
    /// `-o docker-archive:`, `-o oci-archive:`), whose push mounts them from the base's
    /// repository or copies them from the base's registry
    /// ([`PushOptions::base`](crate::registry::push::PushOptions::base)), and whose archive
    /// streams them from there ([`write_archive`](crate::archive::write_archive)), instead of
    /// downloading them first. Such a layout is incomplete: `false` for one that is kept.
    pub leave_base_blobs: bool,
}

/// A layer written by [`build`].
#[derive(Clone, Debug)]
pub struct BuiltLayer {
    /// What it was made from.
    pub source: PathBuf,
    /// Its diffID.
    pub diff_id: Digest,
    /// Its blob's digest.
    pub digest: Digest,
    /// Its blob's size.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

/// What [`build`] wrote.
#[derive(Clone, Debug)]
pub struct Built {
    /// The new manifest.
    pub manifest: Descriptor,
    /// The new config's digest.
    pub config: Digest,
    /// Base blobs copied.
    pub copied: usize,
    /// Base blobs the layout had already.
    pub present: usize,
    /// Foreign base layers referenced without their blob (the source has none).
    pub foreign: usize,
    /// Base blobs left in the base's registry ([`BuildOptions::leave_base_blobs`]).
    pub left: usize,
    /// The new layers.
    pub layers: Vec<BuiltLayer>,
}

/// Builds `base` + `layers` into the layout `out` under `tag`.
///
/// # Errors
/// A base blob that is missing (and not foreign) or corrupt, a new layer that cannot be read
/// or exported, zstd over a Docker base, a layout that cannot be written. The layout's
/// `index.json` changes only when everything was written.
pub fn build(
    source: &Source,
    base: &Image,
    layers: &[NewLayer],
    out: &Path,
    tag: &str,
    opts: &BuildOptions,
) -> Result<Built, Error> {
    let view = Base {
        name: base.name.clone(),
        docker: base.docker,
        layers: &base.layers,
        config_json: base.config.json.clone(),
        diff_ids: base.config.diff_ids.clone(),
        config_media_type: base.config_descriptor.media_type.clone(),
        manifest: base.manifest.as_ref(),
        manifest_digest: base.manifest_descriptor.as_ref().map(|d| d.digest),
        platform: base.config.platform.clone(),
    };
    build_on(Some(source), &view, layers, out, tag, opts)
}

/// Builds an image of `layers` alone (the first a base layer) for `platform` into the layout
/// `out` under `tag`: OCI media types, a config with `os`, `architecture` and `os.version`.
///
/// # Errors
/// As [`build`].
pub fn build_from_scratch(
    platform: &Platform,
    layers: &[NewLayer],
    out: &Path,
    tag: &str,
    opts: &BuildOptions,
) -> Result<Built, Error> {
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    });
    if let Some(obj) = config.as_object_mut() {
        if let Some(v) = &platform.os_version {
            obj.insert("os.version".into(), json!(v));
        }
        if let Some(v) = &platform.variant {
            obj.insert("variant".into(), json!(v));
        }
    }
    let view = Base {
        name: "scratch".into(),
        docker: false,
        layers: &[],
        config_json: config,
        diff_ids: Vec::new(),
        config_media_type: media::OCI_CONFIG.into(),
        manifest: None,
        manifest_digest: None,
        platform: platform.clone(),
    };
    build_on(None, &view, layers, out, tag, opts)
}

/// What a new image starts from: a base image, or nothing.
struct Base<'a> {
    name: String,
    docker: bool,
    layers: &'a [Layer],
    config_json: Value,
    diff_ids: Vec<Digest>,
    config_media_type: String,
    manifest: Option<&'a Manifest>,
    /// The digest of the base's manifest, when it has one.
    manifest_digest: Option<Digest>,
    platform: Platform,
}

#[allow(
    clippy::too_many_lines,
    reason = "one image, written in order: blobs, config, manifest, index"
)]
fn build_on(
    source: Option<&Source>,
    base: &Base<'_>,
    layers: &[NewLayer],
    out: &Path,
    tag: &str,
    opts: &BuildOptions,
) -> Result<Built, Error> {
    let new_type = media::layer_media_type(opts.compression, base.docker)
        .map_err(|e| Error::Invalid(format!("{}: {e}", base.name)))?;
    if opts.compression == Compression::None {
        return Err(Error::Invalid(
            "new layers are written compressed (gzip or zstd)".into(),
        ));
    }
    let mut w = LayoutWriter::create(out)?;
    let (mut copied, mut present, mut foreign, mut left) = (0usize, 0usize, 0usize, 0usize);
    let mut base_layers: Vec<Value> = Vec::new();
    for layer in base.layers {
        let Some(source) = source else { break };
        let what = format!("{}: {}", base.name, layer.describe());
        if let Some(d) = layer.digest
            && w.has_blob(&d)
        {
            present = present.saturating_add(1);
            base_layers.push(
                json!({"mediaType": layer.media_type, "digest": d.to_string(), "size": layer.size}),
            );
            continue;
        }
        if opts.leave_base_blobs
            && matches!(source, Source::Registry(_))
            && !layer.foreign
            && let Some(d) = layer.digest
        {
            left = left.saturating_add(1);
            base_layers.push(
                json!({"mediaType": layer.media_type, "digest": d.to_string(), "size": layer.size}),
            );
            continue;
        }
        let Some(raw) = source.open_layer(layer)? else {
            match layer.digest {
                Some(d) if layer.foreign => {
                    foreign = foreign.saturating_add(1);
                    base_layers.push(
                        json!({"mediaType": layer.media_type, "digest": d.to_string(),
                        "size": layer.size, "urls": layer.urls}),
                    );
                    continue;
                }
                _ => return Err(Source::missing(&base.name, layer)),
            }
        };
        let mut r = VerifyingReader::new(raw, layer.digest, layer.size);
        let (digest, size) = w.copy_blob(&mut r, &what)?;
        copied = copied.saturating_add(1);
        base_layers.push(
            json!({"mediaType": layer.media_type, "digest": digest.to_string(), "size": size}),
        );
    }
    let mut built = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let over_base = i > 0 || !base.layers.is_empty();
        let (diff_id, digest, size) = write_layer(&mut w, l, over_base, opts)?;
        built.push(BuiltLayer {
            source: l.path().to_path_buf(),
            diff_id,
            digest,
            size,
            media_type: new_type.to_string(),
        });
    }
    // The config: the base's, every field kept, with the new diffIDs and history.
    // RFC 3339 (with 100 ns digits), as wclayer-backup writes FILETIMEs.
    let created = wclayer::backup::FileTime::from_unix(wclayer::backup::UnixTime::new(
        i64::try_from(opts.created).unwrap_or(i64::MAX),
        0,
    ))
    .to_string();
    let mut config = base.config_json.clone();
    let obj = config
        .as_object_mut()
        .ok_or_else(|| Error::Invalid(format!("{}: the config is no object", base.name)))?;
    obj.insert("created".into(), json!(created));
    let mut diff_ids: Vec<Value> = base.diff_ids.iter().map(|d| json!(d.to_string())).collect();
    let mut history = obj
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for b in &built {
        diff_ids.push(json!(b.diff_id.to_string()));
        // The layer's file name, not its path: where the layer was built from is no part
        // of the image (the same layers give the same config and digests from any
        // directory), and a pushed image does not tell the builder's directories.
        let name = b.source.file_name().unwrap_or(b.source.as_os_str());
        history.push(json!({
            "created": created,
            "created_by": format!("wclayer build --layer {}", name.to_string_lossy()),
        }));
    }
    obj.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    obj.insert("history".into(), Value::Array(history));
    let config_bytes = serde_json::to_vec(&config)
        .map_err(|e| Error::Invalid(format!("cannot encode the config: {e}")))?;
    let (config_digest, config_size) = w.write_bytes(&config_bytes)?;
    let config_desc = json!({
        "mediaType": base.config_media_type,
        "digest": config_digest.to_string(),
        "size": config_size,
    });
    // The manifest: the base's (its other fields kept) or, for a docker-save base, a Docker
    // schema 2 manifest.
    let mut all_layers = match base.manifest {
        Some(m) => m
            .json
            .get("layers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        None => base_layers,
    };
    for b in &built {
        all_layers.push(
            json!({"mediaType": b.media_type, "digest": b.digest.to_string(), "size": b.size}),
        );
    }
    let (mut manifest, media_type) = match base.manifest {
        Some(m) => (m.json.clone(), m.media_type.clone()),
        None if base.docker => (
            json!({"schemaVersion": 2, "mediaType": media::DOCKER_MANIFEST}),
            media::DOCKER_MANIFEST.to_string(),
        ),
        None => (
            json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST}),
            media::OCI_MANIFEST.to_string(),
        ),
    };
    if let Some(obj) = manifest.as_object_mut() {
        obj.insert("config".into(), config_desc);
        obj.insert("layers".into(), Value::Array(all_layers));
    }
    let manifest_bytes = serde_json::to_vec(&manifest)
        .map_err(|e| Error::Invalid(format!("cannot encode the manifest: {e}")))?;
    let (manifest_digest, manifest_size) = w.write_bytes(&manifest_bytes)?;
    // A base from a registry is named on the layout's index entry (not in the manifest,
    // whose bytes and digest stay the image's), so that a later `push` to the same registry
    // can mount the base's blobs from its repository.
    let mut annotations = std::collections::BTreeMap::new();
    if let Some(Source::Registry(r)) = source {
        annotations.insert(media::BASE_NAME.to_string(), r.reference.name());
        if let Some(d) = &base.manifest_digest {
            annotations.insert(media::BASE_DIGEST.to_string(), d.to_string());
        }
    }
    let desc = Descriptor {
        media_type,
        digest: manifest_digest,
        size: manifest_size,
        urls: Vec::new(),
        platform: Some(base.platform.clone()),
        annotations,
    };
    w.finish(&desc, tag)?;
    Ok(Built {
        manifest: desc,
        config: config_digest,
        copied,
        present,
        foreign,
        left,
        layers: built,
    })
}

/// Writes one new layer as a compressed blob; returns its diffID, digest and size.
fn write_layer(
    w: &mut LayoutWriter,
    l: &NewLayer,
    over_base: bool,
    opts: &BuildOptions,
) -> Result<(Digest, Digest, u64), Error> {
    let shown = l.path().display().to_string();
    let mut diff_id = None;
    let (digest, size) = w.write_blob(|out: &mut dyn Write| -> Result<(), Error> {
        let produce = |tar: &mut dyn Write| -> Result<(), Error> {
            match l {
                NewLayer::Dir(p) => {
                    if over_base {
                        check_delta(p)?;
                    }
                    wclayer::export_layer_to_tar_with_stats(tar, p, &[], &opts.limits)
                        .map(drop)
                        .map_err(|source| Error::Layer {
                            context: format!("cannot export {shown}"),
                            source: Box::new(source),
                        })
                }
                NewLayer::Tar(p) => copy_tar(p, tar),
            }
        };
        let ctx = |e| Error::io(format!("cannot compress {shown}"), e);
        match opts.compression {
            Compression::Gzip => {
                let level = opts.level.unwrap_or(wclayer_compress::GZIP_LEVEL).min(9);
                let mut gz = wclayer_compress::GzOptions::new()
                    .level(flate2::Compression::new(level))
                    .hash_input(true)
                    .build(out);
                produce(&mut gz)?;
                let done = gz.finish_with_digest().map_err(ctx)?;
                diff_id = done.input_sha256.map(Digest::from_bytes);
            }
            Compression::Zstd | Compression::None => {
                let level = opts
                    .level
                    .map_or(Ok(wclayer_compress::ZSTD_LEVEL), i32::try_from)
                    .unwrap_or(wclayer_compress::ZSTD_LEVEL);
                let z = zstd::Encoder::new(out, level).map_err(ctx)?;
                let mut h = HashingWriter::new(z);
                produce(&mut h)?;
                let (z, d, _) = h.finish();
                z.finish().map_err(ctx)?;
                diff_id = Some(d);
            }
        }
        Ok(())
    })?;
    let diff_id =
        diff_id.ok_or_else(|| Error::Invalid(format!("{shown}: no diffID was computed")))?;
    Ok((diff_id, digest, size))
}

/// Refuses a layer directory imported with no parents: over a base image a new layer is a
/// delta layer, made over the image's chain.
fn check_delta(p: &Path) -> Result<(), Error> {
    let mut r = wclayer::new_layer_reader(p, &[]).map_err(|source| Error::Layer {
        context: format!("cannot open the layer directory {}", p.display()),
        source: Box::new(source),
    })?;
    let kind = r.get_mut().layer_info().kind;
    if kind == wclayer::crates::store::LayerKind::Base {
        return Err(Error::Invalid(format!(
            "{} is a base layer (imported with no parents): a layer added to an image must be \
             made over the image's layers (wclayer unpack, then wclayer import -l ... or create -l ...)",
            p.display()
        )));
    }
    Ok(())
}

/// Copies a layer tar file, uncompressed, into `tar`.
fn copy_tar(p: &Path, tar: &mut dyn Write) -> Result<(), Error> {
    let shown = p.display();
    let f = crate::open_user_file(p)?;
    let mut buf = BufReader::with_capacity(256 << 10, f);
    let head = buf
        .fill_buf()
        .map_err(|e| Error::io(format!("cannot read {shown}"), e))?;
    if head.is_empty() {
        return Err(Error::Invalid(format!("{shown} is empty, not a layer tar")));
    }
    let mut r = Compression::sniff(head)
        .decoder(buf)
        .map_err(|e| Error::io(format!("cannot read {shown}"), e))?;
    io::copy(&mut r, tar).map_err(|e| Error::io(format!("cannot read {shown}"), e))?;
    Ok(())
}
