//! Third-party CAPTCHA services, verified server-side through their
//! `siteverify` APIs (reCAPTCHA v2 and v3, hCaptcha, Cloudflare Turnstile
//! all speak the same protocol: a form POST of `secret`, `response` and
//! `remoteip`, answered with JSON `{success, score?, action?, hostname?,
//! "error-codes"?}`).
//!
//! Fail closed: an unreachable service, a timeout, a non-200 answer, a
//! body that is not the expected JSON or larger than 64 KiB all refuse the
//! request ([`ChallengeError::Unavailable`] or `Invalid`), never let it
//! through.
//!
//! The secret is sent only to the configured `verify_url` and never
//! logged. The HTTP request itself is the [`SiteVerifier`]'s (the binary
//! provides one on its HTTP client, with the configured timeout and no
//! redirects, so the secret cannot be forwarded); the policy is here.

use std::net::IpAddr;

use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::settings::{CaptchaSettings, Provider};
use super::siteverify::SiteVerifier;
use super::state::ChallengeError;

/// Largest siteverify answer read; real ones are a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The siteverify answer, as the providers document it.
#[derive(Debug, Deserialize)]
struct SiteVerify {
    success: bool,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

/// Verifies a provider token.
pub(super) async fn verify(
    verifier: &dyn SiteVerifier,
    settings: &CaptchaSettings,
    token: &str,
    remote_ip: IpAddr,
) -> Result<(), ChallengeError> {
    let Some(secret) = settings.secret.as_ref() else {
        // Refused at start by the settings check; fail closed anyway.
        return Err(ChallengeError::Unavailable);
    };
    let Some(url) = settings.verify_url() else {
        return Err(ChallengeError::Unavailable);
    };
    let ip = remote_ip.to_string();
    let form = [
        // Sent only to the configured siteverify endpoint (TLS, or
        // loopback in tests); this is what the secret is for.
        ("secret", secret.expose_secret()),
        ("response", token),
        ("remoteip", ip.as_str()),
    ];
    let (status, body) = verifier
        .post_form(&url, &form, MAX_BODY)
        .await
        .map_err(|kind| {
            tracing::warn!(
                provider = settings.provider.name(),
                error = kind,
                "captcha service unreachable"
            );
            ChallengeError::Unavailable
        })?;
    if status != 200 {
        tracing::warn!(
            provider = settings.provider.name(),
            status,
            "captcha service answered with an error status"
        );
        return Err(ChallengeError::Unavailable);
    }
    let answer: SiteVerify = serde_json::from_slice(&body).map_err(|_| {
        tracing::warn!(
            provider = settings.provider.name(),
            "captcha service answer is not siteverify JSON"
        );
        ChallengeError::Unavailable
    })?;
    judge(settings, &answer)
}

/// Applies the configured policy to a siteverify answer.
fn judge(settings: &CaptchaSettings, answer: &SiteVerify) -> Result<(), ChallengeError> {
    let refuse = |why: &'static str| {
        tracing::info!(
            provider = settings.provider.name(),
            why,
            error_codes = ?answer.error_codes,
            "captcha refused"
        );
        Err(ChallengeError::Invalid)
    };
    if !answer.success {
        return refuse("not successful");
    }
    if settings.provider == Provider::RecaptchaV3 {
        // v3 never says "bot"; it gives a score (1.0 human … 0.0 bot).
        match answer.score {
            Some(score) if score >= settings.min_score => {}
            Some(_) => return refuse("score below min_score"),
            None => return refuse("no score"),
        }
    }
    if let Some(expected) = &settings.expected_action
        && answer.action.as_deref() != Some(expected.as_str())
    {
        return refuse("wrong action");
    }
    if let Some(expected) = &settings.expected_hostname
        && !answer
            .hostname
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(expected))
    {
        return refuse("wrong hostname");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(provider: Provider) -> CaptchaSettings {
        CaptchaSettings {
            provider,
            ..CaptchaSettings::default()
        }
    }

    fn answer(json: &str) -> SiteVerify {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn c07_v3_score_threshold_and_action() {
        let mut s = settings(Provider::RecaptchaV3);
        s.expected_action = Some("login".into());
        let ok = answer(r#"{"success":true,"score":0.9,"action":"login","hostname":"x"}"#);
        assert_eq!(judge(&s, &ok), Ok(()));
        let low = answer(r#"{"success":true,"score":0.1,"action":"login"}"#);
        assert_eq!(judge(&s, &low), Err(ChallengeError::Invalid));
        let none = answer(r#"{"success":true,"action":"login"}"#);
        assert_eq!(judge(&s, &none), Err(ChallengeError::Invalid));
        let other = answer(r#"{"success":true,"score":0.9,"action":"signup"}"#);
        assert_eq!(judge(&s, &other), Err(ChallengeError::Invalid));
    }

    #[test]
    fn c07_unsuccessful_answer_is_refused_for_every_provider() {
        for p in [
            Provider::RecaptchaV2,
            Provider::RecaptchaV3,
            Provider::Hcaptcha,
            Provider::Turnstile,
        ] {
            let a = answer(r#"{"success":false,"error-codes":["invalid-input-response"]}"#);
            assert_eq!(judge(&settings(p), &a), Err(ChallengeError::Invalid));
        }
    }

    #[test]
    fn c07_expected_hostname_is_enforced() {
        let mut s = settings(Provider::Turnstile);
        s.expected_hostname = Some("shop.example.jp".into());
        let good = answer(r#"{"success":true,"hostname":"shop.example.jp"}"#);
        assert_eq!(judge(&s, &good), Ok(()));
        let bad = answer(r#"{"success":true,"hostname":"evil.example"}"#);
        assert_eq!(judge(&s, &bad), Err(ChallengeError::Invalid));
    }
}
