//! A store of layer directories, content-addressed by chain ID (docs/images.md):
//!
//! ```text
//! STORE/
//!   wclayer-store.json              {"version":1}: marks the directory as a store
//!   layers/sha256/<chain-id hex>/   one layer directory per chain ID (as `wclayer import`
//!                                   makes it), imported over the layers below it
//!   images/sha256/<id hex>.json     one record per unpacked image (by manifest digest, or a
//!                                   docker-save image's config digest): its name, platform,
//!                                   and per layer the chain ID, diffID, digest, media type
//! ```
//!
//! A layer is imported under a staging name beside its final one
//! (`layers/sha256/.<hex>.wclayer-staging-…`, removed on failure, swept after a kill) and
//! renamed into place only after every check passed (blob digest and size, diffID): a layer
//! directory in `layers/` is always complete and always the one its chain ID names.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use serde_json::json;
use wclayer::crates::fs::{Dir, StagedFile, ambient_authority};
use wclayer::crates::layer::Error as LayerError;
use wclayer::{FileBasicInfo, ImportStats, LayerPath, LayerWriter, Limits};

use crate::Error;
use crate::digest::{Digest, VerifyingReader};
use crate::guard::{Counted, RatioGuard};
use crate::media::Compression;
use crate::source::{Image, Layer, Source};
use wclayer_compress::{Prefetch, ReadAhead};

mod manage;

pub use manage::{Removed, StoredImage};

/// The store's marker file.
const MARKER: &str = "wclayer-store.json";
const MARKER_CONTENT: &str = "{\"version\":1}\n";

/// A store of layer directories.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    root: Dir,
    /// Made by this `open` (`Some(true)`: the directory too, `Some(false)`: in an empty one).
    made: Option<bool>,
    layers: Dir,
    images: Dir,
    /// The lock on the marker file: shared while open for unpacking, exclusive after
    /// [`Store::lock_to_change`].
    lock: Option<std::fs::File>,
    exclusive: bool,
}

/// How [`Store::unpack`] reads layers.
#[derive(Clone, Debug)]
pub struct UnpackOptions {
    /// What each layer may claim (entries, bytes of file data).
    pub limits: Limits,
    /// Most bytes a compressed layer may expand to per compressed byte (checked past 1 GiB).
    pub max_ratio: u64,
    /// Fetch foreign layers whose blob the source does not hold from their `urls`, with
    /// this transport (never with credentials); `None`: refuse them.
    pub foreign_urls: Option<crate::registry::Transport>,
    /// Told, while a layer's blob is read, its number and the bytes read so far.
    pub progress: Option<ByteProgress>,
}

/// A callback with a layer's number and the bytes of its blob read so far.
#[derive(Clone)]
pub struct ByteProgress(pub Arc<dyn Fn(usize, u64) + Send + Sync>);

impl std::fmt::Debug for ByteProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteProgress")
    }
}

/// A blob being read, reporting its progress.
struct Reporting<R> {
    inner: R,
    number: usize,
    read: u64,
    progress: ByteProgress,
}

impl<R: Read> Read for Reporting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        (self.progress.0)(self.number, self.read);
        Ok(n)
    }
}

impl Default for UnpackOptions {
    fn default() -> UnpackOptions {
        UnpackOptions {
            limits: Limits::default(),
            max_ratio: crate::guard::DEFAULT_MAX_RATIO,
            foreign_urls: None,
            progress: None,
        }
    }
}

/// What happened to one layer of an unpacked image.
#[derive(Clone, Debug)]
pub struct LayerOutcome {
    /// Its position, 1 for the base layer.
    pub number: usize,
    /// Layers in the image.
    pub total: usize,
    /// Its chain ID: the name of its layer directory.
    pub chain_id: Digest,
    /// Its diffID.
    pub diff_id: Digest,
    /// Its blob's digest (as given, or computed while it was read).
    pub digest: Option<Digest>,
    /// Its media type.
    pub media_type: String,
    /// Its layer directory.
    pub path: PathBuf,
    /// Whether the store had it already.
    pub reused: bool,
    /// What the import counted (imported layers).
    pub stats: Option<ImportStats>,
}

/// An unpacked image: its chain of layer directories.
#[derive(Clone, Debug)]
pub struct Unpacked {
    /// The layers, base first.
    pub layers: Vec<LayerOutcome>,
}

impl Unpacked {
    /// The top layer's directory.
    #[must_use]
    pub fn top(&self) -> Option<&Path> {
        self.layers.last().map(|l| l.path.as_path())
    }

