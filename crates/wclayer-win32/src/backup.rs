//! `BackupRead` / `BackupWrite` over an open file: the Win32 backup stream of a file, read
//! or restored with or without its security descriptor (docs/backup-stream.md).

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::io::AsRawHandle;
use std::ptr;

use windows_sys::Win32::Storage::FileSystem::{BackupRead, BackupWrite};

/// A file with the contexts of its backup read and backup write in progress.
///
/// `BackupRead` and `BackupWrite` keep state between calls in a context that belongs to the
/// handle; dropping a `BackupFile` releases both contexts (a call with `bAbort` set) before
/// the handle is closed.
#[derive(Debug)]
pub struct BackupFile {
    file: File,
    read_context: *mut c_void,
    write_context: *mut c_void,
}

impl BackupFile {
    /// Takes `file`, opened with the access the backup calls need (read for `read`;
    /// write, plus `WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY` to restore security).
    #[must_use]
    pub fn new(file: File) -> BackupFile {
        BackupFile {
            file,
            read_context: ptr::null_mut(),
            write_context: ptr::null_mut(),
        }
    }

    /// The file.
    #[must_use]
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file, for plain reads, writes and seeks.
    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Reads the next bytes of the file's backup stream; `Ok(0)` at its end.
    ///
    /// # Errors
    /// The error `BackupRead` reports.
    pub fn read(&mut self, buf: &mut [u8], security: bool) -> io::Result<usize> {
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let mut done = 0u32;
        // SAFETY: the handle is open for the life of `self.file`; `buf` is valid for `len`
        // bytes (at most its length); `done` and the context pointer are valid for writes,
        // and the context is only ever passed back with this same handle.
        let ok = unsafe {
            BackupRead(
                self.file.as_raw_handle(),
                buf.as_mut_ptr(),
                len,
                &mut done,
                0,
                i32::from(security),
                &mut self.read_context,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(done).unwrap_or(usize::MAX))
    }

    /// Restores all of `buf` as the next bytes of the file's backup stream.
    ///
    /// # Errors
    /// The error `BackupWrite` reports, or `WriteZero` when it accepts nothing.
    pub fn write(&mut self, mut buf: &[u8], security: bool) -> io::Result<()> {
        while !buf.is_empty() {
            let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            let mut done = 0u32;
            // SAFETY: as in `read`; `buf` is valid for reads of `len` bytes.
            let ok = unsafe {
                BackupWrite(
                    self.file.as_raw_handle(),
                    buf.as_ptr(),
                    len,
                    &mut done,
                    0,
                    i32::from(security),
                    &mut self.write_context,
                )
            };
            if ok == 0 {
                return Err(io::Error::last_os_error());
            }
            if done == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let done = usize::try_from(done).unwrap_or(usize::MAX);
            buf = buf.get(done..).unwrap_or_default();
        }
        Ok(())
    }
}

impl Drop for BackupFile {
    fn drop(&mut self) {
        let mut done = 0u32;
        if !self.read_context.is_null() {
            // SAFETY: a call with `bAbort` set only releases the context, which came from
            // a `BackupRead` on this same, still open handle.
            unsafe {
                BackupRead(
                    self.file.as_raw_handle(),
                    ptr::null_mut(),
                    0,
                    &mut done,
                    1,
                    0,
                    &mut self.read_context,
                )
            };
        }
        if !self.write_context.is_null() {
            // SAFETY: as above, for the context of `BackupWrite`.
            unsafe {
                BackupWrite(
                    self.file.as_raw_handle(),
                    ptr::null(),
                    0,
                    &mut done,
                    1,
                    0,
                    &mut self.write_context,
                )
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_file_backs_up_or_reports_the_os_error() {
        let dir = std::env::temp_dir().join(format!("wclayer-backup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.txt");
        std::fs::write(&path, b"hello").unwrap();
        let mut f = BackupFile::new(File::open(&path).unwrap());
        let mut buf = [0u8; 256];
        // Windows returns the stream (a data stream header, then "hello"); Wine's BackupRead
        // is a stub that fails with ERROR_NOT_SUPPORTED. Either way: no crash, no garbage.
        match f.read(&mut buf, false) {
            Ok(n) => {
                assert!(n >= 25, "{n}");
                assert_eq!(&buf[20..25], b"hello");
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(50), "{e}"),
        }
        drop(f);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
