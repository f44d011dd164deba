//! The raw side of two tars: their headers field by field, the order of their entries and
//! their bytes (docs/diff.md).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::{self, BufReader, Read};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest, Sha256};
use wclayer_layer::{LayerPath, Limits};
use wclayer_tar::archive::{ArchiveReader, TarHeader};

use super::summary::Collector;
use super::{EntrySummary, FieldChange};
use crate::Error;

/// Bytes of a tar handed to the header reader at a time.
const TEE_CHUNK: usize = 256 << 10;

/// Chunks queued for the header reader before the importer waits for it.
const TEE_QUEUE: usize = 8;

/// Why two tars with the same entries have different bytes, as far as their layout tells.
pub(super) fn bytes_note(
    o: &TarFacts,
    n: &TarFacts,
    first_moved: Option<&(String, u64, u64)>,
) -> String {
    let same = "the entries are the same, the bytes are not";
    if let Some((name, a, b)) = first_moved {
        return format!(
            "{same}: {name} starts at byte {a} of the old tar and at byte {b} of the new one \
             (something before it is encoded differently: PAX records, header fields, padding)"
        );
    }
    if o.end != n.end {
        return format!(
            "{same}: the end-of-archive marker is at byte {} of the old tar and at byte {} of \
             the new one (the last entry is encoded differently)",
            o.end, n.end
        );
    }
    if o.length != n.length {
        return format!(
            "{same}: the old tar has {} bytes, the new one {} (different padding after the \
             end-of-archive marker)",
            o.length, n.length
        );
    }
    format!(
        "{same}: every entry starts at the same byte and the tars have the same length ({} \
         bytes); they differ inside headers (number encoding, PAX record order, checksum \
         form) or in padding",
        o.length
    )
}

/// What is known of a tar once it was read.
#[derive(Debug)]
pub(super) struct TarFacts {
    /// SHA-256 of all its bytes, hexadecimal.
    pub(super) diff_id: String,
    /// All its bytes.
    length: u64,
    /// Where the end-of-archive marker starts.
    end: u64,
}

/// Reads the tar `r` into `sink` through the tar importer; with `headers`, its raw headers
/// are read on a thread of their own from the same bytes and handed to `headers`.
pub(super) fn read_tar<H: FnMut(HeaderSummary) + Send>(
    r: &mut dyn Read,
    limits: &Limits,
    sink: &mut dyn FnMut(String, EntrySummary),
    headers: Option<H>,
) -> Result<TarFacts, Error> {
    std::thread::scope(|scope| {
        let (tx, rx) = match headers {
            Some(_) => {
                let (tx, rx) = sync_channel::<Vec<u8>>(TEE_QUEUE);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let reader = match (headers, rx) {
            (Some(h), Some(rx)) => Some(
                std::thread::Builder::new()
                    .name("diff-headers".into())
                    .spawn_scoped(scope, move || read_headers(rx, h))
                    .map_err(|e| Error::Layer(wclayer_layer::Error::io("", e)))?,
            ),
            _ => None,
        };
        let mut tee = BufReader::with_capacity(
            TEE_CHUNK,
            Tee {
                inner: r,
                tx,
                hash: Sha256::new(),
                length: 0,
            },
        );
        let imported = (|| -> Result<(), Error> {
            let mut collector = Collector::new(sink);
            let mut archive = ArchiveReader::new(&mut tee);
            wclayer_tar::import_tar_limited(&mut archive, &mut collector, limits)?;
            // The bytes after the archive count for the digest too.
            io::copy(&mut tee, &mut io::sink())
                .map_err(|e| Error::Layer(wclayer_layer::Error::io("", e)))?;
            Ok(())
        })();
        let tee = tee.into_inner();
        let (hash, length) = (tee.hash, tee.length);
        // Ends the header reader's input.
        drop(tee.tx);
        let end = match reader.map(std::thread::ScopedJoinHandle::join) {
            None => 0,
            Some(Ok(Ok(end))) => end,
            Some(Ok(Err(e))) => {
                imported?;
                return Err(Error::Tar(wclayer_tar::Error::from(e)));
            }
            Some(Err(_)) => {
                imported?;
                return Err(Error::Layer(wclayer_layer::Error::io(
                    "",
                    io::Error::other("the thread reading the tar headers stopped"),
                )));
            }
        };
        imported?;
        Ok(TarFacts {
            diff_id: hex::encode(hash.finalize()),
            length,
            end,
        })
    })
}

/// Hashes and counts what is read through it, and hands a copy to the header reader.
struct Tee<'a> {
    inner: &'a mut dyn Read,
    tx: Option<SyncSender<Vec<u8>>>,
    hash: Sha256,
    length: u64,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        self.hash.update(got);
        self.length = self.length.saturating_add(n as u64);
        if let Some(tx) = &self.tx
            && !got.is_empty()
            && tx.send(got.to_vec()).is_err()
        {
            // The header reader stopped (its error is reported when it is joined).
            self.tx = None;
        }
        Ok(n)
    }
}

