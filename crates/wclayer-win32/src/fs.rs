//! Opens relative to a directory handle that never leave it, and the handle-based file
//! operations built on them: the Windows half of `wclayer-fs` (docs/windows.md, "The
//! file-system seam on Windows").
//!
//! The rules are hcsshim's `internal/safefile` (`safeopen.go`), described in
//! docs/layer-semantics.md §7:
//!
//! - every open is an `NtCreateFile` relative to a root handle with `OBJ_DONT_REPARSE`,
//!   `FILE_OPEN_FOR_BACKUP_INTENT`, `FILE_SYNCHRONOUS_IO_NONALERT` and `SYNCHRONIZE`
//!   access: a reparse point met while resolving the path fails the open, and NT never
//!   interprets `..` in a relative open, so nothing outside the root can be reached. The
//!   final component itself is opened only with [`OpenOptions::open_reparse_point`];
//! - relative paths are checked first ([`check_relative`]): no `:` (drive letters, alternate
//!   data streams), no leading separator, no NUL, at most 32 766 UTF-16 units;
//! - [`delete`] sets the delete disposition with POSIX semantics where the system has them,
//!   and clears `FILE_ATTRIBUTE_READONLY` and retries when the file is read-only;
//! - [`hard_link`] and [`rename`] name their target relative to a directory handle
//!   (`FILE_LINK_INFORMATION` / `FILE_RENAME_INFORMATION` with `RootDirectory`).
//!
//! NTSTATUS failures become [`io::Error::from_raw_os_error`] of the Win32 error
//! `RtlNtStatusToDosError` maps them to, so `io::ErrorKind` works as for any Win32 call.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};
use std::path::Path;

use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Wdk::Storage::FileSystem as nt;
use windows_sys::Win32::Foundation::{
    self as foundation, HANDLE, NTSTATUS, OBJ_DONT_REPARSE, RtlNtStatusToDosError, UNICODE_STRING,
};
use windows_sys::Win32::Storage::FileSystem as w32;
use windows_sys::Win32::System::IO::{DeviceIoControl, IO_STATUS_BLOCK};
use windows_sys::Win32::System::Ioctl::{FSCTL_GET_REPARSE_POINT, FSCTL_SET_REPARSE_POINT};

/// Access rights for [`OpenOptions::access`] (`FILE_*` access masks).
pub mod access {
    use windows_sys::Win32::Foundation::GENERIC_READ as GR;
    use windows_sys::Win32::Foundation::GENERIC_WRITE as GW;
    use windows_sys::Win32::Storage::FileSystem as w32;

    /// `GENERIC_READ`: data, attributes, extended attributes, security descriptor.
    pub const GENERIC_READ: u32 = GR;
    /// `GENERIC_WRITE`: data, attributes, extended attributes.
    pub const GENERIC_WRITE: u32 = GW;
    /// `FILE_READ_ATTRIBUTES`.
    pub const READ_ATTRIBUTES: u32 = w32::FILE_READ_ATTRIBUTES;
    /// `FILE_WRITE_ATTRIBUTES`: times and attributes.
    pub const WRITE_ATTRIBUTES: u32 = w32::FILE_WRITE_ATTRIBUTES;
    /// `FILE_WRITE_DATA` (`FILE_ADD_FILE` on a directory): also what a flush needs.
    pub const WRITE_DATA: u32 = w32::FILE_WRITE_DATA;
    /// `FILE_LIST_DIRECTORY`.
    pub const LIST_DIRECTORY: u32 = w32::FILE_LIST_DIRECTORY;
    /// `FILE_TRAVERSE`.
    pub const TRAVERSE: u32 = w32::FILE_TRAVERSE;
    /// `DELETE`: deleting and renaming the object itself.
    pub const DELETE: u32 = w32::DELETE;
    /// `WRITE_DAC`: setting the discretionary ACL.
    pub const WRITE_DAC: u32 = w32::WRITE_DAC;
    /// `WRITE_OWNER`: setting the owner and group.
    pub const WRITE_OWNER: u32 = w32::WRITE_OWNER;
    /// `ACCESS_SYSTEM_SECURITY`: reading and setting the system ACL (needs
    /// `SeSecurityPrivilege`).
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
}

/// Sharing modes for [`OpenOptions::share`] (`FILE_SHARE_*`).
pub mod share {
    use windows_sys::Win32::Storage::FileSystem as w32;

