//! Making a Windows layer from ordinary files: a host directory or a plain (Linux) layer
//! tar becomes a base or delta layer whose entries sit below `Files/` (docs/create.md).
//!
//! A [`Source`] is walked in sorted name order, never in directory order, and turned into
//! [`LayerWriter`] calls: [`LayerWriter::add`] with a [`FileBasicInfo`](crate::FileBasicInfo) and a Win32 backup
//! stream (security descriptor, data, reparse data for symbolic links) for each directory,
//! file and symbolic link, [`LayerWriter::add_link`] for each further name of a hard-linked
//! file. [`create_tar`] feeds those calls into a [`MemLayer`] (which spools the data to a
//! temporary file) and exports it with the tar exporter, so the tar it writes is exactly
//! what importing it and exporting it again gives: a fixed point.
//!
//! What is decided and how (docs/create.md):
//!
//! - **Where**: the source's root is the directory [`Options::prefix`] (`Files` unless set);
//!   the prefix and its ancestors are added as directories unless the parent chain already
//!   has them, and so are directories of the source that the chain already has: a delta
//!   layer only adds what is new. Without parents the layer is a base layer.
//! - **Attributes**: `DIRECTORY` for directories, `ARCHIVE` for files, `REPARSE_POINT` (and
//!   `DIRECTORY` for a link to a directory) for symbolic links; [`Options::attribute_rule`]
//!   replaces the first two per path glob. Host permissions are never read: the same content
//!   gives the same layer whatever the umask.
//! - **Security descriptors**: one for files and one for directories ([`SdPreset`],
//!   [`Options::file_sddl`], [`Options::dir_sddl`]), replaced per path glob by
//!   [`Options::sd_rule`].
//! - **Times**: the host's (modification → last write and creation, access, change), the
//!   tar header's, or all four set to [`Options::source_date_epoch`].
//! - **Refused**: symbolic links with an absolute target or one that leaves the source,
//!   FIFOs, sockets and devices, unreadable files, names NTFS cannot hold. Each error names
//!   the path; [`Options::skip_unsafe_links`] and [`Options::skip_special`] turn the first
//!   two into skips counted in [`CreateStats`].
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use wclayer::create::{Options, SdPreset, Source, create_tar};
//!
//! let mut opts = Options::new();
//! opts.sd_preset(SdPreset::WindowsDefault).prefix("Files/app")?.source_date_epoch(0);
//! let out = std::fs::File::create("app.tar")?;
//! let source = Source::open(Path::new("./app"))?;
//! let (_out, _export, stats) = create_tar(source, &[PathBuf::from("/layers/base")], &opts, out)?;
//! println!("{} entries", stats.entries);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod emit;
mod host;
mod rules;
mod tar;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use wclayer_backup::sd::SecurityDescriptor;
use wclayer_fs::{Dir, ambient_authority};
use wclayer_layer::{
    Entry, FileAttributes, LayerPath, LayerReader, LayerWriter, Limits, MemLayer, WalkMode,
    upcase_key,
};
use wclayer_tar::ExportStats;
use wclayer_tar::archive::ArchiveReader;

pub use rules::{SdPreset, parse_attributes};