/// The recent bytes the header reader was given, to look at an entry's first header block.
#[derive(Default)]
struct Recent {
    prev: Vec<u8>,
    prev_start: u64,
    cur: Vec<u8>,
    cur_start: u64,
}

impl Recent {
    /// The 512-byte block at `offset`, if it is still held in one piece.
    fn block(&self, offset: u64) -> Option<&[u8]> {
        [(&self.cur, self.cur_start), (&self.prev, self.prev_start)]
            .into_iter()
            .find_map(|(buf, start)| {
                let at = usize::try_from(offset.checked_sub(start)?).ok()?;
                buf.get(at..at.checked_add(512)?)
            })
    }
}

/// The header reader's input: the chunks the [`Tee`] sends.
struct ChanReader {
    rx: Receiver<Vec<u8>>,
    pos: usize,
    recent: Rc<RefCell<Recent>>,
}

impl Read for ChanReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(mut recent) = self.recent.try_borrow_mut() else {
            return Err(io::Error::other("the recent bytes are in use"));
        };
        while self.pos >= recent.cur.len() {
            let Ok(next) = self.rx.recv() else {
                return Ok(0);
            };
            let start = recent.cur_start.saturating_add(recent.cur.len() as u64);
            let old = std::mem::replace(&mut recent.cur, next);
            recent.prev = old;
            recent.prev_start = recent.cur_start;
            recent.cur_start = start;
            self.pos = 0;
        }
        let have = recent.cur.get(self.pos..).unwrap_or_default();
        let n = have.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), have.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }
}

/// Reads the raw headers from `rx` and hands each to `visit`; the offset of the
/// end-of-archive marker.
fn read_headers(
    rx: Receiver<Vec<u8>>,
    mut visit: impl FnMut(HeaderSummary),
) -> Result<u64, wclayer_tar::archive::Error> {
    let recent = Rc::new(RefCell::new(Recent::default()));
    let mut archive = ArchiveReader::new(ChanReader {
        rx,
        pos: 0,
        recent: Rc::clone(&recent),
    });
    let mut index = 0u64;
    let mut end = 0u64;
    loop {
        let at = archive.offset();
        let Some(h) = archive.next_entry()? else {
            // The first header block that was no entry's: the end-of-archive marker.
            end = end.max(at);
            return Ok(end);
        };
        let format = recent
            .try_borrow()
            .ok()
            .and_then(|r| r.block(h.header_offset).map(block_format))
            .unwrap_or("unknown");
        end = h.header_offset;
        visit(HeaderSummary::new(h, index, format));
        index = index.saturating_add(1);
    }
}

/// The format of an entry's first header block (docs/oci-tar-mapping.md §8): a PAX or GNU
/// extension header, else the block's magic.
fn block_format(b: &[u8]) -> &'static str {
    match (b.get(156), b.get(257..263)) {
        (Some(b'x' | b'g'), _) => "pax",
        (Some(b'L' | b'K'), _) => "gnu",
        (_, Some(b"ustar\0")) => "ustar",
        (_, Some(b"ustar ")) => "gnu",
        _ => "v7",
    }
}

/// PAX records whose meaning is compared as the entry's metadata (docs/oci-tar-mapping.md
/// §4.0), or that only carry header fields.
fn compared_elsewhere(key: &str) -> bool {
    matches!(
        key,
        "MSWINDOWS.fileattr"
            | "MSWINDOWS.rawsd"
            | "MSWINDOWS.sd"
            | "MSWINDOWS.mountpoint"
            | "LIBARCHIVE.creationtime"
            | "path"
            | "linkpath"
            | "size"
            | "mtime"
            | "atime"
            | "ctime"
    ) || key.starts_with("MSWINDOWS.xattr.")
}

/// The header fields of one tar entry that the layer does not carry.
#[derive(Clone, Debug)]
pub(super) struct HeaderSummary {
    /// The entry name, cleaned as a layer name is when it is one.
    name: String,
    index: u64,
    offset: u64,
    fields: BTreeMap<String, String>,
}