    /// `FILE_SHARE_READ`.
    pub const READ: u32 = w32::FILE_SHARE_READ;
    /// `FILE_SHARE_WRITE`.
    pub const WRITE: u32 = w32::FILE_SHARE_WRITE;
    /// `FILE_SHARE_DELETE`: others may delete or rename the object while it is open.
    pub const DELETE: u32 = w32::FILE_SHARE_DELETE;
    /// All three: what every open of wclayer uses, except a staging lock.
    pub const ALL: u32 = READ | WRITE | DELETE;
}

/// `FILE_ATTRIBUTE_*` values reported by [`BasicInfo::file_attributes`].
pub mod attributes {
    use windows_sys::Win32::Storage::FileSystem as w32;

    /// `FILE_ATTRIBUTE_READONLY`.
    pub const READONLY: u32 = w32::FILE_ATTRIBUTE_READONLY;
    /// `FILE_ATTRIBUTE_DIRECTORY`.
    pub const DIRECTORY: u32 = w32::FILE_ATTRIBUTE_DIRECTORY;
    /// `FILE_ATTRIBUTE_NORMAL`: no other attribute.
    pub const NORMAL: u32 = w32::FILE_ATTRIBUTE_NORMAL;
    /// `FILE_ATTRIBUTE_REPARSE_POINT`.
    pub const REPARSE_POINT: u32 = w32::FILE_ATTRIBUTE_REPARSE_POINT;
    /// `FILE_ATTRIBUTE_DEVICE`.
    pub const DEVICE: u32 = w32::FILE_ATTRIBUTE_DEVICE;
}

/// `IO_REPARSE_TAG_SYMLINK`: the tag of a symbolic link's reparse point.
pub const REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;

/// Longest relative path, in UTF-16 units (32 767 with the terminator, as hcsshim's
/// `longpath`).
pub const MAX_PATH_UNITS: usize = 32_766;

/// The error of a failed NT call.
fn nt_error(status: NTSTATUS) -> io::Error {
    // SAFETY: RtlNtStatusToDosError only maps a number; it has no preconditions.
    let code = unsafe { RtlNtStatusToDosError(status) };
    io::Error::from_raw_os_error(i32::try_from(code).unwrap_or(i32::MAX))
}

/// The error of a failed Win32 call (its `GetLastError`).
fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// Whether an error is a sharing violation (`ERROR_SHARING_VIOLATION`): the object is open
/// by someone whose sharing mode excludes the access asked for.
#[must_use]
pub fn is_sharing_violation(e: &io::Error) -> bool {
    e.raw_os_error() == i32::try_from(foundation::ERROR_SHARING_VIOLATION).ok()
}

/// Whether an error says the file system or the system lacks the operation.
fn is_not_supported(status: NTSTATUS) -> bool {
    [
        foundation::STATUS_INVALID_PARAMETER,
        foundation::STATUS_INVALID_INFO_CLASS,
        foundation::STATUS_NOT_IMPLEMENTED,
        foundation::STATUS_NOT_SUPPORTED,
    ]
    .contains(&status)
}

/// Checks a path for a relative open (docs/layer-semantics.md §7.2) and converts it to
/// UTF-16: no `:` anywhere (drive-qualified paths, alternate data streams), no leading `\` or
/// `/`, no NUL, no `.` or `..` component, at most [`MAX_PATH_UNITS`] units. `/` becomes `\`. The empty path names the
/// root itself.
///
/// # Errors
/// `InvalidInput` for a path breaking one of the rules.
pub fn check_relative(path: &OsStr) -> io::Result<Vec<u16>> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {why}", path.display()),
        )
    };
    let mut units: Vec<u16> = path
        .encode_wide()
        .map(|u| {
            if u == u16::from(b'/') {
                u16::from(b'\\')
            } else {
                u
            }
        })
        .collect();
    if units.contains(&u16::from(b':')) {
        return Err(invalid("path contains invalid character `:`"));
    }
    if units.first() == Some(&u16::from(b'\\')) {
        return Err(invalid("expected relative path"));
    }
    if units.contains(&0) {
        return Err(invalid("path contains NUL"));
    }
    // NT never interprets `.` and `..` in a relative open; refusing them here too keeps
    // emulations that would (Wine) inside the root as well.
    if units
        .split(|&u| u == u16::from(b'\\'))
        .any(|c| c == [u16::from(b'.')] || c == [u16::from(b'.'), u16::from(b'.')])
    {
        return Err(invalid("path contains `.` or `..`"));
    }
    if units.len() > MAX_PATH_UNITS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidFilename,
            format!("path of {} UTF-16 units is too long", units.len()),
        ));
    }
    units.shrink_to_fit();
    Ok(units)
}

/// The length in bytes of a UTF-16 name, as `UNICODE_STRING` and the information classes
/// want it (below 65 536 for a `UNICODE_STRING`).
fn byte_len(units: &[u16]) -> io::Result<u16> {
    units
        .len()
        .checked_mul(2)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidFilename, "name too long"))
}

