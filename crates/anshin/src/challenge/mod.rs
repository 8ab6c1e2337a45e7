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
//! This module never reads the clock except through `state.clock`, and
//! never lets a request through when verification cannot be done.

pub mod altcha;
pub mod provider;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::SECOND;
use crate::web::AppState;
use crate::web::errors::WebError;

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

impl From<ChallengeError> for WebError {
    fn from(e: ChallengeError) -> Self {
        match e {
            ChallengeError::Required => WebError::Forbidden("challenge_required"),
            ChallengeError::Invalid | ChallengeError::Unavailable => {
                WebError::Forbidden("challenge_failed")
            }
        }
    }
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
        serialize_with = "serialize_redacted",
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

    /// Checked at start with the rest of the configuration.
    pub fn check(&self) -> Result<(), crate::config::ConfigError> {
        let invalid = |key, env, reason: &str| {
            Err(crate::config::ConfigError::Invalid {
                key,
                env,
                reason: reason.to_owned(),
            })
        };
        if !(1_000..=MAX_DIFFICULTY).contains(&self.difficulty) {
            return invalid(
                "captcha.difficulty",
                "ANSHIN_CAPTCHA__DIFFICULTY",
                "must be between 1000 and 5000000",
            );
        }
        if !(30..=3600).contains(&self.expires_secs) {
            return invalid(
                "captcha.expires_secs",
                "ANSHIN_CAPTCHA__EXPIRES_SECS",
                "must be between 30 and 3600 seconds",
            );
        }
        if !(1..=60).contains(&self.timeout_secs) {
            return invalid(
                "captcha.timeout_secs",
                "ANSHIN_CAPTCHA__TIMEOUT_SECS",
                "must be between 1 and 60 seconds",
            );
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return invalid(
                "captcha.min_score",
                "ANSHIN_CAPTCHA__MIN_SCORE",
                "must be between 0.0 and 1.0",
            );
        }
        if self.provider != Provider::Altcha {
            if self.secret.is_none() || self.site_key.is_none() {
                return invalid(
                    "captcha.secret",
                    "ANSHIN_CAPTCHA__SECRET",
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
                        "ANSHIN_CAPTCHA__VERIFY_URL",
                        "must be https:// (plain http only to a loopback host): it carries the secret",
                    );
                }
            }
        }
        Ok(())
    }
}

fn serialize_redacted<S: serde::Serializer>(
    value: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

/// The challenge fields a form or JSON body may carry: flatten it into the
/// request type (`#[serde(flatten)] captcha: CaptchaFields`) and pass
/// `captcha.presented(provider)` to [`check`]. Forms carry the widget's own
/// field name; JSON API bodies carry `captcha` whatever the provider.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CaptchaFields {
    #[serde(default)]
    pub altcha: Option<String>,
    #[serde(default, rename = "g-recaptcha-response")]
    pub recaptcha: Option<String>,
    #[serde(default, rename = "h-captcha-response")]
    pub hcaptcha: Option<String>,
    #[serde(default, rename = "cf-turnstile-response")]
    pub turnstile: Option<String>,
    /// The JSON API's field, for every provider.
    #[serde(default)]
    pub captcha: Option<String>,
}

impl CaptchaFields {
    /// The value presented for `provider`: its form field, else `captcha`.
    pub fn presented(&self, provider: Provider) -> Option<&str> {
        let own = match provider {
            Provider::Altcha => &self.altcha,
            Provider::RecaptchaV2 | Provider::RecaptchaV3 => &self.recaptcha,
            Provider::Hcaptcha => &self.hcaptcha,
            Provider::Turnstile => &self.turnstile,
        };
        own.as_deref()
            .filter(|v| !v.trim().is_empty())
            .or(self.captcha.as_deref())
    }
}

