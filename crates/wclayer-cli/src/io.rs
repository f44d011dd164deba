//! Opening inputs (compression detected by magic bytes) and writing outputs atomically.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result};
use wclayer::crates::fs::{Dir, StagedFile, ambient_authority};
use wclayer_compress::ReadAhead;
pub(crate) use wclayer_compress::WriteBehind;
use wclayer_image::guard::{Counted, RatioGuard};
use wclayer_image::media::Compression as InputCompression;

/// Opens `path` (`-` for standard input) and undoes gzip or zstd compression, detected by
/// the stream's first bytes, so `.tar`, `.tar.gz` and `.tar.zst` are all accepted. A
/// compressed input may expand at most `max_ratio` times (see [`RatioGuard`]). Reading,
/// decompressing and hashing run ahead on their own thread ([`Input`]).
pub(crate) fn open_input(path: &str, max_ratio: u64) -> Result<Input> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        use std::io::IsTerminal;
        anyhow::ensure!(
            !io::stdin().is_terminal(),
            "the layer tar would be read from standard input, which is a terminal: name the \
             file, or redirect it (< LAYER.tar)"
        );
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).with_context(|| format!("cannot open {path}"))?)
    };
    let r = decompress(raw, max_ratio).with_context(|| format!("cannot read {path}"))?;
    Ok(Input::spawn(r))
}

/// Wraps `raw` in the decoder its magic bytes call for, behind a [`RatioGuard`].
pub(crate) fn decompress(
    raw: Box<dyn Read + Send>,
    max_ratio: u64,
) -> io::Result<Box<dyn Read + Send>> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counted = Counted::new(raw, Arc::clone(&consumed));
    let mut r = BufReader::with_capacity(256 << 10, counted);
    let head = r.fill_buf()?;
    refuse_other_formats(head)?;
    let compression = InputCompression::sniff(head);
    let decoded = compression.decoder(r)?;
    Ok(if compression == InputCompression::None {
        decoded
    } else {
        Box::new(RatioGuard::new(decoded, consumed, max_ratio))
    })
}

/// Refuses, by their first bytes, what cannot be a layer tar: an empty input and the
/// compressions and archives wclayer does not read, each named with what to do instead.
fn refuse_other_formats(head: &[u8]) -> io::Result<()> {
    let other: &[(&[u8], &str)] = &[
        (
            &[0xfd, b'7', b'z', b'X', b'Z', 0],
            "xz-compressed (decompress it first: xz -dc)",
        ),
        (b"BZh", "bzip2-compressed (decompress it first: bzip2 -dc)"),
        (
            &[0x04, 0x22, 0x4d, 0x18],
            "lz4-compressed (decompress it first: lz4 -dc)",
        ),
        (b"PK\x03\x04", "a zip archive, not a tar"),
        (
            &[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c],
            "a 7-Zip archive, not a tar",
        ),
    ];
    if head.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is empty (0 bytes), not a layer tar",
        ));
    }
    match other.iter().find(|(magic, _)| head.starts_with(magic)) {
        Some((_, what)) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is {what}; wclayer reads .tar, .tar.gz and .tar.zst"),
        )),
        None => Ok(()),
    }
}

/// What the first entries of an input say it is, for messages when it is no Windows layer.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sniff {
    /// The names of the first entries (at most [`SNIFF_NAMES`]), as in the tar.
    pub(crate) names: Vec<String>,
    /// Whether the first block is no tar header at all.
    pub(crate) not_tar: bool,
}

/// Entry names a [`Sniff`] keeps.
const SNIFF_NAMES: usize = 16;

impl Sniff {
    /// Reads the names of the first entries in `head`, the first bytes of the uncompressed
    /// input (the tar reader stops at the end of `head` with an error, which ends the list).
    fn of(head: &[u8]) -> Sniff {
        let mut r = wclayer::ArchiveReader::new(head);
        let mut names = Vec::new();
        let mut not_tar = false;
        while names.len() < SNIFF_NAMES {
            match r.next_entry() {
                Ok(Some(h)) => names.push(h.name),
                Ok(None) => break,
                Err(_) => {
                    not_tar = names.is_empty() && head.len() >= 512;
                    break;
                }
            }
        }
        Sniff { names, not_tar }
    }

    /// A sentence saying what the input looks like when it is not a Windows layer (an
    /// image archive, an ordinary tar, no tar at all), or `None` when it may be one.
    pub(crate) fn not_a_layer(&self) -> Option<String> {
        if self.not_tar {
            return Some("it is not a tar archive (its first block is no tar header)".into());
        }
        let clean = |n: &str| n.trim_start_matches("./").to_string();
        let names: Vec<String> = self.names.iter().map(|n| clean(n)).collect();
        let image = names.iter().any(|n| {
            n == "manifest.json"
                || n == "oci-layout"
                || n == "index.json"
                || n == "repositories"
                || n.starts_with("blobs/sha256/")
        });
        let shown = names
            .iter()
            .filter(|n| !n.is_empty())
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if image {
            let docker = names
                .iter()
                .any(|n| n == "manifest.json" || n == "repositories");
            let how = if docker {
                "unpack it into a store of layer directories with `wclayer unpack \
                 docker-archive:FILE STORE`"
            } else {
                "extract it and unpack the layout into a store of layer directories with \
                 `wclayer unpack oci:DIR STORE`"
            };
            return Some(format!(
                "it looks like a whole image (a `docker save` archive or an OCI image layout: \
                 {shown}), not one layer; {how}"
            ));
        }
        let windows = |n: &str| {
            let top = n.split('/').next().unwrap_or_default();
            let top = top.strip_prefix(".wh.").unwrap_or(top);
            ["Files", "Hives", "UtilityVM"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(top))
        };
        if !names.is_empty() && !names.iter().any(|n| n.is_empty() || windows(n)) {
            return Some(format!(
                "it looks like an ordinary (Linux) tar ({shown}, ...), not a Windows layer, \
                 whose entries are under Files/, Hives/ and UtilityVM/"
            ));
        }
        None
    }
}

