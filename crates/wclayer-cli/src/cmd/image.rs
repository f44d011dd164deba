//! `wclayer unpack`, `wclayer build`, `wclayer inspect`: Windows images in OCI layouts and
//! `docker save` archives (docs/images.md), over the `wclayer-image` crate.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use wclayer_image::build::{BuildOptions, NewLayer};
use wclayer_image::media::Compression;
use wclayer_image::store::{Store, UnpackOptions};
use wclayer_image::{Image, ImageRef, PlatformSpec, Source};

use crate::cmd::limits::LimitArgs;
use crate::report::{self, Channel};

/// `--platform`: which image of an index (manifest list).
#[derive(clap::Args, Debug)]
pub(crate) struct PlatformArg {
    /// The platform to pick from an index (manifest list): OS/ARCH[/VARIANT], optionally with
    /// a prefix of os.version (`windows/amd64:10.0.20348`).
    #[arg(long, value_name = "PLATFORM", default_value = "windows/amd64")]
    platform: PlatformSpec,
}

/// Opens the image `reference` names and picks the manifest for the platform.
fn open(reference: &str, p: &PlatformArg) -> Result<(Source, Image)> {
    let r = ImageRef::parse(reference)?;
    let source = Source::open(&r)?;
    let image = source.resolve(&r, &p.platform)?;
    Ok((source, image))
}

/// Arguments of `wclayer unpack`.
#[derive(clap::Args, Debug)]
pub(crate) struct UnpackArgs {
    /// The image: `oci:DIR[:TAG]` (an OCI image layout) or `docker-archive:FILE[:REF]` (a
    /// `docker save` archive).
    source: String,
    /// The store of layer directories (created when missing; docs/images.md).
    store: PathBuf,
    #[command(flatten)]
    platform: PlatformArg,
    /// Print the result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn unpack(a: &UnpackArgs) -> Result<()> {
    let (source, image) = open(&a.source, &a.platform)?;
    let store = Store::open(&a.store)?;
    let opts = UnpackOptions {
        limits: a.limits.limits(),
        max_ratio: a.limits.max_ratio,
    };
    let json_out = a.json;
    let unpacked = store.unpack(&source, &image, &opts, &mut |l| {
        if json_out {
            return;
        }
        let line = match (&l.stats, l.reused) {
            (_, true) => format!(
                "reused layer {}/{} {}: {} is in the store already",
                l.number,
                l.total,
                l.diff_id,
                l.path.display()
            ),
            (Some(s), false) => format!(
                "imported layer {}/{} {}: {} entries, {} hard links, {} tombstones ({} bytes of \
                 file data) into {}",
                l.number,
                l.total,
                l.diff_id,
                s.files,
                s.links,
                s.tombstones,
                s.total_size,
                l.path.display()
            ),
            (None, false) => format!(
                "imported layer {}/{} into {}",
                l.number,
                l.total,
                l.path.display()
            ),
        };
        report::result(Channel::Stdout, None, &line);
    });
    let unpacked = match unpacked {
        Ok(u) => u,
        Err(e) => {
            store.discard_if_new_and_empty();
            return Err(e.into());
        }
    };
    let top = unpacked
        .top()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let parents: Vec<String> = unpacked
        .parents()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let json = a.json.then(|| {
        json!({
            "image": image.name,
            "store": a.store.display().to_string(),
            "manifest": image.manifest_descriptor.as_ref().map(|d| d.digest.to_string()),
            "config": image.config_descriptor.digest.to_string(),
            "platform": image.config.platform,
            "layers": unpacked.layers.iter().map(|l| json!({
                "number": l.number,
                "chain_id": l.chain_id.to_string(),
                "diff_id": l.diff_id.to_string(),
                "digest": l.digest.map(|d| d.to_string()),
                "media_type": l.media_type,
                "path": l.path.display().to_string(),
                "reused": l.reused,
            })).collect::<Vec<_>>(),
            "imported": unpacked.imported(),
            "reused": unpacked.reused(),
            "top": top,
            "parents": parents,
        })
    });
    let mut text = format!(
        "unpacked {} ({}) into {}: {} layers, {} imported, {} reused\ntop {top}",
        image.name,
        image.config.platform,
        a.store.display(),
        unpacked.layers.len(),
        unpacked.imported(),
        unpacked.reused()
    );
    for p in &parents {
        text.push_str(&format!("\nparent {p}"));
    }
    report::result(Channel::Stdout, json.as_ref(), &text);
    Ok(())
}

