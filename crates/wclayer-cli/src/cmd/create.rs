//! `wclayer create`: make a Windows layer tar from a host directory or a plain (Linux) layer
//! tar, over parent layer directories (docs/create.md).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use wclayer::FileAttributes;
use wclayer::crates::layer::{LayerReader, copy_layer};
use wclayer::create::{
    ChainDirs, Options, SdPreset, Source, create_mem_layer, parse_attributes, security_descriptor,
};

use crate::cmd::export::{TarFlags, write_tar};
use crate::io::decompress;
use crate::report::{self, Channel};

/// Arguments of `wclayer create`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The source: a directory, or a plain layer tar (`.tar`, `.tar.gz`, `.tar.zst`) whose
    /// entries become entries below the prefix.
    source: PathBuf,
    /// Parent layer directories, nearest first; without any the result is a base layer.
    /// Directories they already have are not added again.
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<PathBuf>,
    #[command(flatten)]
    make: MakeArgs,
    /// Where to write the tar (`-` is standard output, never a terminal). The name chooses
    /// the compression: `.tar.gz`/`.tgz` gzip, `.tar.zst` zstd, `.tar` none.
    #[arg(short, long, default_value = "-")]
    output: String,
    #[command(flatten)]
    tar: TarFlags,
    /// Also write the layer as a new layer directory (it must not exist).
    #[arg(long, value_name = "DIR")]
    layer_dir: Option<PathBuf>,
}

/// How host files become layer entries: the flags `create` and `delta` share
/// (docs/create.md).
#[derive(clap::Args, Debug)]
pub(crate) struct MakeArgs {
    /// The directory of the layer the source's root becomes: `Files` or below it.
    #[arg(long, value_name = "Files/DIR", default_value = "Files", value_parser = parse_prefix)]
    prefix: String,
    /// Security descriptors for files and directories: `windows-default` (what a new file
    /// under C:\ gets), `owner-group` (`O:BUG:BU`, what crane and ko write), `none`.
    #[arg(long, value_name = "NAME", default_value = "windows-default", value_parser = parse_preset)]
    sd_preset: SdPreset,
    /// The security descriptor of files, as SDDL (replaces the preset's).
    #[arg(long, value_name = "SDDL", value_parser = parse_sddl)]
    file_sd: Option<String>,
    /// The security descriptor of directories, as SDDL (replaces the preset's).
    #[arg(long, value_name = "SDDL", value_parser = parse_sddl)]
    dir_sd: Option<String>,
    /// The security descriptor of the entries whose layer name matches GLOB
    /// (`Files/app/**/*.exe=O:BAG:SYD:...`); the last matching rule wins.
    #[arg(long = "sd", value_name = "GLOB=SDDL", value_parser = parse_sd_rule)]
    sd_rules: Vec<(String, String)>,
    /// The attributes of the entries matching GLOB (`Files/app/*.dll=READONLY|ARCHIVE`);
    /// the last matching rule wins. DIRECTORY and REPARSE_POINT follow the entry's kind.
    #[arg(long = "attributes", value_name = "GLOB=ATTRS", value_parser = parse_attr_rule)]
    attr_rules: Vec<(String, FileAttributes)>,
    /// Set all four times of every entry to N seconds after 1970 (default: the
    /// SOURCE_DATE_EPOCH environment variable, if set; else the source's times).
    #[arg(long, value_name = "N")]
    source_date_epoch: Option<i64>,
    /// Leave out symbolic links whose target is absolute or leaves the source, with a
    /// warning, instead of failing.
    #[arg(long)]
    skip_unsafe_links: bool,
    /// Leave out FIFOs, sockets and device nodes, with a warning, instead of failing.
    #[arg(long)]
    skip_special: bool,
}