/// The uncompressed input, read, decompressed and hashed ahead on threads of their own
/// ([`ReadAhead`], docs/performance.md, "Import"), with what its first entries say it is.
pub(crate) struct Input(ReadAhead);

impl Input {
    fn spawn(r: Box<dyn Read + Send>) -> Input {
        Input(ReadAhead::spawn(r))
    }

    /// What the first entries of the input say it is. Waits for the first chunk, which
    /// `read` then hands out as usual.
    pub(crate) fn sniff(&mut self) -> Sniff {
        Sniff::of(self.0.head())
    }

    /// Reads what is left (an archive may end before its input does) and returns the
    /// SHA-256 of the whole uncompressed input, in hexadecimal.
    pub(crate) fn finish(&mut self) -> io::Result<String> {
        self.0.finish().map(hex::encode)
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
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
pub(crate) struct Stdout(io::Stdout);

impl Stdout {
    pub(crate) fn new() -> Stdout {
        Stdout(io::stdout())
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

/// The compression of an output tar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression an output's name and flags ask for: `.gz`/`.tgz` gzip,
    /// `.zst`/`.tzst` zstd, `.tar` none, another name what the flags say. A flag that
    /// contradicts the name is refused (docs/cli.md, "Outputs").
    pub(crate) fn choose(output: &str, gzip: bool, zstd: bool) -> Result<Compression> {
        let lower = output.to_ascii_lowercase();
        let by_name = if lower.ends_with(".gz") || lower.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else if lower.ends_with(".zst") || lower.ends_with(".tzst") {
            Some(Compression::Zstd)
        } else if lower.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        };
        let by_flag = match (gzip, zstd) {
            (true, _) => Some(Compression::Gzip),
            (_, true) => Some(Compression::Zstd),
            _ => None,
        };
        match (by_name, by_flag) {
            (Some(n), Some(f)) if n != f => anyhow::bail!(
                "{output} names {} tar, but {} was given: rename the output or drop the flag",
                n.article(),
                f.flag()
            ),
            (Some(c), _) | (None, Some(c)) => Ok(c),
            (None, None) => Ok(Compression::None),
        }
    }

    fn article(self) -> &'static str {
        match self {
            Compression::None => "an uncompressed",
            Compression::Gzip => "a gzip-compressed",
            Compression::Zstd => "a zstd-compressed",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Compression::None => "no compression flag",
            Compression::Gzip => "--gzip",
            Compression::Zstd => "--zstd",
        }
    }

    /// The OCI media type of a layer tar with this compression.
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Checks, before any work, that `output` may be written: `-` only when standard output is
/// no terminal (a tar on a terminal is garbage), a path only when nothing is there or, with
/// `force`, a regular file (a directory, device or pipe is never replaced).
pub(crate) fn check_output(output: &str, force: bool) -> Result<()> {
    use std::io::IsTerminal;
    if output == "-" {
        anyhow::ensure!(
            !io::stdout().is_terminal(),
            "refusing to write a tar to a terminal: give an output file (-o FILE) or redirect \
             standard output (> FILE)"
        );
        return Ok(());
    }
    match std::fs::symlink_metadata(output) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot check {output}")),
        Ok(m) if !m.file_type().is_file() => {
            anyhow::bail!("{output} exists and is not a regular file: it is never replaced")
        }
        Ok(_) if !force => {
            anyhow::bail!("{output} already exists: remove it, or give --force to replace it")
        }
        Ok(_) => Ok(()),
    }
}

/// An output file that appears under its name only when [`Output::commit`] is called;
/// dropped uncommitted (after an error), it leaves nothing behind, and a signal or a kill
/// leaves nothing the next run does not sweep (a `wclayer_fs::StagedFile`,
/// docs/security.md §5). `-` is standard output.
/// Bytes of an output file between two flushes ahead of the final one
/// (`StagedFile::write_back_every`, docs/performance.md).
const OUTPUT_WRITE_BACK_EVERY: u64 = 32 << 20;

pub(crate) enum Output {
    Stdout(io::BufWriter<Stdout>),
    File {
        w: StagedFile,
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
        let mut staged = Dir::open_ambient_dir(dir, ambient_authority())
            .and_then(|d| StagedFile::create(&d, name))
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        // Buffered in 1 MiB pieces, each written around the page cache (where the file
        // system allows it: docs/performance.md, "Export, plain"); what is not is flushed
        // ahead.
        staged
            .write_direct()
            .with_context(|| format!("cannot write {}", path.display()))?;
        staged.write_back_every(OUTPUT_WRITE_BACK_EVERY);
        Ok(Output::File {
            w: staged,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush().context("cannot write standard output"),
            Output::File { w, path } => w
                .commit(true)
                .with_context(|| format!("cannot create {}", path.display())),
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
pub(crate) fn progress_reader<'a>(r: impl Read + 'a, what: &'static str) -> Box<dyn Read + 'a> {
    match progress_bar(what) {
        Some(bar) => Box::new(bar.wrap_read(r)),
        None => Box::new(r),
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
