//! [`StagedDir`]: a directory built beside its final name and made visible in one step, and
//! the bounded-handle tree removal it (and everything else) uses.

use std::ffi::{OsStr, OsString};
use std::hash::{BuildHasher, Hasher};
use std::io;

use crate::dir::Dir;
#[cfg(test)]
use crate::dir::OPEN_WINDOW;
use crate::held::HeldPath;
use crate::metadata::{FileType, Metadata};
use crate::sys::StagingLock;

/// What the staging name puts between the target's name and the random suffix:
/// `.NAME.wclayer-staging-0123456789abcdef`.
pub const STAGING_INFIX: &str = ".wclayer-staging-";

/// Longest target name: the staging name adds 1 + 17 + 16 bytes and must still be a valid
/// file name.
pub const MAX_TARGET_NAME: usize = 220;

/// A directory under construction: created next to its target as
/// `.TARGET.wclayer-staging-XXXXXXXXXXXXXXXX`, filled through [`StagedDir::root`], and made
/// visible under the target's name by [`StagedDir::commit`].
///
/// # Drop behaviour
/// Dropping it without a successful commit removes the staging directory and everything in
/// it (without following links); the target is never touched. A process killed before the
/// commit leaves the staging directory behind.
#[derive(Debug)]
pub struct StagedDir {
    parent: Dir,
    target: String,
    staging: String,
    /// The staging directory; its handle holds the staging lock.
    root: Dir,
    done: bool,
    registered: Option<u64>,
}

impl StagedDir {
    /// Starts the directory `target` (one plain name) in `parent`.
    ///
    /// # Errors
    /// `InvalidInput` for a name that is empty, `.`/`..`, contains `/` or NUL, or is longer
    /// than 220 bytes; the error of creating the staging directory.
    pub fn create(parent: &Dir, target: &str) -> io::Result<StagedDir> {
        check_target_name(target)?;
        let parent = parent.try_clone()?;
        let (staging, root, lock) = stage(&parent, target, STAGING_INFIX, |p, name| {
            p.create_dir(name)?;
            p.open_dir(name)
        })?;
        let registered = crate::cleanup::register(&parent, &staging, lock);
        Ok(StagedDir {
            parent,
            target: target.to_owned(),
            staging,
            root,
            done: false,
            registered,
        })
    }

    /// The staging directory, to fill.
    #[must_use]
    pub fn root(&self) -> &Dir {
        &self.root
    }

    /// The directory that will hold the target.
    #[must_use]
    pub fn parent(&self) -> &Dir {
        &self.parent
    }

    /// The target's name.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The staging directory's name in the parent.
    #[must_use]
    pub fn staging_name(&self) -> &str {
        &self.staging
    }

    /// Makes the directory visible: with `sync`, flushes the file system once (`syncfs`,
    /// never an `fsync` per file; see [`Dir::sync_fs`] for Windows), renames the staging directory to the target without
    /// replacing anything, then flushes the parent directory so that the rename is durable.
    ///
    /// # Errors
    /// `AlreadyExists` when the target appeared meanwhile (the staging directory is then
    /// removed on drop); any failure before the rename (likewise). A failure of the final
    /// flush is reported, but the directory stays in place.
    pub fn commit(self, sync: bool) -> io::Result<()> {
        self.commit_with(sync, false)
    }

    /// As [`StagedDir::commit`], but an empty directory at the target is replaced (a transport
    /// folder may be written into an empty directory made for it).
    ///
    /// # Errors
    /// As [`StagedDir::commit`]; a non-empty directory or a file at the target also fails.
    pub fn commit_replacing_empty_dir(self, sync: bool) -> io::Result<()> {
        self.commit_with(sync, true)
    }

