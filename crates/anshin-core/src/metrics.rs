//! Counters for monitoring (C29 groundwork), served in the Prometheus text
//! format on the ops listener at `/metrics`. Only counts: no label ever
//! carries personal data.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub logins_succeeded: Counter,
    pub logins_failed: Counter,
    /// Requests refused by the address, network or global window (429).
    pub throttled: Counter,
    /// Attempts refused because the account was locked.
    pub locked_attempts: Counter,
    /// Locks started.
    pub account_locks: Counter,
    pub unlocks: Counter,
}

impl Metrics {
    /// Prometheus text exposition; `hashes` is the Argon2id computations.
    pub fn render(&self, hashes: u64) -> String {
        let mut out = String::new();
        let mut line = |name: &str, help: &str, v: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            ));
        };
        line(
            "anshin_password_hashes_total",
            "Argon2id computations (hash, verify, dummy).",
            hashes,
        );
        line(
            "anshin_logins_succeeded_total",
            "Successful logins.",
            self.logins_succeeded.get(),
        );
        line(
            "anshin_logins_failed_total",
            "Failed login attempts.",
            self.logins_failed.get(),
        );
        line(
            "anshin_login_throttled_total",
            "Login requests refused by address, network or global limits.",
            self.throttled.get(),
        );
        line(
            "anshin_login_locked_attempts_total",
            "Attempts refused because the account was locked.",
            self.locked_attempts.get(),
        );
        line(
            "anshin_account_locks_total",
            "Account locks started.",
            self.account_locks.get(),
        );
        line(
            "anshin_account_unlocks_total",
            "Logins through an owner's unlock link.",
            self.unlocks.get(),
        );
        out
    }
}
