//! The layer functions of the Host Compute Service (`vmcompute.dll`), as hcsshim declares
//! them in `internal/wclayer/wclayer.go` (docs/layer-semantics.md §11): resolved lazily
//! (a missing DLL or export is an error before the call), strings passed as NUL-terminated
//! UTF-16 (a string holding NUL is refused before the call), HRESULTs mapped to
//! [`io::Error`].

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::HMODULE;
use windows_sys::Win32::System::LibraryLoader::{
    GetProcAddress, LOAD_LIBRARY_SEARCH_SYSTEM32, LoadLibraryExW,
};
use windows_sys::core::{GUID, HRESULT, PCWSTR};

/// A layer GUID: `Data1`, `Data2`, `Data3`, `Data4`.
pub type Guid = (u32, u16, u16, [u8; 8]);

/// A parent layer for [`import_layer`], [`export_layer`] and [`prepare_layer`].
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// `NameToGuid` of the layer directory's name.
    pub id: Guid,
    /// `WC_LAYER_DESCRIPTOR.Flags` (bit 31 `Dirty`); hcsshim passes 0.
    pub flags: u32,
    /// The layer directory.
    pub path: &'a Path,
}

/// `DriverInfo` (x64: 16 bytes): the graph driver flavour and an empty home directory, so
/// every layer id is a full path (as hcsshim passes it).
#[repr(C)]
struct DriverInfo {
    flavour: i32,
    home_dir: PCWSTR,
}

/// `WC_LAYER_DESCRIPTOR` (x64: 32 bytes).
#[repr(C)]
struct LayerDescriptor {
    layer_id: GUID,
    flags: u32,
    path: PCWSTR,
}

/// `GraphDriverType::FilterDriver`, what hcsshim passes.
const FILTER_DRIVER: i32 = 1;

/// The HRESULT of a call as an [`io::Error`] (hcsshim `hcserror`): a `FACILITY_WIN32`
/// HRESULT becomes its Win32 code, any other failure the HRESULT itself.
#[must_use]
pub fn hresult_error(hr: HRESULT) -> Option<io::Error> {
    if hr >= 0 {
        return None;
    }
    #[allow(clippy::cast_sign_loss)]
    let bits = hr as u32;
    #[allow(clippy::cast_possible_wrap)]
    let code = if bits & 0x1FFF_0000 == 0x0007_0000 {
        (bits & 0xFFFF) as i32
    } else {
        hr
    };
    Some(io::Error::from_raw_os_error(code))
}

fn check(hr: HRESULT) -> io::Result<()> {
    hresult_error(hr).map_or(Ok(()), Err)
}

/// `s` as NUL-terminated UTF-16; a NUL inside is refused.
pub fn wide(s: &OsStr) -> io::Result<Vec<u16>> {
    let mut w: Vec<u16> = s.encode_wide().collect();
    if w.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} contains a NUL character", s.to_string_lossy()),
        ));
    }
    w.push(0);
    Ok(w)
}

struct Module(HMODULE);

// SAFETY: a module handle is a process-wide value; it is only passed to GetProcAddress.
unsafe impl Send for Module {}
// SAFETY: as above.
unsafe impl Sync for Module {}

fn vmcompute() -> io::Result<HMODULE> {
    static MODULE: OnceLock<Result<Module, i32>> = OnceLock::new();
    let m = MODULE.get_or_init(|| {
        let name = wide(OsStr::new("vmcompute.dll")).map_err(|_| 0)?;
        // SAFETY: `name` is NUL-terminated; loading only from System32 avoids a planted DLL.
        let h =
            unsafe { LoadLibraryExW(name.as_ptr(), ptr::null_mut(), LOAD_LIBRARY_SEARCH_SYSTEM32) };
        if h.is_null() {
            Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(Module(h))
        }
    });
    match m {
        Ok(m) => Ok(m.0),
        Err(code) => Err(io::Error::new(
            io::Error::from_raw_os_error(*code).kind(),
            format!(
                "cannot load vmcompute.dll (the Host Compute Service; Windows with the \
                 Containers feature): {}",
                io::Error::from_raw_os_error(*code)
            ),
        )),
    }
}

/// The address of `vmcompute.dll`'s export `name` (NUL-terminated).
fn proc(name: &'static [u8]) -> io::Result<unsafe extern "system" fn() -> isize> {
    let module = vmcompute()?;
    // SAFETY: `module` is a loaded module; `name` is a NUL-terminated ASCII string.
    let p = unsafe { GetProcAddress(module, name.as_ptr()) };
    p.ok_or_else(|| {
        let shown = String::from_utf8_lossy(name.strip_suffix(b"\0").unwrap_or(name)).into_owned();
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("vmcompute.dll has no function {shown}"),
        )
    })
}

