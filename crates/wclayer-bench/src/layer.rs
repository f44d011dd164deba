//! The model of a generated base layer: names, kinds, Windows metadata and content
//! references, but never contents. [`Layer::build`] grows it from a [`Profile`], a scale and
//! a seed; `crate::tarball` writes it.
//!
//! Names are compared case-insensitively, as on NTFS: adding `Files/Windows/system32/x`
//! after `Files/Windows/System32` puts `x` in the existing directory.

use std::collections::{HashMap, HashSet};

use crate::content::Content;
use crate::names::Names;
use crate::profile::Profile;
use crate::rng::Rng;
use crate::sd::{Acl, acl_for};

/// `FILE_ATTRIBUTE_*` values (docs/oci-tar-mapping.md §4.1).
pub(crate) mod attr {
    pub(crate) const READONLY: u32 = 0x1;
    pub(crate) const HIDDEN: u32 = 0x2;
    pub(crate) const SYSTEM: u32 = 0x4;
    pub(crate) const DIRECTORY: u32 = 0x10;
    pub(crate) const ARCHIVE: u32 = 0x20;
    pub(crate) const NORMAL: u32 = 0x80;
    pub(crate) const REPARSE_POINT: u32 = 0x400;
    pub(crate) const NOT_CONTENT_INDEXED: u32 = 0x2000;
}

/// A time with FILETIME precision: whole Unix seconds and 100 ns ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) secs: i64,
    pub(crate) ticks: u32,
}

impl Stamp {
    /// The PAX form (docs/oci-tar-mapping.md §3): `1620000000.1234567`, trailing zeros
    /// dropped, whole seconds alone.
    pub(crate) fn pax(self) -> String {
        if self.ticks == 0 {
            return self.secs.to_string();
        }
        let mut s = format!("{}.{:07}", self.secs, self.ticks);
        while s.ends_with('0') {
            s.pop();
        }
        s
    }
}

/// The four times of an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    pub(crate) write: Stamp,
    pub(crate) access: Stamp,
    pub(crate) change: Stamp,
    pub(crate) creation: Stamp,
}

/// A file's data and metadata, shared by all its names.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub(crate) size: u64,
    pub(crate) content: Content,
    pub(crate) offset: u64,
    pub(crate) times: Times,
    pub(crate) attrs: u32,
    pub(crate) acl: Acl,
    /// The value of the one extended attribute some binaries carry.
    pub(crate) ea: Option<Vec<u8>>,
    /// Big files, hives and streams keep their size when sizes are normalised.
    pub(crate) fixed: bool,
    /// How many names the inode has.
    pub(crate) names: u32,
}

/// What a name is.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Dir {
        attrs: u32,
        acl: Acl,
        times: Times,
    },
    /// A name of inode `.0`.
    File(usize),
    /// A junction (`junction`) or a directory symbolic link.
    Reparse {
        target: String,
        junction: bool,
        attrs: u32,
        acl: Acl,
        times: Times,
    },
}

/// A generated layer.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    pub(crate) nodes: HashMap<String, Node>,
    pub(crate) children: HashMap<String, Vec<String>>,
    /// Alternate data streams of a file: (stream name, inode).
    pub(crate) streams: HashMap<String, Vec<(String, usize)>>,
    pub(crate) inodes: Vec<Inode>,
    /// Lower-case path → the spelling in the tree.
    folded: HashMap<String, String>,
    /// File names in the order they were added (the maps above have no stable order).
    files: Vec<(String, usize)>,
}

/// The roots of the tar, in archive order.
pub(crate) const ROOTS: [&str; 3] = ["Files", "Hives", "UtilityVM"];

const WINDOWS: &str = "Files/Windows";
const UVM: &str = "UtilityVM/Files";
const DAY: i64 = 86_400;
const TICKS: u64 = 10_000_000;

struct Builder<'p> {
    p: &'p Profile,
    scale: f64,
    rng: Rng,
    layer: Layer,
}

