//! Enabling the privileges the backup calls and HCS need (`SeBackupPrivilege`,
//! `SeRestorePrivilege`) for the whole process, as hcsshim's `wclayer` command does with
//! go-winio's `EnableProcessPrivileges`.

use std::io;
use std::ptr;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_NOT_ALL_ASSIGNED, GetLastError, HANDLE, LUID,
};
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, LUID_AND_ATTRIBUTES, LookupPrivilegeValueW, SE_PRIVILEGE_ENABLED,
    TOKEN_ADJUST_PRIVILEGES, TOKEN_PRIVILEGES, TOKEN_QUERY,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// Reading files with backup semantics; HCS `ExportLayer`.
pub const BACKUP: &str = "SeBackupPrivilege";
/// Writing files with restore semantics, setting owners; HCS `ImportLayer`.
pub const RESTORE: &str = "SeRestorePrivilege";

/// Closes a token handle when dropped.
struct Token(HANDLE);

impl Drop for Token {
    fn drop(&mut self) {
        // SAFETY: the handle came from `OpenProcessToken` and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// Enables each named privilege for the process.
///
/// # Errors
/// When the token cannot be opened, a name is unknown, or the account does not hold a
/// privilege (`ERROR_NOT_ALL_ASSIGNED`, named in the message).
pub fn enable(names: &[&str]) -> io::Result<()> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: no arguments; the pseudo-handle of the current process needs no closing.
    let process = unsafe { GetCurrentProcess() };
    // SAFETY: `token` is valid for writes.
    let ok =
        unsafe { OpenProcessToken(process, TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &mut token) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = Token(token);
    for name in names {
        let wide: Vec<u16> = name.encode_utf16().chain(Some(0)).collect();
        let mut luid = LUID {
            LowPart: 0,
            HighPart: 0,
        };
        // SAFETY: `wide` is NUL-terminated and outlives the call; `luid` is valid for writes.
        let ok = unsafe { LookupPrivilegeValueW(ptr::null(), wide.as_ptr(), &mut luid) };
        if ok == 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("{name}: {e}")));
        }
        let privileges = TOKEN_PRIVILEGES {
            PrivilegeCount: 1,
            Privileges: [LUID_AND_ATTRIBUTES {
                Luid: luid,
                Attributes: SE_PRIVILEGE_ENABLED,
            }],
        };
        // SAFETY: the token is open with TOKEN_ADJUST_PRIVILEGES; `privileges` is a valid
        // TOKEN_PRIVILEGES with one entry; the previous state is not asked for.
        let ok = unsafe {
            AdjustTokenPrivileges(token.0, 0, &privileges, 0, ptr::null_mut(), ptr::null_mut())
        };
        // SAFETY: reads the calling thread's last error; no arguments.
        let last = unsafe { GetLastError() };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        if last == ERROR_NOT_ALL_ASSIGNED {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{name} is not held by this account (run as an administrator)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_privileges_are_named() {
        let e = enable(&["SeNoSuchPrivilege"]).unwrap_err();
        assert!(e.to_string().contains("SeNoSuchPrivilege"), "{e}");
    }

    #[test]
    fn backup_and_restore_are_enabled_or_refused_with_a_reason() {
        match enable(&[BACKUP, RESTORE]) {
            Ok(()) => {}
            Err(e) => assert!(e.to_string().contains("Se"), "{e}"),
        }
    }
}