    fn commit_with(mut self, sync: bool, replace_empty: bool) -> io::Result<()> {
        if sync {
            self.root.sync_fs()?;
        }
        crate::cleanup::commit(&self.parent, self.registered, || {
            if replace_empty {
                self.parent
                    .rename_over_empty_dir(&self.staging, &self.parent, &self.target)
            } else {
                self.parent
                    .rename_noreplace(&self.staging, &self.parent, &self.target)
            }
        })?;
        self.registered = None;
        self.done = true;
        if sync {
            self.parent.sync_all()?;
        }
        Ok(())
    }

    /// Removes the staging directory now, reporting failure (dropping does the same,
    /// silently).
    ///
    /// # Errors
    /// When something could not be removed.
    pub fn discard(mut self) -> io::Result<()> {
        self.done = true;
        crate::cleanup::unregister_and(self.registered.take(), || {
            self.parent.remove_tree(&self.staging)
        })
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        crate::cleanup::unregister_and(self.registered.take(), || {
            if !self.done {
                // Best effort: whatever made us drop it is the error worth reporting.
                let _ = self.parent.remove_tree(&self.staging);
            }
        });
    }
}

/// Makes a staging name `.TARGET{infix}XXXXXXXXXXXXXXXX` in `parent` with `make` (which
/// creates it exclusively and opens it) and locks it, after sweeping what dead writers left
/// there; all under the parent's lock (see `cleanup`).
fn stage<T>(
    parent: &Dir,
    target: &str,
    infix: &str,
    make: impl Fn(&Dir, &str) -> io::Result<T>,
) -> io::Result<(String, T, StagingLock)> {
    let _lock = crate::cleanup::ParentLock::take(parent)?;
    crate::cleanup::sweep(parent)?;
    let mut attempt = 0u32;
    loop {
        let name = format!(".{target}{infix}{}", random_suffix(attempt));
        match make(parent, &name) {
            Ok(obj) => {
                let Some(lock) = StagingLock::try_take(parent, &name)? else {
                    return Err(io::Error::other("a new staging name is locked already"));
                };
                return Ok((name, obj, lock));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt = attempt.saturating_add(1);
            }
            Err(e) => return Err(e),
        }
    }
}

/// A file under construction: created next to its target as
/// `.TARGET.wclayer-partial-XXXXXXXXXXXXXXXX`, written through [`StagedFile::file`], and put
/// in place by [`StagedFile::commit`] (replacing a file of the target's name, as an output
/// file is).
///
/// # Drop behaviour
/// Dropping it without a successful commit removes the partial file. A process killed first
/// leaves it behind, locked by nobody: the next staging in that directory removes it.
#[derive(Debug)]
pub struct StagedFile {
    parent: Dir,
    target: String,
    name: String,
    file: std::fs::File,
    done: bool,
    registered: Option<u64>,
    ahead: Option<WriteBackAhead>,
    /// With [`StagedFile::write_direct`], what `io::Write` writes goes through it.
    appender: Option<crate::direct::Appender>,
}