/// Per-instance challenge state: the siteverify client, the current attack
/// level and the monitoring counters.
#[derive(Debug)]
pub struct Challenges {
    client: reqwest::Client,
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
    pub fn new(settings: &CaptchaSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .connect_timeout(Duration::from_secs(settings.timeout_secs))
            // The secret goes to the configured endpoint only.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("captcha HTTP client: {e}"))?;
        Ok(Self {
            client,
            level: AtomicU8::new(0),
            issued: AtomicU64::new(0),
            passed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            missing: AtomicU64::new(0),
        })
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
pub fn issue(state: &AppState) -> altcha::Challenge {
    let settings = &state.settings.captcha;
    let now_secs = state.clock.now().div_euclid(SECOND);
    let expires = now_secs.saturating_add(i64::try_from(settings.expires_secs).unwrap_or(600));
    let maxnumber = settings.difficulty_for(state.challenges.level());
    state.challenges.issued.fetch_add(1, Ordering::Relaxed);
    altcha::create(
        state.keys.challenge_key(),
        maxnumber,
        expires,
        &mut rand::rng(),
    )
}

/// Checks the challenge a request presented: the `altcha` field (or the
/// provider's token) as sent by the client, `None` or empty if absent.
/// `difficulty_level` is the attack level the caller requires: an ALTCHA
/// solution issued for an easier level is refused. A passed ALTCHA
/// solution is used up; presenting it again fails.
pub async fn check(
    state: &AppState,
    presented: Option<&str>,
    remote_ip: IpAddr,
    difficulty_level: u8,
) -> Result<(), ChallengeError> {
    let settings = &state.settings.captcha;
    let result = match presented.map(str::trim).filter(|p| !p.is_empty()) {
        None => Err(ChallengeError::Required),
        Some(p) if settings.provider == Provider::Altcha => {
            check_altcha(state, p, difficulty_level).await
        }
        Some(p) => provider::verify(&state.challenges.client, settings, p, remote_ip).await,
    };
    let c = &state.challenges;
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

async fn check_altcha(state: &AppState, presented: &str, level: u8) -> Result<(), ChallengeError> {
    let now = state.clock.now();
    let verified = altcha::verify(
        state.keys.challenge_key(),
        presented,
        now.div_euclid(SECOND),
    )
    .map_err(|e| {
        tracing::debug!(reason = %e, "altcha solution refused");
        ChallengeError::Invalid
    })?;
    if verified.maxnumber < state.settings.captcha.difficulty_for(level) {
        tracing::debug!("altcha solution easier than the attack level requires");
        return Err(ChallengeError::Invalid);
    }
    let hash: [u8; 32] = Sha256::digest(verified.challenge.as_bytes()).into();
    let first = state
        .store
        .challenges()
        .consume(&hash, verified.expires_at.saturating_mul(SECOND))
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
    fn c07_errors_map_to_stable_codes() {
        let code = |e| match WebError::from(e) {
            WebError::Forbidden(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(ChallengeError::Required), "challenge_required");
        assert_eq!(code(ChallengeError::Invalid), "challenge_failed");
        assert_eq!(code(ChallengeError::Unavailable), "challenge_failed");
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

    #[derive(Debug, Deserialize)]
    struct LoginForm {
        email: String,
        #[serde(flatten)]
        captcha: CaptchaFields,
    }

    #[test]
    fn c07_challenge_fields_flatten_into_forms_and_json() {
        let f: LoginForm =
            serde_urlencoded::from_str("email=a%40example.jp&altcha=abc&h-captcha-response=tok")
                .unwrap();
        assert_eq!(f.email, "a@example.jp");
        assert_eq!(f.captcha.presented(Provider::Altcha), Some("abc"));
        assert_eq!(f.captcha.presented(Provider::Hcaptcha), Some("tok"));
        assert_eq!(f.captcha.presented(Provider::Turnstile), None);
        let j: LoginForm =
            serde_json::from_str(r#"{"email":"a@example.jp","captcha":"tok2"}"#).unwrap();
        assert_eq!(j.captcha.presented(Provider::RecaptchaV3), Some("tok2"));
        assert_eq!(j.captcha.presented(Provider::Altcha), Some("tok2"));
        let none: LoginForm = serde_urlencoded::from_str("email=x").unwrap();
        assert_eq!(none.captcha.presented(Provider::Altcha), None);
    }

    #[test]
    fn c07_captcha_section_loads_from_the_config_file_and_is_redacted_in_config_show() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("anshin.toml");
        std::fs::write(
            &file,
            "[captcha]\nprovider = \"recaptcha_v3\"\nsite_key = \"site\"\n\
             secret = \"hunter2-v3\"\nmin_score = 0.7\nexpected_action = \"login\"\n",
        )
        .unwrap();
        let s = crate::config::Settings::load(Some(&file), Some(dir.path())).unwrap();
        assert_eq!(s.captcha.provider, Provider::RecaptchaV3);
        assert_eq!(s.captcha.min_score, 0.7);
        assert_eq!(s.captcha.difficulty, 50_000);
        assert_eq!(
            s.captcha.verify_url().unwrap().as_str(),
            "https://www.google.com/recaptcha/api/siteverify"
        );
        let shown = s.effective_toml().unwrap();
        assert!(!shown.contains("hunter2-v3"), "{shown}");
        assert!(shown.contains("[captcha]"), "{shown}");

        std::fs::write(&file, "[captcha]\nprovider = \"turnstile\"\n").unwrap();
        let err = crate::config::Settings::load(Some(&file), Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("captcha.secret"), "{err}");
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
