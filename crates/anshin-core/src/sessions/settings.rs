//! The `[sessions]` section: how long a session lives.

use anshin_domain::Duration;
use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, Section, invalid};

/// `[sessions]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// A session unused this long ends.
    pub idle_timeout_secs: u64,
    /// A session ends this long after it began, however active.
    pub absolute_lifetime_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 2 * 60 * 60,
            absolute_lifetime_secs: 14 * 24 * 60 * 60,
        }
    }
}

impl Section for SessionSettings {
    fn check(&self) -> Result<(), Invalid> {
        if self.idle_timeout_secs == 0 || self.idle_timeout_secs > self.absolute_lifetime_secs {
            return invalid(
                "sessions.idle_timeout_secs",
                "must be at least 1 and at most sessions.absolute_lifetime_secs",
            );
        }
        Ok(())
    }
}

impl SessionSettings {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    pub fn absolute_lifetime(&self) -> Duration {
        Duration::from_secs(self.absolute_lifetime_secs)
    }
}
