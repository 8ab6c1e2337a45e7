//! The bot-challenge fields a form or JSON body may carry (C7): each
//! provider's widget fills a field of its own name.

use anshin_core::challenge::Provider;
use serde::Deserialize;

/// The challenge fields a form or JSON body may carry: flatten it into the
/// request type (`#[serde(flatten)] captcha: CaptchaFields`) and pass
/// `captcha.presented(provider)` to the use case. Forms carry the widget's own
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
