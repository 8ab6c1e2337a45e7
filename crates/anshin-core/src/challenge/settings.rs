//! The `[captcha]` section: which bot challenge, its difficulty and, for
//! a third-party provider, its keys and siteverify endpoint.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, Section, invalid, within};

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
