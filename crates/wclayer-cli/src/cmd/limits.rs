//! The limits on what an untrusted layer may claim, as command-line flags.

use wclayer::Limits;

/// `--max-entries`, `--max-size`, `--max-ratio`: how much a layer read by this command may
/// claim. The defaults are far above any real Windows layer; raise them for one that needs
/// more.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct LimitArgs {
    /// Most entries (names, hard links and tombstones) the layer may have.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_entries)]
    pub(crate) max_entries: u64,
    /// Most bytes of file data the layer may claim, holes of sparse files included (a
    /// number with an optional K, M, G or T suffix, powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = "64G", value_parser = parse_size)]
    pub(crate) max_size: u64,
    /// Most bytes a compressed input may expand to per compressed byte (checked once it has
    /// expanded to 1 GiB).
    #[arg(long, value_name = "RATIO", default_value_t = wclayer_image::guard::DEFAULT_MAX_RATIO)]
    pub(crate) max_ratio: u64,
}

impl LimitArgs {
    /// The layer limits.
    pub(crate) fn limits(&self) -> Limits {
        Limits::default()
            .with_max_entries(self.max_entries)
            .with_max_size(self.max_size)
    }
}

/// The flag that raises the limit an error went over, as a hint to add to its message.
pub(crate) fn hint(e: &wclayer::Error) -> Option<String> {
    let (what, _) = e.exceeded_limit()?;
    let flag = if what == "entries" {
        "--max-entries"
    } else {
        "--max-size"
    };
    Some(format!(
        "raise the limit with {flag} if the layer is trusted"
    ))
}

/// The error with the hint of [`hint`] after it, when it has one (a limit error has no
/// cause of its own, so nothing of the message is lost).
pub(crate) fn with_hint(e: wclayer::Error) -> anyhow::Error {
    match hint(&e) {
        Some(h) => anyhow::anyhow!("{e} ({h})"),
        None => anyhow::Error::new(e),
    }
}

/// Parses `123`, `64K`, `64G`, `1T` (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, shift) = [("K", 10), ("M", 20), ("G", 30), ("T", 40)]
        .into_iter()
        .find_map(|(suffix, shift)| {
            s.strip_suffix(suffix)
                .or_else(|| s.strip_suffix(&suffix.to_ascii_lowercase()))
                .map(|d| (d, shift))
        })
        .unwrap_or((s, 0));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (a number, optionally with K, M, G or T)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64G"), Ok(64 << 30));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        assert!(parse_size("x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