/// Arguments of `wclayer build`.
#[derive(clap::Args, Debug)]
pub(crate) struct BuildArgs {
    /// The base image: `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`. Without it the image
    /// is the new layers alone (the first a base layer), for `--platform` (give the whole
    /// os.version: `windows/amd64:10.0.20348.2113`).
    #[arg(long, value_name = "SOURCE")]
    base: Option<String>,
    #[command(flatten)]
    platform: PlatformArg,
    /// A new layer, repeated bottom to top: a layer directory made over the base image's
    /// layers (as `wclayer unpack` names them), or a layer tar (`.tar`, `.tar.gz`, `.tar.zst`).
    #[arg(long = "layer", value_name = "LAYER", required = true)]
    layers: Vec<PathBuf>,
    /// Compress the new layers with zstd instead of gzip (an OCI base only).
    #[arg(long)]
    zstd: bool,
    /// The compression level: gzip 1 to 9 (default 4), zstd 1 to 19 (default 3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=19))]
    level: Option<u32>,
    /// Where to write the image: `oci:DIR:TAG` (the layout is created when missing; an image
    /// with the same tag is replaced, the others are kept).
    #[arg(short, long, value_name = "oci:DIR:TAG")]
    output: String,
    /// Print the result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn build(a: &BuildArgs) -> Result<()> {
    let (dir, tag) = match ImageRef::parse(&a.output)? {
        ImageRef::Oci {
            dir,
            tag: Some(tag),
        } => (dir, tag),
        _ => anyhow::bail!("-o {}: give the output as oci:DIR:TAG", a.output),
    };
    if let Some(l) = a.level {
        anyhow::ensure!(a.zstd || l <= 9, "--level {l}: gzip levels are 1 to 9");
    }
    let layers = a
        .layers
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p)
                .with_context(|| format!("cannot use the layer {}", p.display()))?;
            Ok(if m.is_dir() {
                NewLayer::Dir(p.clone())
            } else {
                NewLayer::Tar(p.clone())
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let base = a
        .base
        .as_deref()
        .map(|b| open(b, &a.platform))
        .transpose()?;
    let created = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds"))?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let opts = BuildOptions {
        compression: if a.zstd {
            Compression::Zstd
        } else {
            Compression::Gzip
        },
        level: a.level,
        limits: a.limits.limits(),
        created,
    };
    let built = match &base {
        Some((source, base)) => {
            wclayer_image::build::build(source, base, &layers, &dir, &tag, &opts)
        }
        None => {
            if a.platform.platform.to_platform().os_version.is_none() {
                report::warn(
                    "the image gets no os.version: Windows hosts pick images by it; give \
                     --platform windows/amd64:VERSION (the base layer's Windows version)",
                );
            }
            wclayer_image::build::build_from_scratch(
                &a.platform.platform.to_platform(),
                &layers,
                &dir,
                &tag,
                &opts,
            )
        }
    }
    .with_context(|| format!("cannot build {}", a.output))?;
    let base_name = base.as_ref().map(|(_, b)| b.name.clone());
    let base_layers = base.as_ref().map_or(0, |(_, b)| b.layers.len());
    let json = a.json.then(|| {
        json!({
            "output": a.output,
            "base": base_name,
            "manifest": built.manifest.digest.to_string(),
            "manifest_media_type": built.manifest.media_type,
            "manifest_size": built.manifest.size,
            "config": built.config.to_string(),
            "base_layers": base_layers,
            "copied": built.copied,
            "present": built.present,
            "foreign": built.foreign,
            "layers": built.layers.iter().map(|l| json!({
                "source": l.source.display().to_string(),
                "diff_id": l.diff_id.to_string(),
                "digest": l.digest.to_string(),
                "size": l.size,
                "media_type": l.media_type,
            })).collect::<Vec<_>>(),
        })
    });
    let mut text = match &base_name {
        Some(name) => format!(
            "base {name}: {base_layers} layers ({} copied, {} in the layout already, {} foreign \
             left at their urls)",
            built.copied, built.present, built.foreign
        ),
        None => format!("no base: {} new layers", built.layers.len()),
    };
    for (i, l) in built.layers.iter().enumerate() {
        text.push_str(&format!(
            "\nlayer {} from {}: diffID {}, digest {} ({} bytes)",
            base_layers.saturating_add(i).saturating_add(1),
            l.source.display(),
            l.diff_id,
            l.digest,
            l.size
        ));
    }
    text.push_str(&format!(
        "\nbuilt {}: manifest {} ({} bytes), config {}",
        a.output, built.manifest.digest, built.manifest.size, built.config
    ));
    report::result(Channel::Stdout, json.as_ref(), &text);
    Ok(())
}

