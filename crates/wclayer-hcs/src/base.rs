//! hcsshim's base-layer writer (`internal/wclayer/baselayerwriter.go`;
//! docs/layer-semantics.md §5): every entry is created in the layer directory itself with
//! backup semantics and restored with `BackupWrite`; then directory times are reapplied,
//! HCS `ProcessBaseImage` runs, and `ProcessUtilityImage` when the layer has a utility VM.

use std::path::Path;

use wclayer_backup::{FileAttributes, FileBasicInfo};
use wclayer_layer::{LayerPath, LayerWriter};

use crate::Error;
use crate::host::{Host, HostFile, Open};
use crate::names::{is_not_found, mutated_backup};
use crate::sink::{Mode, Sink};

/// Writes a base layer where Windows expects it (see the module documentation).
///
/// Errors of `add`, `add_link` and `write` are sticky, as in hcsshim: once one happened,
/// `close` skips the processing and returns it.
pub struct BaseLayerWriter<H: Host> {
    host: H,
    root: Option<H::Root>,
    current: Option<Sink<H::File>>,
    bcd: Option<H::File>,
    dirs: Vec<(String, FileBasicInfo)>,
    has_utility_vm: bool,
    sticky: Option<String>,
}

impl<H: Host> BaseLayerWriter<H> {
    /// A writer into the existing directory `path` (opened as the root of every operation).
    ///
    /// # Errors
    /// When the directory cannot be opened.
    pub fn new(host: H, path: &Path) -> Result<Self, Error> {
        let root = host
            .open_root(path)
            .map_err(|e| Error::os("open", path.display().to_string(), e))?;
        Ok(BaseLayerWriter {
            host,
            root: Some(root),
            current: None,
            bcd: None,
            dirs: Vec::new(),
            has_utility_vm: false,
            sticky: None,
        })
    }

    /// The host the writer calls.
    pub fn host(&self) -> &H {
        &self.host
    }

    fn root(&self) -> Result<&H::Root, Error> {
        self.root.as_ref().ok_or(Error::Closed)
    }

    /// Closes the current file (hcsshim `closeCurrentFile`).
    fn close_current(&mut self) -> Result<(), Error> {
        self.bcd = None;
        if let Some(mut sink) = self.current.take() {
            sink.flush()?;
        }
        Ok(())
    }

    fn stick<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &r
            && self.sticky.is_none()
        {
            self.sticky = Some(e.to_string());
        }
        r
    }

    fn add_inner(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), Error> {
        self.close_current()?;
        let n = name.as_str();
        if n == r"UtilityVM\Files" {
            self.has_utility_vm = true;
        }
        let dir = info.file_attributes.0 & FileAttributes::DIRECTORY.0 != 0;
        if dir {
            self.dirs.push((n.to_owned(), *info));
        }
        let how = if dir {
            Open::CreateDir { security: true }
        } else {
            Open::CreateFile { security: true }
        };
        let mut file = self
            .host
            .open(self.root()?, n, how)
            .map_err(|e| Error::os("Failed to safefile.OpenRelative", n, e))?;
        file.set_basic_info(info)
            .map_err(|e| Error::os("Failed to SetFileBasicInfo", n, e))?;
        self.current = Some(Sink::new(
            file,
            n.to_owned(),
            Mode::Backup { security: true },
        ));
        self.bcd = open_bcd_backup(&self.host, self.root()?, n)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        let root = self.root()?;
        reapply_dir_times(&self.host, root, &self.dirs)?;
        let path = self.host.root_path(root).to_path_buf();
        self.host
            .process_base_image(&path)
            .map_err(|source| Error::Hcs {
                title: "hcsshim::ProcessBaseLayer",
                source,
            })?;
        if self.has_utility_vm {
            process_utility_vm(&self.host, root)?;
        }
        Ok(())
    }
}

/// For a mutated utility-VM boot file, the file in the layer directory its stream is also
/// restored into (without security), replacing an earlier one.
pub(crate) fn open_bcd_backup<H: Host>(
    host: &H,
    root: &H::Root,
    name: &str,
) -> Result<Option<H::File>, Error> {
    let Some(bak) = mutated_backup(name) else {
        return Ok(None);
    };
    match host.remove(root, bak) {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(Error::os("remove", bak, e)),
    }
    host.open(root, bak, Open::CreateFile { security: false })
        .map(Some)
        .map_err(|e| Error::os("create", bak, e))
}

/// Sets every added directory's times and attributes again, last added first (hcsshim
/// `reapplyDirectoryTimes`): creating entries below a directory changed its times.
pub(crate) fn reapply_dir_times<H: Host>(
    host: &H,
    root: &H::Root,
    dirs: &[(String, FileBasicInfo)],
) -> Result<(), Error> {
    for (name, info) in dirs.iter().rev() {
        let mut f = host
            .open(root, name, Open::ExistingForAttributes)
            .map_err(|e| Error::os("open", name.clone(), e))?;
        f.set_basic_info(info)
            .map_err(|e| Error::os("set times of", name.clone(), e))?;
    }
    Ok(())
}

/// Checks that `UtilityVM` is no reparse point and runs HCS `ProcessUtilityImage` on it.
pub(crate) fn process_utility_vm<H: Host>(host: &H, root: &H::Root) -> Result<(), Error> {
    host.ensure_not_reparse_point(root, "UtilityVM")
        .map_err(|e| Error::os("open", "UtilityVM", e))?;
    let path = host.root_path(root).join("UtilityVM");
    host.process_utility_image(&path)
        .map_err(|source| Error::Hcs {
            title: "hcsshim::ProcessUtilityVMImage",
            source,
        })
}

impl<H: Host> LayerWriter for BaseLayerWriter<H> {
    fn add(&mut self, name: &LayerPath, info: &FileBasicInfo) -> Result<(), wclayer_layer::Error> {
        let r = self.add_inner(name, info);
        Ok(self.stick(r)?)
    }

    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer_layer::Error> {
        let r = self.close_current().and_then(|()| {
            let root = self.root()?;
            self.host
                .link(root, target.as_str(), root, name.as_str())
                .map_err(|e| Error::os("link", name.as_str(), e))
        });
        Ok(self.stick(r)?)
    }

    fn remove(&mut self, _name: &LayerPath) -> Result<(), wclayer_layer::Error> {
        Err(Error::BaseTombstone.into())
    }

    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer_layer::Error> {
        let r = match self.current.as_mut() {
            None => Err(Error::Closed),
            Some(sink) => sink.write(buf).and_then(|()| match self.bcd.as_mut() {
                Some(bak) => bak
                    .backup_write(buf, false)
                    .map_err(|e| Error::os("write", sink.name.clone(), e)),
                None => Ok(()),
            }),
        };
        Ok(self.stick(r)?)
    }

    fn close(&mut self) -> Result<(), wclayer_layer::Error> {
        let closed = self.close_current();
        let mut r = match (&self.sticky, closed) {
            (Some(first), _) => Err(Error::Earlier(first.clone())),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => self.finish(),
        };
        if self.root.take().is_none() {
            r = Err(Error::Closed);
        }
        Ok(r?)
    }
}

io_write_via_stream!(BaseLayerWriter);
