//! Writing a [`Layer`] as a PAX tar, the way Windows layers are carried
//! (docs/oci-tar-mapping.md): every entry has a PAX extended header with its times,
//! `LIBARCHIVE.creationtime`, `MSWINDOWS.fileattr` and (except hard links) `MSWINDOWS.rawsd`;
//! junctions add `MSWINDOWS.mountpoint`; some binaries an `MSWINDOWS.xattr.*` record; the
//! second and later names of a file are typeflag-`1` links to the first; alternate data
//! streams follow their file as `name:stream` entries. Headers come from the `tar` crate,
//! the PAX record blocks are formatted here.
//!
//! Entries are written in a pre-order walk with the names of a directory sorted
//! case-insensitively (the order NTFS lists them in), `Files`, `Hives`, `UtilityVM` first.

use std::collections::HashMap;
use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tar::{EntryType, Header};

use crate::content::Pools;
use crate::layer::{Inode, Layer, Node, ROOTS, Times};
use crate::sd::descriptors;

/// What a generated tar contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// All entries (directories, files, hard links, reparse points, streams), not counting
    /// the PAX extended headers.
    pub entries: u64,
    /// Directory entries.
    pub dirs: u64,
    /// Regular-file entries with contents (first names).
    pub files: u64,
    /// Hard-link entries (later names).
    pub hard_links: u64,
    /// Junctions and directory symbolic links.
    pub reparse_points: u64,
    /// Alternate data stream entries.
    pub streams: u64,
    /// Files with an `MSWINDOWS.xattr.*` record.
    pub eas: u64,
    /// Bytes of file contents (first names; streams not included).
    pub file_bytes: u64,
    /// Names longer than the 100 bytes of a ustar name field (carried in `path` records).
    pub long_names: u64,
    /// The most path components of a name.
    pub max_depth: u64,
    /// Distinct `MSWINDOWS.rawsd` values.
    pub descriptors: u64,
    /// Bytes of the tar.
    pub tar_bytes: u64,
}

/// A writer that counts what passes through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One record of a PAX block: `"<len> <key>=<value>\n"`, `<len>` counting itself.
fn record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + rest.to_string().len();
    if len.to_string().len() != rest.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn put_field(field: &mut [u8], value: &str) {
    let bytes = value.as_bytes();
    let n = bytes.len().min(field.len());
    field.fill(0);
    field[..n].copy_from_slice(&bytes[..n]);
}

fn pad(out: &mut impl Write, len: u64) -> io::Result<()> {
    let rem = (len % 512) as usize;
    if rem != 0 {
        out.write_all(&[0u8; 512][..512 - rem])?;
    }
    Ok(())
}

/// The header of one entry.
struct Head<'a> {
    name: &'a str,
    kind: EntryType,
    mode: u32,
    size: u64,
    link: Option<&'a str>,
    times: Times,
    /// Whether to add `LIBARCHIVE.creationtime` (not on streams).
    creation: bool,
    records: Vec<(String, Vec<u8>)>,
}

fn write_head(out: &mut impl Write, head: Head<'_>) -> io::Result<()> {
    let mut pax = Vec::with_capacity(512);
    let t = head.times;
    record(&mut pax, "mtime", t.write.pax().as_bytes());
    record(&mut pax, "atime", t.access.pax().as_bytes());
    record(&mut pax, "ctime", t.change.pax().as_bytes());
    if head.creation {
        record(
            &mut pax,
            "LIBARCHIVE.creationtime",
            t.creation.pax().as_bytes(),
        );
    }
    for (key, value) in &head.records {
        record(&mut pax, key, value);
    }
    if head.name.len() > 100 {
        record(&mut pax, "path", head.name.as_bytes());
    }
    if let Some(link) = head.link.filter(|l| l.len() > 100) {
        record(&mut pax, "linkpath", link.as_bytes());
    }

    let base = head.name.rsplit('/').next().unwrap_or(head.name);
    let mut x = Header::new_ustar();
    put_field(&mut x.as_old_mut().name, &format!("PaxHeaders/{base}"));
    x.set_mode(0o644);
    x.set_uid(0);
    x.set_gid(0);
    x.set_mtime(0);
    x.set_size(pax.len() as u64);
    x.set_entry_type(EntryType::XHeader);
    x.set_cksum();
    out.write_all(x.as_bytes())?;
    out.write_all(&pax)?;
    pad(out, pax.len() as u64)?;

    let mut h = Header::new_ustar();
    put_field(&mut h.as_old_mut().name, head.name);
    if let Some(link) = head.link {
        put_field(&mut h.as_old_mut().linkname, link);
    }
    h.set_mode(head.mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(u64::try_from(t.write.secs).unwrap_or(0));
    h.set_size(head.size);
    h.set_entry_type(head.kind);
    h.set_cksum();
    out.write_all(h.as_bytes())
}

fn windows_records(attrs: u32, sd: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut r = vec![(
        "MSWINDOWS.fileattr".to_owned(),
        attrs.to_string().into_bytes(),
    )];
    if let Some(sd) = sd {
        r.push(("MSWINDOWS.rawsd".to_owned(), sd.as_bytes().to_vec()));
    }
    r
}

struct Writer<'a, W> {
    layer: &'a Layer,
    pools: &'a Pools,
    sds: Vec<String>,
    /// Inode → the name its contents were written under.
    first: HashMap<usize, String>,
    out: Counting<W>,
    summary: Summary,
}