/// Resolves `$name` and calls it as `fn($($ty),*) -> HRESULT` with `$arg`s.
macro_rules! call {
    ($name:literal, ($($ty:ty),*), ($($arg:expr),*)) => {{
        let f = proc(concat!($name, "\0").as_bytes())?;
        // SAFETY: the export has exactly this signature (hcsshim's zsyscall_windows.go);
        // both are `extern "system"` function pointers of the same size.
        let f: unsafe extern "system" fn($($ty),*) -> HRESULT = unsafe { std::mem::transmute(f) };
        // SAFETY: every pointer argument points to a live, NUL-terminated string or to
        // descriptors that outlive the call; HCS does not keep them.
        check(unsafe { f($($arg),*) })
    }};
}

fn driver_info(empty: &[u16]) -> DriverInfo {
    DriverInfo {
        flavour: FILTER_DRIVER,
        home_dir: empty.as_ptr(),
    }
}

/// The descriptors of `layers`, with the UTF-16 paths they point into.
fn descriptors(layers: &[Layer<'_>]) -> io::Result<(Vec<LayerDescriptor>, Vec<Vec<u16>>)> {
    let paths: Vec<Vec<u16>> = layers
        .iter()
        .map(|l| wide(l.path.as_os_str()))
        .collect::<Result<_, _>>()?;
    let d = layers
        .iter()
        .zip(&paths)
        .map(|(l, p)| LayerDescriptor {
            layer_id: GUID {
                data1: l.id.0,
                data2: l.id.1,
                data3: l.id.2,
                data4: l.id.3,
            },
            flags: l.flags,
            path: p.as_ptr(),
        })
        .collect();
    Ok((d, paths))
}

fn descriptor_ptr(d: &[LayerDescriptor]) -> *const LayerDescriptor {
    if d.is_empty() {
        ptr::null()
    } else {
        d.as_ptr()
    }
}

/// HCS `NameToGuid(name)`.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn name_to_guid(name: &str) -> io::Result<Guid> {
    let n = wide(OsStr::new(name))?;
    let mut g = GUID {
        data1: 0,
        data2: 0,
        data3: 0,
        data4: [0; 8],
    };
    let gp: *mut GUID = &mut g;
    call!("NameToGuid", (PCWSTR, *mut GUID), (n.as_ptr(), gp))?;
    Ok((g.data1, g.data2, g.data3, g.data4))
}

/// Calls one of the `fn(DriverInfo*, PCWSTR id, PCWSTR folder, WC_LAYER_DESCRIPTOR*, count)
/// -> HRESULT` functions (`ImportLayer`, `ExportLayer`).
fn folder_call(
    f: unsafe extern "system" fn() -> isize,
    id: &Path,
    folder: &Path,
    parents: &[Layer<'_>],
) -> io::Result<()> {
    let (empty, id, folder) = (vec![0u16], wide(id.as_os_str())?, wide(folder.as_os_str())?);
    let (d, _paths) = descriptors(parents)?;
    let info = driver_info(&empty);
    type FolderFn = unsafe extern "system" fn(
        *const DriverInfo,
        PCWSTR,
        PCWSTR,
        *const LayerDescriptor,
        usize,
    ) -> HRESULT;
    // SAFETY: `f` was resolved from an export with this signature (see the callers).
    let f: FolderFn = unsafe { std::mem::transmute(f) };
    // SAFETY: the strings and descriptors (and the paths they point into) outlive the call.
    check(unsafe {
        f(
            &info,
            id.as_ptr(),
            folder.as_ptr(),
            descriptor_ptr(&d),
            d.len(),
        )
    })
}

/// HCS `ImportLayer(id, folder, parents)`.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn import_layer(id: &Path, folder: &Path, parents: &[Layer<'_>]) -> io::Result<()> {
    folder_call(proc(b"ImportLayer\0")?, id, folder, parents)
}

/// HCS `ExportLayer(id, folder, parents)`.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn export_layer(id: &Path, folder: &Path, parents: &[Layer<'_>]) -> io::Result<()> {
    folder_call(proc(b"ExportLayer\0")?, id, folder, parents)
}

/// HCS `ProcessBaseImage(path)`.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn process_base_image(path: &Path) -> io::Result<()> {
    let p = wide(path.as_os_str())?;
    call!("ProcessBaseImage", (PCWSTR), (p.as_ptr()))
}

/// HCS `ProcessUtilityImage(path)` (`path` is `<layer>\UtilityVM`).
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn process_utility_image(path: &Path) -> io::Result<()> {
    let p = wide(path.as_os_str())?;
    call!("ProcessUtilityImage", (PCWSTR), (p.as_ptr()))
}

/// Calls one of the `fn(DriverInfo*, PCWSTR id) -> HRESULT` functions.
fn layer_call(id: &Path, f: unsafe extern "system" fn() -> isize) -> io::Result<()> {
    let (empty, id) = (vec![0u16], wide(id.as_os_str())?);
    let info = driver_info(&empty);
    // SAFETY: `f` was resolved from an export with this signature (see the callers).
    let f: unsafe extern "system" fn(*const DriverInfo, PCWSTR) -> HRESULT =
        unsafe { std::mem::transmute(f) };
    // SAFETY: both pointers are live for the call.
    check(unsafe { f(&info, id.as_ptr()) })
}

