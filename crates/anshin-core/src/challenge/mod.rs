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
//!   `web/headers.rs`) and adding the provider's widget to the templates;
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

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use anshin_domain::Timestamp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use provider::SiteVerifier;

use crate::Services;
use crate::settings::{Invalid, Section, invalid, within};

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

/// Which CAPTCHA the site uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Altcha,
    RecaptchaV2,
    RecaptchaV3,
    Hcaptcha,
    Turnstile,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Altcha => "altcha",
            Provider::RecaptchaV2 => "recaptcha_v2",
            Provider::RecaptchaV3 => "recaptcha_v3",
            Provider::Hcaptcha => "hcaptcha",
            Provider::Turnstile => "turnstile",
        }
    }

    /// The form field the provider's widget fills (the JSON API takes the
    /// same value in its `captcha` field).
    pub fn form_field(self) -> &'static str {
        match self {
            Provider::Altcha => "altcha",
            Provider::RecaptchaV2 | Provider::RecaptchaV3 => "g-recaptcha-response",
            Provider::Hcaptcha => "h-captcha-response",
            Provider::Turnstile => "cf-turnstile-response",
        }
    }

    /// The provider's real siteverify endpoint.
    pub fn default_verify_url(self) -> Option<&'static str> {
        match self {
            Provider::Altcha => None,
            Provider::RecaptchaV2 | Provider::RecaptchaV3 => {
                Some("https://www.google.com/recaptcha/api/siteverify")
            }
            Provider::Hcaptcha => Some("https://api.hcaptcha.com/siteverify"),
            Provider::Turnstile => {
                Some("https://challenges.cloudflare.com/turnstile/v0/siteverify")
            }
        }
    }
}

/// `[captcha]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptchaSettings {
    /// `altcha` (self-hosted, default), `recaptcha_v2`, `recaptcha_v3`,
    /// `hcaptcha` or `turnstile`.
    pub provider: Provider,
    /// The provider's public site key (for its widget); third-party only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_key: Option<String>,
    /// The provider's secret; third-party only. Redacted by `config show`.
    #[serde(
        serialize_with = "crate::settings::redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret: Option<SecretString>,
    /// Siteverify endpoint; unset means the provider's real one. HTTPS, or
    /// plain HTTP to a loopback host (tests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_url: Option<url::Url>,
    /// reCAPTCHA v3: lowest score accepted (0.0 bot … 1.0 human).
    pub min_score: f64,
    /// If set, the action the provider reports must be this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_action: Option<String>,
    /// If set, the hostname the provider reports must be this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_hostname: Option<String>,
    /// Time allowed for a siteverify call; slower counts as a failure.
    pub timeout_secs: u64,
    /// ALTCHA: `maxnumber` at attack level 0 (the expected work is half of
    /// it in SHA-256 computations).
    pub difficulty: u64,
    /// ALTCHA: how long an issued challenge may be solved and submitted.
    pub expires_secs: u64,
}

/// Highest `maxnumber` issued, whatever the attack level: about two
/// seconds of a phone's CPU.
pub const MAX_DIFFICULTY: u64 = 5_000_000;

impl Default for CaptchaSettings {
    fn default() -> Self {
        Self {
            provider: Provider::Altcha,
            site_key: None,
            secret: None,
            verify_url: None,
            min_score: 0.5,
            expected_action: None,
            expected_hostname: None,
            timeout_secs: 5,
            difficulty: 50_000,
            expires_secs: 600,
        }
    }
}

impl CaptchaSettings {
    /// The ALTCHA `maxnumber` for an attack level: doubled per level from
    /// `difficulty`, capped at [`MAX_DIFFICULTY`] (level 0: 50 000 by
    /// default; level 6: 3 200 000).
    pub fn difficulty_for(&self, level: u8) -> u64 {
        let factor = 1u64 << u32::from(level.min(16));
        self.difficulty.saturating_mul(factor).min(MAX_DIFFICULTY)
    }

    /// The siteverify endpoint in effect (the provider's real one unless
    /// overridden); `None` for ALTCHA.
    pub fn verify_url(&self) -> Option<url::Url> {
        self.verify_url.clone().or_else(|| {
            self.provider
                .default_verify_url()
                .and_then(|u| url::Url::parse(u).ok())
        })
    }
}

impl Section for CaptchaSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "captcha.difficulty",
            self.difficulty,
            1_000,
            MAX_DIFFICULTY,
            "",
        )?;
        within(
            "captcha.expires_secs",
            self.expires_secs,
            30,
            3600,
            " seconds",
        )?;
        within("captcha.timeout_secs", self.timeout_secs, 1, 60, " seconds")?;
        if !(0.0..=1.0).contains(&self.min_score) {
            return invalid("captcha.min_score", "must be between 0.0 and 1.0");
        }
        if self.provider != Provider::Altcha {
            if self.secret.is_none() || self.site_key.is_none() {
                return invalid(
                    "captcha.secret",
                    "captcha.site_key and captcha.secret are required for this provider",
                );
            }
            if let Some(url) = &self.verify_url {
                let loopback = match url.host() {
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                };
                if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                    return invalid(
                        "captcha.verify_url",
                        "must be https:// (plain http only to a loopback host): it carries the secret",
                    );
                }
            }
        }
        Ok(())
    }
}

/// Per-instance challenge state: the siteverify client, the current attack
/// level and the monitoring counters.
#[derive(Debug)]
pub struct Challenges {
    verifier: Arc<dyn SiteVerifier>,
    level: AtomicU8,
    issued: AtomicU64,
    passed: AtomicU64,
    failed: AtomicU64,
    missing: AtomicU64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c07_difficulty_rises_with_the_attack_level_and_is_capped() {
        let s = CaptchaSettings::default();
        assert_eq!(s.difficulty_for(0), 50_000);
        assert_eq!(s.difficulty_for(1), 100_000);
        assert_eq!(s.difficulty_for(6), 3_200_000);
        assert_eq!(s.difficulty_for(7), MAX_DIFFICULTY);
        assert_eq!(s.difficulty_for(255), MAX_DIFFICULTY);
    }

    #[test]
    fn c07_third_party_provider_needs_secret_and_safe_url() {
        let mut s = CaptchaSettings {
            provider: Provider::Hcaptcha,
            ..CaptchaSettings::default()
        };
        assert!(s.check().is_err(), "no secret");
        s.site_key = Some("site".into());
        s.secret = Some(SecretString::from("s3cret".to_owned()));
        assert!(s.check().is_ok());
        assert_eq!(
            s.verify_url().unwrap().as_str(),
            "https://api.hcaptcha.com/siteverify"
        );
        s.verify_url = Some(url::Url::parse("http://verify.example/siteverify").unwrap());
        assert!(s.check().is_err(), "plain http to a remote host");
        s.verify_url = Some(url::Url::parse("http://127.0.0.1:9/siteverify").unwrap());
        assert!(s.check().is_ok());
    }

    #[test]
    fn c07_secret_is_redacted_when_shown() {
        let s = CaptchaSettings {
            secret: Some(SecretString::from("hunter2-captcha".to_owned())),
            ..CaptchaSettings::default()
        };
        let shown = format!("{} {:?}", toml::to_string(&s).unwrap(), s);
        assert!(!shown.contains("hunter2-captcha"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
