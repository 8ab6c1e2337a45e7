//! The `[auth]` and `[limits]` sections: what sign-up, codes, passwords,
//! re-authentication and the login limits are configured with. Each
//! checks itself at start.

use std::net::IpAddr;

use anshin_domain::Duration;
use anshin_store::LockPolicy;
use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, Section, invalid, within};

/// `[auth]`: sign-up, e-mail codes (C11), passwords (C12, C14) and
/// re-authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Digits of an e-mail code (6 to 10).
    pub code_digits: u8,
    /// How long a code is valid.
    pub code_ttl_secs: u64,
    /// Verification attempts per code; a new code keeps the count.
    pub code_max_attempts: i64,
    /// Codes that may be requested per address within the window below.
    pub code_requests_per_window: i64,
    pub code_request_window_secs: u64,
    /// Minimum password length in characters (NIST SP 800-63B: 15 when the
    /// password is the only factor).
    pub password_min_chars: usize,
    /// Argon2id cost (OWASP minimum: 19456 KiB, 2 iterations, 1 lane).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; more wait their turn, so a flood
    /// of logins cannot take every core.
    pub max_concurrent_hashes: usize,
    /// Changing e-mail, password or bank details needs a login or fresh
    /// code within this many seconds.
    pub recent_auth_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            code_digits: 6,
            code_ttl_secs: 600,
            code_max_attempts: 5,
            code_requests_per_window: 5,
            code_request_window_secs: 600,
            password_min_chars: 15,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 2,
            recent_auth_secs: 600,
        }
    }
}

impl Section for AuthSettings {
    fn check(&self) -> Result<(), Invalid> {
        within("auth.code_digits", self.code_digits, 6, 10, "")?;
        within(
            "auth.code_ttl_secs",
            self.code_ttl_secs,
            60,
            3600,
            " seconds",
        )?;
        within("auth.code_max_attempts", self.code_max_attempts, 1, 10, "")?;
        if self.code_requests_per_window < 1 || self.code_request_window_secs == 0 {
            return invalid(
                "auth.code_requests_per_window",
                "must be at least 1 (and the window at least 1 second)",
            );
        }
        if !(15..=64).contains(&self.password_min_chars) {
            return invalid(
                "auth.password_min_chars",
                "must be between 15 (NIST SP 800-63B, single factor) and 64",
            );
        }
        if let Err(e) = self.password_params() {
            return invalid("auth.argon2_memory_kib", e.to_string());
        }
        if self.max_concurrent_hashes == 0 {
            return invalid("auth.max_concurrent_hashes", "must be at least 1");
        }
        Ok(())
    }
}

impl AuthSettings {
    /// The Argon2id parameters.
    pub fn password_params(
        &self,
    ) -> Result<anshin_vault::PasswordParams, anshin_vault::PasswordError> {
        anshin_vault::PasswordParams::new(
            self.argon2_memory_kib,
            self.argon2_iterations,
            self.argon2_parallelism,
        )
    }
}

/// `[limits]`: login limits and lockout (C8), checked before any password
/// hash; and the per-member caps of the catalog (a member's shop cannot
/// grow without bound: rows, files and search index all cost).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// Consecutive failures (password and code together) that lock an
    /// account; at most 100 (NIST SP 800-63B).
    pub lock_threshold: i64,
    /// Lock durations after the 1st, 2nd, 3rd and later locks in a row.
    pub lock_delays_secs: [u64; 4],
    /// Window of the per-address, per-network and global failure counts.
    pub window_secs: u64,
    /// Failures allowed per client address (IPv4 /32, IPv6 /128) per window.
    pub max_failures_per_ip: i64,
    /// Failures allowed per IPv4 /24 or IPv6 /64 per window.
    pub max_failures_per_network: i64,
    /// Failures allowed site-wide per window (credential stuffing ceiling).
    pub max_failures_global: i64,
    /// A password login needs a solved bot challenge (C7) once its client
    /// address has this many failures in the window, or its account this
    /// many consecutive failures; below `lock_threshold`.
    pub challenge_after_failures: i64,
    /// Site-wide failures per window that make attack level 1; each
    /// doubling adds a level (at most 6). From level 1, every password
    /// login needs a challenge, and challenges get harder per level.
    pub attack_level_step: i64,
    /// How long the unlock link mailed to a locked account's owner works.
    pub unlock_link_ttl_secs: u64,
    /// A throttled login's 429 is held this long first (no CPU: the
    /// connection waits), so a client that ignores Retry-After cannot turn
    /// cheap refusals into a flood; at most 10 000. 0: answer at once.
    pub throttled_delay_ms: u64,
    /// Proxies whose `X-Forwarded-For` is believed; the client address is
    /// the last one in that header not in this list. Empty: the peer.
    pub trusted_proxies: Vec<IpAddr>,
    /// Shipping addresses a member may keep (1–1000); one more is refused
    /// (409 `too_many_addresses`).
    pub max_addresses: u32,
    /// Live sessions a member may have (1–1000). A login beyond it is not
    /// refused: the member's least recently used sessions end instead.
    pub max_sessions: u32,
    /// Changes of personal data (phone, address added, edited or deleted,
    /// bank account) a member may make per `personal_data_window_secs`
    /// (1–10000); beyond: 429 `too_many_changes` until the window ends.
    pub max_personal_data_changes: i64,
    /// The window of `max_personal_data_changes` (60–604800 s).
    pub personal_data_window_secs: u64,
    /// Items one shop may hold, in any status (1 to 100 000).
    #[serde(default = "default_max_items_per_shop")]
    pub max_items_per_shop: i64,
    /// Images one item may have (1 to 20).
    #[serde(default = "default_max_images_per_item")]
    pub max_images_per_item: i64,
}

