//! `wclayer unpack`, `wclayer build`, `wclayer inspect`, `wclayer push`: Windows images in
//! OCI layouts, `docker save` archives and registries (docs/images.md), over the
//! `wclayer-image` crate.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::json;
use wclayer_image::archive::ArchiveFormat;
use wclayer_image::build::{BuildOptions, NewLayer};
use wclayer_image::media::Compression;
use wclayer_image::registry::push::{BlobAction, PushOptions};
use wclayer_image::registry::{
    CredentialSource, Credentials, RegistryOptions, RegistryRef, Transport,
};
use wclayer_image::store::{ByteProgress, Store, UnpackOptions};
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

/// How to reach a registry (`docker://` images).
#[derive(clap::Args, Debug)]
pub(crate) struct RegistryArgs {
    /// Credentials for the registry (else WCLAYER_REGISTRY_USER and
    /// WCLAYER_REGISTRY_PASSWORD, else the Docker config file).
    #[arg(long, value_name = "USER:PASSWORD")]
    creds: Option<String>,
    /// A PEM file of root certificates to trust beside the system's (repeatable).
    #[arg(long = "ca-cert", value_name = "FILE")]
    ca_certs: Vec<PathBuf>,
    /// Allow plain HTTP to the registry (loopback addresses always may use it).
    #[arg(long)]
    insecure: bool,
    /// The Docker config file to take credentials from (default
    /// $DOCKER_CONFIG/config.json, else ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    docker_config: Option<PathBuf>,
}

impl RegistryArgs {
    fn options(&self) -> Result<RegistryOptions> {
        Ok(RegistryOptions {
            credentials: CredentialSource {
                explicit: self.creds.as_deref().map(Credentials::parse).transpose()?,
                docker_config: self.docker_config.clone(),
            },
            ca_certs: self.ca_certs.clone(),
            insecure: self.insecure,
            retries: None,
        })
    }
}

/// Opens the image `reference` names and picks the manifest for the platform.
fn open(reference: &str, p: &PlatformArg, reg: &RegistryArgs) -> Result<(Source, Image)> {
    let r = ImageRef::parse(reference)?;
    let source = Source::open_with(&r, &reg.options()?)?;
    let image = source.resolve(&r, &p.platform)?;
    Ok((source, image))
}

/// One progress bar per layer being downloaded, on standard error when it is a terminal.
fn layer_bars(image: &Image, quiet: bool) -> Option<(ByteProgress, Arc<Mutex<Bars>>)> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bars = Arc::new(Mutex::new(Bars {
        multi: indicatif::MultiProgress::new(),
        open: Vec::new(),
        sizes: image.layers.iter().map(|l| l.size).collect(),
    }));
    let shared = Arc::clone(&bars);
    let progress = ByteProgress(Arc::new(move |number, read| {
        let mut b = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        b.update(number, read);
    }));
    Some((progress, bars))
}

/// The progress bars of [`layer_bars`].
pub(crate) struct Bars {
    multi: indicatif::MultiProgress,
    open: Vec<(usize, indicatif::ProgressBar)>,
    sizes: Vec<u64>,
}

impl Bars {
    fn update(&mut self, number: usize, read: u64) {
        if let Some((_, bar)) = self.open.iter().find(|(n, _)| *n == number) {
            bar.set_position(read);
            return;
        }
        let size = self
            .sizes
            .get(number.saturating_sub(1))
            .copied()
            .unwrap_or_default();
        let bar = self.multi.add(indicatif::ProgressBar::new(size));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "layer {msg} {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(number.to_string());
        bar.set_position(read);
        self.open.push((number, bar));
    }

    fn finish(&mut self, number: usize) {
        if let Some(i) = self.open.iter().position(|(n, _)| *n == number) {
            let (_, bar) = self.open.swap_remove(i);
            bar.finish_and_clear();
        }
    }
}

