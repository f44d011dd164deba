//! `wclayer cat`: the content of one file of a layer or of a chain's merged view, as
//! `tar -xOf` prints a member (docs/chain.md, "One entry"). Also the lookup `stat` shares.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wclayer::chain::{ChainReader, write_content};
use wclayer::crates::layer::{Entry, LayerPath, LayerReader, LayerWriter, MemLayer, WalkMode};
use wclayer::crates::tar::archive::ArchiveReader;
use wclayer::{FileBasicInfo, Limits};

use crate::cmd::limits::{LimitArgs, with_hint};
use crate::io::open_input;

/// The entry `cat` and `stat` look at.
#[derive(clap::Args, Debug)]
pub(crate) struct EntryArgs {
    /// A layer directory, or (without parents) a layer tar (`-` for standard input).
    layer: String,
    /// The entry: tar-style, relative to the layer's root (`Files/Windows/win.ini`), or
    /// Windows-style, relative to `Files` (`Windows\win.ini`, `C:\Windows\win.ini`): a name
    /// with a `\` or a drive letter is Windows-style. Compared case-insensitively.
    name: String,
    /// Parent layer directories, nearest first: look in the merged view of the chain.
    #[arg(short = 'l', long = "layer", value_name = "PARENT")]
    parents: Vec<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Arguments of `wclayer cat`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    entry: EntryArgs,
    /// Print the alternate data stream NAME (`Zone.Identifier` for
    /// `:Zone.Identifier:$DATA`) instead of the file's data.
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
}

pub(crate) fn run(a: &Args) -> Result<()> {
    let e = &a.entry;
    with_entry(e, &mut |r, found| {
        if found.info.file_attributes.is_directory() {
            bail!("{} is a directory in {}", found.name.to_slash(), e.layer);
        }
        let mut out = std::io::BufWriter::new(crate::io::Stdout::new());
        write_content(&mut *r, a.stream.as_deref(), &mut out)
            .with_context(|| format!("cannot print {} of {}", found.name.to_slash(), e.layer))?;
        out.flush()?;
        Ok(())
    })
}

/// The entry found: its name as the layer spells it, its size and metadata, and (in a
/// chain) the layer directory that supplies it.
pub(crate) struct Found {
    pub(crate) name: LayerPath,
    pub(crate) size: u64,
    pub(crate) info: FileBasicInfo,
    pub(crate) layer: Option<String>,
}

/// `NAME` as a layer name: Windows-style (with a `\` or a drive letter) relative to
/// `Files`, else tar-style relative to the layer's root.
pub(crate) fn parse_name(name: &str) -> Result<LayerPath> {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.get(1) == Some(&b':');
    let path = if drive || name.contains('\\') {
        let rest = if drive {
            name.get(2..).unwrap_or("")
        } else {
            name
        };
        format!("Files\\{}", rest.trim_start_matches(['\\', '/']))
    } else {
        name.to_string()
    };
    LayerPath::parse(&path).with_context(|| format!("{name} is no entry name"))
}

/// Opens the merged view of `layer` over `parents`.
pub(crate) fn open_chain(
    layer: &str,
    parents: &[PathBuf],
    limits: &LimitArgs,
) -> Result<ChainReader> {
    anyhow::ensure!(
        Path::new(layer).is_dir(),
        "{layer} is not a layer directory (a chain is made of layer directories)"
    );
    for p in parents {
        anyhow::ensure!(
            p.is_dir(),
            "parent layer {} is not a directory",
            p.display()
        );
    }
    ChainReader::open(Path::new(layer), parents, &limits.limits())
        .map_err(with_hint)
        .with_context(|| format!("cannot open the chain of {layer}"))
}

/// Finds the entry `e` names and calls `f` with a reader positioned on it (its backup
/// stream unread). A name that is not there is an error naming it.
pub(crate) fn with_entry(
    e: &EntryArgs,
    f: &mut dyn FnMut(&mut dyn LayerReader, &Found) -> Result<()>,
) -> Result<()> {
    let name = parse_name(&e.name)?;
    let missing = || {
        let over = match e.parents.len() {
            0 => String::new(),
            1 => " over 1 parent".to_string(),
            n => format!(" over {n} parents"),
        };
        anyhow::anyhow!("{}: no such entry in {}{over}", name.to_slash(), e.layer)
    };
    if !e.parents.is_empty() {
        let mut view = open_chain(&e.layer, &e.parents, &e.limits)?;
        let entry = view
            .open_entry(&name)
            .with_context(|| format!("cannot read {}", e.layer))?
            .ok_or_else(missing)?;
        let layer = view
            .supplier()
            .and_then(|i| view.layer_path(i))
            .map(|p| p.display().to_string());
        return call(&mut view, entry, layer, f);
    }
    if Path::new(&e.layer).is_dir() {
        let mut r = wclayer::new_layer_reader_limited(Path::new(&e.layer), &[], &e.limits.limits())
            .map_err(with_hint)
            .with_context(|| format!("cannot open layer {}", e.layer))?;
        let entry = r
            .get_mut()
            .open_entry(&name)
            .with_context(|| format!("cannot read {}", e.layer))?
            .ok_or_else(missing)?;
        return call(&mut r, entry, None, f);
    }
    let mut layer =
        tar_entry(&e.layer, &name, &e.limits.limits(), e.limits.max_ratio)?.ok_or_else(missing)?;
    let mut r = layer.reader()?;
    let entry = r.next()?.ok_or_else(missing)?;
    call(&mut r, entry, None, f)
}