    /// The parents of the top layer, nearest first (as `-l` takes them).
    #[must_use]
    pub fn parents(&self) -> Vec<&Path> {
        let below = self.layers.len().saturating_sub(1);
        self.layers
            .iter()
            .take(below)
            .rev()
            .map(|l| l.path.as_path())
            .collect()
    }

    /// Layers imported by this unpack.
    #[must_use]
    pub fn imported(&self) -> usize {
        self.layers.iter().filter(|l| !l.reused).count()
    }

    /// Layers the store had already.
    #[must_use]
    pub fn reused(&self) -> usize {
        self.layers.iter().filter(|l| l.reused).count()
    }
}

fn create_dir(parent: &Dir, name: &str) -> io::Result<()> {
    match parent.create_dir(name) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

impl Store {
    /// Opens the store in `path`, creating it when missing or empty.
    ///
    /// # Errors
    /// When it cannot be created, or `path` is a non-empty directory that is no store.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let shown = path.display();
        let ctx = format!("cannot open the store {shown}");
        let existed = Dir::open_ambient_dir(path, ambient_authority()).is_ok();
        let mut made = None;
        Dir::create_ambient_dir_all(path, ambient_authority()).map_err(|e| Error::io(&ctx, e))?;
        let root =
            Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| Error::io(&ctx, e))?;
        if root.metadata(MARKER).is_err() {
            if !root.entries().map_err(|e| Error::io(&ctx, e))?.is_empty() {
                return Err(Error::Invalid(format!(
                    "{shown} is not a wclayer image store (it has no {MARKER}) and is not empty: \
                     give an empty or new directory"
                )));
            }
            made = Some(!existed);
            let mut f = StagedFile::create(&root, MARKER).map_err(|e| Error::io(&ctx, e))?;
            f.write_all(MARKER_CONTENT.as_bytes())
                .and_then(|()| f.commit(true))
                .map_err(|e| Error::io(&ctx, e))?;
        }
        for d in ["layers", "layers/sha256", "images", "images/sha256"] {
            create_dir(&root, d).map_err(|e| Error::io(&ctx, e))?;
        }
        // Shared with other unpacks; waits for a change of the store (`store rm`) to end.
        let lock = root
            .open_file(MARKER)
            .and_then(|f| f.lock_shared().map(|()| f))
            .map_err(|e| Error::io(&ctx, e))?;
        Store::at(path, root, made, Some(lock), &ctx)
    }

    /// The store in `path` whose directory is `root`; `ctx` says what is being done.
    fn at(
        path: &Path,
        root: Dir,
        made: Option<bool>,
        lock: Option<std::fs::File>,
        ctx: &str,
    ) -> Result<Store, Error> {
        let open = |d: &str| root.open_dir(d).map_err(|e| Error::io(ctx, e));
        Ok(Store {
            path: path.to_path_buf(),
            layers: open("layers/sha256")?,
            images: open("images/sha256")?,
            root,
            made,
            lock,
            exclusive: false,
        })
    }

    /// Opens the store in `path`, which must be one, to read what it holds (no lock: see
    /// [`Store::lock_to_change`] to change it).
    ///
    /// # Errors
    /// When `path` is no store or cannot be opened.
    pub fn open_existing(path: &Path) -> Result<Store, Error> {
        let shown = path.display();
        let ctx = format!("cannot open the store {shown}");
        let root =
            Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| Error::io(&ctx, e))?;
        if root.metadata(MARKER).is_err() {
            return Err(Error::Invalid(format!(
                "{shown} is not a wclayer image store (it has no {MARKER})"
            )));
        }
        Store::at(path, root, None, None, &ctx)
    }

    /// After a failed unpack: removes what [`Store::open`] made when nothing was put in it
    /// (no layer, no image), so that a failed command leaves nothing behind. Best effort; a
    /// store that was there already, or holds anything, is left as it is.
    pub fn discard_if_new_and_empty(mut self) {
        let Some(made_dir) = self.made else { return };
        // The marker goes too: let go of its lock first (Windows locks keep it).
        self.lock = None;
        let empty = |d: &Dir| d.entries().is_ok_and(|e| e.is_empty());
        if !empty(&self.layers) || !empty(&self.images) {
            return;
        }
        for d in ["layers/sha256", "layers", "images/sha256", "images"] {
            let _ = self.root.remove_dir(d);
        }
        let _ = self.root.remove_file(MARKER);
        if made_dir && let (Some(parent), Some(name)) = (self.path.parent(), self.path.file_name())
        {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if let Ok(p) = Dir::open_ambient_dir(parent, ambient_authority()) {
                let _ = p.remove_dir(name);
            }
        }
    }

    /// Where the store is, as it was opened.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layer directory of `chain_id` (which may not exist).
    #[must_use]
    pub fn layer_path(&self, chain_id: &Digest) -> PathBuf {
        self.path.join("layers/sha256").join(chain_id.hex())
    }

    /// Whether the store has the layer `chain_id`.
    #[must_use]
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.layers
            .metadata(chain_id.hex())
            .is_ok_and(|m| m.is_dir())
    }

    /// Imports `image`'s layers from `source`, base first, each over those below it; layers
    /// the store has (by chain ID) are reused. `progress` is told about each layer when it is
    /// done.
    ///
    /// # Errors
    /// A layer whose blob is missing (a foreign layer: naming its urls), corrupt (digest or
    /// size), or whose diffID is not the config's; an import that fails. The message names
    /// the image and the layer; nothing of that layer stays in the store (the layers below
    /// it, complete and checked, do).
    pub fn unpack(
        &self,
        source: &Source,
        image: &Image,
        opts: &UnpackOptions,
        progress: &mut dyn FnMut(&LayerOutcome),
    ) -> Result<Unpacked, Error> {
        if image.config.platform.os != "windows" {
            return Err(Error::Invalid(format!(
                "{} is a {} image: wclayer unpacks Windows images",
                image.name, image.config.platform
            )));
        }
        if image.layers.is_empty() {
            return Err(Error::Invalid(format!("{} has no layers", image.name)));
        }
        let total = image.layers.len();
        let mut done: Vec<LayerOutcome> = Vec::new();
        let mut chain: Option<Digest> = None;
        // The layers to import (by their chain IDs), opened ahead for a registry.
        let mut ids: Vec<Digest> = Vec::new();
        for layer in &image.layers {
            ids.push(Digest::chain(ids.last(), &layer.diff_id));
        }
        let needed: Vec<usize> = (0..ids.len())
            .filter(|&i| ids.get(i).is_some_and(|c| !self.has_layer(c)))
            .collect();
        let ahead = matches!(source, Source::Registry(_));
        let mut pending: VecDeque<(usize, Opened)> = VecDeque::new();
        let mut opened = 0usize;
        for (i, layer) in image.layers.iter().enumerate() {
            let chain_id = Digest::chain(chain.as_ref(), &layer.diff_id);
            chain = Some(chain_id);
            let path = self.layer_path(&chain_id);
            let mut outcome = LayerOutcome {
                number: layer.number,
                total,
                chain_id,
                diff_id: layer.diff_id,
                digest: layer.digest,
                media_type: layer.media_type.clone(),
                path,
                reused: true,
                stats: None,
            };
            if self.has_layer(&chain_id) {
                tracing::info!(
                    "{}: {} is in the store already as {}",
                    image.name,
                    layer.describe(),
                    outcome.path.display()
                );
            } else {
                // A registry's next layers download while this one is imported.
                if ahead {
                    while pending.len() <= AHEAD
                        && let Some(&j) = needed.get(opened)
                        && let Some(l) = image.layers.get(j)
                    {
                        let r = open_raw(source, image, l, opts)
                            .map(|r| Blob::spawn(r, l, PREFETCH_CHUNKS));
                        pending.push_back((j, r));
                        opened = opened.saturating_add(1);
                    }
                }
                let open = || {
                    open_raw(source, image, layer, opts).map(|r| Blob::spawn(r, layer, READ_CHUNKS))
                };
                let raw = match pending.front() {
                    Some((j, _)) if *j == i => match pending.pop_front() {
                        Some((_, r)) => r?,
                        None => open()?,
                    },
                    _ => open()?,
                };
                let parents: Vec<PathBuf> = done.iter().rev().map(|l| l.path.clone()).collect();
                let (stats, digest, reused) =
                    self.import(raw, image, layer, &chain_id, &parents, opts)?;
                outcome.digest = Some(digest);
                outcome.reused = reused;
                outcome.stats = stats;
            }
            progress(&outcome);
            done.push(outcome);
        }
        self.record(image, &done)?;
        Ok(Unpacked { layers: done })
    }

    /// Imports one layer into `layers/sha256/<chain-id>`: the layer directory is written
    /// under its staging name and renamed into place only when the tar's end was reached and
    /// the blob's digest and size and the diffID were checked ([`Checked`]); `reused` when
    /// another unpack put the same layer there meanwhile.
    fn import(
        &self,
        blob: Blob,
        image: &Image,
        layer: &Layer,
        chain_id: &Digest,
        parents: &[PathBuf],
        opts: &UnpackOptions,
    ) -> Result<(Option<ImportStats>, Digest, bool), Error> {
        let what = format!("{}: {}", image.name, layer.describe());
        let Blob {
            reader: mut buf,
            consumed,
            ended,
        } = blob;
        let compression = match layer.compression {
            Some(c) => c,
            None => Compression::sniff(
                buf.fill_buf()
                    .map_err(|e| Error::io(format!("{what}: cannot read it"), e))?,
            ),
        };
        // Receiving and checking the blob (`Blob`), decompressing it and hashing the tar
        // (the diffID) run ahead on threads of their own while this one imports
        // (docs/performance.md, "Pull").
        let decoded = compression
            .decoder(buf)
            .map_err(|e| Error::io(format!("{what}: cannot decompress it"), e))?;
        let input = Rc::new(RefCell::new(ReadAhead::spawn(Box::new(RatioGuard::new(
            decoded,
            consumed,
            opts.max_ratio,
        )))));
        let failure = Rc::new(RefCell::new(None));
        let dest = self.layer_path(chain_id);
        let writer = wclayer::new_layer_writer(&dest, parents).map_err(|source| Error::Layer {
            context: format!("{what}: cannot create its layer directory"),
            source: Box::new(source),
        })?;
        let mut checked = Checked {
            inner: writer,
            input: Rc::clone(&input),
            ended: Arc::clone(&ended),
            failure: Rc::clone(&failure),
            diff_id: layer.diff_id,
            what: what.clone(),
        };
        let imported = wclayer::crates::tar::import_tar_limited(
            &mut wclayer::ArchiveReader::new(Shared(Rc::clone(&input))),
            &mut checked,
            &opts.limits,
        );
        drop(checked);
        let stats = match imported {
            Ok(stats) => stats,
            Err(e) => {
                if let Some(f) = failure.borrow_mut().take() {
                    return Err(f);
                }
                // Another unpack put the same layer in place meanwhile.
                if e.to_string().contains("exists") && self.has_layer(chain_id) {
                    let digest = lock(&ended).unwrap_or(layer.diff_id);
                    return Ok((None, digest, true));
                }
                return Err(Error::Layer {
                    context: format!("{what}: cannot import it"),
                    source: Box::new(wclayer::Error::Tar(e)),
                });
            }
        };
        let digest = lock(&ended)
            .ok_or_else(|| Error::Invalid(format!("{what}: the blob was not read to its end")))?;
        Ok((Some(stats), digest, false))
    }

    /// Writes `images/sha256/<id>.json`.
    fn record(&self, image: &Image, layers: &[LayerOutcome]) -> Result<(), Error> {
        let rec = json!({
            "image": image.name,
            "id": image.id.to_string(),
            "manifest": image.manifest_descriptor.as_ref().map(|d| d.digest.to_string()),
            "config": image.config_descriptor.digest.to_string(),
            "platform": image.config.platform,
            "layers": layers.iter().map(|l| json!({
                "chain_id": l.chain_id.to_string(),
                "diff_id": l.diff_id.to_string(),
                "digest": l.digest.map(|d| d.to_string()),
                "media_type": l.media_type,
            })).collect::<Vec<_>>(),
            "top": layers.last().map(|l| format!("layers/sha256/{}", l.chain_id.hex())),
        });
        let name = format!("{}.json", image.id.hex());
        let ctx = || format!("cannot record {} in {}", image.name, self.path.display());
        let mut f = StagedFile::create(&self.images, &name).map_err(|e| Error::io(ctx(), e))?;
        let bytes = serde_json::to_vec_pretty(&rec)
            .map_err(|e| Error::Invalid(format!("{}: {e}", ctx())))?;
        f.write_all(&bytes)
            .and_then(|()| f.commit(true))
            .map_err(|e| Error::io(ctx(), e))
    }
}

