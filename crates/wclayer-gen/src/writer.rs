//! Serialising [`Item`]s with the `tar` crate, plus hand-formatted PAX record blocks and
//! raw header fields (no path cleaning, so hostile names survive).

use std::io::{self, Write};

use tar::{Builder, EntryType, Header};

use crate::entry::{Body, Ent, Item, LINUX_MTIME, Plain, PseudoRandom, Style};

/// Largest ustar name or linkname field.
const NAME_FIELD: usize = 100;

pub(crate) fn write_items(items: &[Item], out: &mut dyn Write) -> io::Result<()> {
    let mut builder = Builder::new(out);
    for item in items {
        match item {
            Item::Win(e) => put_win(&mut builder, e)?,
            Item::Plain(p) => put_plain(&mut builder, p)?,
            Item::Global(name, records) => put_global(&mut builder, name, records)?,
        }
    }
    // Writes the two zero blocks; without this, Builder's Drop would write them and ignore
    // any error.
    builder.finish()
}

/// PAX record block: `"<len> <key>=<value>\n"` per record, `<len>` counting itself.
pub(crate) fn pax_block(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let rest = key.len() + value.len() + 3;
        let mut len = rest + decimal_digits(rest);
        if decimal_digits(len) != decimal_digits(rest) {
            len = rest + decimal_digits(len);
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

fn decimal_digits(n: usize) -> usize {
    n.to_string().len()
}

/// Copies `bytes` into a fixed header field (NUL-terminated when shorter). Unlike
/// `Header::set_path`, this does no cleaning, so `..`, `/abs` and `C:` survive.
fn set_raw(field: &mut [u8], bytes: &[u8]) -> io::Result<()> {
    if bytes.len() > field.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "`{}` does not fit a {}-byte tar header field",
                String::from_utf8_lossy(bytes),
                field.len()
            ),
        ));
    }
    field.fill(0);
    field[..bytes.len()].copy_from_slice(bytes);
    Ok(())
}

/// Whether a name needs a PAX `path` / `linkpath` record.
fn needs_pax_name(name: &str) -> bool {
    !name.is_ascii() || name.len() > NAME_FIELD
}

/// The name-field stand-in for a name carried in a PAX record: its ASCII characters, cut to
/// the field length. Readers that honour PAX never look at it.
fn fallback_name(name: &str) -> String {
    let mut ascii: String = name.chars().filter(char::is_ascii).collect();
    ascii.truncate(NAME_FIELD);
    if ascii.is_empty() {
        ascii.push_str("entry");
    }
    ascii
}

/// The name of a PAX extended header: `PaxHeaders/<base>`, with only harmless characters of
/// the base name kept and runs of dots collapsed, so no hostile bytes (`..`, `\`, `:`) leak
/// into anything but the entry itself.
fn pax_header_name(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let mut safe = String::new();
    for c in base.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if keep && !(c == '.' && safe.ends_with('.')) {
            safe.push(c);
        }
    }
    let mut out = if safe.chars().all(|c| c == '.') {
        "PaxHeaders/entry".to_owned()
    } else {
        format!("PaxHeaders/{safe}")
    };
    out.truncate(NAME_FIELD);
    out
}

fn put_win(b: &mut Builder<&mut dyn Write>, e: &Ent) -> io::Result<()> {
    let mut records = e.records.clone();
    if let Some(t) = e.creation {
        records.push(("LIBARCHIVE.creationtime".into(), t.format().into_bytes()));
    }
    if needs_pax_name(&e.name) {
        records.push(("path".into(), e.name.clone().into_bytes()));
    }
    if let Some(link) = e.link.as_deref().filter(|l| needs_pax_name(l)) {
        records.push(("linkpath".into(), link.as_bytes().to_vec()));
    }
    if e.mtime.needs_record() {
        records.push(("mtime".into(), e.mtime.format().into_bytes()));
    }
    if let Some(t) = e.atime {
        records.push(("atime".into(), t.format().into_bytes()));
    }
    if let Some(t) = e.ctime {
        records.push(("ctime".into(), t.format().into_bytes()));
    }
    if !records.is_empty() {
        let data = pax_block(&records);
        let mut h = Header::new_ustar();
        set_raw(
            &mut h.as_old_mut().name,
            pax_header_name(&e.name).as_bytes(),
        )?;
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(u64::try_from(data.len()).unwrap_or(u64::MAX));
        h.set_mtime(0);
        h.set_entry_type(EntryType::XHeader);
        h.set_cksum();
        b.append(&h, data.as_slice())?;
    }

    let mut h = Header::new_ustar();
    set_raw(&mut h.as_old_mut().name, fallback_name(&e.name).as_bytes())?;
    h.set_mode(e.mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(e.body.len());
    h.set_mtime(e.mtime.header_field());
    h.set_entry_type(e.flag);
    if let Some(link) = &e.link {
        set_raw(&mut h.as_old_mut().linkname, fallback_name(link).as_bytes())?;
    }
    h.set_device_major(0)?;
    h.set_device_minor(0)?;
    h.set_cksum();
    match &e.body {
        Body::Empty => b.append(&h, io::empty()),
        Body::Bytes(bytes) => b.append(&h, bytes.as_slice()),
        Body::Random { seed, len } => b.append(&h, PseudoRandom::new(*seed, *len)),
    }
}

fn put_plain(b: &mut Builder<&mut dyn Write>, p: &Plain) -> io::Result<()> {
    let mut h = match p.style {
        Style::Ustar => Header::new_ustar(),
        Style::Gnu => Header::new_gnu(),
        Style::V7 => Header::new_old(),
    };
    h.set_mode(p.mode);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mtime(LINUX_MTIME);
    h.set_size(u64::try_from(p.data.len()).unwrap_or(u64::MAX));
    if p.style == Style::V7 {
        // Typeflag stays NUL (Header::new_old zero-fills it): the pre-POSIX "regular file".
        set_raw(&mut h.as_old_mut().name, p.name.as_bytes())?;
        if let Some(link) = &p.link {
            h.set_entry_type(p.flag);
            set_raw(&mut h.as_old_mut().linkname, link.as_bytes())?;
        } else if p.flag != EntryType::Regular {
            h.set_entry_type(p.flag);
        }
        h.set_cksum();
        return b.append(&h, p.data.as_slice());
    }
    h.set_username("builder")?;
    h.set_groupname("builder")?;
    h.set_entry_type(p.flag);
    match &p.link {
        // append_link / append_data set the name (and link), emitting GNU long-name entries
        // when the fields are too short, and compute the checksum.
        Some(target) => b.append_link(&mut h, &p.name, target),
        None => b.append_data(&mut h, &p.name, p.data.as_slice()),
    }
}

fn put_global(
    b: &mut Builder<&mut dyn Write>,
    name: &str,
    records: &[(String, Vec<u8>)],
) -> io::Result<()> {
    let data = pax_block(records);
    let mut h = Header::new_ustar();
    set_raw(&mut h.as_old_mut().name, name.as_bytes())?;
    h.set_mode(0o666);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(u64::try_from(data.len()).unwrap_or(u64::MAX));
    h.set_mtime(0);
    h.set_entry_type(EntryType::XGlobalHeader);
    h.set_cksum();
    b.append(&h, data.as_slice())
}
