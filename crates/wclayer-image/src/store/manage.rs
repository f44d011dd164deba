//! What a store holds, and taking it away (docs/images.md, "Managing a store"): the images
//! `unpack` recorded in `images/sha256/`, removing them, and removing the layer directories
//! no recorded image uses.
//!
//! Changing a store excludes unpacking into it: [`Store::open`] holds a shared lock on the
//! store's marker file for as long as the store is open, and [`Store::lock_to_change`] takes
//! it exclusively (failing at once while an unpack runs), so a layer an unpack has just put in
//! place is never pruned before the unpack records its image.

use std::collections::BTreeSet;
use std::io;

use serde::Deserialize;
use serde_json::json;
use wclayer::crates::fs::discard_dir;

use super::{MARKER, Store};
use crate::digest::Digest;
use crate::platform::Platform;
use crate::{Error, doc};

/// An image recorded in a store: what `unpack` wrote to `images/sha256/<id hex>.json`.
#[derive(Clone, Debug)]
pub struct StoredImage {
    /// Its manifest's digest (a `docker save` image: its config's); the record's name.
    pub id: Digest,
    /// The reference it was unpacked from.
    pub name: String,
    /// The platform of its config.
    pub platform: Platform,
    /// Its manifest's digest, when it had a manifest.
    pub manifest: Option<String>,
    /// Its config's digest.
    pub config: String,
    /// Its layers' chain IDs (the names of their layer directories), base first.
    pub chain_ids: Vec<Digest>,
}

impl StoredImage {
    /// Its top layer's chain ID.
    #[must_use]
    pub fn top(&self) -> Option<&Digest> {
        self.chain_ids.last()
    }

    /// As `store ls --json` and `store rm --json` print it, with layer paths below `store`.
    #[must_use]
    pub fn to_json(&self, store: &Store) -> serde_json::Value {
        json!({
            "image": self.name,
            "id": self.id.to_string(),
            "manifest": self.manifest,
            "config": self.config,
            "platform": self.platform,
            "layers": self.chain_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "top": self.top().map(|c| store.layer_path(c).display().to_string()),
        })
    }

    /// Whether `which` names it: its reference exactly, or its id (`sha256:HEX`, `HEX`, or
    /// the first 12 or more hexadecimal digits of it).
    fn is_named(&self, which: &str) -> bool {
        self.name == which
            || id_digits(which).is_some_and(|d| {
                d.len() >= 12 && self.id.hex().starts_with(&d.to_ascii_lowercase())
            })
    }
}

/// The hexadecimal digits `which` gives of an id (`sha256:HEX` or `HEX`), if it is one.
fn id_digits(which: &str) -> Option<&str> {
    let digits = which.strip_prefix("sha256:").unwrap_or(which);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digits)
}

/// The part of an image record this module reads.
#[derive(Deserialize)]
struct Record {
    image: String,
    id: String,
    manifest: Option<String>,
    config: String,
    platform: Platform,
    layers: Vec<RecordLayer>,
}

#[derive(Deserialize)]
struct RecordLayer {
    chain_id: String,
}

/// What a removal took away.
#[derive(Clone, Debug, Default)]
pub struct Removed {
    /// The images whose records were removed.
    pub images: Vec<StoredImage>,
    /// The layer directories removed (by chain ID), none of them used by a remaining image.
    pub layers: Vec<Digest>,
    /// Layer directories left because a remaining image uses them.
    pub kept: usize,
}