/// Arguments of `wclayer unpack`.
#[derive(clap::Args, Debug)]
pub(crate) struct UnpackArgs {
    /// The image: `oci:DIR[:TAG]` (an OCI image layout), `oci-archive:FILE[:TAG]` (one in a
    /// tar), `docker-archive:FILE[:REF]` (a `docker save` archive) or
    /// `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]` (a registry).
    source: String,
    /// The store of layer directories (created when missing; docs/images.md).
    store: PathBuf,
    #[command(flatten)]
    platform: PlatformArg,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Fetch foreign layers (whose blob the image does not hold) from their urls, without
    /// credentials.
    #[arg(long)]
    allow_foreign_urls: bool,
    /// Print the result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn unpack(a: &UnpackArgs) -> Result<()> {
    let (source, image) = open(&a.source, &a.platform, &a.registry)?;
    let store = Store::open(&a.store)?;
    let bars = layer_bars(&image, a.json || report::quiet());
    let opts = UnpackOptions {
        limits: a.limits.limits(),
        max_ratio: a.limits.max_ratio,
        foreign_urls: if a.allow_foreign_urls {
            Some(Transport::new(&a.registry.options()?)?)
        } else {
            None
        },
        progress: bars.as_ref().map(|(p, _)| p.clone()),
    };
    let json_out = a.json;
    let unpacked = store.unpack(&source, &image, &opts, &mut |l| {
        if let Some((_, b)) = &bars {
            b.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .finish(l.number);
        }
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
        "unpacked {} ({}) into {}: {}, {} imported, {} reused\ntop {top}",
        image.name,
        image.config.platform,
        a.store.display(),
        crate::report::count(unpacked.layers.len(), "layer"),
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
    /// The base image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`
    /// or `docker://HOST/REPO[:TAG]`. Without it the image
    /// is the new layers alone (the first a base layer), for `--platform` (give the whole
    /// os.version: `windows/amd64:10.0.20348.2113`).
    #[arg(long, value_name = "SOURCE")]
    base: Option<String>,
    #[command(flatten)]
    platform: PlatformArg,
    #[command(flatten)]
    registry: RegistryArgs,
    /// A new layer, repeated bottom to top: a layer directory made over the base image's
    /// layers (as `wclayer unpack` names them), or a layer tar (`.tar`, `.tar.gz`, `.tar.zst`).
    #[arg(long = "layer", value_name = "LAYER", required = true)]
    layers: Vec<PathBuf>,
    /// Compress the new layers with zstd instead of gzip (an OCI base only).
    #[arg(long)]
    zstd: bool,
    /// The compression level: gzip 1 to 9 (default 3), zstd 1 to 19 (default 3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=19))]
    level: Option<u32>,
    /// Where to write the image: `oci:DIR:TAG` (the layout is created when missing; an image
    /// with the same tag is replaced, the others are kept), `docker-archive:FILE[:NAME:TAG]`
    /// (an archive `docker load` reads, tagged NAME:TAG) or `oci-archive:FILE[:TAG]` (an OCI
    /// layout in a tar; for both, `-` is standard output and an existing file is replaced),
    /// or `docker://HOST/REPO[:TAG]` (pushed; the base's blobs mounted from its repository
    /// on the same registry).
    #[arg(
        short,
        long,
        value_name = "oci:DIR:TAG|oci-archive:FILE|docker-archive:FILE|docker://..."
    )]
    output: String,
    /// Print the result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn build(a: &BuildArgs) -> Result<()> {
    // A registry output: the image is built into a layout staged in the temporary
    // directory (removed at the end), then pushed.
    let mut staging = None;
    let (dir, tag, dest) = match ImageRef::parse(&a.output)? {
        ImageRef::Oci {
            dir,
            tag: Some(tag),
        } => (dir, tag, None),
        other => {
            let (tag, to) = match other {
                ImageRef::Docker(r) => ("push", Dest::Registry(r)),
                ImageRef::DockerArchive { file, reference } => {
                    if let Some(r) = reference.as_deref().filter(|r| r.starts_with('@')) {
                        anyhow::bail!(
                            "-o {}: {r} numbers an image of an archive to read; name the new \
                             one NAME:TAG, or nothing",
                            a.output
                        );
                    }
                    let to = Dest::Archive(file, reference, ArchiveFormat::Docker);
                    ("archive", to)
                }
                ImageRef::OciArchive { file, tag } => {
                    ("archive", Dest::Archive(file, tag, ArchiveFormat::Oci))
                }
                ImageRef::Oci { .. } => {
                    anyhow::bail!("-o {}: give the layout's tag, oci:DIR:TAG", a.output)
                }
            };
            if let Dest::Archive(file, ..) = &to {
                // Never a terminal, a directory or a device; a file is replaced.
                crate::io::check_output(&file.display().to_string(), true)?;
            }
            let t = TempLayout::create()?;
            let dir = t.path.clone();
            staging = Some(t);
            (dir, tag.to_string(), Some(to))
        }
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
        .map(|b| open(b, &a.platform, &a.registry))
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
        // Pushed or archived at once: a registry base's blobs are mounted or copied by the
        // push, or streamed into the archive, not downloaded into the staged layout first.
        leave_base_blobs: dest.is_some(),
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
            "left": built.left,
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
            "base {name}: {} ({} copied, {} in the layout already, {} foreign left at their \
             urls{})",
            crate::report::count(base_layers, "layer"),
            built.copied,
            built.present,
            built.foreign,
            if built.left > 0 {
                format!(", {} left in its registry", built.left)
            } else {
                String::new()
            }
        ),
        None => format!(
            "no base: {}",
            crate::report::count(built.layers.len(), "new layer")
        ),
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
    let mut json = json;
    // Where the blobs the build left in the base's registry come from.
    let base_registry = match &base {
        Some((Source::Registry(r), _)) => Some(r.clone()),
        _ => None,
    };
    if let Some(Dest::Archive(file, reference, format)) = &dest {
        use wclayer_image::layout::Layout;
        let image = Source::Layout(Layout::open(&dir)?).resolve(
            &ImageRef::Oci {
                dir: dir.clone(),
                tag: Some(tag.clone()),
            },
            &wclayer_image::PlatformSpec::default(),
        )?;
        let shown = file.display().to_string();
        let mut out = crate::io::Output::create(&shown)?;
        wclayer_image::archive::write_archive(
            &Layout::open(&dir)?,
            &image,
            reference.as_deref(),
            *format,
            base_registry.as_ref(),
            &mut out,
        )
        .with_context(|| format!("cannot write {shown}"))?;
        out.commit()?;
        text.push_str(&format!(
            "\nwrote {} as {}{}",
            if shown == "-" {
                "standard output"
            } else {
                &shown
            },
            match format {
                ArchiveFormat::Docker => "a docker-save archive",
                ArchiveFormat::Oci => "an OCI archive",
            },
            reference
                .as_deref()
                .map(|r| format!(", tagged {r}"))
                .unwrap_or_default()
        ));
    }
    if let Some(Dest::Registry(dest)) = &dest {
        // The base's blobs are mounted from its repository when it is on the same registry:
        // the push reads the base the layout's index entry names.
        let popts = PushOptions {
            base: base_registry.clone(),
            ..PushOptions::default()
        };
        let layout = format!("oci:{}:{tag}", dir.display());
        let (pjson, ptext) =
            push_layout(&dir, Some(&tag), &layout, dest, &a.registry, &popts, a.json)?;
        text.push('\n');
        text.push_str(&ptext);
        if let Some(obj) = json.as_mut().and_then(|j| j.as_object_mut()) {
            obj.insert("push".into(), pjson);
        }
    }
    drop(staging);
    // An archive written to standard output leaves it to the archive.
    let channel = match &dest {
        Some(Dest::Archive(file, ..)) => Channel::beside(&file.display().to_string()),
        _ => Channel::Stdout,
    };
    report::result(channel, json.as_ref(), &text);
    Ok(())
}