/// A layer's blob opened ahead, or why it could not be (told when its turn comes).
type Opened = Result<Blob, Error>;

/// A layer's blob being read, counted and checked (digest and size) on a thread of its own,
/// [`Prefetch`] of `wclayer-compress`: the thread that decompresses it does only that
/// (docs/performance.md, "Pull").
struct Blob {
    reader: Prefetch,
    /// Compressed bytes read so far, for the expansion limit.
    consumed: Arc<AtomicU64>,
    /// The blob's digest once all of it was read and it matched.
    ended: Arc<Mutex<Option<Digest>>>,
}

impl Blob {
    /// Starts reading `raw`, the blob of `layer`, up to `chunks` chunks of 256 KiB ahead.
    fn spawn(raw: Box<dyn Read + Send>, layer: &Layer, chunks: usize) -> Blob {
        let consumed = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(Mutex::new(None));
        let verified = Ended {
            inner: VerifyingReader::new(
                Counted::new(raw, Arc::clone(&consumed)),
                layer.digest,
                layer.size,
            ),
            out: Arc::clone(&ended),
        };
        Blob {
            reader: Prefetch::ahead(Box::new(verified), chunks, "blob-read"),
            consumed,
            ended,
        }
    }
}

/// Layers of a registry image whose blobs are opened and read ahead beyond the one being
/// imported (each holds at most 8 MiB, [`PREFETCH_CHUNKS`]).
const AHEAD: usize = 2;
/// Chunks of 256 KiB each blob downloading ahead may hold (8 MiB).
const PREFETCH_CHUNKS: usize = 32;
/// Chunks of 256 KiB a blob opened when its turn comes is read ahead of its decompression.
const READ_CHUNKS: usize = 4;

