//! Time as a dependency. Every deadline (session expiry, code validity,
//! lockouts, retention) is computed from an injected [`Clock`] so that
//! tests can move time; `clippy.toml` forbids reading the clock elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// UTC microseconds since the Unix epoch, the unit stored in the database.
pub type Micros = i64;

pub const SECOND: Micros = 1_000_000;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Micros;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the clock
    fn now(&self) -> Micros {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: Micros) -> Self {
        Self(Arc::new(AtomicI64::new(start)))
    }

    pub fn advance(&self, by: Micros) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Micros {
        self.0.load(Ordering::SeqCst)
    }
}

/// Seconds from configuration as microseconds, saturating.
pub fn secs(s: u64) -> Micros {
    i64::try_from(s)
        .unwrap_or(i64::MAX / SECOND)
        .saturating_mul(SECOND)
}
