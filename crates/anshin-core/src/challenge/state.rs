//! What an instance keeps about bot challenges: why one is refused, the
//! siteverify client, the current attack level and the counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::siteverify::SiteVerifier;

/// Why a request's challenge is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The request needs a challenge and carries none.
    #[error("challenge required")]
    Required,
    /// Presented but wrong: forged, tampered, expired, replayed, too easy,
    /// or refused by the provider.
    #[error("challenge failed")]
    Invalid,
    /// Could not be verified (provider unreachable, slow or answering
    /// nonsense; database down). Refused all the same: fail closed.
    #[error("challenge could not be verified")]
    Unavailable,
}

/// Per-instance challenge state: the siteverify client, the current attack
/// level and the monitoring counters.
#[derive(Debug)]
pub struct Challenges {
    pub(super) verifier: Arc<dyn SiteVerifier>,
    level: AtomicU8,
    pub(super) issued: AtomicU64,
    pub(super) passed: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) missing: AtomicU64,
}

/// A snapshot of the counters since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub issued: u64,
    pub passed: u64,
    pub failed: u64,
    /// Requests that needed a challenge and carried none.
    pub missing: u64,
}

impl Challenges {
    /// `verifier` posts siteverify forms for third-party providers (it
    /// must time out after `captcha.timeout_secs` and follow no redirect).
    pub fn new(verifier: Arc<dyn SiteVerifier>) -> Self {
        Self {
            verifier,
            level: AtomicU8::new(0),
            issued: AtomicU64::new(0),
            passed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            missing: AtomicU64::new(0),
        }
    }

    /// The attack level new challenges are issued for (0: calm).
    pub fn level(&self) -> u8 {
        self.level.load(Ordering::Relaxed)
    }

    /// Raises or lowers the difficulty of challenges issued from now on.
    pub fn set_level(&self, level: u8) {
        self.level.store(level, Ordering::Relaxed);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            issued: self.issued.load(Ordering::Relaxed),
            passed: self.passed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            missing: self.missing.load(Ordering::Relaxed),
        }
    }
}
