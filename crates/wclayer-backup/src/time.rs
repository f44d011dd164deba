//! `FILETIME`: 100-nanosecond ticks since 1601-01-01T00:00:00Z, and its conversions to and
//! from Unix time exactly as Go's `syscall`/`x/sys/windows` do them (docs/backup-stream.md §8).

use std::fmt;

/// Ticks between 1601-01-01 and 1970-01-01.
const UNIX_EPOCH_TICKS: i64 = 116_444_736_000_000_000;
const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_TICK: i64 = 100;
const TICKS_PER_SEC: i64 = 10_000_000;

/// A Windows `FILETIME`: the number of 100 ns intervals since 1601-01-01T00:00:00Z.
///
/// The value is kept exactly as Windows stores it (a little-endian 64-bit integer made of
/// `dwLowDateTime` and `dwHighDateTime`), so every bit pattern round-trips. Conversions to
/// and from Unix time reproduce Go's wrapping arithmetic bit for bit, because the tar format
/// stores Unix times and exports must be byte-identical with hcsshim's.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileTime(pub u64);

/// A Unix time as Go's `time.Time` sees it: whole seconds (floored) and a nanosecond part in
/// `0..1_000_000_000`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct UnixTime {
    /// Seconds since 1970-01-01T00:00:00Z, rounded towards negative infinity.
    pub secs: i64,
    /// Nanoseconds after `secs`, always in `0..1_000_000_000`.
    pub nanos: u32,
}

impl UnixTime {
    /// Go's zero `time.Time` (0001-01-01T00:00:00Z), which Go's tar reader leaves in a
    /// header's access and change time when the archive does not carry them.
    pub const GO_ZERO: UnixTime = UnixTime {
        secs: -62_135_596_800,
        nanos: 0,
    };

    /// Builds a time from seconds and nanoseconds, normalising `nanos >= 1e9` into the
    /// seconds as Go's `time.Unix` does (with saturation instead of overflow).
    #[must_use]
    pub fn new(secs: i64, nanos: u32) -> UnixTime {
        let extra = i64::from(nanos / 1_000_000_000);
        UnixTime {
            secs: secs.saturating_add(extra),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Whether this is Go's zero time ([`UnixTime::GO_ZERO`]): Go's tar writer omits
    /// `atime`/`ctime` records and writes mtime 0 for it.
    #[must_use]
    pub fn is_go_zero(self) -> bool {
        self == UnixTime::GO_ZERO
    }

    /// Go's `Time.UnixNano`: `secs * 1e9 + nanos` in wrapping 64-bit arithmetic.
    #[must_use]
    pub fn unix_nanos_wrapping(self) -> i64 {
        self.secs
            .wrapping_mul(NANOS_PER_SEC)
            .wrapping_add(i64::from(self.nanos))
    }
}

impl FileTime {
    /// The FILETIME of the Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: FileTime = FileTime(UNIX_EPOCH_TICKS as u64);

    /// Builds a FILETIME from its two 32-bit halves, as `FILETIME { dwLowDateTime,
    /// dwHighDateTime }` holds it.
    #[must_use]
    pub fn from_parts(low: u32, high: u32) -> FileTime {
        FileTime(u64::from(high) << 32 | u64::from(low))
    }

    /// The little-endian bytes of the value, as FILE_BASIC_INFO stores it.
    #[must_use]
    pub fn to_le_bytes(self) -> [u8; 8] {
        self.0.to_le_bytes()
    }

    /// Reads the value from its little-endian bytes.
    #[must_use]
    pub fn from_le_bytes(bytes: [u8; 8]) -> FileTime {
        FileTime(u64::from_le_bytes(bytes))
    }

    /// Converts to Unix time exactly as Go's `Filetime.Nanoseconds` followed by
    /// `time.Unix(0, ns)` does (docs/backup-stream.md §8.2).
    ///
    /// Inside 1677-09-21 .. 2262-04-11 this is the exact value; outside that range Go's
    /// 64-bit nanosecond arithmetic wraps, and so does this function (FILETIME 0 becomes
    /// 2185-07-21T23:34:33.709551616Z), because exported tars must carry the same bytes.
    #[must_use]
    pub fn to_unix(self) -> UnixTime {
        // Reinterpreting the u64 as i64 is the point: Go holds ticks in an int64.
        #[allow(clippy::cast_possible_wrap)]
        let ticks = self.0 as i64;
        let ns = ticks
            .wrapping_sub(UNIX_EPOCH_TICKS)
            .wrapping_mul(NANOS_PER_TICK);
        // div_euclid/rem_euclid with a positive divisor cannot overflow or panic.
        let secs = ns.div_euclid(NANOS_PER_SEC);
        let nanos = ns.rem_euclid(NANOS_PER_SEC);
        UnixTime {
            secs,
            nanos: u32::try_from(nanos).unwrap_or(0),
        }
    }

    /// Converts from Unix time exactly as Go's `NsecToFiletime(t.UnixNano())` does
    /// (docs/backup-stream.md §8.3): sub-100 ns digits are truncated toward zero and the
    /// nanosecond count wraps in 64 bits (Go's zero time becomes FILETIME
    /// 48491090211286549, a date in 1754).
    #[must_use]
    pub fn from_unix(t: UnixTime) -> FileTime {
        let ns = t.unix_nanos_wrapping();
        // i64 division by a positive constant truncates toward zero and cannot overflow.
        let ticks = (ns / NANOS_PER_TICK).wrapping_add(UNIX_EPOCH_TICKS);
        #[allow(clippy::cast_sign_loss)]
        FileTime(ticks as u64)
    }
}

/// Exact conversions, for file systems
impl FileTime {
    /// The exact Unix time of this FILETIME, for setting a file's times: no wrapping (every
    /// `u64` FILETIME is within ±2^61 seconds of 1970), seconds floored, nanoseconds in
    /// `0..1_000_000_000`. FILETIME 0 is 1601-01-01. Tar headers use [`FileTime::to_unix`],
    /// which wraps as Go does.
    #[must_use]
    pub fn to_unix_exact(self) -> UnixTime {
        // In i128 nothing here can overflow; saturating arithmetic says so to the lints.
        let ticks = i128::from(self.0).saturating_sub(i128::from(UNIX_EPOCH_TICKS));
        let per_sec = i128::from(TICKS_PER_SEC);
        UnixTime {
            // |ticks / 1e7| < 2^61: always fits.
            secs: i64::try_from(ticks.div_euclid(per_sec)).unwrap_or(i64::MAX),
            nanos: u32::try_from(
                ticks
                    .rem_euclid(per_sec)
                    .saturating_mul(i128::from(NANOS_PER_TICK)),
            )
            .unwrap_or(0),
        }
    }

    /// The FILETIME of a Unix time read from a file system: sub-100 ns digits dropped
    /// (rounding down), clamped to the FILETIME range. The inverse of
    /// [`FileTime::to_unix_exact`] for every FILETIME.
    #[must_use]
    pub fn from_unix_exact(t: UnixTime) -> FileTime {
        let ticks = i128::from(t.secs)
            .saturating_mul(i128::from(TICKS_PER_SEC))
            .saturating_add(i128::from(t.nanos / 100))
            .saturating_add(i128::from(UNIX_EPOCH_TICKS));
        FileTime(u64::try_from(ticks.clamp(0, i128::from(u64::MAX))).unwrap_or(0))
    }
}

impl fmt::Debug for FileTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileTime({} = {})", self.0, self)
    }
}