/// HCS `ActivateLayer(id)`.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn activate_layer(id: &Path) -> io::Result<()> {
    layer_call(id, proc(b"ActivateLayer\0")?)
}

/// HCS `DeactivateLayer(id)`.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn deactivate_layer(id: &Path) -> io::Result<()> {
    layer_call(id, proc(b"DeactivateLayer\0")?)
}

/// HCS `UnprepareLayer(id)`.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn unprepare_layer(id: &Path) -> io::Result<()> {
    layer_call(id, proc(b"UnprepareLayer\0")?)
}

/// HCS `PrepareLayer(id, parents)`. hcsshim serialises these calls in the process (a
/// workaround for timeouts in Windows); so does this function.
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn prepare_layer(id: &Path, parents: &[Layer<'_>]) -> io::Result<()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let (empty, id) = (vec![0u16], wide(id.as_os_str())?);
    let (d, _paths) = descriptors(parents)?;
    let info = driver_info(&empty);
    let _serial = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    call!(
        "PrepareLayer",
        (*const DriverInfo, PCWSTR, *const LayerDescriptor, usize),
        (&info, id.as_ptr(), descriptor_ptr(&d), d.len())
    )
}

/// HCS `GetLayerMountPath(id)`: asks for the length first, then for the path (UTF-16
/// units, read up to the first NUL).
///
/// # Errors
/// When HCS cannot be loaded or fails.
pub fn get_layer_mount_path(id: &Path) -> io::Result<PathBuf> {
    let (empty, id) = (vec![0u16], wide(id.as_os_str())?);
    let info = driver_info(&empty);
    let mut len: usize = 0;
    let lp: *mut usize = &mut len;
    call!(
        "GetLayerMountPath",
        (*const DriverInfo, PCWSTR, *mut usize, *mut u16),
        (&info, id.as_ptr(), lp, ptr::null_mut())
    )?;
    if len == 0 {
        return Ok(PathBuf::new());
    }
    let mut buf = vec![0u16; len];
    let bp = buf.as_mut_ptr();
    call!(
        "GetLayerMountPath",
        (*const DriverInfo, PCWSTR, *mut usize, *mut u16),
        (&info, id.as_ptr(), lp, bp)
    )?;
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    Ok(PathBuf::from(std::ffi::OsString::from_wide(
        buf.get(..end).unwrap_or_default(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_have_the_x64_layout() {
        assert_eq!(std::mem::size_of::<DriverInfo>(), 16);
        assert_eq!(std::mem::offset_of!(DriverInfo, home_dir), 8);
        assert_eq!(std::mem::size_of::<LayerDescriptor>(), 32);
        assert_eq!(std::mem::offset_of!(LayerDescriptor, flags), 16);
        assert_eq!(std::mem::offset_of!(LayerDescriptor, path), 24);
    }

    #[test]
    fn hresults_map_as_hcsshim_maps_them() {
        assert!(hresult_error(0).is_none());
        assert!(hresult_error(1).is_none());
        // HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)
        #[allow(clippy::cast_possible_wrap)]
        let e = hresult_error(0x8007_0002_u32 as i32).unwrap();
        assert_eq!(e.raw_os_error(), Some(2));
        // E_INVALIDARG is FACILITY_WIN32 too: ERROR_INVALID_PARAMETER.
        #[allow(clippy::cast_possible_wrap)]
        let e = hresult_error(0x8007_0057_u32 as i32).unwrap();
        assert_eq!(e.raw_os_error(), Some(0x57));
        // Another facility (here HCS's own, 0x370) stays the HRESULT.
        #[allow(clippy::cast_possible_wrap)]
        let hr = 0x8037_0100_u32 as i32;
        assert_eq!(hresult_error(hr).unwrap().raw_os_error(), Some(hr));
    }

    #[test]
    fn strings_with_nul_are_refused_before_the_call() {
        let e = name_to_guid("a\0b").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(wide(OsStr::new("ab")).unwrap(), vec![97, 98, 0]);
    }

    #[test]
    fn without_the_host_compute_service_every_call_fails_cleanly() {
        // Wine has no vmcompute.dll; neither has Windows without the Containers feature.
        if vmcompute().is_ok() {
            return;
        }
        let e = import_layer(Path::new(r"C:\l"), Path::new(r"C:\f"), &[]).unwrap_err();
        assert!(e.to_string().contains("vmcompute.dll"), "{e}");
        assert!(process_base_image(Path::new(r"C:\l")).is_err());
        assert!(get_layer_mount_path(Path::new(r"C:\l")).is_err());
    }
}