/// Where `build` puts the image beside (or instead of) an OCI layout.
enum Dest {
    /// Pushed to a registry.
    Registry(RegistryRef),
    /// Written as an archive (`-` for standard output): a `docker save` archive tagged
    /// `NAME:TAG`, or an OCI archive tagged `TAG`.
    Archive(PathBuf, Option<String>, ArchiveFormat),
}

/// The layout `build -o docker://...` writes before pushing it: `layout` in a staged
/// directory in the temporary directory (`.wclayer-build-push.wclayer-staging-…`), never
/// committed. Dropping
/// it removes it with all it holds; a signal's handler removes it too, and what a killed
/// process left is swept by the next one staging there (`wclayer_fs::cleanup`).
struct TempLayout {
    /// Held for its drop.
    _staged: wclayer::crates::fs::StagedDir,
    path: PathBuf,
}

impl TempLayout {
    fn create() -> Result<TempLayout> {
        use wclayer::crates::fs::{Dir, StagedDir, ambient_authority};
        let tmp = std::env::temp_dir();
        let staged = Dir::open_ambient_dir(&tmp, ambient_authority())
            .and_then(|p| StagedDir::create(&p, "wclayer-build-push"))
            .and_then(|s| s.root().create_dir("layout").map(|()| s))
            .with_context(|| format!("cannot make a layout in {}", tmp.display()))?;
        // The layout is a directory inside the staged one: the layout's writer locks its
        // own directory, which must not be the one the staging lock is held on.
        Ok(TempLayout {
            path: tmp.join(staged.staging_name()).join("layout"),
            _staged: staged,
        })
    }
}