impl fmt::Display for FileTime {
    /// RFC 3339 in UTC with 7 fractional digits, for values in 1601..=30827; other
    /// values (which Windows cannot display either) print as the raw tick count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const TICKS_PER_SEC: u64 = 10_000_000;
        let secs = self.0 / TICKS_PER_SEC;
        let frac = self.0 % TICKS_PER_SEC;
        let days = secs / 86_400;
        let rem = secs % 86_400;
        // u64 ticks / 1e7 / 86400 is far below i64::MAX, so the conversion cannot fail.
        let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
        if !(1601..=30827).contains(&y) {
            return write!(f, "{} ticks", self.0);
        }
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:07}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Days since 1601-01-01 → proleptic Gregorian (year, month, day), after Howard Hinnant's
/// `civil_from_days` (which counts from 0000-03-01, 1970-01-01 being day 719 468).
#[allow(
    clippy::arithmetic_side_effects,
    reason = "bounded: |days| < 2^35 and every intermediate stays far inside i64"
)]
fn civil_from_days(days_since_1601: i64) -> (i64, u32, u32) {
    // 1601-01-01 is 134 774 days before 1970-01-01; inputs are at most ~2.1e10 days.
    let z = days_since_1601 - 134_774 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/backup-stream.md §8.4
    #[test]
    fn spec_conversion_examples() {
        let cases: &[(u64, i64, u32)] = &[
            (132_540_302_451_234_567, 1_609_556_645, 123_456_700),
            (132_540_302_460_000_000, 1_609_556_646, 0),
            (116_444_736_000_000_000, 0, 0),
            (113_397_664_895_000_000, -304_707_111, 500_000_000),
            (0, 6_802_270_473, 709_551_616),
        ];
        for &(ft, secs, nanos) in cases {
            assert_eq!(FileTime(ft).to_unix(), UnixTime { secs, nanos }, "{ft}");
        }
        for &(ft, secs, nanos) in &cases[..4] {
            assert_eq!(FileTime::from_unix(UnixTime { secs, nanos }), FileTime(ft));
        }
    }

    #[test]
    fn zero_filetime_does_not_round_trip_like_go() {
        let back = FileTime::from_unix(FileTime(0).to_unix());
        assert_eq!(back, FileTime(184_467_440_737_095_516));
        assert_eq!(back.0, 0x028F_5C28_F5C2_8F5C);
    }

    #[test]
    fn go_zero_time_becomes_1754() {
        assert_eq!(
            UnixTime::GO_ZERO.unix_nanos_wrapping(),
            -6_795_364_578_871_345_152
        );
        let ft = FileTime::from_unix(UnixTime::GO_ZERO);
        assert_eq!(ft, FileTime(48_491_090_211_286_549));
        assert_eq!(ft.to_string(), "1754-08-30T22:43:41.1286549Z");
    }

    #[test]
    fn negative_times_truncate_toward_zero() {
        // -1.5 s: floor seconds -2, nanos 5e8.
        let t = UnixTime {
            secs: -2,
            nanos: 500_000_000,
        };
        assert_eq!(FileTime::from_unix(t).to_unix(), t);
        // -50 ns truncates to 0 ticks from the epoch (rounds up for negative times).
        let t = UnixTime {
            secs: -1,
            nanos: 999_999_950,
        };
        assert_eq!(FileTime::from_unix(t), FileTime::UNIX_EPOCH);
    }

    #[test]
    fn valid_range_limits() {
        let lo = FileTime(24_211_015_631_452_242);
        let hi = FileTime(208_678_456_368_547_758);
        assert_eq!(FileTime::from_unix(lo.to_unix()), lo);
        assert_eq!(FileTime::from_unix(hi.to_unix()), hi);
        assert_eq!(lo.to_string(), "1677-09-21T00:12:43.1452242Z");
        assert_eq!(hi.to_string(), "2262-04-11T23:47:16.8547758Z");
    }

    #[test]
    fn exact_conversion_round_trips_every_value() {
        for ft in [
            0u64,
            1,
            116_444_736_000_000_000,
            133_000_000_123_456_789,
            u64::MAX,
        ] {
            let u = FileTime(ft).to_unix_exact();
            assert!(u.nanos < 1_000_000_000);
            assert_eq!(FileTime::from_unix_exact(u), FileTime(ft), "{ft}");
        }
        assert_eq!(
            FileTime::UNIX_EPOCH.to_unix_exact(),
            UnixTime { secs: 0, nanos: 0 }
        );
        assert_eq!(
            FileTime(0).to_unix_exact(),
            UnixTime {
                secs: -11_644_473_600,
                nanos: 0
            }
        );
        assert_eq!(
            FileTime(FileTime::UNIX_EPOCH.0 - 1).to_unix_exact(),
            UnixTime {
                secs: -1,
                nanos: 999_999_900
            }
        );
        assert_eq!(
            FileTime::from_unix_exact(UnixTime {
                secs: i64::MIN,
                nanos: 0
            }),
            FileTime(0)
        );
        assert_eq!(
            FileTime::from_unix_exact(UnixTime {
                secs: i64::MAX,
                nanos: 0
            }),
            FileTime(u64::MAX)
        );
        assert_eq!(
            FileTime::from_unix_exact(UnixTime {
                secs: 1,
                nanos: 199
            }),
            FileTime(FileTime::UNIX_EPOCH.0 + 10_000_001)
        );
    }

    #[test]
    fn display() {
        assert_eq!(
            FileTime(132_540_302_451_234_567).to_string(),
            "2021-01-02T03:04:05.1234567Z"
        );
        assert_eq!(FileTime(0).to_string(), "1601-01-01T00:00:00.0000000Z");
        assert_eq!(
            FileTime(u64::MAX).to_string(),
            format!("{} ticks", u64::MAX)
        );
    }

    proptest::proptest! {
        #[test]
        fn unix_round_trip_in_range(ticks in 24_211_015_631_452_242u64..=208_678_456_368_547_758) {
            let ft = FileTime(ticks);
            proptest::prop_assert_eq!(FileTime::from_unix(ft.to_unix()), ft);
        }

        #[test]
        fn any_value_converts_without_panic(ticks: u64, secs: i64, nanos in 0u32..1_000_000_000) {
            let _ = FileTime(ticks).to_unix();
            let _ = FileTime(ticks).to_string();
            let _ = FileTime::from_unix(UnixTime { secs, nanos });
        }
    }
}