impl Store {
    /// Takes the store for changing what it holds ([`Store::remove_images`],
    /// [`Store::prune`]): an exclusive lock on its marker, which no unpack into it may hold.
    ///
    /// # Errors
    /// While another command has the store open (an unpack, or another removal); when the
    /// marker cannot be opened.
    pub fn lock_to_change(&mut self) -> Result<(), Error> {
        let shown = self.path.display().to_string();
        let f = self
            .root
            .open_file(MARKER)
            .map_err(|e| Error::io(format!("cannot lock the store {shown}"), e))?;
        match f.try_lock() {
            Ok(()) => {
                self.lock = Some(f);
                self.exclusive = true;
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Invalid(format!(
                "the store {shown} is in use by another wclayer command (an unpack, or another \
                 removal): try again when it has ended"
            ))),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(Error::io(format!("cannot lock the store {shown}"), e))
            }
        }
    }

    /// The images recorded in the store, by reference (then id).
    ///
    /// # Errors
    /// A record that cannot be read or is no image record (naming its file); the records'
    /// directory that cannot be listed.
    pub fn images(&self) -> Result<Vec<StoredImage>, Error> {
        let dir = self.path.join("images/sha256");
        let names = self
            .images
            .entries()
            .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        let mut out = Vec::new();
        for name in names {
            let Some(hex) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .filter(|h| !h.starts_with('.'))
            else {
                continue;
            };
            let shown = dir.join(&name).display().to_string();
            let f = match self.images.open_file(&name) {
                Ok(f) => f,
                // Removed meanwhile (by a `store rm` that had the lock).
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("cannot read {shown}"), e)),
            };
            let bytes = doc::read_limited(f, &shown)?;
            out.push(parse_record(&bytes, hex, &shown)?);
        }
        out.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.id.hex().cmp(&b.id.hex()))
        });
        Ok(out)
    }

    /// The chain IDs of the layer directories in the store (staging names left aside).
    ///
    /// # Errors
    /// When `layers/sha256/` cannot be listed.
    pub fn layer_ids(&self) -> Result<Vec<Digest>, Error> {
        let dir = self.path.join("layers/sha256");
        let names = self
            .layers
            .entries()
            .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        let mut ids: Vec<Digest> = names
            .iter()
            .filter_map(|n| n.to_str())
            .filter(|n| n.len() == 64)
            .filter_map(|n| Digest::parse(&format!("sha256:{n}")).ok())
            .collect();
        ids.sort_by_key(Digest::hex);
        Ok(ids)
    }

    /// Removes the records of the images `which` names (each a reference as unpacked, all
    /// records of it, or an id: `sha256:HEX`, `HEX`, or 12 or more of its first digits,
    /// naming one image), then the layer directories no remaining image uses
    /// ([`Store::prune`]). Call [`Store::lock_to_change`] first.
    ///
    /// # Errors
    /// A name that matches no image, an id prefix that matches several (nothing is removed
    /// then); the errors of [`Store::images`] and [`Store::prune`].
    pub fn remove_images(&self, which: &[String]) -> Result<Removed, Error> {
        self.check_locked()?;
        let images = self.images()?;
        let shown = self.path.display();
        let mut chosen: Vec<&StoredImage> = Vec::new();
        for w in which {
            let found: Vec<&StoredImage> = images.iter().filter(|i| i.is_named(w)).collect();
            let by_name = found.iter().all(|i| i.name == *w);
            match found.as_slice() {
                [] => {
                    let short = id_digits(w).is_some_and(|d| d.len() < 12);
                    return Err(Error::Invalid(format!(
                        "no image {w} in the store {shown} (`wclayer store ls {shown}` lists \
                         them{})",
                        if short {
                            "; an id needs 12 or more of its digits"
                        } else {
                            ""
                        }
                    )));
                }
                [_, _, ..] if !by_name => {
                    let ids: Vec<String> = found.iter().map(|i| i.id.to_string()).collect();
                    return Err(Error::Invalid(format!(
                        "{w} names {} images in the store {shown}: {}; give more of the id",
                        found.len(),
                        ids.join(", ")
                    )));
                }
                _ => {}
            }
            for i in found {
                if !chosen.iter().any(|c| c.id == i.id) {
                    chosen.push(i);
                }
            }
        }
        for i in &chosen {
            let name = format!("{}.json", i.id.hex());
            match self.images.remove_file(&name) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(Error::io(
                        format!("cannot remove the record of {} from {shown}", i.name),
                        e,
                    ));
                }
                _ => {}
            }
        }
        let mut removed = self.prune()?;
        removed.images = chosen.into_iter().cloned().collect();
        Ok(removed)
    }

    /// Removes the layer directories no recorded image uses: left by an unpack that failed
    /// above them, or by images removed. Each goes whole ([`discard_dir`]): a layer
    /// directory in the store is complete or absent. Call [`Store::lock_to_change`] first.
    ///
    /// # Errors
    /// A record that cannot be read (nothing is removed then: its layers would be unknown);
    /// a layer directory that cannot be removed.
    pub fn prune(&self) -> Result<Removed, Error> {
        self.check_locked()?;
        let images = self.images().map_err(|e| {
            Error::Invalid(format!(
                "{e}: no layer was removed (the layers of an image whose record cannot be read \
                 are not known)"
            ))
        })?;
        let layers = self.layer_ids()?;
        let unused = Store::unused_layers(&images, &layers);
        let mut removed = Removed {
            kept: layers.len().saturating_sub(unused.len()),
            ..Removed::default()
        };
        for id in unused {
            discard_dir(&self.layers, &id.hex()).map_err(|e| {
                Error::io(
                    format!("cannot remove {}", self.layer_path(&id).display()),
                    e,
                )
            })?;
            removed.layers.push(id);
        }
        Ok(removed)
    }

    /// Of a store's `layers` ([`Store::layer_ids`]), those that none of its `images` (all
    /// its records: [`Store::images`]) names: the one rule of what `prune` removes.
    #[must_use]
    pub fn unused_layers(images: &[StoredImage], layers: &[Digest]) -> Vec<Digest> {
        let used: BTreeSet<String> = images
            .iter()
            .flat_map(|i| i.chain_ids.iter().map(Digest::hex))
            .collect();
        layers
            .iter()
            .filter(|id| !used.contains(&id.hex()))
            .copied()
            .collect()
    }

    fn check_locked(&self) -> Result<(), Error> {
        match &self.lock {
            Some(_) if self.exclusive => Ok(()),
            _ => Err(Error::Invalid(format!(
                "the store {} is not locked for changes",
                self.path.display()
            ))),
        }
    }
}

/// An image record's content, `hex` being its name's digits.
fn parse_record(bytes: &[u8], hex: &str, shown: &str) -> Result<StoredImage, Error> {
    let bad = |why: String| Error::Invalid(format!("{shown} is no image record: {why}"));
    let r: Record = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let id = Digest::parse(&r.id).map_err(|e| bad(format!("id: {e}")))?;
    if id.hex() != hex {
        return Err(bad(format!("its id {id} is not its name")));
    }
    let chain_ids = r
        .layers
        .iter()
        .map(|l| Digest::parse(&l.chain_id).map_err(|e| bad(format!("chain_id: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StoredImage {
        id,
        name: r.image,
        platform: r.platform,
        manifest: r.manifest,
        config: r.config,
        chain_ids,
    })
}
