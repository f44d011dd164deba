//! `wclayer ls`: the entries of a layer with their Windows metadata.

use std::collections::HashMap;
use std::io::{self, Write};

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use wclayer::backup::reparse::ReparsePoint;
use wclayer::backup::sd::SecurityDescriptor;
use wclayer::backup::{FileBasicInfo, StreamSummary};
use wclayer::crates::layer::{Entry, LayerReader, MemLayer, WalkMode};
use wclayer::crates::tar::archive::ArchiveReader;

use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::open_input;

/// Arguments of `wclayer ls`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A layer directory, or a layer tar (`.tar`, `.tar.gz`, `.tar.zst`; `-` for standard
    /// input).
    layer: String,
    /// Parent layer directories, nearest first: list the merged view of the chain (what a
    /// container sees, docs/chain.md) instead of the layer alone.
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<std::path::PathBuf>,
    /// Show attributes, the four times, the security descriptor as SDDL, EA names,
    /// alternate data streams and link targets (no short form: `-l` names a parent layer
    /// in every command).
    #[arg(long)]
    long: bool,
    /// One JSON object per entry and line, with every field.
    #[arg(long, conflicts_with = "long")]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let mut out = io::BufWriter::new(crate::io::Stdout::new());
    if !a.parents.is_empty() {
        let mut view = crate::cmd::cat::open_chain(&a.layer, &a.parents, &a.limits)?;
        list(&mut view, a, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    if std::path::Path::new(&a.layer).is_dir() {
        let mut reader = wclayer::new_layer_reader_limited(
            std::path::Path::new(&a.layer),
            &[],
            &a.limits.limits(),
        )
        .with_context(|| format!("cannot open layer {}", a.layer))?;
        list(&mut reader, a, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    let input = open_input(&a.layer, a.limits.max_ratio)?;
    let mut layer = MemLayer::new();
    wclayer::crates::tar::import_tar_limited(
        &mut ArchiveReader::new(input),
        &mut layer,
        &a.limits.limits(),
    )
    .map_err(|e| with_hint(wclayer::Error::Tar(e)))
    .with_context(|| format!("cannot read {}", a.layer))?;
    // Everything the tar holds, Hives and tombstones included, whatever kind of layer it is.
    layer.set_walk_mode(Some(WalkMode::Delta));
    let mut reader = layer.reader()?;
    list(&mut reader, a, &mut out)?;
    out.flush()?;
    Ok(())
}

/// What one entry is, for people.
fn kind(info: &FileBasicInfo, s: &StreamSummary) -> &'static str {
    match (&s.reparse_point, info.file_attributes.is_directory()) {
        (Some(ReparsePoint::MountPoint { .. }), _) => "junction",
        (Some(ReparsePoint::Symlink { .. }), true) => "dirlink",
        (Some(ReparsePoint::Symlink { .. }), false) => "symlink",
        (Some(_), _) => "reparse",
        (None, true) => "dir",
        (None, false) => "file",
    }
}

/// Lists every entry of `r` in walk order.
pub(crate) fn list(r: &mut dyn LayerReader, a: &Args, out: &mut dyn Write) -> Result<()> {
    let mut first_names: HashMap<[u8; 16], String> = HashMap::new();
    while let Some(entry) = r.next()? {
        let (name, size, info) = match entry {
            Entry::Tombstone { name } => {
                if a.json {
                    writeln!(
                        out,
                        "{}",
                        json!({"name": name.to_slash(), "kind": "tombstone"})
                    )?;
                } else {
                    writeln!(out, "{:<9} {:>12}  {}", "tombstone", "", name.to_slash())?;
                }
                continue;
            }
            Entry::File { name, size, info } => (name, size, info),
            other => anyhow::bail!("{}: entry kind unknown to ls", other.name()),
        };
        let li = r.link_info()?;
        let link_of = if li.number_of_links > 1 {
            match first_names.get(&li.file_id.file_id) {
                Some(first) => Some(first.clone()),
                None => {
                    first_names.insert(li.file_id.file_id, name.to_slash());
                    None
                }
            }
        } else {
            None
        };
        let shown = Shown {
            name: &name,
            size,
            info: &info,
            links: li.number_of_links,
            link_of: link_of.as_deref(),
            layer: None,
        };
        write_entry(r, &shown, a.long, a.json, out)?;
    }
    Ok(())
}

/// One entry as a listing shows it.
pub(crate) struct Shown<'a> {
    pub(crate) name: &'a wclayer::LayerPath,
    pub(crate) size: u64,
    pub(crate) info: &'a FileBasicInfo,
    /// The number of names the file has.
    pub(crate) links: u32,
    /// The first name of its hard-link group, when this one is not it.
    pub(crate) link_of: Option<&'a str>,
    /// The layer that supplies it, in a chain's merged view.
    pub(crate) layer: Option<String>,
}

/// Writes `e`, the current entry of `r` (whose backup stream is read), as `ls` shows it:
/// one line, with `long` the lines below it, with `json` one JSON object.
pub(crate) fn write_entry(
    r: &mut dyn LayerReader,
    e: &Shown<'_>,
    long: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let Shown {
        name,
        size,
        info,
        links,
        link_of,
        ref layer,
    } = *e;
    let summary = StreamSummary::read(&mut *r)
        .with_context(|| format!("{name}: cannot read its backup stream"))?;
    let sddl = summary.security_descriptor.as_ref().map(|b| {
        SecurityDescriptor::from_bytes(b)
            .map(|sd| sd.to_sddl())
            .unwrap_or_else(|e| format!("(invalid: {e})"))
    });
    let target = summary.reparse_point.as_ref().and_then(|r| r.target());
    let eas: Vec<String> = summary
        .extended_attributes
        .iter()
        .map(|e| String::from_utf8_lossy(&e.name).into_owned())
        .collect();
    let kind = if link_of.is_some() {
        "hardlink"
    } else {
        kind(info, &summary)
    };
    if json {
        let t = |ft: wclayer::backup::FileTime| json!({"filetime": ft.0, "utc": ft.to_string()});
        let line = json!({
            "name": name.to_slash(),
            "kind": kind,
            "size": size,
            "attributes": info.file_attributes.0,
            "attribute_names": info.file_attributes.to_string(),
            "creation_time": t(info.creation_time),
            "last_access_time": t(info.last_access_time),
            "last_write_time": t(info.last_write_time),
            "change_time": t(info.change_time),
            "security_descriptor": summary.security_descriptor.as_ref().map(|b| STANDARD.encode(b)),
            "sddl": sddl,
            "extended_attributes": eas,
            "alternate_streams": summary.alternate_streams.iter()
                .map(|(n, s)| json!({"name": n, "size": s})).collect::<Vec<_>>(),
            "reparse_target": target,
            "mount_point": summary.reparse_point.as_ref().map(ReparsePoint::is_mount_point),
            "sparse": summary.sparse,
            "number_of_links": links,
            "link_of": link_of,
        });
        let mut line = line;
        if let (Some(l), Some(obj)) = (layer, line.as_object_mut()) {
            obj.insert("layer".into(), json!(l));
        }
        writeln!(out, "{line}")?;
        return Ok(());
    }
    let mut line = format!("{kind:<9} {size:>12}  {}", name.to_slash());
    if let Some(t) = target {
        line.push_str(&format!(" -> {t}"));
    }
    if let Some(first) = link_of {
        line.push_str(&format!(" => {first}"));
    }
    writeln!(out, "{line}")?;
    if long {
        let pad = "                         ";
        if let Some(l) = layer {
            writeln!(out, "{pad}layer      {l}")?;
        }
        writeln!(
            out,
            "{pad}attributes {} ({:#x})",
            info.file_attributes, info.file_attributes.0
        )?;
        writeln!(out, "{pad}created    {}", info.creation_time)?;
        writeln!(out, "{pad}accessed   {}", info.last_access_time)?;
        writeln!(out, "{pad}written    {}", info.last_write_time)?;
        writeln!(out, "{pad}changed    {}", info.change_time)?;
        if let Some(s) = &sddl {
            writeln!(out, "{pad}security   {s}")?;
        }
        if !eas.is_empty() {
            writeln!(out, "{pad}eas        {}", eas.join(", "))?;
        }
        for (n, s) in &summary.alternate_streams {
            writeln!(out, "{pad}stream     {n} ({s} bytes)")?;
        }
        if summary.sparse {
            writeln!(out, "{pad}sparse")?;
        }
        if links > 1 {
            writeln!(out, "{pad}links      {}", links)?;
        }
    }
    Ok(())
}