/// Arguments of `wclayer inspect`.
#[derive(clap::Args, Debug)]
pub(crate) struct InspectArgs {
    /// The image: `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`.
    source: String,
    #[command(flatten)]
    platform: PlatformArg,
    /// Print the result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn inspect(a: &InspectArgs) -> Result<()> {
    let (_, image) = open(&a.source, &a.platform)?;
    let c = &image.config;
    let json = a.json.then(|| {
        json!({
            "image": image.name,
            "manifest": image.manifest_descriptor.as_ref().map(|d| json!({
                "digest": d.digest.to_string(), "media_type": d.media_type, "size": d.size})),
            "platforms": image.platforms,
            "config": {
                "digest": image.config_descriptor.digest.to_string(),
                "media_type": image.config_descriptor.media_type,
                "os": c.platform.os,
                "os.version": c.platform.os_version,
                "architecture": c.platform.architecture,
                "history": c.history,
            },
            "layers": image.layers.iter().map(|l| json!({
                "number": l.number,
                "media_type": l.media_type,
                "digest": l.digest.map(|d| d.to_string()),
                "size": l.size,
                "diff_id": l.diff_id.to_string(),
                "foreign": l.foreign,
                "urls": l.urls,
            })).collect::<Vec<_>>(),
        })
    });
    let mut text = format!("image {}", image.name);
    if let Some(d) = &image.manifest_descriptor {
        text.push_str(&format!(
            "\nmanifest {} {} ({} bytes)",
            d.digest, d.media_type, d.size
        ));
    }
    if !image.platforms.is_empty() {
        let ps: Vec<String> = image.platforms.iter().map(ToString::to_string).collect();
        text.push_str(&format!("\nplatforms {}", ps.join(", ")));
    }
    text.push_str(&format!(
        "\nconfig {}: os {}, os.version {}, architecture {}, {} history entries",
        image.config_descriptor.digest,
        c.platform.os,
        c.platform.os_version.as_deref().unwrap_or("-"),
        c.platform.architecture,
        c.history
    ));
    for l in &image.layers {
        let digest = l.digest.map_or_else(|| "-".to_string(), |d| d.to_string());
        text.push_str(&format!(
            "\nlayer {} {} {} {} bytes diffID {}",
            l.number, l.media_type, digest, l.size, l.diff_id
        ));
        if l.foreign {
            text.push_str(&format!(" foreign, urls: {}", l.urls.join(", ")));
        }
    }
    report::result(Channel::Stdout, json.as_ref(), &text);
    Ok(())
}
