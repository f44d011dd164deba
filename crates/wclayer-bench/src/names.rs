//! Windows-looking file and directory names, drawn from small vocabularies.

use crate::rng::Rng;

/// Fragments that make up module names (`kernelbase`, `netcfgsvc`, …).
pub(crate) const FRAGMENTS: &[&str] = &[
    "acl", "adv", "api", "app", "audio", "auth", "base", "bcd", "bio", "bits", "boot", "cache",
    "cert", "cfg", "cim", "cli", "clip", "cng", "com", "comp", "core", "cred", "crypt", "data",
    "dcom", "dev", "dhcp", "diag", "disk", "dns", "drv", "dsc", "dwm", "efs", "em", "event", "ext",
    "fault", "fs", "fw", "gdi", "hal", "host", "http", "hv", "ime", "inet", "input", "ipsec",
    "kbd", "kerb", "kernel", "ldap", "lic", "lsa", "mgmt", "mi", "mpr", "ms", "msg", "nca", "ndis",
    "net", "nls", "ntfs", "ole", "pcw", "pdh", "perf", "pnp", "policy", "power", "print", "prov",
    "ps", "rasc", "reg", "rpc", "sam", "sched", "scrub", "sec", "sens", "setup", "shell", "smb",
    "snmp", "spp", "srv", "stor", "svc", "sync", "sys", "task", "tcp", "tdh", "tpm", "trace", "ts",
    "ui", "umpo", "update", "usb", "user", "util", "vds", "vm", "vol", "vss", "wbem", "wcn", "wer",
    "win", "wins", "wlan", "wmi", "ws", "xml",
];

/// Words of longer names, component names and text.
pub(crate) const WORDS: &[&str] = &[
    "activation",
    "appx",
    "audit",
    "authentication",
    "backup",
    "broker",
    "certificates",
    "client",
    "cluster",
    "compatibility",
    "component",
    "compute",
    "configuration",
    "console",
    "container",
    "core",
    "credentials",
    "cryptography",
    "deployment",
    "desktop",
    "device",
    "diagnostics",
    "directory",
    "display",
    "driver",
    "encryption",
    "event",
    "feature",
    "filesystem",
    "firewall",
    "foundation",
    "framework",
    "graphics",
    "group",
    "host",
    "hypervisor",
    "identity",
    "input",
    "installer",
    "kernel",
    "licensing",
    "localization",
    "logging",
    "management",
    "media",
    "migration",
    "network",
    "notification",
    "package",
    "performance",
    "platform",
    "policy",
    "power",
    "printing",
    "protocol",
    "provider",
    "recovery",
    "registry",
    "remote",
    "resources",
    "runtime",
    "scheduler",
    "security",
    "server",
    "service",
    "servicing",
    "session",
    "settings",
    "setup",
    "shell",
    "storage",
    "subsystem",
    "telemetry",
    "terminal",
    "transport",
    "update",
    "user",
    "virtual",
    "volume",
    "windows",
    "workload",
];

const BINARY_EXTS: &[(&str, u32)] = &[
    (".dll", 60),
    (".exe", 14),
    (".sys", 9),
    (".mui", 6),
    (".cpl", 2),
    (".ocx", 2),
    (".tlb", 3),
    (".winmd", 4),
];

const TEXT_EXTS: &[&str] = &[
    ".adml", ".admx", ".cdxml", ".inf", ".ini", ".json", ".man", ".mfl", ".mof", ".mum", ".ps1",
    ".ps1xml", ".psd1", ".psm1", ".txt", ".xml",
];

const PLAIN_DIRS: &[&str] = &[
    "amd64",
    "Config",
    "Data",
    "en-US",
    "Help",
    "Logs",
    "Modules",
    "Resources",
    "Schemas",
    "Temp",
    "Templates",
    "x86",
    "1033",
    "Cache",
];

/// Names for one generated layer.
pub(crate) struct Names;

impl Names {
    fn capitalised(rng: &mut Rng) -> String {
        let w = rng.pick(WORDS);
        let mut chars = w.chars();
        match chars.next() {
            Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
            None => String::new(),
        }
    }

    /// `netcfgsvc`, `kernelbase32`.
    pub(crate) fn stem(rng: &mut Rng, most: u64) -> String {
        let mut s = String::new();
        for _ in 0..rng.range(1, most) {
            let fragment: &&str = rng.pick(FRAGMENTS);
            s.push_str(fragment);
        }
        if rng.chance(0.2) {
            s.push_str(&rng.range(1, 64).to_string());
        }
        s
    }

    /// A module: `stem.dll`, `stem.exe`, …
    pub(crate) fn binary(rng: &mut Rng) -> String {
        let weights: Vec<u32> = BINARY_EXTS.iter().map(|e| e.1).collect();
        let ext = BINARY_EXTS[rng.weighted(&weights)].0;
        Self::stem(rng, 3) + ext
    }

    /// A text file: `stem.inf`, `Storage-Management.psd1`, …
    pub(crate) fn text(rng: &mut Rng) -> String {
        let base = if rng.chance(0.3) {
            let n = rng.range(1, 3);
            (0..n)
                .map(|_| Self::capitalised(rng))
                .collect::<Vec<_>>()
                .join("-")
        } else {
            Self::stem(rng, 3)
        };
        base + *rng.pick(TEXT_EXTS)
    }

    /// A .NET assembly name without extension: `System.Runtime.Management`.
    pub(crate) fn assembly(rng: &mut Rng) -> String {
        let mut s = String::from("System");
        for _ in 0..rng.range(1, 3) {
            s.push('.');
            s.push_str(&Self::capitalised(rng));
        }
        s
    }

    /// A directory name: a stem, `Capitalised-Words`, a common folder name or a GUID.
    pub(crate) fn dir(rng: &mut Rng) -> String {
        let x = rng.unit();
        if x < 0.45 {
            Self::stem(rng, 2)
        } else if x < 0.75 {
            let n = rng.range(1, 2);
            (0..n)
                .map(|_| Self::capitalised(rng))
                .collect::<Vec<_>>()
                .join("-")
        } else if x < 0.85 {
            (*rng.pick(PLAIN_DIRS)).to_owned()
        } else {
            let a = rng.next_u64();
            let b = rng.next_u64();
            format!(
                "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
                a >> 32,
                (a >> 16) & 0xFFFF,
                a & 0xFFFF,
                b >> 48,
                b & 0xFFFF_FFFF_FFFF
            )
        }
    }

    /// A WinSxS component directory name and its architecture:
    /// `amd64_microsoft-windows-storage-provider_31bf3856ad364e35_10.0.20348.1_none_…`.
    pub(crate) fn component(rng: &mut Rng, build: &str) -> (String, &'static str) {
        let arch = ["amd64", "wow64", "x86", "msil"][rng.weighted(&[70, 15, 5, 10])];
        let n = rng.range(1, 4);
        let words: Vec<&str> = (0..n).map(|_| *rng.pick(WORDS)).collect();
        let lang = if rng.chance(0.85) { "none" } else { "en-us" };
        let revision = rng.pick(&[1u32, 1, 1, 1, 1889, 2031, 2159, 2322, 2402, 2527]);
        let hash = rng.next_u64();
        let name = format!(
            "{arch}_microsoft-windows-{}_31bf3856ad364e35_{build}.{revision}_{lang}_{hash:016x}",
            words.join("-")
        );
        (name, arch)
    }
}