/// How [`OpenOptions::open_at`] opens: access, sharing, disposition and options of one
/// `NtCreateFile`. Starts as "open an existing object for `SYNCHRONIZE` and
/// `FILE_READ_ATTRIBUTES`, sharing everything, not following reparse points".
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    access: u32,
    share: u32,
    disposition: u32,
    options: u32,
    attributes: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// See the type's documentation.
    #[must_use]
    pub fn new() -> OpenOptions {
        OpenOptions {
            access: w32::SYNCHRONIZE | w32::FILE_READ_ATTRIBUTES,
            share: share::ALL,
            disposition: nt::FILE_OPEN,
            options: nt::FILE_SYNCHRONOUS_IO_NONALERT | nt::FILE_OPEN_FOR_BACKUP_INTENT,
            attributes: 0,
        }
    }

    /// Adds access rights ([`access`]).
    #[must_use]
    pub fn access(mut self, rights: u32) -> OpenOptions {
        self.access |= rights;
        self
    }

    /// Sets the sharing mode ([`share`]).
    #[must_use]
    pub fn share(mut self, mode: u32) -> OpenOptions {
        self.share = mode;
        self
    }

    /// Creates the object, failing when it exists (`FILE_CREATE`).
    #[must_use]
    pub fn create_new(mut self) -> OpenOptions {
        self.disposition = nt::FILE_CREATE;
        self
    }

    /// Wants a directory (`FILE_DIRECTORY_FILE`): opening anything else fails, and
    /// [`OpenOptions::create_new`] creates a directory.
    #[must_use]
    pub fn directory(mut self) -> OpenOptions {
        self.options |= nt::FILE_DIRECTORY_FILE;
        self
    }

    /// Wants anything but a directory (`FILE_NON_DIRECTORY_FILE`).
    #[must_use]
    pub fn non_directory(mut self) -> OpenOptions {
        self.options |= nt::FILE_NON_DIRECTORY_FILE;
        self
    }

    /// Opens a final component that is a reparse point itself instead of failing
    /// (`FILE_OPEN_REPARSE_POINT`); reparse points before it still fail the open.
    #[must_use]
    pub fn open_reparse_point(mut self) -> OpenOptions {
        self.options |= nt::FILE_OPEN_REPARSE_POINT;
        self
    }

    /// The attributes of a created object (`FILE_ATTRIBUTE_*`).
    #[must_use]
    pub fn attributes(mut self, attributes: u32) -> OpenOptions {
        self.attributes = attributes;
        self
    }

    /// Opens `path` (checked by [`check_relative`]) relative to the directory `root`, with
    /// `OBJ_DONT_REPARSE`: the open fails when it would pass through a reparse point. The
    /// empty path reopens `root` itself.
    ///
    /// # Errors
    /// The path's check, or the failure of `NtCreateFile`.
    pub fn open_at(&self, root: BorrowedHandle<'_>, path: &OsStr) -> io::Result<OwnedHandle> {
        let units = check_relative(path)?;
        let len = byte_len(&units)?;
        let name = UNICODE_STRING {
            Length: len,
            MaximumLength: len,
            Buffer: units.as_ptr().cast_mut(),
        };
        let object = OBJECT_ATTRIBUTES {
            Length: u32::try_from(size_of::<OBJECT_ATTRIBUTES>()).unwrap_or(u32::MAX),
            RootDirectory: root.as_raw_handle(),
            ObjectName: &raw const name,
            Attributes: OBJ_DONT_REPARSE,
            SecurityDescriptor: std::ptr::null(),
            SecurityQualityOfService: std::ptr::null(),
        };
        let mut handle: HANDLE = std::ptr::null_mut();
        let mut iosb = IO_STATUS_BLOCK::default();
        // SAFETY: every pointer is valid for the call: `handle` and `iosb` are writable
        // locals, `object` points to `name`, whose buffer `units` outlives the call, and
        // `root` is an open handle borrowed for the call. No allocation size or EA buffer.
        let status = unsafe {
            nt::NtCreateFile(
                &raw mut handle,
                self.access | w32::SYNCHRONIZE,
                &raw const object,
                &raw mut iosb,
                std::ptr::null(),
                self.attributes,
                self.share,
                self.disposition,
                self.options | nt::FILE_SYNCHRONOUS_IO_NONALERT,
                std::ptr::null(),
                0,
            )
        };
        if status < 0 {
            return Err(nt_error(status));
        }
        // SAFETY: NtCreateFile succeeded, so `handle` is a new open handle that nothing else
        // owns.
        Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
    }
}

