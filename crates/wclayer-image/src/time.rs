//! RFC 3339 times for `created` in configs and history, without a calendar dependency.

/// `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (years 1970 to 9999; later
/// times are written as the last second of 9999).
pub(crate) fn rfc3339(seconds: u64) -> String {
    // 9999-12-31T23:59:59Z
    let seconds = seconds.min(253_402_300_799);
    let days = seconds / 86_400;
    let rem = seconds % 86_400;
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days` for days since 1970-01-01 (non-negative, bounded by
/// the caller: every step stays far from overflow).
#[allow(
    clippy::arithmetic_side_effects,
    reason = "days <= 2_932_896 (year 9999): every intermediate is small"
)]
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }
}
