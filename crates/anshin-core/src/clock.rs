//! Time as a dependency. Every deadline (session expiry, code validity,
//! lockouts, leases, retention) is computed from an injected [`Clock`] so
//! that tests can move time; `clippy.toml` forbids reading the clock
//! anywhere else.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use anshin_domain::{Duration, Timestamp};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the clock
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_micros(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.micros())))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.micros(), Ordering::SeqCst);
    }

    /// Sets the time (for tests that meet a real clock: signed webhooks
    /// from a processor stand-in carry real timestamps).
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst))
    }
}

/// Elapsed time on the monotonic clock, for measurements only (a job's
/// duration in the metrics, the typical hashing time that masks a refused
/// login). Never a deadline or a record's time: those come from [`Clock`].
/// Here so that every read of a clock in the core is in this file (the
/// semgrep rule `anshin-direct-monotonic-clock-in-domain`).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    /// Starts measuring now.
    pub fn start() -> Self {
        Self(std::time::Instant::now())
    }

    /// The time since [`Stopwatch::start`].
    pub fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}
