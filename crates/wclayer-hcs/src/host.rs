//! The seam between hcsshim's layer logic and Windows: every file-system, backup and Host
//! Compute Service call the writers and readers of this crate make goes through [`Host`].
//!
//! On Windows, `Win32Host` (module `win32`) implements it with the calls of the
//! `wclayer-win32` crate; everywhere, [`crate::testing::RecordingHost`] implements it in memory
//! and records every call, so the order of calls hcsshim makes is tested on Linux
//! (docs/windows.md).
//!
//! Paths given to a [`Host`] relative to a root are Windows paths (`\`-separated, cleaned,
//! relative, no `:`): the implementation resolves them below the root and never outside it,
//! as hcsshim's `internal/safefile` does (docs/layer-semantics.md §7).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use wclayer_backup::{FileBasicInfo, FileIdInfo};

/// How [`Host::open`] opens or creates a file (the combinations hcsshim uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Create a new file (fail if the name exists), for reading and writing with share-read,
    /// plus `WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY` when `security` is set (the
    /// base writer and utility-VM entries restore security descriptors; transport files do
    /// not). A final reparse point is never followed.
    CreateFile {
        /// Whether the security descriptor will be written through the handle.
        security: bool,
    },
    /// Create a new directory (fail if the name exists) and open it as [`Open::CreateFile`]
    /// does.
    CreateDir {
        /// Whether the security descriptor will be written through the handle.
        security: bool,
    },
    /// Open an existing file or directory for reading and writing with the security rights,
    /// not following a final reparse point (utility-VM entries that already exist).
    ExistingForRestore,
    /// Open an existing file or directory for backup reading (read access, share-read, not
    /// following a final reparse point).
    ExistingForBackup,
    /// As [`Open::ExistingForBackup`], with `ACCESS_SYSTEM_SECURITY` too, so that the backup
    /// stream carries the SACL (hcsshim's `cloneTree` copies entries this way).
    ExistingForBackupWithSacl,
    /// Open an existing file or directory to set its times and attributes
    /// (`FILE_WRITE_ATTRIBUTES`, not following a final reparse point).
    ExistingForAttributes,
}

/// What [`Host::lstat`] reports of a name (the final component itself, never followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The name's attributes (`DIRECTORY`, `REPARSE_POINT`, ...).
    pub attributes: u32,
    /// The size of its unnamed data stream.
    pub size: u64,
}

impl Stat {
    /// Whether the name is a directory.
    #[must_use]
    pub fn is_dir(&self) -> bool {
        self.attributes & wclayer_backup::FileAttributes::DIRECTORY.0 != 0
    }

    /// Whether the name is a reparse point (symbolic link, junction, ...).
    #[must_use]
    pub fn is_reparse_point(&self) -> bool {
        self.attributes & wclayer_backup::FileAttributes::REPARSE_POINT.0 != 0
    }
}

/// One name in a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name (one component).
    pub name: String,
    /// Its attributes as the listing reports them.
    pub attributes: u32,
}

/// A layer GUID as `NameToGuid` returns it (`GUID`: Data1 u32, Data2 u16, Data3 u16,
/// Data4 8 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Guid {
    /// `Data1`.
    pub data1: u32,
    /// `Data2`.
    pub data2: u16,
    /// `Data3`.
    pub data3: u16,
    /// `Data4`.
    pub data4: [u8; 8],
}

impl fmt::Display for Guid {
    /// Lower-case `8-4-4-4-12`, as hcsshim's spans print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// One `WC_LAYER_DESCRIPTOR` (docs/layer-semantics.md §11.3): a parent layer as HCS wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerDescriptor {
    /// `NameToGuid` of the layer directory's last path element.
    pub layer_id: Guid,
    /// Bit 31 is `Dirty`; hcsshim passes 0.
    pub flags: u32,
    /// The layer directory, exactly as the caller gave it.
    pub path: PathBuf,
}