/// Arguments of `wclayer inspect`.
#[derive(clap::Args, Debug)]
pub(crate) struct InspectArgs {
    /// The image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]` or
    /// `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`.
    source: String,
    #[command(flatten)]
    platform: PlatformArg,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Print the result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn inspect(a: &InspectArgs) -> Result<()> {
    let (_, image) = open(&a.source, &a.platform, &a.registry)?;
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

/// Arguments of `wclayer push`.
#[derive(clap::Args, Debug)]
pub(crate) struct PushArgs {
    /// The image to push: `oci:DIR[:TAG]`.
    source: String,
    /// Where: `docker://HOST[:PORT]/REPO[:TAG]` (`latest` without a tag).
    destination: String,
    #[command(flatten)]
    registry: RegistryArgs,
    /// A repository of the same registry to mount blobs from instead of uploading them
    /// (the base image's repository). Default: the base a layout written by `wclayer build`
    /// names, when it is on the same registry
    #[arg(long, value_name = "REPO")]
    mount_from: Option<String>,
    /// Blobs larger than this many MiB are uploaded in chunks of this size.
    #[arg(long, value_name = "MIB", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    chunk_size: u64,
    /// Print the result as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

pub(crate) fn push(a: &PushArgs) -> Result<()> {
    let (dir, tag) = match ImageRef::parse(&a.source)? {
        ImageRef::Oci { dir, tag } => (dir, tag),
        _ => anyhow::bail!(
            "{}: wclayer pushes images from OCI layouts (oci:DIR:TAG)",
            a.source
        ),
    };
    let dest = match ImageRef::parse(&a.destination)? {
        ImageRef::Docker(r) => r,
        _ => anyhow::bail!(
            "{}: push to a registry, docker://HOST[:PORT]/REPO[:TAG]",
            a.destination
        ),
    };
    let popts = PushOptions {
        mount_from: a.mount_from.clone(),
        chunk_size: a.chunk_size.saturating_mul(1 << 20),
        base: None,
    };
    let (json, text) = push_layout(
        &dir,
        tag.as_deref(),
        &a.source,
        &dest,
        &a.registry,
        &popts,
        a.json,
    )?;
    report::result(Channel::Stdout, a.json.then_some(&json), &text);
    Ok(())
}

/// Pushes the image of the layout `dir` (named `source` in messages) to `dest`, printing a
/// line per blob unless `json_out`; returns the JSON and the closing text.
fn push_layout(
    dir: &std::path::Path,
    tag: Option<&str>,
    source: &str,
    dest: &RegistryRef,
    registry: &RegistryArgs,
    popts: &PushOptions,
    json_out: bool,
) -> Result<(serde_json::Value, String)> {
    let pushed = wclayer_image::registry::push::push(
        dir,
        tag,
        dest,
        &registry.options()?,
        popts,
        &mut |b| {
            if json_out {
                return;
            }
            let action = match &b.action {
                BlobAction::Exists => "exists in the registry, skipped".to_string(),
                BlobAction::Mounted(from) => format!("mounted from {from}"),
                BlobAction::Uploaded(1) => "uploaded".to_string(),
                BlobAction::Uploaded(n) => format!("uploaded in {} chunks", n.saturating_sub(1)),
                BlobAction::Foreign => "foreign, left at its urls".to_string(),
            };
            report::result(
                Channel::Stdout,
                None,
                &format!("blob {} ({} bytes): {action}", b.digest, b.size),
            );
        },
    )
    .with_context(|| format!("cannot push {source} to {dest}"))?;
    let count = |f: fn(&BlobAction) -> bool| pushed.blobs.iter().filter(|b| f(&b.action)).count();
    let (uploaded, mounted, skipped) = (
        count(|b| matches!(b, BlobAction::Uploaded(_))),
        count(|b| matches!(b, BlobAction::Mounted(_))),
        count(|b| matches!(b, BlobAction::Exists)),
    );
    let json = json!({
        "source": source,
        "destination": dest.to_string(),
        "digest": pushed.digest.to_string(),
        "media_type": pushed.media_type,
        "size": pushed.size,
        "manifests": pushed.manifests,
        "uploaded": uploaded,
        "mounted": mounted,
        "skipped": skipped,
        "blobs": pushed.blobs.iter().map(|b| json!({
            "digest": b.digest.to_string(),
            "size": b.size,
            "media_type": b.media_type,
            "action": match &b.action {
                BlobAction::Exists => "skipped",
                BlobAction::Mounted(_) => "mounted",
                BlobAction::Uploaded(_) => "uploaded",
                BlobAction::Foreign => "foreign",
            },
        })).collect::<Vec<_>>(),
    });
    let text = format!(
        "pushed {source} to {dest}: {uploaded} blobs uploaded, {mounted} mounted, {skipped} \
         skipped\ndigest {}",
        pushed.digest
    );
    Ok((json, text))
}
