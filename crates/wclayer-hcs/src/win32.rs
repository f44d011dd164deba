//! [`Host`] on Windows: the real calls, made by the `wclayer-win32` crate.
//!
//! Relative opens are `NtCreateFile` relative to the root handle with `OBJ_DONT_REPARSE`
//! and backup intent (hcsshim `internal/safefile`); streams go through `BackupRead` /
//! `BackupWrite`; HCS calls through `vmcompute.dll`. The caller needs `SeBackupPrivilege`
//! and `SeRestorePrivilege` ([`Win32Host::enable_privileges`]).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::windows::io::{AsHandle, OwnedHandle};
use std::path::{Path, PathBuf};

use wclayer_backup::{FileAttributes, FileBasicInfo, FileIdInfo, FileTime};
use wclayer_win32::backup::BackupFile;
use wclayer_win32::fs::{self as wfs, OpenOptions, access, share};
use wclayer_win32::hcs;

use crate::host::{DirEntry, Guid, Host, HostFile, LayerDescriptor, Open, Stat};

/// The Windows [`Host`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Win32Host;

impl Win32Host {
    /// Enables `SeBackupPrivilege` and `SeRestorePrivilege` for the process, as hcsshim's
    /// `wclayer` command does before importing or exporting.
    ///
    /// # Errors
    /// When the account does not hold them (run as an administrator).
    pub fn enable_privileges() -> io::Result<()> {
        wclayer_win32::privilege::enable(&[
            wclayer_win32::privilege::BACKUP,
            wclayer_win32::privilege::RESTORE,
        ])
    }
}

/// A root directory of [`Win32Host`].
#[derive(Debug)]
pub struct Win32Root {
    handle: OwnedHandle,
    path: PathBuf,
}

/// An open file of [`Win32Host`].
#[derive(Debug)]
pub struct Win32File {
    file: BackupFile,
}

/// hcsshim `longpath.LongAbs`: the absolute path with the `\\?\` prefix (`\\?\UNC\` for a
/// share), so that paths over `MAX_PATH` work; prefixed paths are kept.
fn long_path(path: &Path) -> io::Result<PathBuf> {
    let s = path.as_os_str().to_string_lossy();
    if s.starts_with(r"\\?\") || s.starts_with(r"\\.\") {
        return Ok(path.to_path_buf());
    }
    let abs = std::path::absolute(path)?;
    let a = abs.to_string_lossy();
    Ok(PathBuf::from(match a.strip_prefix(r"\\") {
        Some(share) => format!(r"\\?\UNC\{share}"),
        None => format!(r"\\?\{a}"),
    }))
}

fn to_filetime(t: i64) -> FileTime {
    FileTime::from_le_bytes(t.to_le_bytes())
}

fn from_filetime(t: FileTime) -> i64 {
    i64::from_le_bytes(t.to_le_bytes())
}

fn options(how: Open) -> OpenOptions {
    let restore = access::GENERIC_READ
        | access::GENERIC_WRITE
        | access::WRITE_DAC
        | access::WRITE_OWNER
        | access::ACCESS_SYSTEM_SECURITY;
    let plain = access::GENERIC_READ | access::GENERIC_WRITE;
    let base = OpenOptions::new().share(share::READ).open_reparse_point();
    match how {
        Open::CreateFile { security } => base
            .access(if security { restore } else { plain })
            .create_new()
            .non_directory(),
        Open::CreateDir { security } => base
            .access(if security { restore } else { plain })
            .create_new()
            .directory(),
        Open::ExistingForRestore => base.access(restore),
        Open::ExistingForBackup => base.access(access::GENERIC_READ),
        Open::ExistingForBackupWithSacl => {
            base.access(access::GENERIC_READ | access::ACCESS_SYSTEM_SECURITY)
        }
        Open::ExistingForAttributes => OpenOptions::new()
            .open_reparse_point()
            .access(access::WRITE_ATTRIBUTES),
    }
}

fn descriptors(d: &[LayerDescriptor]) -> Vec<hcs::Layer<'_>> {
    d.iter()
        .map(|d| hcs::Layer {
            id: (
                d.layer_id.data1,
                d.layer_id.data2,
                d.layer_id.data3,
                d.layer_id.data4,
            ),
            flags: d.flags,
            path: &d.path,
        })
        .collect()
}