/// The raw blob of `layer`: from the source, or for a foreign layer from its urls when
/// allowed; with the progress callback, if any.
fn open_raw(
    source: &Source,
    image: &Image,
    layer: &Layer,
    opts: &UnpackOptions,
) -> Result<Box<dyn Read + Send>, Error> {
    let what = format!("{}: {}", image.name, layer.describe());
    let raw = match (source.open_layer(layer)?, &opts.foreign_urls) {
        (Some(r), _) => r,
        (None, Some(t)) if layer.foreign => t.open_url(&layer.urls, &what)?,
        (None, _) => return Err(Source::missing(&image.name, layer)),
    };
    Ok(match &opts.progress {
        Some(p) => Box::new(Reporting {
            inner: raw,
            number: layer.number,
            read: 0,
            progress: p.clone(),
        }),
        None => raw,
    })
}

/// The blob's digest, once its end was read and checked.
fn lock(m: &Mutex<Option<Digest>>) -> Option<Digest> {
    *m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A checked blob that tells, through `out`, its digest once its end was read and matched.
struct Ended<R> {
    inner: VerifyingReader<R>,
    out: Arc<Mutex<Option<Digest>>>,
}

impl<R: Read> Read for Ended<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            *self
                .out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = self.inner.verified();
        }
        Ok(n)
    }
}

