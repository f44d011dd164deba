//! Turning the entries a source walk finds into [`LayerWriter`] calls: names below the
//! prefix, attributes, security descriptors, times and backup streams (docs/create.md).

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use wclayer_backup::reparse::ReparsePoint;
use wclayer_backup::{BackupStreamWriter, StreamHeader, StreamId, UnixTime};
use wclayer_layer::{
    FileAttributes, FileBasicInfo, FileTime, LayerPath, LayerWriter, StreamWriter, upcase_key,
};

use super::{ChainDirs, CreateError, CreateStats, Options};

/// The three times a source gives for an entry; creation is taken from `mtime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) atime: UnixTime,
    pub(crate) mtime: UnixTime,
    pub(crate) ctime: UnixTime,
}

impl Times {
    /// All three at `t`.
    pub(crate) fn all(t: UnixTime) -> Times {
        Times {
            atime: t,
            mtime: t,
            ctime: t,
        }
    }
}

/// What [`Emitter::file`] reads a file's data from.
pub(crate) struct Data<'r> {
    /// The bytes.
    pub(crate) reader: &'r mut dyn Read,
    /// How many there must be.
    pub(crate) size: u64,
    /// The path to name in errors.
    pub(crate) path: &'r str,
}

/// The writer side of a creation: every entry of the source goes through here.
pub(crate) struct Emitter<'a> {
    w: &'a mut dyn LayerWriter,
    chain: &'a ChainDirs,
    opts: &'a Options,
    stats: CreateStats,
    /// Keys of the directories the layer or the chain has so far.
    dirs: HashSet<String>,
    /// Ancestors of added entries that neither the layer nor the chain has yet: key to
    /// `/`-separated spelling (a tar may leave out directory entries).
    missing: BTreeMap<String, String>,
    /// Times of directories the source never describes (the prefix's ancestors, missing
    /// directories of a tar).
    default_times: Times,
    buf: Vec<u8>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(w: &'a mut dyn LayerWriter, chain: &'a ChainDirs, opts: &'a Options) -> Self {
        Emitter {
            w,
            chain,
            opts,
            stats: CreateStats::default(),
            dirs: HashSet::new(),
            missing: BTreeMap::new(),
            default_times: Times::all(UnixTime::new(0, 0)),
            buf: vec![0u8; 64 << 10],
        }
    }

    pub(crate) fn opts(&self) -> &Options {
        self.opts
    }

    pub(crate) fn stats_mut(&mut self) -> &mut CreateStats {
        &mut self.stats
    }

    /// The layer name (`Files/app/a/b`) of the source-relative components `rel`.
    pub(crate) fn layer_name(&self, rel: &[String]) -> String {
        let mut s = self.opts.prefix.join("/");
        for c in rel {
            s.push('/');
            s.push_str(c);
        }
        s
    }

    /// Adds the prefix and its ancestors as directories (those the chain lacks), with
    /// `root_times` for the prefix itself and the ancestors.
    pub(crate) fn begin(&mut self, root_times: Times) -> Result<(), CreateError> {
        self.default_times = root_times;
        let prefix = self.opts.prefix.clone();
        let mut name = String::new();
        for c in &prefix {
            if !name.is_empty() {
                name.push('/');
            }
            name.push_str(c);
            self.dir(&name, root_times, &name)?;
        }
        Ok(())
    }

    /// The info of an entry: the rule's attributes or `default`, and its times (or the
    /// source date epoch).
    fn info(&self, name: &str, times: Times, default: FileAttributes) -> FileBasicInfo {
        let t = match self.opts.epoch {
            Some(secs) => Times::all(UnixTime::new(secs, 0)),
            None => times,
        };
        let ft = FileTime::from_unix;
        FileBasicInfo {
            creation_time: ft(t.mtime),
            last_access_time: ft(t.atime),
            last_write_time: ft(t.mtime),
            change_time: ft(t.ctime),
            file_attributes: self.opts.attr_rules.get(name).copied().unwrap_or(default),
        }
    }

    /// The descriptor for `name`: the last matching rule's, else the default for its kind.
    fn sd(&self, name: &str, is_dir: bool) -> &[u8] {
        match self.opts.sd_rules.get(name) {
            Some(sd) => sd,
            None if is_dir => &self.opts.dir_sd,
            None => &self.opts.file_sd,
        }
    }

    /// Parses `name`, naming `path` (the source's) when the model refuses it.
    fn parse(name: &str, path: &str) -> Result<LayerPath, CreateError> {
        LayerPath::parse(name).map_err(|e| CreateError::refused(path, e.reason.to_string()))
    }

    /// Notes the ancestors of `name` the layer and the chain lack.
    fn note_parents(&mut self, name: &str) {
        let mut spelled = String::new();
        let mut key = String::new();
        let comps: Vec<&str> = name.split('/').collect();
        let Some((_, parents)) = comps.split_last() else {
            return;
        };
        for c in parents {
            if !spelled.is_empty() {
                spelled.push('/');
                key.push('\\');
            }
            spelled.push_str(c);
            key.push_str(&upcase_key(c));
            if !self.dirs.contains(&key) && !self.chain.has(&key) {
                self.missing
                    .entry(key.clone())
                    .or_insert_with(|| spelled.clone());
            }
        }
    }

    /// Adds the directory `name` unless the chain has it; returns whether it was added.
    pub(crate) fn dir(
        &mut self,
        name: &str,
        times: Times,
        path: &str,
    ) -> Result<bool, CreateError> {
        let key = upcase_key(&name.replace('/', "\\"));
        self.missing.remove(&key);
        if self.chain.has(name) {
            self.dirs.insert(key);
            self.stats.parent_directories = self.stats.parent_directories.saturating_add(1);
            return Ok(false);
        }
        let lp = Self::parse(name, path)?;
        let mut info = self.info(name, times, FileAttributes::DIRECTORY);
        info.file_attributes = info.file_attributes.with(FileAttributes::DIRECTORY);
        self.note_parents(name);
        self.w.add(&lp, &info)?;
        let sd = self.sd(name, true).to_vec();
        self.stream(&lp, &sd, None, None)?;
        self.dirs.insert(key);
        self.stats.entries = self.stats.entries.saturating_add(1);
        self.stats.directories = self.stats.directories.saturating_add(1);
        Ok(true)
    }

    /// Adds the regular file `name` with `data`; returns its layer path (for hard links).
    pub(crate) fn file(
        &mut self,
        name: &str,
        times: Times,
        data: Data<'_>,
    ) -> Result<LayerPath, CreateError> {
        let lp = Self::parse(name, data.path)?;
        let info = self.info(name, times, FileAttributes::ARCHIVE);
        let info = FileBasicInfo {
            file_attributes: info.file_attributes.without(FileAttributes::DIRECTORY),
            ..info
        };
        self.note_parents(name);
        self.w.add(&lp, &info)?;
        let sd = self.sd(name, false).to_vec();
        let size = data.size;
        self.stream(&lp, &sd, None, Some(data))?;
        self.stats.entries = self.stats.entries.saturating_add(1);
        self.stats.file_bytes = self.stats.file_bytes.saturating_add(size);
        Ok(lp)
    }

    /// Adds the symbolic link `name` to the Windows `target` (relative, `\`-separated), a
    /// directory link when `is_dir`; returns its layer path.
    pub(crate) fn symlink(
        &mut self,
        name: &str,
        times: Times,
        target: &str,
        is_dir: bool,
        path: &str,
    ) -> Result<LayerPath, CreateError> {
        let lp = Self::parse(name, path)?;
        let reparse = ReparsePoint::from_target(target, false)
            .encode()
            .map_err(|e| CreateError::refused(path, format!("symbolic link target: {e}")))?;
        let default = if is_dir {
            FileAttributes(0)
        } else {
            FileAttributes::ARCHIVE
        };
        let mut info = self.info(name, times, default);
        info.file_attributes = info.file_attributes.with(FileAttributes::REPARSE_POINT);
        info.file_attributes = if is_dir {
            info.file_attributes.with(FileAttributes::DIRECTORY)
        } else {
            info.file_attributes.without(FileAttributes::DIRECTORY)
        };
        self.note_parents(name);
        self.w.add(&lp, &info)?;
        let sd = self.sd(name, is_dir).to_vec();
        self.stream(&lp, &sd, Some(&reparse), None)?;
        if is_dir {
            // Nothing can be added below a link; a directory entry of the same name from a
            // tar would be a duplicate the model refuses.
            self.dirs.insert(upcase_key(&name.replace('/', "\\")));
        }
        self.stats.entries = self.stats.entries.saturating_add(1);
        self.stats.symlinks = self.stats.symlinks.saturating_add(1);
        Ok(lp)
    }

    /// Adds `name` as a further name of the file `target`.
    pub(crate) fn link(
        &mut self,
        name: &str,
        target: &LayerPath,
        path: &str,
    ) -> Result<(), CreateError> {
        let lp = Self::parse(name, path)?;
        self.note_parents(name);
        self.w.add_link(&lp, target)?;
        self.stats.hard_links = self.stats.hard_links.saturating_add(1);
        Ok(())
    }

    /// Records that `name`, present in a parent layer, is deleted.
    pub(crate) fn remove(&mut self, name: &str, path: &str) -> Result<(), CreateError> {
        let lp = Self::parse(name, path)?;
        self.w.remove(&lp)?;
        self.stats.tombstones = self.stats.tombstones.saturating_add(1);
        Ok(())
    }

    /// Adds the directories entries were added below but that nothing described, and
    /// returns what was made.
    pub(crate) fn finish(mut self) -> Result<CreateStats, CreateError> {
        let missing = std::mem::take(&mut self.missing);
        let times = self.default_times;
        for (_, name) in missing {
            let name_for_err = name.clone();
            self.dir(&name, times, &name_for_err)?;
        }
        Ok(self.stats)
    }

    /// Writes the backup stream of the entry just added: its security descriptor, reparse
    /// data, and data (as the tar importer writes them, docs/oci-tar-mapping.md §6.3).
    fn stream(
        &mut self,
        lp: &LayerPath,
        sd: &[u8],
        reparse: Option<&[u8]>,
        data: Option<Data<'_>>,
    ) -> Result<(), CreateError> {
        let entry = lp.to_slash();
        let mut bw = BackupStreamWriter::new(StreamWriter::new(&mut *self.w));
        let failed = |bw: &mut BackupStreamWriter<StreamWriter<'_, dyn LayerWriter>>,
                      e: wclayer_backup::Error| {
            match bw.get_mut().take_error() {
                Some(l) => CreateError::Layer(l),
                None => CreateError::refused(entry.clone(), format!("backup stream: {e}")),
            }
        };
        let small = |bw: &mut BackupStreamWriter<StreamWriter<'_, dyn LayerWriter>>,
                     id: StreamId,
                     bytes: &[u8]|
         -> Result<(), CreateError> {
            if bytes.is_empty() {
                return Ok(());
            }
            bw.write_header(&StreamHeader::new(id, bytes.len() as u64))
                .map_err(|e| failed(bw, e))?;
            bw.write_body(bytes).map_err(|e| failed(bw, e))?;
            Ok(())
        };
        small(&mut bw, StreamId::SECURITY_DATA, sd)?;
        if let Some(r) = reparse {
            small(&mut bw, StreamId::REPARSE_DATA, r)?;
        }
        if let Some(d) = data {
            bw.write_header(&StreamHeader::new(StreamId::DATA, d.size))
                .map_err(|e| failed(&mut bw, e))?;
            let mut left = d.size;
            loop {
                let n = d
                    .reader
                    .read(&mut self.buf)
                    .map_err(|e| CreateError::io(d.path, "read the file", e))?;
                if n == 0 {
                    break;
                }
                let chunk = self.buf.get(..n).unwrap_or_default();
                let Some(rest) = left.checked_sub(n as u64) else {
                    return Err(CreateError::refused(
                        d.path,
                        "the file grew while it was read",
                    ));
                };
                left = rest;
                let mut chunk = chunk;
                while !chunk.is_empty() {
                    let w = bw.write_body(chunk).map_err(|e| failed(&mut bw, e))?;
                    chunk = chunk.get(w..).unwrap_or_default();
                }
            }
            if left > 0 {
                return Err(CreateError::refused(
                    d.path,
                    "the file shrank while it was read",
                ));
            }
        }
        bw.finish().map_err(|e| failed_final(&entry, e))?;
        Ok(())
    }
}