/// The thread that flushes a [`StagedFile`]'s data while it is being written
/// ([`StagedFile::write_back_every`]).
#[derive(Debug)]
struct WriteBackAhead {
    every: u64,
    written: u64,
    wake: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl WriteBackAhead {
    /// Counts `n` bytes written; wakes the thread when they cross a multiple of `every` (a
    /// wake-up while it is busy is dropped).
    fn wrote(&mut self, n: u64) {
        let before = self.written;
        self.written = before.saturating_add(n);
        if before.checked_div(self.every) != self.written.checked_div(self.every) {
            let _ = self.wake.try_send(());
        }
    }

    /// Waits for the thread, which ends after the flush it may be doing.
    fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

impl StagedFile {
    /// Starts the file `target` (one plain name) in `parent`.
    ///
    /// # Errors
    /// As [`StagedDir::create`].
    pub fn create(parent: &Dir, target: &str) -> io::Result<StagedFile> {
        check_target_name(target)?;
        let parent = parent.try_clone()?;
        let (name, file, lock) = stage(&parent, target, crate::cleanup::PARTIAL_INFIX, |p, n| {
            p.create_file(n)
        })?;
        let registered = crate::cleanup::register(&parent, &name, lock);
        Ok(StagedFile {
            parent,
            target: target.to_owned(),
            name,
            file,
            done: false,
            registered,
            ahead: None,
            appender: None,
        })
    }

    /// From now on, what is written through `io::Write` is collected in an aligned buffer
    /// of 1 MiB and each full buffer written around the page cache where the file system
    /// allows it (`crate::DirectWriter`): an output file of hundreds of megabytes then
    /// costs no page cache, and its flush has only the last partial block and the metadata
    /// left. Only what went through the page cache counts towards
    /// [`StagedFile::write_back_every`]. Write the file through `io::Write` only from then
    /// on: [`StagedFile::file`] does not see what is still buffered.
    ///
    /// # Errors
    /// When the file's position cannot be read.
    pub fn write_direct(&mut self) -> io::Result<()> {
        if self.appender.is_none() {
            let at = io::Seek::stream_position(&mut self.file)?;
            self.appender = Some(crate::direct::Appender::new(at));
        }
        Ok(())
    }

    /// Flushes the data written so far (`fdatasync`; `FlushFileBuffers` on Windows) every
    /// `bytes` bytes, on a thread of its own while the writing goes on, so that the flush of
    /// [`StagedFile::commit`] has little left to wait for (docs/performance.md, "Export,
    /// plain"). The pages stay cached. Without a thread (it cannot start) nothing changes.
    pub fn write_back_every(&mut self, bytes: u64) {
        if self.ahead.is_some() {
            return;
        }
        let Ok(file) = self.file.try_clone() else {
            return;
        };
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let spawned = std::thread::Builder::new()
            .name("output-write-back".into())
            .spawn(move || {
                // A failure here is the final flush's to report.
                while woken.recv().is_ok() {
                    if file.sync_data().is_err() {
                        return;
                    }
                }
            });
        if let Ok(thread) = spawned {
            self.ahead = Some(WriteBackAhead {
                every: bytes.max(1),
                written: 0,
                wake,
                thread,
            });
        }
    }

    /// The file, to write.
    pub fn file(&mut self) -> &mut std::fs::File {
        &mut self.file
    }

    /// Puts the file in place: with `sync`, `fsync` of the file, then a rename over the
    /// target, then `fsync` of the directory (`FlushFileBuffers` on Windows).
    ///
    /// # Errors
    /// When a flush or the rename fails (the partial file is then removed on drop; a failure
    /// of the last flush leaves the file in place).
    pub fn commit(mut self, sync: bool) -> io::Result<()> {
        if let Some(mut a) = self.appender.take() {
            a.finish(&self.file)?;
        }
        if let Some(a) = self.ahead.take() {
            a.stop();
        }
        if sync {
            self.file.sync_all()?;
        }
        crate::cleanup::commit(&self.parent, self.registered, || {
            self.parent
                .rename_replacing(&self.name, &self.parent, &self.target)
        })?;
        self.registered = None;
        self.done = true;
        if sync {
            self.parent.sync_all()?;
        }
        Ok(())
    }
}

impl io::Write for StagedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (n, cached) = match &mut self.appender {
            Some(a) => a.write(&self.file, buf)?,
            None => {
                let n = self.file.write(buf)?;
                (n, n as u64)
            }
        };
        if let Some(a) = &mut self.ahead {
            a.wrote(cached);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(a) = &mut self.appender {
            let cached = a.write_out(&self.file)?;
            if let Some(ahead) = &mut self.ahead {
                ahead.wrote(cached);
            }
        }
        self.file.flush()
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(a) = self.ahead.take() {
            a.stop();
        }
        crate::cleanup::unregister_and(self.registered.take(), || {
            if !self.done {
                let _ = self.parent.remove_file(&self.name);
            }
        });
    }
}

/// Checks that a target name is one plain name that leaves room for the staging suffix.
fn check_target_name(name: &str) -> io::Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name == "." || name == ".." {
        "not a plain name"
    } else if name.contains(['/', '\0']) {
        "contains `/` or NUL"
    } else if name.len() > MAX_TARGET_NAME {
        "longer than 220 bytes"
    } else {
        return Ok(());
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{name:?}: invalid directory name: {reason}"),
    ))
}

