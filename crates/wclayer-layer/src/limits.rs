//! [`Limits`]: how much a layer from untrusted input may claim.

use crate::Error;

/// How much a layer may claim before its import is refused. A layer tar, a transport folder
/// or a layer directory's records are untrusted: a few kilobytes can claim a terabyte of
/// sparse zeros or millions of names. Each place where such input enters (the tar import,
/// the transport-folder reader, the layer-directory reader) counts what the layer claims with
/// a [`Budget`] and stops at the first entry over a limit, before its data is written.
///
/// The defaults are far above any real Windows layer (a servercore base layer has about
/// 100 000 names and 5 GB of data) and far below what would exhaust a machine; raise them
/// for a layer that needs more (`wclayer import --max-entries`, `--max-size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most entries (added names, hard links and tombstones together). Memory grows with
    /// the number of names (a few dozen bytes each plus the name). Default 2^20.
    pub max_entries: u64,
    /// Most bytes of file data the layer may claim, summed over its files and alternate data
    /// streams, holes of sparse files included. Default 64 GiB.
    pub max_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1 << 20,
            max_size: 64 << 30,
        }
    }
}

impl Limits {
    /// No limits (for trusted input).
    #[must_use]
    pub fn none() -> Limits {
        Limits {
            max_entries: u64::MAX,
            max_size: u64::MAX,
        }
    }

    /// These limits with at most `n` entries.
    #[must_use]
    pub fn with_max_entries(mut self, n: u64) -> Limits {
        self.max_entries = n;
        self
    }

    /// These limits with at most `n` bytes of file data.
    #[must_use]
    pub fn with_max_size(mut self, n: u64) -> Limits {
        self.max_size = n;
        self
    }

    /// A budget counting against these limits.
    #[must_use]
    pub fn budget(&self) -> Budget {
        Budget {
            limits: *self,
            entries: 0,
            size: 0,
        }
    }
}

/// What a layer has claimed so far (see [`Limits`]).
#[derive(Clone, Debug)]
pub struct Budget {
    limits: Limits,
    entries: u64,
    size: u64,
}

impl Budget {
    /// Counts one more entry, `name`.
    ///
    /// # Errors
    /// [`Error::Limit`] naming `name` when the layer has more entries than allowed.
    pub fn entry(&mut self, name: &str) -> Result<(), Error> {
        self.entries = self.entries.saturating_add(1);
        if self.entries > self.limits.max_entries {
            return Err(Error::Limit {
                name: Some(name.to_owned()),
                what: "entries",
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Counts `bytes` more bytes of file data, claimed by `name`.
    ///
    /// # Errors
    /// [`Error::Limit`] naming `name` when the layer claims more bytes than allowed.
    pub fn bytes(&mut self, name: &str, bytes: u64) -> Result<(), Error> {
        self.size = self.size.saturating_add(bytes);
        if self.size > self.limits.max_size {
            return Err(Error::Limit {
                name: Some(name.to_owned()),
                what: "bytes of file data",
                limit: self.limits.max_size,
            });
        }
        Ok(())
    }

    /// Entries counted so far.
    #[must_use]
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes counted so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_stop_at_the_first_entry_over_a_limit() {
        let mut b = Limits {
            max_entries: 2,
            max_size: 10,
        }
        .budget();
        b.entry("a").unwrap();
        b.bytes("a", 10).unwrap();
        let e = b.bytes("b", 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "b: layer has more than 10 bytes of file data"
        );
        b.entry("b").unwrap();
        let e = b.entry("c").unwrap_err();
        assert_eq!(e.to_string(), "c: layer has more than 2 entries");
        let mut none = Limits::none().budget();
        none.bytes("x", u64::MAX).unwrap();
        none.bytes("x", 1).unwrap();
    }
}
