//! The two shapes of base layer the benchmark generates.
//!
//! They are modelled on the Windows Server 2022 (build 20348) base layers Microsoft
//! publishes, `mcr.microsoft.com/windows/nanoserver:ltsc2022` and
//! `mcr.microsoft.com/windows/servercore:ltsc2022`. Every figure is an estimate of such a
//! layer, not a measurement of one: the byte totals follow the sizes the images are known
//! by (a few hundred megabytes for nanoserver, a few gigabytes for servercore), the counts
//! and the tree follow how such a layer is built: a WinSxS component store whose payload
//! files are hard-linked ("projected") into `System32` and other live directories, and a
//! UtilityVM image whose `Windows/System32` files are hard links into `Files/`
//! (docs/oci-tar-mapping.md §1 and §4.5 for how they appear in a tar).

use std::fmt;
use std::str::FromStr;

/// What a generated layer should look like at scale 1. Counts are multiplied by the scale
/// (at least 1 each), and so are byte sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// `nano` or `core`.
    pub name: &'static str,
    /// The Windows build in component names (`10.0.20348`).
    pub build: &'static str,
    /// Unix time around which the files were compiled (write times).
    pub release_time: i64,
    /// Unix time at which the layer was assembled (creation, access and change times).
    pub layer_time: i64,
    /// Bytes of regular-file contents (each hard-link group counted once).
    pub file_bytes: u64,
    /// WinSxS component directories.
    pub components: u32,
    /// Mean number of payload files per component.
    pub payload_per_component: f64,
    /// Share of payload files also linked into a live directory.
    pub projected_share: f64,
    /// Directories grown under `Files/` outside WinSxS.
    pub live_dirs: u32,
    /// Files under `Files/` that are not WinSxS payload.
    pub live_files: u32,
    /// .NET assemblies in the global assembly cache (one directory and one file each).
    pub gac_assemblies: u32,
    /// Directories under `UtilityVM/Files/Windows`.
    pub uvm_dirs: u32,
    /// `UtilityVM/Files/Windows/System32/…` names that are hard links into `Files/`.
    pub uvm_links: u32,
    /// Files of the UtilityVM image of its own.
    pub uvm_files: u32,
    /// Large files, at full size: registry hives, a few big binaries and databases.
    pub big_files: &'static [(&'static str, u64)],
    /// `Hives/*_Delta` files and their sizes.
    pub hives: &'static [(&'static str, u64)],
    /// Junctions and directory symbolic links under `Files/`.
    pub reparse_points: u32,
    /// Alternate data streams (`file:stream` entries).
    pub streams: u32,
    /// Share of binaries carrying an extended attribute (`MSWINDOWS.xattr.*`).
    pub ea_share: f64,
    /// Whether the image has the 32-bit subsystem (`SysWOW64`, `Program Files (x86)`).
    pub wow64: bool,
    /// Expected number of tar entries at scale 1 (a check of the model, ±25 %).
    pub expected_entries: u64,
    /// Expected number of hard-link entries at scale 1 (±25 %).
    pub expected_links: u64,
}

/// Shaped like `nanoserver:ltsc2022`: about 290 MB of files, 11 thousand entries of which
/// about 2.3 thousand are hard links.
pub static NANO: Profile = Profile {
    name: "nano",
    build: "10.0.20348",
    release_time: 1_620_432_000,
    layer_time: 1_725_580_219,
    file_bytes: 290_000_000,
    components: 650,
    payload_per_component: 1.8,
    projected_share: 0.55,
    live_dirs: 1400,
    live_files: 4600,
    gac_assemblies: 0,
    uvm_dirs: 450,
    uvm_links: 2600,
    uvm_files: 350,
    big_files: &[
        ("Files/Windows/System32/config/SOFTWARE", 18_000_000),
        ("Files/Windows/System32/config/SYSTEM", 9_000_000),
        ("Files/Windows/System32/config/DRIVERS", 3_000_000),
        ("UtilityVM/Files/Windows/System32/config/SYSTEM", 6_000_000),
    ],
    hives: &[
        ("DefaultUser_Delta", 262_144),
        ("Sam_Delta", 65_536),
        ("Security_Delta", 65_536),
        ("Software_Delta", 4_194_304),
        ("System_Delta", 2_097_152),
    ],
    reparse_points: 8,
    streams: 2,
    ea_share: 0.01,
    wow64: false,
    expected_entries: 11_000,
    expected_links: 2_300,
};

/// Shaped like `servercore:ltsc2022`: about 2.9 GB of files, over 100 thousand entries of
/// which about a third are hard links.
pub static CORE: Profile = Profile {
    name: "core",
    build: "10.0.20348",
    release_time: 1_620_432_000,
    layer_time: 1_686_228_920,
    file_bytes: 2_900_000_000,
    components: 8000,
    payload_per_component: 4.5,
    projected_share: 0.8,
    live_dirs: 9000,
    live_files: 10_500,
    gac_assemblies: 1100,
    uvm_dirs: 1800,
    uvm_links: 11_000,
    uvm_files: 1200,
    big_files: &[
        ("Files/Windows/System32/config/SOFTWARE", 75_000_000),
        ("Files/Windows/System32/config/SYSTEM", 18_000_000),
        ("Files/Windows/System32/config/DRIVERS", 5_000_000),
        ("Files/Windows/System32/config/COMPONENTS", 40_000_000),
        ("Files/Windows/System32/MRT.exe", 130_000_000),
        (
            "Files/Windows/System32/wbem/Repository/OBJECTS.DATA",
            30_000_000,
        ),
        ("Files/Windows/Globalization/ICU/icudtl.dat", 10_000_000),
        ("Files/Windows/System32/icu.dll", 11_000_000),
        ("Files/Windows/System32/catroot2/edb.log", 8_000_000),
        (
            "Files/Windows/servicing/Sessions/Sessions.back.xml",
            6_000_000,
        ),
        ("UtilityVM/Files/Windows/System32/config/SYSTEM", 12_000_000),
        (
            "UtilityVM/Files/Windows/System32/config/SOFTWARE",
            40_000_000,
        ),
    ],
    hives: &[
        ("DefaultUser_Delta", 524_288),
        ("Sam_Delta", 65_536),
        ("Security_Delta", 65_536),
        ("Software_Delta", 25_165_824),
        ("System_Delta", 8_388_608),
    ],
    reparse_points: 30,
    streams: 5,
    ea_share: 0.01,
    wow64: true,
    expected_entries: 108_000,
    expected_links: 35_000,
};

/// Which profile: the argument of `--profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileName {
    /// [`NANO`].
    Nano,
    /// [`CORE`].
    Core,
}

impl ProfileName {
    /// The profile's figures.
    pub fn profile(self) -> &'static Profile {
        match self {
            ProfileName::Nano => &NANO,
            ProfileName::Core => &CORE,
        }
    }
}

impl FromStr for ProfileName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nano" | "nanoserver" => Ok(ProfileName::Nano),
            "core" | "servercore" => Ok(ProfileName::Core),
            other => Err(format!("unknown profile `{other}` (nano or core)")),
        }
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.profile().name)
    }
}