/// 16 hex digits that differ between processes, calls and attempts (std's randomly keyed
/// hasher; the name needs uniqueness, not secrecy: it is created exclusively).
/// Removes the directory `name` of `parent` with everything in it, so that nobody sees it
/// half-removed under its name: it is first renamed to a staging name that no writer holds
/// (`.NAME.wclayer-staging-XXXXXXXXXXXXXXXX`), then removed. What an interrupted removal
/// leaves is swept by the next staging in `parent` ([`crate::cleanup`]). A missing `name` is
/// no error.
///
/// # Errors
/// `InvalidInput` for a name [`StagedDir::create`] would refuse; the error of the rename or
/// of the removal.
pub fn discard_dir(parent: &Dir, name: &str) -> io::Result<()> {
    check_target_name(name)?;
    let mut attempt = 0u32;
    let staging = loop {
        let staging = format!(".{name}{STAGING_INFIX}{}", random_suffix(attempt));
        match parent.rename_noreplace(name, parent, &staging) {
            Ok(()) => break staging,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt = attempt.saturating_add(1);
            }
            Err(e) => return Err(e),
        }
    };
    parent.remove_tree(&staging)
}

fn random_suffix(attempt: u32) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u32(attempt);
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("{:016x}", h.finish())
}

/// Removes `name` in `parent` and everything below it, never following a symbolic link,
/// holding a bounded number of directory handles however deep the tree is
/// ([`HeldPath`]). A missing
/// `name` is no error; everything removable is removed, and the first error is returned.
pub(crate) fn remove_tree(parent: &Dir, name: &OsStr) -> io::Result<()> {
    let meta = match Metadata::at(parent, name) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.file_type != FileType::Dir {
        return parent.remove_file(name);
    }
    let top = parent.open_dir(name)?;
    let pending = top.entries()?;
    // Each level: the names still to remove in it.
    let mut levels: HeldPath<Vec<OsString>> = HeldPath::new();
    levels.push(name.to_owned(), Some(top), pending);
    let mut first_err: Option<io::Error> = None;
    while let Some(depth) = levels.len().checked_sub(1) {
        let Some(child) = levels.level_mut(depth).and_then(|l| l.data.pop()) else {
            // Empty now: remove it from its parent.
            let done = levels.pop().map(|l| l.name).unwrap_or_default();
            let result = match levels.len().checked_sub(1) {
                None => parent.remove_dir(name),
                Some(up) => levels.open(parent, up).and_then(|d| d.remove_dir(&done)),
            };
            if let Err(e) = result
                && e.kind() != io::ErrorKind::NotFound
            {
                first_err.get_or_insert(e);
            }
            continue;
        };
        let step =
            levels
                .open(parent, depth)
                .and_then(|dir| match Metadata::at(dir, &child)?.file_type {
                    FileType::Dir => {
                        let sub = dir.open_dir(&child)?;
                        let pending = sub.entries()?;
                        Ok(Some((sub, pending)))
                    }
                    _ => dir.remove_file(&child).map(|()| None),
                });
        match step {
            Ok(Some((sub, pending))) => levels.push(child, Some(sub), pending),
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ambient_authority;

    /// `len` bytes that repeat only every 251.
    fn pattern(len: u32) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn root(dir: &std::path::Path) -> Dir {
        Dir::open_ambient_dir(dir, ambient_authority()).unwrap()
    }

    #[test]
    fn staged_then_committed_or_discarded() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        let s = StagedDir::create(&r, "layer").unwrap();
        assert!(s.staging_name().starts_with(".layer.wclayer-staging-"));
        assert_eq!(s.staging_name().len(), ".layer.wclayer-staging-".len() + 16);
        s.root().create_dir("Files").unwrap();
        s.root().create_file("Files/a").unwrap();
        s.commit(true).unwrap();
        assert_eq!(r.entries().unwrap(), vec![OsString::from("layer")]);
        assert!(r.open_file("layer/Files/a").is_ok());

        let s = StagedDir::create(&r, "layer").unwrap();
        assert_eq!(
            s.commit(false).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(r.entries().unwrap().len(), 1, "the staging directory went");

        let s = StagedDir::create(&r, "other").unwrap();
        s.root().create_dir("x").unwrap();
        drop(s);
        assert_eq!(r.entries().unwrap(), vec![OsString::from("layer")]);
        for bad in ["", ".", "..", "a/b", "a\0b", &"x".repeat(221)] {
            assert!(StagedDir::create(&r, bad).is_err(), "{bad:?}");
        }
    }

    /// A discarded directory goes with all it holds; one whose removal was interrupted
    /// (renamed, not yet removed) is swept by the next staging there; a missing one is no
    /// error; names outside the directory are refused.
    #[test]
    fn discarded_directories_go_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        r.create_dir("layer").unwrap();
        r.create_dir("layer/Files").unwrap();
        r.create_file("layer/Files/a").unwrap();
        r.create_dir("kept").unwrap();
        discard_dir(&r, "layer").unwrap();
        assert_eq!(r.entries().unwrap(), vec![OsString::from("kept")]);
        discard_dir(&r, "layer").unwrap();
        for bad in ["", ".", "..", "kept/..", "../x"] {
            assert!(discard_dir(&r, bad).is_err(), "{bad:?}");
        }
        // What a removal killed after its rename leaves: swept by the next staging.
        r.create_dir(".gone.wclayer-staging-00000000000000aa")
            .unwrap();
        r.create_file(".gone.wclayer-staging-00000000000000aa/f")
            .unwrap();
        drop(StagedDir::create(&r, "next").unwrap());
        assert_eq!(r.entries().unwrap(), vec![OsString::from("kept")]);
    }

    #[test]
    fn what_killed_writers_left_is_swept_and_live_staging_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        // Left by a killed writer: nobody holds its lock.
        r.create_dir(".dead.wclayer-staging-0123456789abcdef")
            .unwrap();
        r.create_file(".dead.wclayer-staging-0123456789abcdef/f")
            .unwrap();
        r.create_file(".out.tar.wclayer-partial-0123456789abcdef")
            .unwrap();
        // Not ours: left alone whatever it looks like.
        r.create_dir(".other.wclayer-staging-xyz").unwrap();
        let live = StagedDir::create(&r, "live").unwrap();
        let names = |r: &Dir| {
            let mut v: Vec<String> = r
                .entries()
                .unwrap()
                .into_iter()
                .map(|n| n.into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let mut expected = vec![
            ".other.wclayer-staging-xyz".to_owned(),
            live.staging_name().to_owned(),
        ];
        expected.sort();
        assert_eq!(names(&r), expected, "stale staging swept");
        // A second writer (even in this process) does not take the live one for stale.
        let second = StagedFile::create(&r, "out.tar").unwrap();
        assert_eq!(names(&r).len(), 3);
        drop(live);
        drop(second);
        assert_eq!(names(&r), [".other.wclayer-staging-xyz"]);
    }

    /// A file flushed ahead while it is written (every 1,000 bytes here) ends with every byte
    /// in place; dropped unfinished, its flushing thread stops and the partial file goes.
    #[test]
    fn staged_files_flushed_ahead_keep_every_byte_and_still_go_when_dropped() {
        use std::io::Write as _;
        let tmp = tempfile::tempdir().unwrap();
        let d = root(tmp.path());
        let data = pattern(25_000);
        let mut f = StagedFile::create(&d, "out").unwrap();
        f.write_back_every(1000);
        for piece in data.chunks(777) {
            f.write_all(piece).unwrap();
        }
        f.commit(true).unwrap();
        assert!(std::fs::read(tmp.path().join("out")).unwrap() == data);
        let mut g = StagedFile::create(&d, "gone").unwrap();
        g.write_back_every(10);
        g.write_all(&data).unwrap();
        drop(g);
        assert_eq!(d.entries().unwrap(), [OsString::from("out")]);
    }

    /// A file written direct ([`StagedFile::write_direct`]) in pieces, flushed ahead, holds
    /// every byte once committed; one dropped unfinished goes with its buffer.
    #[test]
    fn staged_files_written_direct_keep_every_byte_and_still_go_when_dropped() {
        use std::io::Write as _;
        let tmp = tempfile::tempdir().unwrap();
        let d = root(tmp.path());
        let data = pattern(3_000_000);
        let mut f = StagedFile::create(&d, "out").unwrap();
        f.write_all(b"before").unwrap();
        f.write_direct().unwrap();
        f.write_back_every(100_000);
        for piece in data.chunks(99_999) {
            f.write_all(piece).unwrap();
        }
        f.flush().unwrap();
        f.write_all(b"after").unwrap();
        f.commit(true).unwrap();
        let got = std::fs::read(tmp.path().join("out")).unwrap();
        assert!(
            got.len() == data.len() + 11
                && got.starts_with(b"before")
                && got.ends_with(b"after")
                && got.get(6..6 + data.len()) == Some(&data[..]),
            "{} bytes",
            got.len()
        );
        let mut g = StagedFile::create(&d, "gone").unwrap();
        g.write_direct().unwrap();
        g.write_all(&data).unwrap();
        drop(g);
        assert_eq!(d.entries().unwrap(), [OsString::from("out")]);
    }

    #[test]
    fn staged_files_replace_their_target() {
        use std::io::Write as _;
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        std::fs::write(tmp.path().join("out.tar"), b"old").unwrap();
        let mut f = StagedFile::create(&r, "out.tar").unwrap();
        f.file().write_all(b"new").unwrap();
        f.commit(true).unwrap();
        assert_eq!(std::fs::read(tmp.path().join("out.tar")).unwrap(), b"new");
        let mut f = StagedFile::create(&r, "out.tar").unwrap();
        f.file().write_all(b"half").unwrap();
        drop(f);
        assert_eq!(r.entries().unwrap(), vec![OsString::from("out.tar")]);
    }

    #[test]
    fn replacing_an_empty_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let r = root(tmp.path());
        r.create_dir("folder").unwrap();
        let s = StagedDir::create(&r, "folder").unwrap();
        s.root().create_file("tombstones.txt").unwrap();
        s.commit_replacing_empty_dir(false).unwrap();
        assert!(r.open_file("folder/tombstones.txt").is_ok());
        let s = StagedDir::create(&r, "folder").unwrap();
        assert!(s.commit_replacing_empty_dir(false).is_err(), "not empty");
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine maps every relative open to a Unix path: no path beyond PATH_MAX (4096 bytes), and minutes for a tree 600 levels deep"
    )]
    fn remove_tree_stays_inside_and_handles_deep_trees() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"x").unwrap();
        let r = root(tmp.path());
        r.create_dir("t").unwrap();
        let mut d = r.open_dir("t").unwrap();
        // Deeper than a process's default descriptor limit allows holding open.
        for i in 0..(OPEN_WINDOW * 10 + 7) {
            d.create_file(format!("f{i}")).unwrap();
            d.create_dir("d").unwrap();
            d = d.open_dir("d").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("t/link")).unwrap();
        drop(d);
        r.create_dir("keep").unwrap();
        r.remove_tree("t").unwrap();
        assert_eq!(r.entries().unwrap(), vec![OsString::from("keep")]);
        assert!(outside.path().join("keep").exists());
        r.remove_tree("t").unwrap();
        r.remove_tree("keep").unwrap();
        assert!(r.entries().unwrap().is_empty());
    }
}