impl MakeArgs {
    /// The first of these flags given (`delta` refuses them when its new tree is a layer
    /// directory, whose metadata is its own).
    pub(crate) fn first_given(&self) -> Option<&'static str> {
        [
            (self.prefix != "Files", "--prefix"),
            (self.sd_preset != SdPreset::WindowsDefault, "--sd-preset"),
            (self.file_sd.is_some(), "--file-sd"),
            (self.dir_sd.is_some(), "--dir-sd"),
            (!self.sd_rules.is_empty(), "--sd"),
            (!self.attr_rules.is_empty(), "--attributes"),
            (self.source_date_epoch.is_some(), "--source-date-epoch"),
            (self.skip_unsafe_links, "--skip-unsafe-links"),
            (self.skip_special, "--skip-special"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

fn parse_preset(s: &str) -> Result<SdPreset, String> {
    SdPreset::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = SdPreset::ALL.iter().map(|(n, _)| *n).collect();
        format!("unknown preset {s:?}: one of {}", names.join(", "))
    })
}

// Option values are checked while the command line is parsed, so a bad one is a usage
// error (exit status 2, docs/cli.md "Errors and exit status").

fn parse_prefix(s: &str) -> Result<String, String> {
    Options::new()
        .prefix(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn parse_sddl(s: &str) -> Result<String, String> {
    security_descriptor(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Splits `GLOB=VALUE` at the first `=` (a glob has none; SDDL and attributes may).
fn split_rule(rule: &str) -> Result<(&str, &str), String> {
    rule.split_once('=')
        .filter(|(g, _)| !g.is_empty())
        .ok_or_else(|| format!("{rule:?}: expected GLOB=VALUE"))
}

fn parse_sd_rule(s: &str) -> Result<(String, String), String> {
    let (glob, sddl) = split_rule(s)?;
    Options::new()
        .sd_rule(glob, sddl)
        .map_err(|e| e.to_string())?;
    Ok((glob.to_string(), sddl.to_string()))
}

fn parse_attr_rule(s: &str) -> Result<(String, FileAttributes), String> {
    let (glob, attrs) = split_rule(s)?;
    let attrs = parse_attributes(attrs).map_err(|e| e.to_string())?;
    Options::new()
        .attribute_rule(glob, attrs)
        .map_err(|e| e.to_string())?;
    Ok((glob.to_string(), attrs))
}

/// The options the flags describe.
pub(crate) fn options(a: &MakeArgs) -> Result<Options> {
    let mut o = Options::new();
    o.sd_preset(a.sd_preset)
        .skip_unsafe_links(a.skip_unsafe_links)
        .skip_special(a.skip_special);
    o.prefix(&a.prefix)?;
    if let Some(s) = &a.file_sd {
        o.file_sddl(s).context("--file-sd")?;
    }
    if let Some(s) = &a.dir_sd {
        o.dir_sddl(s).context("--dir-sd")?;
    }
    for (glob, sddl) in &a.sd_rules {
        o.sd_rule(glob, sddl).context("--sd")?;
    }
    for (glob, attrs) in &a.attr_rules {
        o.attribute_rule(glob, *attrs).context("--attributes")?;
    }
    let epoch = match a.source_date_epoch {
        Some(n) => Some(n),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.trim().is_empty() => {
                Some(v.trim().parse::<i64>().with_context(|| {
                    format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")
                })?)
            }
            _ => None,
        },
    };
    if let Some(n) = epoch {
        o.source_date_epoch(n);
    }
    Ok(o)
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let compression = a.tar.prepare(&a.output)?;
    if let Some(d) = &a.layer_dir {
        anyhow::ensure!(
            !d.exists(),
            "{} already exists: a layer directory is never replaced, remove it first",
            d.display()
        );
    }
    for p in &a.parents {
        anyhow::ensure!(
            p.is_dir(),
            "parent layer {} is not a directory",
            p.display()
        );
    }
    let opts = options(&a.make)?;
    let src = a.source.display().to_string();
    let what = || format!("cannot create a layer from {src}");
    let source = if a.source.is_dir() {
        Source::open(&a.source).with_context(what)?
    } else {
        // The same decompression as every tar input (docs/cli.md, "Inputs"), without a
        // ratio limit: the source is the user's own content, not an untrusted layer.
        let file = std::fs::File::open(&a.source).with_context(what)?;
        Source::Tar {
            reader: Box::new(decompress(Box::new(file), u64::MAX).with_context(what)?),
            display: src.clone(),
        }
    };
    let chain = ChainDirs::from_layer_dirs(&a.parents).with_context(what)?;
    let (mut layer, stats) =
        create_mem_layer(source, &chain, &opts, !a.parents.is_empty()).with_context(what)?;
    let mut reader = layer.reader().with_context(what)?;
    let written = write_tar(&a.output, compression, a.tar.level, &mut |w| {
        wclayer::crates::tar::export_tar(&mut reader, w).with_context(what)?;
        Ok(())
    })?;
    reader.close()?;
    if let Some(dir) = &a.layer_dir {
        let mut r = layer.reader()?;
        let mut w = wclayer::new_layer_writer(dir, &a.parents)
            .with_context(|| format!("cannot create layer directory {}", dir.display()))?;
        // copy_layer closes the writer: the layer directory appears complete or not at all.
        copy_layer(&mut r, &mut w)
            .with_context(|| format!("cannot write layer directory {}", dir.display()))?;
        r.close()?;
    }
    if stats.skipped_links > 0 {
        report::warn(&format!(
            "{src}: left out {} symbolic links whose target is absolute or leaves the source \
             (--skip-unsafe-links)",
            stats.skipped_links
        ));
    }
    if stats.skipped_special > 0 {
        report::warn(&format!(
            "{src}: left out {} FIFOs, sockets or device nodes (--skip-special)",
            stats.skipped_special
        ));
    }
    let json = a.tar.json.then(|| {
        let mut v = written.json(&a.output, ("source", src.clone()));
        if let Some(o) = v.as_object_mut() {
            o.insert("entries".into(), json!(stats.entries));
            o.insert("hard_links".into(), json!(stats.hard_links));
            o.insert("tombstones".into(), json!(stats.tombstones));
            o.insert("file_bytes".into(), json!(stats.file_bytes));
            o.insert(
                "skipped".into(),
                json!(stats.skipped_links.saturating_add(stats.skipped_special)),
            );
            if let Some(d) = &a.layer_dir {
                o.insert("layer".into(), json!(d.display().to_string()));
            }
        }
        v
    });
    let text = format!(
        "created {} entries, {} hard links, {} tombstones ({} bytes of file data) from {src}\n{}",
        stats.entries,
        stats.hard_links,
        stats.tombstones,
        stats.file_bytes,
        written.text()
    );
    report::result(Channel::beside(&a.output), json.as_ref(), &text);
    Ok(())
}