/// An open file of a [`Host`].
pub trait HostFile {
    /// Sets the four times and the attributes (`SetFileInformationByHandle(FileBasicInfo)`).
    ///
    /// # Errors
    /// The OS error.
    fn set_basic_info(&mut self, info: &FileBasicInfo) -> io::Result<()>;
    /// The four times and the attributes (`GetFileInformationByHandleEx(FileBasicInfo)`).
    ///
    /// # Errors
    /// The OS error.
    fn basic_info(&mut self) -> io::Result<FileBasicInfo>;
    /// Writes all of `buf` as plain file content at the current position.
    ///
    /// # Errors
    /// The OS error.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Reads plain file content from the current position; 0 at the end.
    ///
    /// # Errors
    /// The OS error.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// The length of the plain file content (`GetFileSizeEx`).
    ///
    /// # Errors
    /// The OS error.
    fn content_len(&mut self) -> io::Result<u64>;
    /// Moves the position of [`HostFile::read`] / [`HostFile::write_all`] to `pos`.
    ///
    /// # Errors
    /// The OS error.
    fn seek(&mut self, pos: u64) -> io::Result<()>;
    /// Restores the next bytes of a Win32 backup stream into the file (`BackupWrite`), with
    /// or without the security descriptor stream.
    ///
    /// # Errors
    /// The OS error.
    fn backup_write(&mut self, buf: &[u8], security: bool) -> io::Result<()>;
    /// Reads the next bytes of the file's Win32 backup stream (`BackupRead`), with or
    /// without the security descriptor; 0 at the end.
    ///
    /// # Errors
    /// The OS error.
    fn backup_read(&mut self, buf: &mut [u8], security: bool) -> io::Result<usize>;
    /// The link count and 128-bit file id (`FileStandardInfo`, `FileIdInfo`).
    ///
    /// # Errors
    /// The OS error.
    fn link_info(&mut self) -> io::Result<(u32, FileIdInfo)>;
}

/// The Windows calls of hcsshim's layer writers and readers.
///
/// Root handles are opened from paths; everything else is relative to a root (see the
/// module documentation). Errors are [`io::Error`]s; a name that does not exist gives
/// [`io::ErrorKind::NotFound`].
pub trait Host {
    /// An open root directory.
    type Root;
    /// An open file or directory.
    type File: HostFile;

