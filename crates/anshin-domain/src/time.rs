//! Time as anshin stores it: UTC microseconds since the Unix epoch in one
//! type, [`Timestamp`], taken from the core's injected clock (never the
//! database server's, so tests can move time and instances agree). Spans
//! are [`Duration`]s; adding them saturates instead of wrapping, so a huge
//! configured lifetime means "never" rather than a date in 1970.

use serde::{Deserialize, Serialize};

/// A moment: UTC microseconds since 1970-01-01.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

/// A span of time in microseconds (may be negative: "ago").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// What the database stores.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.0))
    }

    pub fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(d.0))
    }

    /// How long from `earlier` to `self` (negative if `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

/// Japan Standard Time's offset from UTC (no daylight saving time):
/// the calendar in which anshin's retention periods are counted.
pub const JST_OFFSET_SECS: i64 = 9 * 3600;

impl Timestamp {
    /// Exactly one calendar month later in Japan Standard Time (C16,
    /// C17): the same day of the next month at the same time of day; when
    /// the next month has no such day (the 29th–31st), its last day at the
    /// same time. 2027-01-31 10:00 JST → 2027-02-28 10:00 JST (2028:
    /// 02-29); 2027-03-31 → 2027-04-30; 2027-12-15 → 2028-01-15.
    /// docs/retention.md gives the rule and its tests.
    pub fn one_month_later(self) -> Timestamp {
        const DAY: i64 = 86_400_000_000;
        let local = self.0.saturating_add(JST_OFFSET_SECS * 1_000_000);
        let days = local.div_euclid(DAY);
        let time_of_day = local.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let nd = d.min(days_in_month(ny, nm));
        let local_next = days_from_civil(ny, nm, nd)
            .saturating_mul(DAY)
            .saturating_add(time_of_day);
        Timestamp(local_next.saturating_sub(JST_OFFSET_SECS * 1_000_000))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        self.saturating_add(d)
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        self.saturating_sub(d)
    }
}

/// `11 * 60 * SECOND`: a count of spans.
impl std::ops::Mul<Duration> for i64 {
    type Output = Duration;
    fn mul(self, d: Duration) -> Duration {
        d.saturating_mul(self)
    }
}

impl std::ops::Add for Duration {
    type Output = Duration;
    fn add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);
    pub const SECOND: Duration = Duration(1_000_000);

    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub const fn from_millis(ms: i64) -> Self {
        Self(ms.saturating_mul(1_000))
    }

    /// Seconds (as configuration gives them), saturating.
    pub fn from_secs(secs: u64) -> Self {
        Self(
            i64::try_from(secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000),
        )
    }

    /// Whole seconds (rounded down).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    pub fn saturating_mul(self, n: i64) -> Self {
        Self(self.0.saturating_mul(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JST wall-clock time as a timestamp (test helper).
    fn jst(y: i64, m: u32, d: u32, h: i64, min: i64) -> Timestamp {
        let local = days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60;
        Timestamp::from_micros((local - JST_OFFSET_SECS) * 1_000_000)
    }

    #[test]
    fn c17_one_month_is_the_same_day_next_month_or_its_last_day() {
        let cases = [
            (jst(2027, 1, 15, 10, 0), jst(2027, 2, 15, 10, 0)),
            (jst(2027, 1, 31, 10, 0), jst(2027, 2, 28, 10, 0)),
            (jst(2028, 1, 31, 10, 0), jst(2028, 2, 29, 10, 0)),
            (jst(2027, 1, 29, 23, 59), jst(2027, 2, 28, 23, 59)),
            (jst(2028, 1, 29, 8, 0), jst(2028, 2, 29, 8, 0)),
            (jst(2027, 2, 28, 12, 0), jst(2027, 3, 28, 12, 0)),
            (jst(2028, 2, 29, 12, 0), jst(2028, 3, 29, 12, 0)),
            (jst(2027, 3, 31, 0, 0), jst(2027, 4, 30, 0, 0)),
            (jst(2027, 8, 31, 9, 30), jst(2027, 9, 30, 9, 30)),
            (jst(2027, 12, 31, 23, 0), jst(2028, 1, 31, 23, 0)),
            (jst(2100, 1, 31, 1, 0), jst(2100, 2, 28, 1, 0)),
            (jst(2000, 1, 30, 1, 0), jst(2000, 2, 29, 1, 0)),
        ];
        for (t, want) in cases {
            assert_eq!(t.one_month_later(), want, "{t:?}");
        }
        // The calendar is Japan's: 2027-01-31 20:00 UTC is already
        // 02-01 05:00 JST, so one month later is 03-01 05:00 JST, not
        // (as in UTC) 02-28.
        let utc_evening =
            Timestamp::from_micros((days_from_civil(2027, 1, 31) * 86_400 + 20 * 3600) * 1_000_000);
        assert_eq!(utc_evening.one_month_later(), jst(2027, 3, 1, 5, 0));
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 10_957, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn time_arithmetic_saturates() {
        let t = Timestamp::from_micros(1_767_225_600_000_000);
        assert_eq!(
            (t + Duration::from_secs(60)).micros(),
            1_767_225_660_000_000
        );
        assert_eq!(t.secs(), 1_767_225_600);
        assert_eq!((t + Duration::from_secs(u64::MAX)).micros(), i64::MAX);
        assert_eq!(
            (t + Duration::from_secs(5)).since(t),
            Duration::from_secs(5)
        );
        assert_eq!(Duration::from_millis(1500).micros(), 1_500_000);
        assert_eq!(Duration::from_micros(-1).secs(), -1);
    }
}