fn default_max_items_per_shop() -> i64 {
    1_000
}

fn default_max_images_per_item() -> i64 {
    10
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            lock_threshold: 10,
            lock_delays_secs: [60, 300, 900, 3600],
            window_secs: 900,
            max_failures_per_ip: 30,
            max_failures_per_network: 100,
            max_failures_global: 2000,
            challenge_after_failures: 3,
            attack_level_step: 100,
            unlock_link_ttl_secs: 86_400,
            throttled_delay_ms: 1000,
            trusted_proxies: Vec::new(),
            max_addresses: 20,
            max_sessions: 50,
            max_personal_data_changes: 30,
            personal_data_window_secs: 3600,
            max_items_per_shop: default_max_items_per_shop(),
            max_images_per_item: default_max_images_per_item(),
        }
    }
}

impl Section for LimitsSettings {
    fn check(&self) -> Result<(), Invalid> {
        if !(3..=100).contains(&self.lock_threshold) {
            return invalid(
                "limits.lock_threshold",
                "must be between 3 and 100 (NIST SP 800-63B: at most 100 failures without a lock)",
            );
        }
        if self.lock_delays_secs.iter().any(|d| *d == 0 || *d > 86_400) || self.window_secs == 0 {
            return invalid(
                "limits.lock_delays_secs",
                "delays must be between 1 and 86400 seconds",
            );
        }
        if self.max_failures_per_ip < 1
            || self.max_failures_per_network < 1
            || self.max_failures_global < 1
        {
            return invalid("limits.max_failures_per_ip", "limits must be at least 1");
        }
        if !(1..self.lock_threshold).contains(&self.challenge_after_failures) {
            return invalid(
                "limits.challenge_after_failures",
                "must be at least 1 and below limits.lock_threshold",
            );
        }
        if self.throttled_delay_ms > 10_000 {
            return invalid("limits.throttled_delay_ms", "must be at most 10000 (10 s)");
        }
        if self.attack_level_step < 1 {
            return invalid("limits.attack_level_step", "must be at least 1");
        }
        within("limits.max_addresses", self.max_addresses, 1, 1000, "")?;
        within("limits.max_sessions", self.max_sessions, 1, 1000, "")?;
        within(
            "limits.max_personal_data_changes",
            self.max_personal_data_changes,
            1,
            10_000,
            "",
        )?;
        within(
            "limits.personal_data_window_secs",
            self.personal_data_window_secs,
            60,
            604_800,
            " seconds",
        )?;
        within(
            "limits.max_items_per_shop",
            self.max_items_per_shop,
            1,
            100_000,
            "",
        )?;
        within(
            "limits.max_images_per_item",
            self.max_images_per_item,
            1,
            20,
            "",
        )?;
        Ok(())
    }
}

impl LimitsSettings {
    pub(crate) fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    pub(crate) fn personal_data_window(&self) -> Duration {
        Duration::from_secs(self.personal_data_window_secs)
    }

    pub(crate) fn policy(&self) -> LockPolicy {
        let d = self.lock_delays_secs.map(Duration::from_secs);
        LockPolicy {
            threshold: self.lock_threshold,
            delays: d,
        }
    }
}