    /// Opens `path` as a root (hcsshim `safefile.OpenRoot`: the long-path form, backup
    /// semantics, not following a final reparse point).
    ///
    /// # Errors
    /// The OS error.
    fn open_root(&self, path: &Path) -> io::Result<Self::Root>;
    /// The path `root` was opened from.
    fn root_path<'a>(&self, root: &'a Self::Root) -> &'a Path;
    /// Opens or creates `rel` below `root` (`safefile.OpenRelative`).
    ///
    /// # Errors
    /// The OS error; a reparse point met on the way fails the open.
    fn open(&self, root: &Self::Root, rel: &str, how: Open) -> io::Result<Self::File>;
    /// The attributes and size of `rel` itself (`safefile.LstatRelative`).
    ///
    /// # Errors
    /// [`io::ErrorKind::NotFound`] when it does not exist; other OS errors.
    fn lstat(&self, root: &Self::Root, rel: &str) -> io::Result<Stat>;
    /// Creates the directory `rel` (`safefile.MkdirRelative`).
    ///
    /// # Errors
    /// The OS error, also when the name exists.
    fn mkdir(&self, root: &Self::Root, rel: &str) -> io::Result<()>;
    /// Deletes the file or empty directory `rel` (`safefile.RemoveRelative`, clearing
    /// `READONLY` when that is what refuses the delete).
    ///
    /// # Errors
    /// The OS error ([`io::ErrorKind::NotFound`] when it does not exist).
    fn remove(&self, root: &Self::Root, rel: &str) -> io::Result<()>;
    /// Deletes `rel` and everything below it, never following reparse points
    /// (`safefile.RemoveAllRelative`); a missing name is no error.
    ///
    /// # Errors
    /// The first OS error.
    fn remove_all(&self, root: &Self::Root, rel: &str) -> io::Result<()>;
    /// Creates the hard link `new` (below `new_root`) to `old` (below `old_root`)
    /// (`safefile.LinkRelative`).
    ///
    /// # Errors
    /// The OS error; a reparse point in either path fails.
    fn link(
        &self,
        old_root: &Self::Root,
        old: &str,
        new_root: &Self::Root,
        new: &str,
    ) -> io::Result<()>;
    /// Fails when `rel` or any directory on the way to it is a reparse point
    /// (`safefile.EnsureNotReparsePointRelative`).
    ///
    /// # Errors
    /// The OS error.
    fn ensure_not_reparse_point(&self, root: &Self::Root, rel: &str) -> io::Result<()>;
    /// The names in directory `rel` (`""` for the root), without `.` and `..`, in no
    /// particular order.
    ///
    /// # Errors
    /// The OS error.
    fn read_dir(&self, root: &Self::Root, rel: &str) -> io::Result<Vec<DirEntry>>;
    /// Creates a new, empty directory in the system's temporary directory whose name starts
    /// with `prefix` (hcsshim's `os.MkdirTemp("", "hcs")`).
    ///
    /// # Errors
    /// The OS error.
    fn make_temp_dir(&self, prefix: &str) -> io::Result<PathBuf>;
    /// Removes the directory `path` with everything in it, never following reparse points
    /// (a folder made by [`Host::make_temp_dir`], a layer directory whose import failed).
    ///
    /// # Errors
    /// The first OS error.
    fn remove_tree(&self, path: &Path) -> io::Result<()>;
    /// Creates the layer directory `path` and its missing parents. An existing empty
    /// directory is accepted; anything else at `path` is [`io::ErrorKind::AlreadyExists`]:
    /// a layer is never written over another.
    ///
    /// # Errors
    /// The OS error, or `AlreadyExists`.
    fn create_layer_dir(&self, path: &Path) -> io::Result<()>;

    /// HCS `NameToGuid(name)`.
    ///
    /// # Errors
    /// The HCS error.
    fn name_to_guid(&self, name: &str) -> io::Result<Guid>;
    /// HCS `ImportLayer(id, folder, parents)`: imports the transport folder into the layer.
    ///
    /// # Errors
    /// The HCS error.
    fn import_layer(&self, id: &Path, folder: &Path, parents: &[LayerDescriptor])
    -> io::Result<()>;
    /// HCS `ExportLayer(id, folder, parents)`: writes the layer as a transport folder.
    ///
    /// # Errors
    /// The HCS error.
    fn export_layer(&self, id: &Path, folder: &Path, parents: &[LayerDescriptor])
    -> io::Result<()>;
    /// HCS `ProcessBaseImage(path)`: finishes a base layer.
    ///
    /// # Errors
    /// The HCS error.
    fn process_base_image(&self, path: &Path) -> io::Result<()>;
    /// HCS `ProcessUtilityImage(path)`: finishes a utility VM image (`<layer>\UtilityVM`).
    ///
    /// # Errors
    /// The HCS error.
    fn process_utility_image(&self, path: &Path) -> io::Result<()>;
    /// HCS `ActivateLayer(id)`.
    ///
    /// # Errors
    /// The HCS error.
    fn activate_layer(&self, id: &Path) -> io::Result<()>;
    /// HCS `PrepareLayer(id, parents)`.
    ///
    /// # Errors
    /// The HCS error.
    fn prepare_layer(&self, id: &Path, parents: &[LayerDescriptor]) -> io::Result<()>;
    /// HCS `GetLayerMountPath(id)`: the volume path of an activated, prepared layer.
    ///
    /// # Errors
    /// The HCS error.
    fn get_layer_mount_path(&self, id: &Path) -> io::Result<PathBuf>;
    /// HCS `UnprepareLayer(id)`.
    ///
    /// # Errors
    /// The HCS error.
    fn unprepare_layer(&self, id: &Path) -> io::Result<()>;
    /// HCS `DeactivateLayer(id)`.
    ///
    /// # Errors
    /// The HCS error.
    fn deactivate_layer(&self, id: &Path) -> io::Result<()>;
}