/// The uncompressed tar, read by the tar reader and, at the end, by [`Checked`].
type Input = Rc<RefCell<ReadAhead>>;

/// Reads the shared input.
struct Shared(Input);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// The layer writer of an unpack: before the layer directory is committed (`close`), it
/// reads the input to its end and checks the blob (digest, size) and the diffID; a layer
/// that fails is never committed (its staging directory is removed when the writer drops).
struct Checked<W> {
    inner: W,
    input: Input,
    ended: Arc<Mutex<Option<Digest>>>,
    failure: Rc<RefCell<Option<Error>>>,
    diff_id: Digest,
    what: String,
}

impl<W> Checked<W> {
    fn check(&self) -> Result<(), Error> {
        let mut input = self.input.borrow_mut();
        let diff_id = input
            .finish()
            .map_err(|e| Error::io(format!("{}: cannot read it", self.what), e))?;
        if lock(&self.ended).is_none() {
            return Err(Error::Invalid(format!(
                "{}: the blob has data after its compressed stream",
                self.what
            )));
        }
        let diff_id = Digest::from_bytes(diff_id);
        if diff_id != self.diff_id {
            return Err(Error::Invalid(format!(
                "{}: its uncompressed tar has diffID {diff_id}, the config says {}",
                self.what, self.diff_id
            )));
        }
        Ok(())
    }
}

impl<W: LayerWriter> LayerWriter for Checked<W> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), LayerError> {
        self.inner.add(name, info)
    }
    fn add_link(&mut self, name: &LayerPath, target: &LayerPath) -> Result<(), LayerError> {
        self.inner.add_link(name, target)
    }
    fn remove(&mut self, name: &LayerPath) -> Result<(), LayerError> {
        self.inner.remove(name)
    }
    fn write_stream(&mut self, buf: &[u8]) -> Result<(), LayerError> {
        self.inner.write_stream(buf)
    }
    fn close(&mut self) -> Result<(), LayerError> {
        if let Err(e) = self.check() {
            let msg = e.to_string();
            *self.failure.borrow_mut() = Some(e);
            return Err(LayerError::backend(io::Error::new(
                io::ErrorKind::InvalidData,
                msg,
            )));
        }
        self.inner.close()
    }
}

impl<W: LayerWriter> Write for Checked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