impl Win32Host {
    fn remove_all_at(&self, root: &Win32Root, rel: &str) -> io::Result<()> {
        let st = match self.lstat(root, rel) {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if st.is_dir() && !st.is_reparse_point() {
            for child in self.read_dir(root, rel)? {
                let path = if rel.is_empty() {
                    child.name
                } else {
                    format!("{rel}\\{}", child.name)
                };
                self.remove_all_at(root, &path)?;
            }
        }
        match self.remove(root, rel) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
}

impl Host for Win32Host {
    type Root = Win32Root;
    type File = Win32File;

    fn open_root(&self, path: &Path) -> io::Result<Win32Root> {
        let path = long_path(path)?;
        Ok(Win32Root {
            handle: wfs::open_ambient_dir(&path)?,
            path,
        })
    }

    fn root_path<'a>(&self, root: &'a Win32Root) -> &'a Path {
        &root.path
    }

    fn open(&self, root: &Win32Root, rel: &str, how: Open) -> io::Result<Win32File> {
        let h = options(how).open_at(root.handle.as_handle(), OsStr::new(rel))?;
        Ok(Win32File {
            file: BackupFile::new(File::from(h)),
        })
    }

    fn lstat(&self, root: &Win32Root, rel: &str) -> io::Result<Stat> {
        let h = OpenOptions::new()
            .open_reparse_point()
            .open_at(root.handle.as_handle(), OsStr::new(rel))?;
        let basic = wfs::basic_info(h.as_handle())?;
        let standard = wfs::standard_info(h.as_handle())?;
        Ok(Stat {
            attributes: basic.file_attributes,
            size: standard.end_of_file,
        })
    }

    fn mkdir(&self, root: &Win32Root, rel: &str) -> io::Result<()> {
        OpenOptions::new()
            .create_new()
            .directory()
            .open_at(root.handle.as_handle(), OsStr::new(rel))
            .map(drop)
    }

    fn remove(&self, root: &Win32Root, rel: &str) -> io::Result<()> {
        let h = OpenOptions::new()
            .access(access::DELETE | access::READ_ATTRIBUTES | access::WRITE_ATTRIBUTES)
            .open_reparse_point()
            .open_at(root.handle.as_handle(), OsStr::new(rel))?;
        wfs::delete(h.as_handle())
    }

    fn remove_all(&self, root: &Win32Root, rel: &str) -> io::Result<()> {
        self.remove_all_at(root, rel)
    }

    fn link(
        &self,
        old_root: &Win32Root,
        old: &str,
        new_root: &Win32Root,
        new: &str,
    ) -> io::Result<()> {
        // The target itself may not be a reparse point; the new name's directory neither.
        let file = OpenOptions::new()
            .access(access::WRITE_ATTRIBUTES)
            .open_at(old_root.handle.as_handle(), OsStr::new(old))?;
        let (dir, name) = match new.rsplit_once('\\') {
            Some((dir, name)) => (dir, name),
            None => ("", new),
        };
        let dir = OpenOptions::new()
            .access(access::TRAVERSE | access::WRITE_DATA)
            .directory()
            .open_at(new_root.handle.as_handle(), OsStr::new(dir))?;
        wfs::hard_link(file.as_handle(), dir.as_handle(), OsStr::new(name))
    }

    fn ensure_not_reparse_point(&self, root: &Win32Root, rel: &str) -> io::Result<()> {
        // Without open_reparse_point, a reparse point as the final component fails too.
        OpenOptions::new()
            .open_at(root.handle.as_handle(), OsStr::new(rel))
            .map(drop)
    }

    fn read_dir(&self, root: &Win32Root, rel: &str) -> io::Result<Vec<DirEntry>> {
        let dir = OpenOptions::new()
            .access(access::LIST_DIRECTORY)
            .directory()
            .open_at(root.handle.as_handle(), OsStr::new(rel))?;
        Ok(wfs::read_dir(dir.as_handle())?
            .into_iter()
            .map(|e| DirEntry {
                name: e.name.to_string_lossy().into_owned(),
                attributes: e.file_attributes,
            })
            .collect())
    }