impl Builder<'_> {
    /// A count of the profile at this scale (at least 1).
    fn n(&self, x: u32) -> usize {
        ((f64::from(x) * self.scale).round() as usize).max(1)
    }

    fn stamp(&mut self, base: i64, spread: i64) -> Stamp {
        Stamp {
            secs: base + self.rng.below(spread.max(1) as u64) as i64,
            ticks: self.rng.below(TICKS) as u32,
        }
    }

    /// Written when the build was compiled (mostly in the days before the release, some
    /// updated later); created, accessed and changed when the layer was assembled.
    fn times(&mut self) -> Times {
        let (release, layer) = (self.p.release_time, self.p.layer_time);
        let write = if self.rng.chance(0.85) {
            self.stamp(release - 3 * DAY, 3 * DAY)
        } else {
            self.stamp(release, layer - release)
        };
        let creation = self.stamp(layer, 3600);
        let access = self.stamp(creation.secs, 60);
        let change = self.stamp(creation.secs, 60);
        Times {
            write,
            access,
            change,
            creation,
        }
    }

    /// `path` with every prefix the tree already has in its spelling there.
    fn canonical(&self, path: &str) -> String {
        let mut out = String::with_capacity(path.len());
        for part in path.split('/') {
            let mut candidate = out.clone();
            if !candidate.is_empty() {
                candidate.push('/');
            }
            candidate.push_str(part);
            out = match self.layer.folded.get(&candidate.to_lowercase()) {
                Some(known) => known.clone(),
                None => candidate,
            };
        }
        out
    }

    /// Creates `path` and its missing parents; returns its spelling in the tree.
    fn mkdir(&mut self, path: &str) -> String {
        let path = self.canonical(path);
        if self.layer.nodes.contains_key(&path) {
            return path;
        }
        let name = match path.rsplit_once('/') {
            Some((parent, name)) => {
                let parent = self.mkdir(parent);
                self.child(&parent, name);
                name
            }
            None => path.as_str(),
        };
        let attrs = match name.to_lowercase().as_str() {
            "winsxs" => attr::DIRECTORY | attr::NOT_CONTENT_INDEXED,
            "programdata" | "default" => attr::DIRECTORY | attr::HIDDEN,
            _ => attr::DIRECTORY,
        };
        let times = self.times();
        let acl = acl_for(&path, true);
        self.layer.folded.insert(path.to_lowercase(), path.clone());
        self.layer.children.insert(path.clone(), Vec::new());
        self.layer
            .nodes
            .insert(path.clone(), Node::Dir { attrs, acl, times });
        path
    }

    fn child(&mut self, parent: &str, name: &str) {
        if let Some(kids) = self.layer.children.get_mut(parent) {
            kids.push(name.to_owned());
        }
    }

    /// Adds a non-directory `node` at the canonical `path` (parents created).
    fn insert(&mut self, path: &str, node: Node) {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = self.mkdir(parent);
        self.child(&parent, name);
        let path = format!("{parent}/{name}");
        if let Node::File(ino) = node {
            self.layer.files.push((path.clone(), ino));
        }
        self.layer.folded.insert(path.to_lowercase(), path.clone());
        self.layer.nodes.insert(path, node);
    }

    fn inode(&mut self, path: &str, size: u64, content: Content) -> usize {
        let x = self.rng.unit();
        let attrs = if x < 0.86 {
            attr::ARCHIVE
        } else if x < 0.93 {
            attr::NORMAL
        } else if x < 0.97 {
            attr::ARCHIVE | attr::READONLY
        } else if x < 0.985 {
            attr::ARCHIVE | attr::HIDDEN | attr::SYSTEM
        } else {
            attr::ARCHIVE | attr::NOT_CONTENT_INDEXED
        };
        let is_module = [".dll", ".exe", ".sys"].iter().any(|e| path.ends_with(e));
        let ea = if is_module && self.rng.chance(self.p.ea_share) {
            let mut v = vec![0u8; self.rng.range(96, 160) as usize];
            self.rng.fill(&mut v);
            Some(v)
        } else {
            None
        };
        let offset = self.rng.next_u64();
        let times = self.times();
        self.layer.inodes.push(Inode {
            size,
            content,
            offset,
            times,
            attrs,
            acl: acl_for(path, false),
            ea,
            fixed: false,
            names: 0,
        });
        self.layer.inodes.len() - 1
    }

    /// A new file at `path`, unless the name is taken.
    fn file(&mut self, path: &str, size: u64, content: Content) -> Option<usize> {
        let path = self.canonical(path);
        if self.layer.nodes.contains_key(&path) {
            return None;
        }
        let ino = self.inode(&path, size, content);
        self.link(&path, ino).then_some(ino)
    }

    /// Another name for `ino` at `path`, unless the name is taken.
    fn link(&mut self, path: &str, ino: usize) -> bool {
        let path = self.canonical(path);
        if self.layer.nodes.contains_key(&path) {
            return false;
        }
        self.layer.inodes[ino].names += 1;
        self.insert(&path, Node::File(ino));
        true
    }

    /// A random tree of `count` directories under `root`, at most `depth` levels deep.
    fn grow(&mut self, root: &str, count: usize, depth: usize) -> Vec<String> {
        let root = self.mkdir(root);
        let base = root.matches('/').count();
        let mut made = vec![root];
        let mut tries = 0;
        while made.len() <= count && tries < count * 20 {
            tries += 1;
            let parent = self.rng.pick(&made).clone();
            if parent.matches('/').count() - base >= depth {
                continue;
            }
            let name = Names::dir(&mut self.rng);
            let path = self.canonical(&format!("{parent}/{name}"));
            if self.layer.nodes.contains_key(&path) {
                continue;
            }
            let path = self.mkdir(&path);
            made.push(path);
        }
        made
    }

    fn size(&mut self, median: f64, sigma: f64) -> u64 {
        self.rng.log_normal(median, sigma)
    }

    fn build(mut self) -> Layer {
        let p = self.p;
        for top in ["Files", "Hives", "UtilityVM", UVM] {
            self.mkdir(top);
        }
        let mut skeleton = vec![
            "Files/Program Files/Common Files".to_owned(),
            "Files/Program Files/WindowsPowerShell/Modules".to_owned(),
            "Files/ProgramData/Microsoft/Windows".to_owned(),
            "Files/Users/Default/AppData/Local".to_owned(),
            "Files/Users/Default/AppData/Roaming".to_owned(),
            "Files/Users/Public/Documents".to_owned(),
        ];
        for d in [
            "System32/en-US",
            "System32/drivers/etc",
            "System32/config",
            "System32/wbem/Repository",
            "System32/catroot2",
            "System32/WindowsPowerShell/v1.0/Modules",
            "System32/DriverStore/FileRepository",
            "WinSxS/Manifests",
            "servicing/Packages",
            "servicing/Sessions",
            "INF",
            "Logs",
            "Temp",
            "Fonts",
            "Globalization/ICU",
            "Microsoft.NET/Framework64/v4.0.30319",
        ] {
            skeleton.push(format!("{WINDOWS}/{d}"));
        }
        if p.wow64 {
            skeleton.push("Files/Program Files (x86)/Common Files".to_owned());
            for d in [
                "SysWOW64/en-US",
                "Microsoft.NET/Framework/v4.0.30319",
                "assembly/GAC_MSIL",
            ] {
                skeleton.push(format!("{WINDOWS}/{d}"));
            }
        }
        for d in &skeleton {
            self.mkdir(d);
        }

        // Live directories: wide trees, a few levels deep.
        let live = self.n(p.live_dirs) as f64;
        let mut live_dirs = Vec::new();
        for (root, share, depth) in [
            (format!("{WINDOWS}/System32"), 0.35, 4),
            (
                format!("{WINDOWS}/System32/DriverStore/FileRepository"),
                0.10,
                1,
            ),
            (
                format!("{WINDOWS}/System32/WindowsPowerShell/v1.0/Modules"),
                0.08,
                3,
            ),
            ("Files/Program Files".to_owned(), 0.10, 5),
            ("Files/ProgramData/Microsoft".to_owned(), 0.08, 5),
            ("Files/Users/Default/AppData".to_owned(), 0.04, 5),
            (WINDOWS.to_owned(), 0.15, 4),
            (format!("{WINDOWS}/Microsoft.NET"), 0.05, 4),
            (format!("{WINDOWS}/servicing"), 0.05, 2),
        ] {
            let made = self.grow(&root, (live * share) as usize, depth);
            live_dirs.extend(made);
        }
        live_dirs.sort();
        live_dirs.dedup();

        // The global assembly cache: a directory and a library per assembly.
        if p.gac_assemblies > 0 {
            for _ in 0..self.n(p.gac_assemblies) {
                let name = Names::assembly(&mut self.rng);
                let token = self.rng.next_u64();
                let dir = format!("{WINDOWS}/assembly/GAC_MSIL/{name}/v4.0_4.0.0.0__{token:016x}");
                let dir = self.mkdir(&dir);
                let size = self.size(60_000.0, 1.2);
                self.file(&format!("{dir}/{name}.dll"), size, Content::Binary);
            }
        }

        // The component store, and its payload projected into live directories.
        let mut projections: Vec<(String, u32)> = vec![
            (format!("{WINDOWS}/System32"), 40),
            (format!("{WINDOWS}/System32/en-US"), 14),
            (format!("{WINDOWS}/System32/drivers"), 6),
            (format!("{WINDOWS}/Microsoft.NET/Framework64/v4.0.30319"), 5),
            (String::new(), 15), // any live directory
        ];
        if p.wow64 {
            projections.push((format!("{WINDOWS}/SysWOW64"), 15));
            projections.push((format!("{WINDOWS}/SysWOW64/en-US"), 5));
        }
        let weights: Vec<u32> = projections.iter().map(|t| t.1).collect();
        let mut projected: Vec<(String, usize)> = Vec::new();
        for _ in 0..self.n(p.components) {
            let (component, arch) = Names::component(&mut self.rng, p.build);
            let dir = self.mkdir(&format!("{WINDOWS}/WinSxS/{component}"));
            let size = self.size(1_700.0, 0.6);
            self.file(
                &format!("{WINDOWS}/WinSxS/Manifests/{component}.manifest"),
                size,
                Content::Noise,
            );
            let extra = self
                .rng
                .exponential((p.payload_per_component - 1.0).max(0.01));
            for _ in 0..1 + extra as usize {
                let x = self.rng.unit();
                let (name, size, content) = if x < 0.6 {
                    let name = if arch == "msil" {
                        Names::assembly(&mut self.rng) + ".dll"
                    } else {
                        Names::binary(&mut self.rng)
                    };
                    (name, self.size(45_000.0, 1.25), Content::Binary)
                } else if x < 0.8 {
                    let name = Names::binary(&mut self.rng) + ".mui";
                    (name, self.size(7_000.0, 0.9), Content::Binary)
                } else {
                    let name = Names::text(&mut self.rng);
                    (name, self.size(5_000.0, 1.1), Content::Text)
                };
                let size = if self.rng.chance(0.01) { 0 } else { size };
                let Some(ino) = self.file(&format!("{dir}/{name}"), size, content) else {
                    continue;
                };
                if self.rng.chance(p.projected_share) {
                    let target = projections[self.rng.weighted(&weights)].0.clone();
                    let target = if target.is_empty() {
                        self.rng.pick(&live_dirs).clone()
                    } else {
                        target
                    };
                    let path = format!("{target}/{name}");
                    if self.link(&path, ino) {
                        projected.push((self.canonical(&path), ino));
                        if self.rng.chance(0.03) {
                            let other = self.rng.pick(&live_dirs).clone();
                            self.link(&format!("{other}/{name}"), ino);
                        }
                    }
                }
            }
        }

        // Files of the live directories only.
        for _ in 0..self.n(p.live_files) {
            let x = self.rng.unit();
            let (dir, name, size, content) = if x < 0.45 {
                let dir = match self.rng.index(3) {
                    0 => format!("{WINDOWS}/System32"),
                    1 => format!("{WINDOWS}/System32/en-US"),
                    _ => self.rng.pick(&live_dirs).clone(),
                };
                let name = Names::binary(&mut self.rng);
                (dir, name, self.size(40_000.0, 1.3), Content::Binary)
            } else if x < 0.6 {
                let dir = match self.rng.index(3) {
                    0 => format!("{WINDOWS}/servicing/Packages"),
                    1 => format!("{WINDOWS}/INF"),
                    _ => self.rng.pick(&live_dirs).clone(),
                };
                let ext = *self.rng.pick(&[".mum", ".cat", ".pnf", ".inf"]);
                let name = Names::stem(&mut self.rng, 3) + ext;
                let content = if ext == ".cat" {
                    Content::Binary
                } else {
                    Content::Text
                };
                (dir, name, self.size(4_000.0, 1.0), content)
            } else {
                let dir = self.rng.pick(&live_dirs).clone();
                let name = Names::text(&mut self.rng);
                (dir, name, self.size(6_000.0, 1.2), Content::Text)
            };
            let size = if self.rng.chance(0.015) { 0 } else { size };
            self.file(&format!("{dir}/{name}"), size, content);
        }

        // Big files and hives, scaled but not normalised.
        let scale = self.scale;
        let nbig = if scale >= 1.0 {
            p.big_files.len()
        } else {
            self.n(p.big_files.len() as u32).min(p.big_files.len())
        };
        for &(path, size) in &p.big_files[..nbig] {
            let size = ((size as f64 * scale) as u64).max(65_536);
            if let Some(ino) = self.file(path, size, Content::Binary) {
                self.layer.inodes[ino].fixed = true;
            }
        }
        for &(name, size) in p.hives {
            let size = ((size as f64 * scale.min(1.0)) as u64).max(65_536);
            if let Some(ino) = self.file(&format!("Hives/{name}"), size, Content::Binary) {
                self.layer.inodes[ino].fixed = true;
            }
        }

        // The UtilityVM image: its own tree, and System32 files linked from Files/.
        for d in [
            "EFI/Microsoft/Boot",
            "Windows/Boot/EFI",
            "Windows/System32/config",
            "Windows/System32/drivers",
            "Windows/System32/en-US",
        ] {
            self.mkdir(&format!("{UVM}/{d}"));
        }
        let uvm_dirs = self.grow(&format!("{UVM}/Windows"), self.n(p.uvm_dirs) / 2, 4);
        let system32 = format!("{WINDOWS}/System32/");
        let mut candidates: Vec<(String, usize)> = projected
            .iter()
            .filter(|(path, _)| path.starts_with(&system32))
            .cloned()
            .collect();
        candidates.extend(
            self.layer
                .files
                .iter()
                .filter(|(path, ino)| {
                    path.starts_with(&system32)
                        && path.matches('/').count() <= 4
                        && self.layer.inodes[*ino].size < 5_000_000
                })
                .cloned(),
        );
        let mut seen = HashSet::new();
        candidates.retain(|(path, _)| seen.insert(path.clone()));
        candidates.sort();
        for i in (1..candidates.len()).rev() {
            let j = self.rng.index(i + 1);
            candidates.swap(i, j);
        }
        candidates.truncate(self.n(p.uvm_links));
        for (path, ino) in candidates {
            let rel = path.strip_prefix("Files/").unwrap_or(&path);
            self.link(&format!("{UVM}/{rel}"), ino);
        }
        self.file(
            &format!("{UVM}/EFI/Microsoft/Boot/BCD"),
            32_768,
            Content::Binary,
        );
        let efi = ((1_500_000.0 * scale.min(1.0)) as u64).max(65_536);
        self.file(
            &format!("{UVM}/EFI/Microsoft/Boot/bootmgfw.efi"),
            efi,
            Content::Binary,
        );
        let mut uvm_targets = uvm_dirs;
        uvm_targets.push(format!("{UVM}/Windows/System32/drivers"));
        for _ in 0..self.n(p.uvm_files) {
            let dir = self.rng.pick(&uvm_targets).clone();
            let name = Names::binary(&mut self.rng);
            let size = self.size(30_000.0, 1.3);
            self.file(&format!("{dir}/{name}"), size, Content::Binary);
        }

        self.reparse_points();
        self.streams();
        self.normalise();
        self.layer
    }

    /// The compatibility junctions of a Windows image (`Documents and Settings` →
    /// `C:\Users`, the profile folders of Default and Public) and the `All Users` directory
    /// symbolic link.
    fn reparse_points(&mut self) {
        let mut points: Vec<(String, String, bool)> = vec![
            (
                "Files/Documents and Settings".into(),
                "C:\\Users".into(),
                true,
            ),
            (
                "Files/Users/All Users".into(),
                "C:\\ProgramData".into(),
                false,
            ),
            (
                "Files/Users/Default User".into(),
                "C:\\Users\\Default".into(),
                true,
            ),
            (
                "Files/ProgramData/Application Data".into(),
                "C:\\ProgramData".into(),
                true,
            ),
            (
                "Files/ProgramData/Desktop".into(),
                "C:\\Users\\Public\\Desktop".into(),
                true,
            ),
            (
                "Files/ProgramData/Documents".into(),
                "C:\\Users\\Public\\Documents".into(),
                true,
            ),
            (
                "Files/ProgramData/Templates".into(),
                "C:\\ProgramData\\Microsoft\\Windows\\Templates".into(),
                true,
            ),
        ];
        for folder in [
            "Application Data",
            "Cookies",
            "Local Settings",
            "My Documents",
            "NetHood",
            "PrintHood",
            "Recent",
            "SendTo",
            "Start Menu",
            "Templates",
            "AppData/Local/Application Data",
            "AppData/Local/History",
            "AppData/Local/Temporary Internet Files",
            "Documents/My Music",
            "Documents/My Pictures",
            "Documents/My Videos",
        ] {
            let last = folder.rsplit('/').next().unwrap_or(folder);
            for profile in ["Default", "Public"] {
                points.push((
                    format!("Files/Users/{profile}/{folder}"),
                    format!("C:\\Users\\{profile}\\AppData\\Roaming\\Microsoft\\Windows\\{last}"),
                    true,
                ));
            }
        }
        let n = ((f64::from(self.p.reparse_points) * self.scale.min(1.0)).round() as usize).max(2);
        for (path, target, junction) in points.into_iter().take(n) {
            let path = self.canonical(&path);
            if self.layer.nodes.contains_key(&path) {
                continue;
            }
            let mut attrs = attr::HIDDEN | attr::SYSTEM | attr::DIRECTORY | attr::REPARSE_POINT;
            if junction {
                attrs |= attr::NOT_CONTENT_INDEXED;
            }
            let times = self.times();
            let node = Node::Reparse {
                target,
                junction,
                attrs,
                acl: acl_for(&path, true),
                times,
            };
            self.insert(&path, node);
        }
    }

    /// A few alternate data streams on single-name files under `Users` and `ProgramData`
    /// (a stream entry after a hard-link entry would not be taken as a stream,
    /// docs/oci-tar-mapping.md §4.6).
    fn streams(&mut self) {
        let mut hosts: Vec<String> = self
            .layer
            .files
            .iter()
            .filter(|(path, ino)| {
                (path.starts_with("Files/Users/") || path.starts_with("Files/ProgramData/"))
                    && self.layer.inodes[*ino].names == 1
            })
            .map(|(path, _)| path.clone())
            .collect();
        hosts.sort();
        if hosts.is_empty() {
            let path = "Files/ProgramData/Microsoft/readme.txt";
            if self.file(path, 900, Content::Text).is_some() {
                hosts.push(path.to_owned());
            }
        }
        let n = ((f64::from(self.p.streams) * self.scale.min(1.0)).round() as usize).max(2);
        for i in 0..n.min(hosts.len()) {
            let at = self.rng.index(hosts.len());
            let host = hosts.swap_remove(at);
            let stream = ["Zone.Identifier", "SmartScreen", "com.example.meta"][i % 3];
            let size = self.rng.range(26, 200);
            let ino = self.inode(&host, size, Content::Text);
            self.layer.inodes[ino].fixed = true;
            self.layer
                .streams
                .entry(host)
                .or_default()
                .push((stream.to_owned(), ino));
        }
    }

    /// Scales the sizes of the ordinary files so that all contents add up to the profile's
    /// byte total at this scale.
    fn normalise(&mut self) {
        let target = self.p.file_bytes as f64 * self.scale;
        let (fixed, free): (u64, u64) = self.layer.inodes.iter().fold((0, 0), |(f, v), i| {
            if i.fixed {
                (f + i.size, v)
            } else {
                (f, v + i.size)
            }
        });
        let factor = ((target - fixed as f64) / free.max(1) as f64).max(0.05);
        for i in &mut self.layer.inodes {
            if !i.fixed {
                i.size = (i.size as f64 * factor) as u64;
            }
        }
    }
}

impl Layer {
    /// The layer of `profile` at `scale` (1.0: the profile's own size) for `seed`.
    pub(crate) fn build(profile: &Profile, scale: f64, seed: u64) -> Layer {
        Builder {
            p: profile,
            scale,
            rng: Rng::new(seed, 1),
            layer: Layer::default(),
        }
        .build()
    }
}