/// Opens the directory `path` as the process sees it (a Win32 path, following reparse
/// points), sharing everything, with backup semantics (`FILE_FLAG_BACKUP_SEMANTICS`, which
/// a directory open needs).
///
/// # Errors
/// When `path` cannot be opened, or is no directory.
pub fn open_ambient_dir(path: &Path) -> io::Result<OwnedHandle> {
    let file = std::fs::OpenOptions::new()
        .access_mode(w32::FILE_LIST_DIRECTORY | w32::FILE_TRAVERSE | w32::FILE_READ_ATTRIBUTES)
        .share_mode(share::ALL)
        .custom_flags(w32::FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)?;
    let handle = OwnedHandle::from(file);
    if basic_info(handle.as_handle_ref())?.file_attributes & attributes::DIRECTORY == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{}: not a directory", path.display()),
        ));
    }
    Ok(handle)
}

/// Borrowing an owned handle (shorter than `AsHandle::as_handle` at the call sites).
trait HandleRef {
    fn as_handle_ref(&self) -> BorrowedHandle<'_>;
}

impl HandleRef for OwnedHandle {
    fn as_handle_ref(&self) -> BorrowedHandle<'_> {
        std::os::windows::io::AsHandle::as_handle(self)
    }
}

/// `FILE_BASIC_INFO`: the four times (100 ns ticks since 1601, 0 = unknown or "leave
/// unchanged") and the attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BasicInfo {
    /// Creation time.
    pub creation_time: i64,
    /// Last access.
    pub last_access_time: i64,
    /// Last write.
    pub last_write_time: i64,
    /// Last change (of data or metadata).
    pub change_time: i64,
    /// `FILE_ATTRIBUTE_*` ([`attributes`]); 0 = leave unchanged when setting.
    pub file_attributes: u32,
}

/// Reads `FILE_BASIC_INFO` of an open object.
///
/// # Errors
/// When the handle lacks `FILE_READ_ATTRIBUTES` or the call fails.
pub fn basic_info(handle: BorrowedHandle<'_>) -> io::Result<BasicInfo> {
    let mut info = w32::FILE_BASIC_INFO::default();
    query_info(handle, w32::FileBasicInfo, &mut info)?;
    Ok(BasicInfo {
        creation_time: info.CreationTime,
        last_access_time: info.LastAccessTime,
        last_write_time: info.LastWriteTime,
        change_time: info.ChangeTime,
        file_attributes: info.FileAttributes,
    })
}

/// Sets `FILE_BASIC_INFO` of an open object; zero times and attributes are left unchanged.
///
/// # Errors
/// When the handle lacks `FILE_WRITE_ATTRIBUTES` or the call fails.
pub fn set_basic_info(handle: BorrowedHandle<'_>, info: &BasicInfo) -> io::Result<()> {
    let raw = w32::FILE_BASIC_INFO {
        CreationTime: info.creation_time,
        LastAccessTime: info.last_access_time,
        LastWriteTime: info.last_write_time,
        ChangeTime: info.change_time,
        FileAttributes: info.file_attributes,
    };
    // SAFETY: `raw` is a FILE_BASIC_INFO, the structure FileBasicInfo expects, valid for
    // the size passed; `handle` is open for the call.
    let ok = unsafe {
        w32::SetFileInformationByHandle(
            handle.as_raw_handle(),
            w32::FileBasicInfo,
            (&raw const raw).cast(),
            struct_size::<w32::FILE_BASIC_INFO>(),
        )
    };
    if ok == 0 {
        return Err(last_error());
    }
    Ok(())
}

/// `FILE_STANDARD_INFO`, `FILE_ATTRIBUTE_TAG_INFO` and the file's identity, in one type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StandardInfo {
    /// Bytes allocated on disk.
    pub allocation_size: u64,
    /// The data's size.
    pub end_of_file: u64,
    /// Hard links.
    pub number_of_links: u32,
    /// Whether it is a directory.
    pub directory: bool,
    /// Its reparse tag (0 when it is no reparse point).
    pub reparse_tag: u32,
    /// The volume's serial number.
    pub volume_serial_number: u64,
    /// The file's 64-bit index on its volume.
    pub file_index: u64,
}

