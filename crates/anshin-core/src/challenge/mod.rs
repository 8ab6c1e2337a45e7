//! Bots are stopped by a CAPTCHA (C7).
//!
//! One entry point, [`check`], decides whether a request that needs a
//! challenge (sign-up, code requests, risky logins: the caller decides
//! when) presented a good one. Which kind is configured in `[captcha]`:
//!
//! - `altcha` (default): our own proof-of-work challenge ([`altcha`]),
//!   ALTCHA-compatible, served by `GET /api/v1/challenge` and solved in the
//!   browser by `static/altcha.js` and its worker. No third party sees the
//!   visitor, and it works under the site's strict CSP. Each solution is
//!   accepted once, across instances (the `used_challenges` table), and
//!   its difficulty rises with the attack level ([`CaptchaSettings::difficulty_for`]).
//! - `recaptcha_v2`, `recaptcha_v3`, `hcaptcha`, `turnstile`: the token
//!   from the provider's widget, verified through its siteverify API
//!   ([`provider`]), failing closed. **Their page scripts and frames are
//!   third-party**: choosing one means extending the Content-Security-Policy
//!   (`script-src`, `frame-src`, `connect-src` for the provider's hosts, see
//!   `crates/anshin/src/web/common/headers.rs`) and adding the provider's widget to the templates;
//!   neither is done here, deliberately, so the default stays first-party.
//!
//! Counters of issued, passed, failed and missing challenges are kept in
//! [`Challenges`] for monitoring, and each outcome is logged (no personal
//! data: never the token, never the address).
//!
//! This module never reads the clock except through the injected clock,
//! and never lets a request through when verification cannot be done.

pub mod altcha;
pub mod provider;

pub mod settings;
mod siteverify;
pub mod state;

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use anshin_domain::Timestamp;
use sha2::{Digest, Sha256};

pub use settings::{CaptchaSettings, MAX_DIFFICULTY, Provider};
pub use siteverify::{NoSiteVerifier, SiteVerifier};
pub use state::{ChallengeError, Challenges, Counts};

use crate::Services;

/// Issues an ALTCHA challenge at the current attack level.
pub fn issue(svc: &Services) -> altcha::Challenge {
    let settings = &svc.settings.captcha;
    let now_secs = svc.now().secs();
    let expires = now_secs.saturating_add(i64::try_from(settings.expires_secs).unwrap_or(600));
    let maxnumber = settings.difficulty_for(svc.challenges.level());
    svc.challenges.issued.fetch_add(1, Ordering::Relaxed);
    altcha::create(
        svc.keys.challenge_key(),
        maxnumber,
        expires,
        &mut svc.random.rng(),
    )
}

/// Checks the challenge a request presented: the `altcha` field (or the
/// provider's token) as sent by the client, `None` or empty if absent.
/// `difficulty_level` is the attack level the caller requires: an ALTCHA
/// solution issued for an easier level is refused. A passed ALTCHA
/// solution is used up; presenting it again fails.
pub async fn check(
    svc: &Services,
    presented: Option<&str>,
    remote_ip: IpAddr,
    difficulty_level: u8,
) -> Result<(), ChallengeError> {
    let settings = &svc.settings.captcha;
    let result = match presented.map(str::trim).filter(|p| !p.is_empty()) {
        None => Err(ChallengeError::Required),
        Some(p) if settings.provider == Provider::Altcha => {
            check_altcha(svc, p, difficulty_level).await
        }
        Some(p) => provider::verify(svc.challenges.verifier.as_ref(), settings, p, remote_ip).await,
    };
    let c = &svc.challenges;
    let (counter, outcome) = match result {
        Ok(()) => (&c.passed, "passed"),
        Err(ChallengeError::Required) => (&c.missing, "missing"),
        Err(ChallengeError::Invalid) => (&c.failed, "failed"),
        Err(ChallengeError::Unavailable) => (&c.failed, "unverifiable"),
    };
    counter.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        provider = settings.provider.name(),
        outcome,
        "bot challenge checked"
    );
    result
}

async fn check_altcha(svc: &Services, presented: &str, level: u8) -> Result<(), ChallengeError> {
    let verified =
        altcha::verify(svc.keys.challenge_key(), presented, svc.now().secs()).map_err(|e| {
            tracing::debug!(reason = %e, "altcha solution refused");
            ChallengeError::Invalid
        })?;
    if verified.maxnumber < svc.settings.captcha.difficulty_for(level) {
        tracing::debug!("altcha solution easier than the attack level requires");
        return Err(ChallengeError::Invalid);
    }
    let hash: [u8; 32] = Sha256::digest(verified.challenge.as_bytes()).into();
    let first = svc
        .store
        .challenges()
        .consume(
            &hash,
            Timestamp::from_micros(verified.expires_at.saturating_mul(1_000_000)),
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot record a used challenge");
            ChallengeError::Unavailable
        })?;
    if first {
        Ok(())
    } else {
        tracing::debug!("altcha solution replayed");
        Err(ChallengeError::Invalid)
    }
}
