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