    fn make_temp_dir(&self, prefix: &str) -> io::Result<PathBuf> {
        let base = std::env::temp_dir();
        let pid = std::process::id();
        for n in 0u32..10_000 {
            let path = base.join(format!("{prefix}{pid:x}{n:04x}"));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary directory name",
        ))
    }

    fn remove_tree(&self, path: &Path) -> io::Result<()> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a directory below another", path.display()),
            ));
        };
        let root = self.open_root(parent)?;
        self.remove_all_at(&root, &name.to_string_lossy())
    }

    fn create_layer_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)?;
        if std::fs::read_dir(path)?.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not empty", path.display()),
            ));
        }
        Ok(())
    }

    fn name_to_guid(&self, name: &str) -> io::Result<Guid> {
        let (data1, data2, data3, data4) = hcs::name_to_guid(name)?;
        Ok(Guid {
            data1,
            data2,
            data3,
            data4,
        })
    }

    fn import_layer(
        &self,
        id: &Path,
        folder: &Path,
        parents: &[LayerDescriptor],
    ) -> io::Result<()> {
        hcs::import_layer(&long_path(id)?, folder, &descriptors(parents))
    }

    fn export_layer(
        &self,
        id: &Path,
        folder: &Path,
        parents: &[LayerDescriptor],
    ) -> io::Result<()> {
        hcs::export_layer(id, folder, &descriptors(parents))
    }

    fn process_base_image(&self, path: &Path) -> io::Result<()> {
        hcs::process_base_image(path)
    }

    fn process_utility_image(&self, path: &Path) -> io::Result<()> {
        hcs::process_utility_image(path)
    }

    fn activate_layer(&self, id: &Path) -> io::Result<()> {
        hcs::activate_layer(id)
    }

    fn prepare_layer(&self, id: &Path, parents: &[LayerDescriptor]) -> io::Result<()> {
        hcs::prepare_layer(id, &descriptors(parents))
    }

    fn get_layer_mount_path(&self, id: &Path) -> io::Result<PathBuf> {
        hcs::get_layer_mount_path(id)
    }

    fn unprepare_layer(&self, id: &Path) -> io::Result<()> {
        hcs::unprepare_layer(id)
    }

    fn deactivate_layer(&self, id: &Path) -> io::Result<()> {
        hcs::deactivate_layer(id)
    }
}

impl HostFile for Win32File {
    fn set_basic_info(&mut self, info: &FileBasicInfo) -> io::Result<()> {
        wfs::set_basic_info(
            self.file.file().as_handle(),
            &wfs::BasicInfo {
                creation_time: from_filetime(info.creation_time),
                last_access_time: from_filetime(info.last_access_time),
                last_write_time: from_filetime(info.last_write_time),
                change_time: from_filetime(info.change_time),
                file_attributes: info.file_attributes.0,
            },
        )
    }

    fn basic_info(&mut self) -> io::Result<FileBasicInfo> {
        let b = wfs::basic_info(self.file.file().as_handle())?;
        Ok(FileBasicInfo {
            creation_time: to_filetime(b.creation_time),
            last_access_time: to_filetime(b.last_access_time),
            last_write_time: to_filetime(b.last_write_time),
            change_time: to_filetime(b.change_time),
            file_attributes: FileAttributes(b.file_attributes),
        })
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.file_mut().write_all(buf)
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.file_mut().read(buf)
    }

    fn content_len(&mut self) -> io::Result<u64> {
        Ok(self.file.file().metadata()?.len())
    }

    fn seek(&mut self, pos: u64) -> io::Result<()> {
        self.file.file_mut().seek(SeekFrom::Start(pos)).map(drop)
    }

    fn backup_write(&mut self, buf: &[u8], security: bool) -> io::Result<()> {
        self.file.write(buf, security)
    }

    fn backup_read(&mut self, buf: &mut [u8], security: bool) -> io::Result<usize> {
        self.file.read(buf, security)
    }

    fn link_info(&mut self) -> io::Result<(u32, FileIdInfo)> {
        let s = wfs::standard_info(self.file.file().as_handle())?;
        Ok((
            s.number_of_links,
            FileIdInfo::from_u64(s.volume_serial_number, s.file_index),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_get_the_prefix() {
        assert_eq!(
            long_path(Path::new(r"C:\layers\a")).unwrap(),
            PathBuf::from(r"\\?\C:\layers\a")
        );
        assert_eq!(
            long_path(Path::new(r"\\server\share\a")).unwrap(),
            PathBuf::from(r"\\?\UNC\server\share\a")
        );
        assert_eq!(
            long_path(Path::new(r"\\?\C:\x")).unwrap(),
            PathBuf::from(r"\\?\C:\x")
        );
    }
}