impl HeaderSummary {
    fn new(h: TarHeader, index: u64, format: &str) -> HeaderSummary {
        let name = LayerPath::parse(&h.name)
            .map(|p| p.to_slash())
            .unwrap_or_else(|_| h.name.clone());
        let whiteout = name
            .rsplit('/')
            .next()
            .is_some_and(|b| b.starts_with(".wh."));
        let mut fields = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            fields.insert(k.to_string(), v);
        };
        put("tar.typeflag", char::from(h.typeflag).to_string());
        put("tar.mode", format!("{:#o}", h.mode));
        put("tar.uid", h.uid.to_string());
        put("tar.gid", h.gid.to_string());
        put("tar.uname", h.uname.clone());
        put("tar.gname", h.gname.clone());
        put("tar.devmajor", h.devmajor.to_string());
        put("tar.devminor", h.devminor.to_string());
        put("tar.format", format.to_string());
        if h.is_header_only() && h.size != 0 {
            // Data sizes are compared as content; a header-only entry's size is only bytes.
            put("tar.size", h.size.to_string());
        }
        if !matches!(h.typeflag, b'1' | b'2') && !h.linkname.is_empty() {
            // Link targets are compared as the layer's links; elsewhere it is only bytes.
            put("tar.linkname", h.linkname.clone());
        }
        if whiteout {
            // A whiteout's times are in no layer entry.
            put(
                "tar.mtime",
                format!("{}.{:09}", h.mod_time.secs, h.mod_time.nanos),
            );
        }
        for (k, v) in h.records() {
            if !compared_elsewhere(k) {
                put(&format!("tar.pax[{k}]"), v.to_string());
            }
        }
        HeaderSummary {
            name,
            index,
            offset: h.header_offset,
            fields,
        }
    }
}

/// The old tar's headers by name (a name may occur more than once).
#[derive(Default)]
pub(super) struct OldHeaders(HashMap<String, VecDeque<HeaderSummary>>);

impl OldHeaders {
    pub(super) fn add(&mut self, h: HeaderSummary) {
        self.0.entry(h.name.clone()).or_default().push_back(h);
    }
}

/// Compares the new tar's headers, as they come, with the old tar's.
pub(super) struct HeaderCompare {
    old: OldHeaders,
    /// Differing header fields, by entry name.
    pub(super) fields: Vec<(String, FieldChange)>,
    /// Old and new position and name of each matched entry, in new order.
    matched: Vec<(u64, u64, String)>,
    /// The first matched entry that starts at another byte: name, old and new offset.
    pub(super) first_moved: Option<(String, u64, u64)>,
}

impl HeaderCompare {
    pub(super) fn new(old: OldHeaders) -> HeaderCompare {
        HeaderCompare {
            old,
            fields: Vec::new(),
            matched: Vec::new(),
            first_moved: None,
        }
    }

    pub(super) fn add(&mut self, n: HeaderSummary) {
        let Some(o) = self.old.0.get_mut(&n.name).and_then(VecDeque::pop_front) else {
            return;
        };
        let keys: BTreeSet<&String> = o.fields.keys().chain(n.fields.keys()).collect();
        for k in keys {
            let (a, b) = (o.fields.get(k), n.fields.get(k));
            if a != b {
                self.fields.push((
                    n.name.clone(),
                    FieldChange::new(k.as_str(), a.cloned(), b.cloned()),
                ));
            }
        }
        self.matched.push((o.index, n.index, n.name.clone()));
        if self.first_moved.is_none() && o.offset != n.offset {
            self.first_moved = Some((n.name.clone(), o.offset, n.offset));
        }
    }
}

impl HeaderCompare {
    /// Adds a `tar.order` field to the entries that moved: those outside a longest run of
    /// matched entries that kept their relative order.
    pub(super) fn order(&mut self) {
        let kept = longest_increasing(&self.matched);
        for (i, (o, n, name)) in self.matched.iter().enumerate() {
            if !kept.contains(&i) {
                self.fields.push((
                    name.clone(),
                    FieldChange::new(
                        "tar.order",
                        Some(format!("entry {o}")),
                        Some(format!("entry {n}")),
                    ),
                ));
            }
        }
    }
}

/// The positions in `v` of a longest subsequence with increasing old positions (patience
/// sorting, O(n log n)).
pub(super) fn longest_increasing(v: &[(u64, u64, String)]) -> BTreeSet<usize> {
    // `tails[k]`: the position in `v` of the smallest last element of a run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut before: Vec<Option<usize>> = Vec::with_capacity(v.len());
    for (i, (old, _, _)) in v.iter().enumerate() {
        let k = tails.partition_point(|&t| v.get(t).is_some_and(|x| x.0 < *old));
        before.push(k.checked_sub(1).and_then(|p| tails.get(p).copied()));
        match tails.get_mut(k) {
            Some(t) => *t = i,
            None => tails.push(i),
        }
    }
    let mut kept = BTreeSet::new();
    let mut at = tails.last().copied();
    while let Some(i) = at {
        kept.insert(i);
        at = before.get(i).copied().flatten();
    }
    kept
}