/// Reads the size, link count, type, reparse tag and identity of an open object.
///
/// # Errors
/// When a query fails.
pub fn standard_info(handle: BorrowedHandle<'_>) -> io::Result<StandardInfo> {
    let mut standard = w32::FILE_STANDARD_INFO::default();
    query_info(handle, w32::FileStandardInfo, &mut standard)?;
    let mut tag = w32::FILE_ATTRIBUTE_TAG_INFO::default();
    query_info(handle, w32::FileAttributeTagInfo, &mut tag)?;
    let (volume_serial_number, file_index) = file_id(handle)?;
    let reparse_tag = if tag.FileAttributes & attributes::REPARSE_POINT != 0 {
        tag.ReparseTag
    } else {
        0
    };
    Ok(StandardInfo {
        allocation_size: u64::try_from(standard.AllocationSize).unwrap_or(0),
        end_of_file: u64::try_from(standard.EndOfFile).unwrap_or(0),
        number_of_links: standard.NumberOfLinks,
        directory: standard.Directory,
        reparse_tag,
        volume_serial_number,
        file_index,
    })
}

/// The volume serial number and the file's index: `FILE_ID_INFO` (64-bit serial; the low
/// 64 bits of the 128-bit id, which is the whole NTFS file reference), or
/// `BY_HANDLE_FILE_INFORMATION` where the file system lacks the class.
fn file_id(handle: BorrowedHandle<'_>) -> io::Result<(u64, u64)> {
    let mut id = w32::FILE_ID_INFO::default();
    if query_info(handle, w32::FileIdInfo, &mut id).is_ok() {
        let mut low = [0u8; 8];
        for (d, s) in low.iter_mut().zip(id.FileId.Identifier) {
            *d = s;
        }
        return Ok((id.VolumeSerialNumber, u64::from_le_bytes(low)));
    }
    let mut info = w32::BY_HANDLE_FILE_INFORMATION::default();
    // SAFETY: `info` is a writable BY_HANDLE_FILE_INFORMATION; `handle` is open for the
    // call.
    if unsafe { w32::GetFileInformationByHandle(handle.as_raw_handle(), &raw mut info) } == 0 {
        return Err(last_error());
    }
    Ok((
        u64::from(info.dwVolumeSerialNumber),
        u64::from(info.nFileIndexHigh) << 32 | u64::from(info.nFileIndexLow),
    ))
}

fn struct_size<T>() -> u32 {
    u32::try_from(size_of::<T>()).unwrap_or(u32::MAX)
}

/// One `GetFileInformationByHandleEx` into a fixed-size structure `T` of class `class`.
fn query_info<T>(
    handle: BorrowedHandle<'_>,
    class: w32::FILE_INFO_BY_HANDLE_CLASS,
    out: &mut T,
) -> io::Result<()> {
    // SAFETY: callers pair each class with its structure (FileBasicInfo/FILE_BASIC_INFO,
    // FileStandardInfo/FILE_STANDARD_INFO, FileAttributeTagInfo/FILE_ATTRIBUTE_TAG_INFO,
    // FileIdInfo/FILE_ID_INFO);
    // `out` is writable for its size; `handle` is open for the call.
    let ok = unsafe {
        w32::GetFileInformationByHandleEx(
            handle.as_raw_handle(),
            class,
            std::ptr::from_mut(out).cast(),
            struct_size::<T>(),
        )
    };
    if ok == 0 {
        return Err(last_error());
    }
    Ok(())
}

/// One `NtSetInformationFile` with a byte buffer of information class `class`.
fn set_info(handle: BorrowedHandle<'_>, class: i32, buf: &[u64], len: usize) -> io::Result<()> {
    let len = u32::try_from(len.min(buf.len().saturating_mul(8)))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "information too long"))?;
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `buf` holds a structure of class `class` laid out by the caller, readable and
    // 8-byte aligned for `len` bytes (`len` is capped at its size); `iosb` is writable;
    // `handle` is open for the call.
    let status = unsafe {
        nt::NtSetInformationFile(
            handle.as_raw_handle(),
            &raw mut iosb,
            buf.as_ptr().cast(),
            len,
            class,
        )
    };
    if status < 0 {
        return Err(nt_error(status));
    }
    Ok(())
}