fn call(
    r: &mut dyn LayerReader,
    entry: Entry,
    layer: Option<String>,
    f: &mut dyn FnMut(&mut dyn LayerReader, &Found) -> Result<()>,
) -> Result<()> {
    let Entry::File { name, size, info } = entry else {
        bail!("{}: a tombstone, not an entry", entry.name().to_slash());
    };
    f(
        r,
        &Found {
            name,
            size,
            info,
            layer,
        },
    )
}

/// Streams the tar at `input` until the entry `name` and returns a layer holding only it
/// (its stream spooled to a file, never held in memory); `None` when the tar has no such
/// entry. A hard link is followed to its target by reading the tar again (not possible on
/// standard input).
fn tar_entry(
    input: &str,
    name: &LayerPath,
    limits: &Limits,
    max_ratio: u64,
) -> Result<Option<MemLayer>> {
    let mut want = name.clone();
    // A link to a link is no link in a tar (links name the file); one hop is enough, two
    // guard against a malformed tar.
    for _ in 0..2 {
        let mut finder = Finder {
            want: want.key(),
            layer: MemLayer::new(),
            state: State::Looking,
        };
        let r = open_input(input, max_ratio)?;
        let res = wclayer::crates::tar::import_tar_limited(
            &mut ArchiveReader::new(r),
            &mut finder,
            limits,
        );
        match finder.state {
            State::Looking => {
                res.map_err(|e| with_hint(wclayer::Error::Tar(e)))
                    .with_context(|| format!("cannot read {input}"))?;
                return Ok(None);
            }
            State::Found | State::Done => {
                let mut layer = finder.layer;
                layer.set_walk_mode(Some(WalkMode::Delta));
                return Ok(Some(layer));
            }
            State::Link(target) => {
                anyhow::ensure!(
                    input != "-",
                    "{} is a hard link to {} in the tar; name the tar as a file (it is read \
                     again to find the target), not as standard input",
                    name.to_slash(),
                    target.to_slash()
                );
                want = target;
            }
        }
    }
    bail!("{}: a hard link that leads to no file", name.to_slash())
}

#[derive(Debug)]
enum State {
    Looking,
    /// The entry's stream is arriving.
    Found,
    /// The entry is complete: the import is stopped at its next call.
    Done,
    /// The entry is a hard link to this name.
    Link(LayerPath),
}

/// A layer writer that keeps only the entry whose case-folded name is `want`, and stops the
/// import once it is complete.
struct Finder {
    want: String,
    layer: MemLayer,
    state: State,
}

impl Finder {
    /// Whether the import should stop: the entry is complete.
    fn stop(&mut self) -> Result<(), wclayer::crates::layer::Error> {
        match self.state {
            State::Looking => Ok(()),
            State::Found => {
                self.layer.close()?;
                self.state = State::Done;
                Err(wclayer::crates::layer::Error::Closed)
            }
            State::Done | State::Link(_) => Err(wclayer::crates::layer::Error::Closed),
        }
    }
}

impl Write for Finder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_stream(buf)
            .map_err(|e| std::io::Error::new(e.io_kind(), e))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LayerWriter for Finder {
    fn add(
        &mut self,
        name: &LayerPath,
        info: &FileBasicInfo,
    ) -> Result<(), wclayer::crates::layer::Error> {
        self.stop()?;
        if name.key() == self.want {
            self.layer.add(name, info)?;
            self.state = State::Found;
        }
        Ok(())
    }
    fn add_link(
        &mut self,
        name: &LayerPath,
        target: &LayerPath,
    ) -> Result<(), wclayer::crates::layer::Error> {
        self.stop()?;
        if name.key() == self.want {
            self.state = State::Link(target.clone());
            return Err(wclayer::crates::layer::Error::Closed);
        }
        Ok(())
    }
    fn remove(&mut self, _name: &LayerPath) -> Result<(), wclayer::crates::layer::Error> {
        self.stop()
    }
    fn write_stream(&mut self, buf: &[u8]) -> Result<(), wclayer::crates::layer::Error> {
        match self.state {
            State::Found => self.layer.write_stream(buf),
            _ => Ok(()),
        }
    }
    fn close(&mut self) -> Result<(), wclayer::crates::layer::Error> {
        if let State::Found = self.state {
            self.layer.close()?;
            self.state = State::Done;
        }
        Ok(())
    }
}