/// An error making a layer. Every message names the path (of the source, or of the entry in
/// the layer) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// The source could not be read.
    #[error("{path}: cannot {op}")]
    Io {
        /// The path in the source (the source's own path joined with the entry's).
        path: String,
        /// What was being done (`read directory`, `read file`, ...).
        op: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An entry of the source that cannot become part of a Windows layer: a symbolic link
    /// leading out of the source, a FIFO, socket or device, a name NTFS cannot hold, a file
    /// that changed while it was read.
    #[error("{path}: {why}")]
    Refused {
        /// The path in the source.
        path: String,
        /// Why it is refused.
        why: String,
    },
    /// An option is invalid: a glob, an SDDL string, a prefix, attributes.
    #[error("{0}")]
    Option(String),
    /// A parent layer could not be read.
    #[error("cannot read parent layer {path}")]
    Parent {
        /// The parent layer directory.
        path: String,
        /// The cause.
        #[source]
        source: Box<crate::Error>,
    },
    /// The layer model refused an entry.
    #[error(transparent)]
    Layer(#[from] wclayer_layer::Error),
    /// The tar source could not be read, or the layer could not be exported.
    #[error(transparent)]
    Tar(#[from] wclayer_tar::Error),
    /// The tar source is not a readable tar.
    #[error(transparent)]
    Archive(#[from] wclayer_tar::archive::Error),
}

impl CreateError {
    pub(crate) fn io(path: impl Into<String>, op: &'static str, source: io::Error) -> Self {
        CreateError::Io {
            path: path.into(),
            op,
            source,
        }
    }

    pub(crate) fn refused(path: impl Into<String>, why: impl Into<String>) -> Self {
        CreateError::Refused {
            path: path.into(),
            why: why.into(),
        }
    }
}

/// How a layer is made from a source; [`Options::new`] gives the defaults of docs/create.md.
#[derive(Clone, Debug)]
pub struct Options {
    /// Components of the directory the source's root becomes (`Files`, `app`).
    prefix: Vec<String>,
    /// The descriptor of files and symbolic links to files (binary, self-relative).
    file_sd: Vec<u8>,
    /// The descriptor of directories and symbolic links to directories.
    dir_sd: Vec<u8>,
    /// Per-glob descriptors, the last match wins.
    sd_rules: rules::GlobRules<Vec<u8>>,
    /// Per-glob attributes, the last match wins.
    attr_rules: rules::GlobRules<FileAttributes>,
    /// All times set to this many seconds after 1970, when set.
    epoch: Option<i64>,
    skip_unsafe_links: bool,
    skip_special: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// The defaults: prefix `Files`, the [`SdPreset::WindowsDefault`] descriptors, no
    /// rules, times from the source, unsafe links and special files refused.
    #[must_use]
    pub fn new() -> Options {
        let (file_sd, dir_sd) = SdPreset::WindowsDefault.descriptors();
        Options {
            prefix: vec!["Files".to_string()],
            file_sd,
            dir_sd,
            sd_rules: rules::GlobRules::default(),
            attr_rules: rules::GlobRules::default(),
            epoch: None,
            skip_unsafe_links: false,
            skip_special: false,
        }
    }

    /// Sets the directory the source's root becomes: `Files` or a directory below it
    /// (`Files/app`), `/`- or `\`-separated.
    ///
    /// # Errors
    /// [`CreateError::Option`] for a name outside `Files`, with `.` or `..`, or that is no
    /// valid layer name.
    pub fn prefix(&mut self, prefix: &str) -> Result<&mut Options, CreateError> {
        let comps: Vec<String> = prefix
            .split(['/', '\\'])
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let bad = |why: &str| CreateError::Option(format!("invalid prefix {prefix:?}: {why}"));
        match comps.first() {
            Some(first) if upcase_key(first) == "FILES" => {}
            _ => return Err(bad("it must be Files or a directory below Files")),
        }
        if comps.iter().any(|c| c == "." || c == "..") {
            return Err(bad("it must not hold . or .."));
        }
        for c in &comps {
            rules::check_component(c).map_err(|why| bad(&why))?;
        }
        LayerPath::parse(&comps.join("/")).map_err(|e| bad(e.reason))?;
        self.prefix = comps;
        Ok(self)
    }

    /// The directory the source's root becomes, `/`-separated (`Files`, `Files/app`).
    #[must_use]
    pub fn prefix_name(&self) -> String {
        self.prefix.join("/")
    }

    /// Uses the descriptors of `preset` for files and directories.
    pub fn sd_preset(&mut self, preset: SdPreset) -> &mut Options {
        (self.file_sd, self.dir_sd) = preset.descriptors();
        self
    }

    /// Sets the descriptor of files (and symbolic links to files) from SDDL; an empty string
    /// means none.
    ///
    /// # Errors
    /// [`CreateError::Option`] for invalid SDDL.
    pub fn file_sddl(&mut self, sddl: &str) -> Result<&mut Options, CreateError> {
        self.file_sd = rules::sd_bytes(sddl)?;
        Ok(self)
    }

    /// Sets the descriptor of directories (and symbolic links to directories) from SDDL; an
    /// empty string means none.
    ///
    /// # Errors
    /// [`CreateError::Option`] for invalid SDDL.
    pub fn dir_sddl(&mut self, sddl: &str) -> Result<&mut Options, CreateError> {
        self.dir_sd = rules::sd_bytes(sddl)?;
        Ok(self)
    }

    /// Gives the entries whose layer name (`Files/app/x.dll`) matches `glob` the descriptor
    /// `sddl` instead of the file or directory default. Globs: `*` and `?` within one
    /// component, `**` across components, `[abc]`; matched case-insensitively, as NTFS
    /// compares names. When several rules match, the last one added wins.
    ///
    /// # Errors
    /// [`CreateError::Option`] for an invalid glob or SDDL.
    pub fn sd_rule(&mut self, glob: &str, sddl: &str) -> Result<&mut Options, CreateError> {
        let sd = rules::sd_bytes(sddl)?;
        self.sd_rules.push(glob, sd)?;
        Ok(self)
    }

    /// Gives the entries whose layer name matches `glob` the attributes `attrs` (see
    /// [`parse_attributes`]) instead of `ARCHIVE` or `DIRECTORY`. `DIRECTORY` and
    /// `REPARSE_POINT` still follow the entry's kind. When several rules match, the last
    /// one added wins.
    ///
    /// # Errors
    /// [`CreateError::Option`] for an invalid glob.
    pub fn attribute_rule(
        &mut self,
        glob: &str,
        attrs: FileAttributes,
    ) -> Result<&mut Options, CreateError> {
        self.attr_rules.push(glob, attrs)?;
        Ok(self)
    }

    /// Sets all four times of every entry to `secs` seconds after 1970-01-01 UTC (the
    /// `SOURCE_DATE_EPOCH` of reproducible builds), instead of the source's times.
    pub fn source_date_epoch(&mut self, secs: i64) -> &mut Options {
        self.epoch = Some(secs);
        self
    }

    /// Leaves out symbolic links whose target is absolute or leaves the source (counted in
    /// [`CreateStats::skipped_links`]) instead of failing.
    pub fn skip_unsafe_links(&mut self, skip: bool) -> &mut Options {
        self.skip_unsafe_links = skip;
        self
    }

    /// Leaves out FIFOs, sockets and device nodes (counted in
    /// [`CreateStats::skipped_special`]) instead of failing.
    pub fn skip_special(&mut self, skip: bool) -> &mut Options {
        self.skip_special = skip;
        self
    }
}

/// What a layer was made of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateStats {
    /// Entries added ([`LayerWriter::add`] calls): directories, files, symbolic links.
    pub entries: u64,
    /// Of them, directories.
    pub directories: u64,
    /// Of them, symbolic links.
    pub symlinks: u64,
    /// Further names of hard-linked files ([`LayerWriter::add_link`] calls).
    pub hard_links: u64,
    /// Tombstones (whiteouts of a tar source).
    pub tombstones: u64,
    /// Bytes of file data.
    pub file_bytes: u64,
    /// Symbolic links left out ([`Options::skip_unsafe_links`]).
    pub skipped_links: u64,
    /// FIFOs, sockets and devices left out ([`Options::skip_special`]).
    pub skipped_special: u64,
    /// Directories of the source left out because the parent chain has them.
    pub parent_directories: u64,
}

/// The directories a chain of parent layers has, after each layer applied its tombstones:
/// upcased keys (docs/layer-semantics.md §0.1: names compare case-insensitively).
#[derive(Clone, Debug, Default)]
pub struct ChainDirs {
    dirs: HashSet<String>,
}

impl ChainDirs {
    /// No parents: a base layer.
    #[must_use]
    pub fn none() -> ChainDirs {
        ChainDirs::default()
    }

    /// Reads the layer directories `parents` (nearest first, base last).
    ///
    /// # Errors
    /// [`CreateError::Parent`] when one cannot be opened or walked.
    pub fn from_layer_dirs(parents: &[PathBuf]) -> Result<ChainDirs, CreateError> {
        let mut chain = ChainDirs::default();
        let Some((nearest, lower)) = parents.split_first() else {
            return Ok(chain);
        };
        let parent_err = |e: crate::Error| CreateError::Parent {
            path: nearest.display().to_string(),
            source: Box::new(e),
        };
        // The parents' merged view, with the one merge rule of docs/chain.md.
        let mut view = crate::chain::ChainReader::open(nearest, lower, &Limits::default())
            .map_err(parent_err)?;
        while let Some(e) = view.next().map_err(|e| parent_err(e.into()))? {
            if let Entry::File { name, info, .. } = e {
                let attrs = info.file_attributes;
                if attrs.is_directory() && !attrs.is_reparse_point() {
                    chain.insert(name.as_str());
                }
            }
        }
        view.close().map_err(|e| parent_err(e.into()))?;
        Ok(chain)
    }

    /// Whether the chain has the directory `name` (`\`- or `/`-separated, any case).
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.dirs.contains(&key_of(name))
    }

    /// Whether there are no directories (no parents).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Records the directory `name` and its ancestors.
    pub fn insert(&mut self, name: &str) {
        let mut key = String::new();
        for c in name.split(['\\', '/']).filter(|c| !c.is_empty()) {
            if !key.is_empty() {
                key.push('\\');
            }
            key.push_str(&upcase_key(c));
            self.dirs.insert(key.clone());
        }
    }

    /// Forgets `name` and everything below it.
    pub fn remove(&mut self, name: &str) {
        let key = key_of(name);
        let below = format!("{key}\\");
        self.dirs.retain(|k| k != &key && !k.starts_with(&below));
    }
}

/// The case-insensitive key of a `/`- or `\`-separated name.
fn key_of(name: &str) -> String {
    upcase_key(
        &name
            .split(['\\', '/'])
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
            .join("\\"),
    )
}

/// Where a layer is made from.
pub enum Source {
    /// A host directory, read through a root-bound handle: nothing outside it is reached,
    /// no symbolic link is followed.
    Dir {
        /// The directory.
        root: Dir,
        /// Its path as the user gave it, to name entries in messages.
        display: String,
    },
    /// A plain layer tar (`.tar`; the caller undoes any compression).
    Tar {
        /// The tar's bytes.
        reader: Box<dyn Read>,
        /// Its path as the user gave it, to name entries in messages.
        display: String,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Dir { display, .. } => f.debug_struct("Dir").field("display", display).finish(),
            Source::Tar { display, .. } => f.debug_struct("Tar").field("display", display).finish(),
        }
    }
}