/// A `FILE_LINK_INFORMATION` / `FILE_RENAME_INFORMATION` (same layout) naming `name` in the
/// directory `dir`, in an 8-byte aligned buffer, with its length in bytes.
fn link_or_rename_info(
    dir: BorrowedHandle<'_>,
    name: &OsStr,
    replace: bool,
) -> io::Result<(Vec<u64>, usize)> {
    let units = check_relative(name)?;
    if units.is_empty() || units.contains(&u16::from(b'\\')) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not one plain name", name.display()),
        ));
    }
    let name_bytes = units.len().saturating_mul(2);
    let at = offset_of!(nt::FILE_LINK_INFORMATION, FileName);
    let len = at
        .saturating_add(name_bytes)
        .max(size_of::<nt::FILE_LINK_INFORMATION>());
    let mut buf = vec![0u64; len.div_ceil(8)];
    let header = nt::FILE_LINK_INFORMATION {
        Anonymous: nt::FILE_LINK_INFORMATION_0 {
            ReplaceIfExists: replace,
        },
        RootDirectory: dir.as_raw_handle(),
        FileNameLength: u32::try_from(name_bytes).unwrap_or(u32::MAX),
        FileName: [0],
    };
    let base = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: `buf` is 8-byte aligned and at least `size_of::<FILE_LINK_INFORMATION>()`
    // bytes long, so the header fits at its start.
    unsafe { base.cast::<nt::FILE_LINK_INFORMATION>().write(header) };
    // SAFETY: the name's `name_bytes` bytes start at the offset of `FileName` and end within
    // `len`, which is at most `buf`'s size; they overlap neither the source nor the header's
    // other fields.
    unsafe {
        std::ptr::copy_nonoverlapping(
            units.as_ptr().cast::<u8>(),
            base.wrapping_add(at),
            name_bytes,
        );
    }
    Ok((buf, len))
}

/// Makes `name` in the directory `dir` a new hard link to the open file `file`
/// (`FileLinkInformation` with `RootDirectory`, never replacing an existing name).
///
/// # Errors
/// `AlreadyExists` when `name` exists; any other failure of the call.
pub fn hard_link(
    file: BorrowedHandle<'_>,
    dir: BorrowedHandle<'_>,
    name: &OsStr,
) -> io::Result<()> {
    let (buf, len) = link_or_rename_info(dir, name, false)?;
    set_info(file, nt::FileLinkInformation, &buf, len)
}

/// Renames the open object `file` (opened with `DELETE` access) to `name` in the directory
/// `dir` (`FileRenameInformation` with `RootDirectory`); `replace` replaces an existing
/// file of that name (never a directory).
///
/// # Errors
/// `AlreadyExists` when `name` exists and `replace` is false; any other failure.
pub fn rename(
    file: BorrowedHandle<'_>,
    dir: BorrowedHandle<'_>,
    name: &OsStr,
    replace: bool,
) -> io::Result<()> {
    let (buf, len) = link_or_rename_info(dir, name, replace)?;
    set_info(file, nt::FileRenameInformation, &buf, len)
}

/// Deletes the open object `handle` (opened with `DELETE`, `FILE_READ_ATTRIBUTES` and
/// `FILE_WRITE_ATTRIBUTES` access): `FileDispositionInformationEx` with POSIX semantics
/// (the name goes at once, even while others hold the object open) where the system has it,
/// the classic delete disposition elsewhere. A read-only object has
/// `FILE_ATTRIBUTE_READONLY` cleared and is deleted again, as hcsshim's `RemoveRelative`.
///
/// # Errors
/// When the object cannot be deleted (a non-empty directory, missing access).
pub fn delete(handle: BorrowedHandle<'_>) -> io::Result<()> {
    match set_delete_disposition(handle) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied || is_cannot_delete(&e) => {
            let basic = basic_info(handle)?;
            if basic.file_attributes & attributes::READONLY == 0 {
                return Err(e);
            }
            let mut cleared = basic.file_attributes & !attributes::READONLY;
            if cleared == 0 {
                cleared = attributes::NORMAL;
            }
            set_basic_info(
                handle,
                &BasicInfo {
                    file_attributes: cleared,
                    ..BasicInfo::default()
                },
            )?;
            set_delete_disposition(handle)
        }
        other => other,
    }
}

/// `ERROR_ACCESS_DENIED`'s sibling for read-only files under the classic disposition
/// (`STATUS_CANNOT_DELETE` maps to `ERROR_ACCESS_DENIED` on most systems, to itself on
/// some).
fn is_cannot_delete(e: &io::Error) -> bool {
    e.raw_os_error() == i32::try_from(foundation::ERROR_ACCESS_DENIED).ok()
}

