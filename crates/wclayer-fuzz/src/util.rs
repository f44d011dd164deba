//! Small helpers shared by the targets.

/// An incremental 64-bit FNV-1a hash: a deterministic source of the choices a target makes
/// about an input (where to cut it, the seed of a short reader), and a cheap fingerprint of
/// stream contents that two reads are compared by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Adds `data` to the hash.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0 = data.iter().fold(self.0, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    }

    /// The hash so far.
    pub(crate) fn value(self) -> u64 {
        self.0
    }
}

/// The FNV-1a hash of `data`.
pub(crate) fn hash(data: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.update(data);
    h.value()
}

/// A cut point in `0..=data.len()` chosen by the input's hash.
pub(crate) fn cut_point(data: &[u8]) -> usize {
    let len = data.len() as u64;
    usize::try_from(hash(data) % (len + 1)).expect("at most data.len()")
}