/// The error of a backup stream that could not be finished.
fn failed_final(entry: &str, e: wclayer_backup::Error) -> CreateError {
    CreateError::refused(entry, format!("backup stream: {e}"))
}

/// A symbolic link's target checked and turned into its Windows form: `rel_dir` is the
/// link's directory (components relative to the source's root), `target` the host target.
/// Returns the `\`-separated target (`.` and empty components dropped) and the components
/// (relative to the source's root) it names, resolved lexically as Windows resolves a
/// relative link; the error says why the link is unsafe.
pub(crate) fn link_target(
    rel_dir: &[String],
    target: &str,
) -> Result<(String, Vec<String>), String> {
    if target.is_empty() {
        return Err("its target is empty".to_string());
    }
    if target.starts_with('/') {
        return Err(format!(
            "its target {target} is absolute, and would name another file on Windows"
        ));
    }
    let mut resolved: Vec<String> = rel_dir.to_vec();
    let mut win: Vec<&str> = Vec::new();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if resolved.pop().is_none() {
                    return Err(format!("its target {target} leads out of the source"));
                }
                win.push(c);
            }
            c => {
                super::rules::check_component(c)
                    .map_err(|why| format!("its target {target}: {why}"))?;
                resolved.push(c.to_string());
                win.push(c);
            }
        }
    }
    let win = if win.is_empty() {
        ".".to_string()
    } else {
        win.join("\\")
    };
    Ok((win, resolved))
}