fn set_delete_disposition(handle: BorrowedHandle<'_>) -> io::Result<()> {
    let flags = [u64::from(
        nt::FILE_DISPOSITION_DELETE
            | nt::FILE_DISPOSITION_POSIX_SEMANTICS
            | nt::FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE,
    )];
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `flags` starts with a FILE_DISPOSITION_INFORMATION_EX (one u32, little
    // endian), readable for 4 bytes; `iosb` is writable; `handle` is open for the call.
    let status = unsafe {
        nt::NtSetInformationFile(
            handle.as_raw_handle(),
            &raw mut iosb,
            flags.as_ptr().cast(),
            struct_size::<nt::FILE_DISPOSITION_INFORMATION_EX>(),
            nt::FileDispositionInformationEx,
        )
    };
    if status >= 0 {
        return Ok(());
    }
    if !is_not_supported(status) {
        return Err(nt_error(status));
    }
    // Before Windows 10 1709, or a file system without POSIX deletes: the classic
    // disposition (FILE_DISPOSITION_INFORMATION's one BOOLEAN).
    set_info(
        handle,
        nt::FileDispositionInformation,
        &[1u64],
        size_of::<nt::FILE_DISPOSITION_INFORMATION>(),
    )
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Its name (never `.` or `..`).
    pub name: OsString,
    /// Its `FILE_ATTRIBUTE_*`.
    pub file_attributes: u32,
}

/// Lists the directory `dir` (opened with `FILE_LIST_DIRECTORY` access, for synchronous
/// I/O) from its start with `NtQueryDirectoryFile(FileDirectoryInformation)`, without `.`
/// and `..`.
///
/// # Errors
/// When a query fails.
pub fn read_dir(dir: BorrowedHandle<'_>) -> io::Result<Vec<DirEntry>> {
    let mut buf = vec![0u64; 8192];
    let mut out = Vec::new();
    let mut restart = true;
    loop {
        let mut iosb = IO_STATUS_BLOCK::default();
        let cap = u32::try_from(buf.len().saturating_mul(8)).unwrap_or(u32::MAX);
        // SAFETY: `buf` is writable and 8-byte aligned for `cap` bytes; `iosb` is
        // writable; no event, APC or file name filter; `dir` is open for synchronous I/O,
        // so the call completes before it returns.
        let status = unsafe {
            nt::NtQueryDirectoryFile(
                dir.as_raw_handle(),
                std::ptr::null_mut(),
                None,
                std::ptr::null(),
                &raw mut iosb,
                buf.as_mut_ptr().cast(),
                cap,
                nt::FileDirectoryInformation,
                false,
                std::ptr::null(),
                restart,
            )
        };
        restart = false;
        if status == foundation::STATUS_NO_MORE_FILES {
            return Ok(out);
        }
        if status < 0 {
            return Err(nt_error(status));
        }
        let filled = iosb.Information.min(buf.len().saturating_mul(8));
        // SAFETY: `buf` is an initialised u64 buffer; viewing its first `filled` bytes
        // (at most its size) as bytes is valid for as long as `buf` is not touched.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), filled) };
        parse_directory_information(bytes, &mut out)?;
    }
}

/// Appends the entries of a `FILE_DIRECTORY_INFORMATION` chain to `out` (bounds-checked:
/// a malformed chain is an error, never a read past the buffer).
fn parse_directory_information(bytes: &[u8], out: &mut Vec<DirEntry>) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed directory listing");
    let u32_at = |at: usize| -> io::Result<u32> {
        let b = bytes.get(at..at.saturating_add(4)).ok_or_else(bad)?;
        Ok(u32::from_le_bytes([
            *b.first().ok_or_else(bad)?,
            *b.get(1).ok_or_else(bad)?,
            *b.get(2).ok_or_else(bad)?,
            *b.get(3).ok_or_else(bad)?,
        ]))
    };
    let name_at = offset_of!(nt::FILE_DIRECTORY_INFORMATION, FileName);
    let attrs_at = offset_of!(nt::FILE_DIRECTORY_INFORMATION, FileAttributes);
    let len_at = offset_of!(nt::FILE_DIRECTORY_INFORMATION, FileNameLength);
    let mut at = 0usize;
    loop {
        let next = u32_at(at)?;
        let file_attributes = u32_at(at.saturating_add(attrs_at))?;
        let name_len = usize::try_from(u32_at(at.saturating_add(len_at))?).map_err(|_| bad())?;
        let start = at.saturating_add(name_at);
        let raw = bytes
            .get(start..start.saturating_add(name_len))
            .ok_or_else(bad)?;
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| {
                u16::from_le_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        let name = OsString::from_wide(&units);
        if name != "." && name != ".." {
            out.push(DirEntry {
                name,
                file_attributes,
            });
        }
        if next == 0 {
            return Ok(());
        }
        at = at
            .checked_add(usize::try_from(next).map_err(|_| bad())?)
            .ok_or_else(bad)?;
    }
}

/// Sets the reparse point of an open object (opened with `FILE_WRITE_DATA` or
/// `FILE_WRITE_ATTRIBUTES`, and `FILE_OPEN_REPARSE_POINT`): `data` is a whole
/// `REPARSE_DATA_BUFFER`, header included (`FSCTL_SET_REPARSE_POINT`).
///
/// # Errors
/// When the file system refuses (creating symbolic links needs `SeCreateSymbolicLinkPrivilege`
/// or developer mode).
pub fn set_reparse_point(handle: BorrowedHandle<'_>, data: &[u8]) -> io::Result<()> {
    let len = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "reparse data too long"))?;
    let mut returned = 0u32;
    // SAFETY: `data` is readable for `len` bytes; no output buffer; `returned` is writable;
    // no OVERLAPPED, the handle being synchronous; `handle` is open for the call.
    let ok = unsafe {
        DeviceIoControl(
            handle.as_raw_handle(),
            FSCTL_SET_REPARSE_POINT,
            data.as_ptr().cast(),
            len,
            std::ptr::null_mut(),
            0,
            &raw mut returned,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(last_error());
    }
    Ok(())
}