impl Source {
    /// Opens `path`: a directory as [`Source::Dir`], anything else as an uncompressed
    /// [`Source::Tar`]. The path itself is the one name resolved with ambient authority.
    ///
    /// # Errors
    /// [`CreateError::Io`] when it cannot be opened.
    pub fn open(path: &Path) -> Result<Source, CreateError> {
        let display = path.display().to_string();
        let meta = std::fs::metadata(path)
            .map_err(|e| CreateError::io(display.clone(), "open the source", e))?;
        if meta.is_dir() {
            let root = Dir::open_ambient_dir(path, ambient_authority())
                .map_err(|e| CreateError::io(display.clone(), "open the source directory", e))?;
            Ok(Source::Dir { root, display })
        } else {
            let f = File::open(path)
                .map_err(|e| CreateError::io(display.clone(), "open the source tar", e))?;
            Ok(Source::Tar {
                reader: Box::new(io::BufReader::with_capacity(256 << 10, f)),
                display,
            })
        }
    }
}

/// Feeds the layer made from `source` over the parent `chain` into `w`, then closes `w`.
///
/// # Errors
/// The first entry that cannot be read or is refused, or an error of `w`. `w` is then not
/// closed and, as every [`LayerWriter`], discards what it received when dropped.
pub fn write_layer(
    source: Source,
    chain: &ChainDirs,
    opts: &Options,
    w: &mut dyn LayerWriter,
) -> Result<CreateStats, CreateError> {
    let mut e = emit::Emitter::new(w, chain, opts);
    match source {
        Source::Dir { root, display } => host::walk(&root, &display, &mut e)?,
        Source::Tar { reader, display } => {
            tar::walk(&mut ArchiveReader::new(reader), &display, &mut e)?;
        }
    }
    let stats = e.finish()?;
    w.close()?;
    Ok(stats)
}