impl<W: Write> Writer<'_, W> {
    fn data(&mut self, ino: &Inode) -> io::Result<()> {
        self.pools
            .write(ino.content, ino.offset, ino.size, &mut self.out)?;
        pad(&mut self.out, ino.size)
    }

    fn entry(&mut self, path: &str) -> io::Result<()> {
        let layer = self.layer;
        let Some(node) = layer.nodes.get(path) else {
            return Ok(());
        };
        let s = &mut self.summary;
        s.entries += 1;
        s.max_depth = s.max_depth.max(path.split('/').count() as u64);
        if path.len() > 100 {
            s.long_names += 1;
        }
        match node {
            Node::Dir { attrs, acl, times } => {
                s.dirs += 1;
                let records = windows_records(*attrs, Some(&self.sds[*acl as usize]));
                write_head(
                    &mut self.out,
                    Head {
                        name: path,
                        kind: EntryType::Directory,
                        mode: 0o40000,
                        size: 0,
                        link: None,
                        times: *times,
                        creation: true,
                        records,
                    },
                )?;
            }
            Node::Reparse {
                target,
                junction,
                attrs,
                acl,
                times,
            } => {
                s.reparse_points += 1;
                let mut records = windows_records(*attrs, Some(&self.sds[*acl as usize]));
                if *junction {
                    records.push(("MSWINDOWS.mountpoint".to_owned(), b"1".to_vec()));
                }
                write_head(
                    &mut self.out,
                    Head {
                        name: path,
                        kind: EntryType::Symlink,
                        mode: 0o160000,
                        size: 0,
                        link: Some(target),
                        times: *times,
                        creation: true,
                        records,
                    },
                )?;
            }
            Node::File(ino_id) => {
                let ino = &layer.inodes[*ino_id];
                if let Some(first) = self.first.get(ino_id) {
                    // A later name: a hard link with the attributes and times, as hcsshim
                    // writes it (docs/oci-tar-mapping.md §4.5).
                    s.hard_links += 1;
                    let first = first.clone();
                    write_head(
                        &mut self.out,
                        Head {
                            name: path,
                            kind: EntryType::Link,
                            mode: 0o644,
                            size: 0,
                            link: Some(&first),
                            times: ino.times,
                            creation: true,
                            records: windows_records(ino.attrs, None),
                        },
                    )?;
                } else {
                    s.files += 1;
                    s.file_bytes += ino.size;
                    let mut records = windows_records(ino.attrs, Some(&self.sds[ino.acl as usize]));
                    if let Some(ea) = &ino.ea {
                        s.eas += 1;
                        records.push((
                            "MSWINDOWS.xattr.$KERNEL.PURGE.ESBCACHE".to_owned(),
                            BASE64.encode(ea).into_bytes(),
                        ));
                    }
                    self.first.insert(*ino_id, path.to_owned());
                    write_head(
                        &mut self.out,
                        Head {
                            name: path,
                            kind: EntryType::Regular,
                            mode: 0o100000,
                            size: ino.size,
                            link: None,
                            times: ino.times,
                            creation: true,
                            records,
                        },
                    )?;
                    self.data(ino)?;
                    for (stream, sid) in layer.streams.get(path).into_iter().flatten() {
                        let data = &layer.inodes[*sid];
                        self.summary.entries += 1;
                        self.summary.streams += 1;
                        write_head(
                            &mut self.out,
                            Head {
                                name: &format!("{path}:{stream}"),
                                kind: EntryType::Regular,
                                mode: 0o100000,
                                size: data.size,
                                link: None,
                                times: ino.times,
                                creation: false,
                                records: Vec::new(),
                            },
                        )?;
                        self.data(data)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes `layer` with contents from `pools` to `out` and returns what it wrote.
pub(crate) fn write_layer(
    layer: &Layer,
    pools: &Pools,
    out: impl Write,
) -> io::Result<(Summary, impl Write)> {
    let sds = descriptors();
    let mut w = Writer {
        layer,
        pools,
        summary: Summary {
            descriptors: sds.len() as u64,
            ..Summary::default()
        },
        sds,
        first: HashMap::new(),
        out: Counting {
            inner: out,
            bytes: 0,
        },
    };
    let mut stack: Vec<String> = ROOTS.iter().rev().map(|r| (*r).to_owned()).collect();
    while let Some(path) = stack.pop() {
        w.entry(&path)?;
        if let Some(kids) = layer.children.get(&path) {
            let mut kids: Vec<&String> = kids.iter().collect();
            kids.sort_by_cached_key(|k| (k.to_uppercase(), (*k).clone()));
            stack.extend(kids.into_iter().rev().map(|k| format!("{path}/{k}")));
        }
    }
    w.out.write_all(&[0u8; 1024])?;
    w.out.flush()?;
    w.summary.tar_bytes = w.out.bytes;
    Ok((w.summary, w.out.inner))
}
