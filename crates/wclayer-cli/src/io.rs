//! Opening inputs (compression detected by magic bytes) and writing outputs atomically.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use wclayer::crates::fs::{Dir, StagedFile, ambient_authority};

/// Opens `path` (`-` for standard input) and undoes gzip or zstd compression, detected by
/// the stream's first bytes, so `.tar`, `.tar.gz` and `.tar.zst` are all accepted. A
/// compressed input may expand at most `max_ratio` times (see [`RatioGuard`]).
pub(crate) fn open_input(path: &str, max_ratio: u64) -> Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).with_context(|| format!("cannot open {path}"))?)
    };
    decompress(raw, max_ratio).with_context(|| format!("cannot read {path}"))
}

/// Wraps `raw` in the decoder its magic bytes call for, behind a [`RatioGuard`].
pub(crate) fn decompress(raw: Box<dyn Read>, max_ratio: u64) -> io::Result<Box<dyn Read>> {
    let consumed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let counted = Counted {
        inner: raw,
        count: consumed.clone(),
    };
    let mut r = BufReader::with_capacity(256 << 10, counted);
    let head = r.fill_buf()?;
    let guard = |inner: Box<dyn Read>| -> Box<dyn Read> {
        Box::new(RatioGuard {
            inner,
            consumed,
            produced: 0,
            max_ratio,
        })
    };
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        guard(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        guard(Box::new(zstd::Decoder::with_buffer(r)?))
    } else {
        Box::new(r)
    })
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// Decompressed bytes before the ratio is checked: a small input may legitimately expand a
/// lot (a layer of zeros), and up to this much is harmless.
const RATIO_FLOOR: u64 = 1 << 30;

/// Stops a decompression bomb: fails once the decompressed output is over 1 GiB and more
/// than `max_ratio` times the compressed bytes consumed (gzip reaches about 1000:1 on zeros,
/// zstd far more; real layers compress 2:1 to 5:1).
struct RatioGuard {
    inner: Box<dyn Read>,
    consumed: std::rc::Rc<std::cell::Cell<u64>>,
    produced: u64,
    max_ratio: u64,
}

impl Read for RatioGuard {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced = self.produced.saturating_add(n as u64);
        if self.produced > RATIO_FLOOR
            && self.produced > self.consumed.get().saturating_mul(self.max_ratio)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the compressed input expands more than {} times (raise --max-ratio to allow it)",
                    self.max_ratio
                ),
            ));
        }
        Ok(n)
    }
}

/// Set when a write to standard output met a closed pipe (`wclayer trace x.tar | head`):
/// the command then ends quietly with success, as Unix tools do.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether standard output was closed by its reader.
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Standard output, noting a closed pipe (see [`stdout_closed`]).
pub(crate) struct Stdout(io::StdoutLock<'static>);

impl Stdout {
    pub(crate) fn new() -> Stdout {
        Stdout(io::stdout().lock())
    }

    fn note(r: io::Result<usize>) -> io::Result<usize> {
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Stdout::note(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Stdout::note(self.0.flush().map(|()| 0)).map(|_| ())
    }
}

/// An output file that appears under its name only when [`Output::commit`] is called;
/// dropped uncommitted (after an error), it leaves nothing behind, and a signal or a kill
/// leaves nothing the next run does not sweep (a `wclayer_fs::StagedFile`,
/// docs/security.md §5). `-` is standard output.
pub(crate) enum Output {
    Stdout(io::BufWriter<Stdout>),
    File {
        w: io::BufWriter<StagedFile>,
        path: std::path::PathBuf,
    },
}

impl Output {
    pub(crate) fn create(path: &str) -> Result<Output> {
        if path == "-" {
            return Ok(Output::Stdout(io::BufWriter::with_capacity(
                256 << 10,
                Stdout::new(),
            )));
        }
        let path = Path::new(path);
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: not a file name", path.display()))?;
        let staged = Dir::open_ambient_dir(dir, ambient_authority())
            .and_then(|d| StagedFile::create(&d, name))
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(Output::File {
            w: io::BufWriter::with_capacity(256 << 10, staged),
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush().context("cannot write standard output"),
            Output::File { w, path } => {
                let staged = w.into_inner().map_err(io::IntoInnerError::into_error)?;
                staged
                    .commit(true)
                    .with_context(|| format!("cannot create {}", path.display()))
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File { w, .. } => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File { w, .. } => w.flush(),
        }
    }
}

/// Wraps `r` in a progress display on standard error (bytes read and rate), shown only
/// when standard error is a terminal.
pub(crate) fn progress_reader(r: Box<dyn Read>, what: &'static str) -> Box<dyn Read> {
    match progress_bar(what) {
        Some(bar) => Box::new(bar.wrap_read(r)),
        None => r,
    }
}

/// A spinner with bytes and rate on standard error, or `None` when standard error is not
/// a terminal.
pub(crate) fn progress_bar(what: &'static str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(what);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec}) {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}