/// Makes the layer from `source` over the parent layer directories `parents` (nearest
/// first; none for a base layer) and writes it to `out` as the tar hcsshim would export for
/// it. Returns `out`, what the export counted and what the layer was made of.
///
/// # Errors
/// As [`ChainDirs::from_layer_dirs`], [`write_layer`] and [`wclayer_tar::export_tar`].
pub fn create_tar<W: Write>(
    source: Source,
    parents: &[PathBuf],
    opts: &Options,
    out: W,
) -> Result<(W, ExportStats, CreateStats), CreateError> {
    let chain = ChainDirs::from_layer_dirs(parents)?;
    let mut layer = create_mem_layer(source, &chain, opts, !parents.is_empty())?;
    let stats = layer.1;
    let mut reader = layer.0.reader()?;
    let (out, export) = wclayer_tar::export_tar(&mut reader, out)?;
    reader.close()?;
    Ok((out, export, stats))
}

/// Makes the layer from `source` over `chain` in a [`MemLayer`] that walks as a delta layer
/// when `delta`, else as a base layer; export it with [`MemLayer::reader`] and
/// [`wclayer_tar::export_tar`], or copy it into a layer directory with
/// [`wclayer_layer::copy_layer`].
///
/// # Errors
/// As [`write_layer`].
pub fn create_mem_layer(
    source: Source,
    chain: &ChainDirs,
    opts: &Options,
    delta: bool,
) -> Result<(MemLayer, CreateStats), CreateError> {
    let mut layer = MemLayer::new();
    let stats = write_layer(source, chain, opts, &mut layer)?;
    layer.set_walk_mode(Some(if delta {
        WalkMode::Delta
    } else {
        WalkMode::Base
    }));
    Ok((layer, stats))
}

/// The binary form of `sddl` as the layer stores it (empty for an empty string).
///
/// # Errors
/// [`CreateError::Option`] for invalid SDDL.
pub fn security_descriptor(sddl: &str) -> Result<Vec<u8>, CreateError> {
    rules::sd_bytes(sddl)
}

/// The SDDL of a binary descriptor, for messages and listings.
#[must_use]
pub fn sddl_of(sd: &[u8]) -> Option<String> {
    SecurityDescriptor::from_bytes(sd).ok().map(|d| d.to_sddl())
}