/// Reads the whole `REPARSE_DATA_BUFFER` of an open reparse point (`FSCTL_GET_REPARSE_POINT`;
/// at most 16 KiB, `MAXIMUM_REPARSE_DATA_BUFFER_SIZE`).
///
/// # Errors
/// When the object is no reparse point or the call fails.
pub fn reparse_point(handle: BorrowedHandle<'_>) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut returned = 0u32;
    let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    // SAFETY: `buf` is writable for `cap` bytes; no input buffer; `returned` is writable;
    // no OVERLAPPED, the handle being synchronous; `handle` is open for the call.
    let ok = unsafe {
        DeviceIoControl(
            handle.as_raw_handle(),
            FSCTL_GET_REPARSE_POINT,
            std::ptr::null(),
            0,
            buf.as_mut_ptr().cast(),
            cap,
            &raw mut returned,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(last_error());
    }
    buf.truncate(usize::try_from(returned).unwrap_or(0));
    Ok(buf)
}

/// Flushes an open file's data and metadata to stable storage (`FlushFileBuffers`; the
/// handle needs `FILE_WRITE_DATA` or `FILE_APPEND_DATA`).
///
/// # Errors
/// When the flush fails.
pub fn flush(handle: BorrowedHandle<'_>) -> io::Result<()> {
    // SAFETY: `handle` is open for the call.
    if unsafe { w32::FlushFileBuffers(handle.as_raw_handle()) } == 0 {
        return Err(last_error());
    }
    Ok(())
}

/// Opens the object behind `handle` once more, with `access` ([`access`]) and sharing
/// everything (`ReOpenFile`, with backup semantics so that directories reopen too): for an
/// operation the original handle's access does not allow, such as setting the times through
/// a handle opened for reading.
///
/// # Errors
/// When the access is denied or the call fails.
pub fn reopen(handle: BorrowedHandle<'_>, access: u32) -> io::Result<OwnedHandle> {
    // SAFETY: `handle` is open for the call; ReOpenFile returns a new handle or
    // INVALID_HANDLE_VALUE and takes no pointers.
    let new = unsafe {
        w32::ReOpenFile(
            handle.as_raw_handle(),
            access | w32::SYNCHRONIZE,
            share::ALL,
            w32::FILE_FLAG_BACKUP_SEMANTICS | w32::FILE_FLAG_OPEN_REPARSE_POINT,
        )
    };
    if new == foundation::INVALID_HANDLE_VALUE || new.is_null() {
        return Err(last_error());
    }
    // SAFETY: ReOpenFile succeeded, so `new` is a new open handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(new) })
}

/// A [`File`] over an open handle (for opens made by [`OpenOptions::open_at`]).
#[must_use]
pub fn into_file(handle: OwnedHandle) -> File {
    File::from(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_checked() {
        let ok = check_relative(OsStr::new("a/b\\c")).unwrap();
        assert_eq!(String::from_utf16(&ok).unwrap(), "a\\b\\c");
        for bad in [
            "C:\\x", "a:stream", "\\abs", "/abs", "a\0b", "..", "a/../b", "./a",
        ] {
            let e = check_relative(OsStr::new(bad)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        let long = "a".repeat(MAX_PATH_UNITS + 1);
        assert!(check_relative(OsStr::new(&long)).is_err());
        assert!(check_relative(OsStr::new(&long[1..])).is_ok());
    }

    #[test]
    fn malformed_listings_are_errors() {
        let mut out = Vec::new();
        assert!(parse_directory_information(&[0u8; 10], &mut out).is_err());
        let mut entry = vec![0u8; 64 + 8];
        // A name length running past the buffer.
        entry[60..64].copy_from_slice(&1000u32.to_le_bytes());
        assert!(parse_directory_information(&entry, &mut out).is_err());
        assert!(out.is_empty());
    }
}
