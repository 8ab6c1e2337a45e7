//! Japanese and English, from the first page. Every user-visible string
//! lives in a message catalog (`locales/*.toml`); the catalog is a typed
//! struct, so a template cannot use a key that a language lacks, and a
//! catalog missing a key fails the build's tests (and startup), not a page.
//!
//! The language comes from the `lang` cookie, else `Accept-Language`
//! (RFC 9110 §12.5.4, with q-values), else the configured default.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(text: &str) -> Option<Lang> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks the supported language the client prefers most, from an
    /// `Accept-Language` value. Malformed entries are skipped.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1000u16;
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    q = parse_q(v).unwrap_or(0);
                }
            }
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::parse(primary) else {
                continue;
            };
            if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

/// q-value in thousandths (RFC 9110 §12.4.2).
fn parse_q(v: &str) -> Option<u16> {
    let v = v.trim();
    if v.len() > 5 {
        return None;
    }
    let f: f32 = v.parse().ok()?;
    if !(0.0..=1.0).contains(&f) {
        return None;
    }
    // In range 0..=1000 by the check above.
    Some((f * 1000.0).round() as u16)
}

/// All strings of one language. Field names are the message keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub lang_name: String,
    pub site_name: String,
    pub site_tagline: String,
    pub nav_home: String,
    pub nav_language: String,
    pub skip_to_content: String,
    pub home_title: String,
    pub home_lead: String,
    pub home_promises_title: String,
    pub home_promise_tls: String,
    pub home_promise_privacy: String,
    pub home_promise_sessions: String,
    pub language_title: String,
    pub language_lead: String,
    pub language_submit: String,
    pub error_request_id: String,
    pub error_back_home: String,
    pub error_400_title: String,
    pub error_400_body: String,
    pub error_403_title: String,
    pub error_403_body: String,
    pub error_403_csrf_body: String,
    pub error_404_title: String,
    pub error_404_body: String,
    pub error_405_title: String,
    pub error_405_body: String,
    pub error_408_title: String,
    pub error_408_body: String,
    pub error_413_title: String,
    pub error_413_body: String,
    pub error_415_title: String,
    pub error_415_body: String,
    pub error_429_title: String,
    pub error_429_body: String,
    pub error_500_title: String,
    pub error_500_body: String,
    pub error_503_title: String,
    pub error_503_body: String,
    pub footer_security: String,
}

/// Both catalogs, parsed once at start.
#[derive(Debug)]
pub struct Catalogs {
    ja: Catalog,
    en: Catalog,
}

impl Catalogs {
    pub fn load() -> Result<Self, toml::de::Error> {
        Ok(Self {
            ja: toml::from_str(include_str!("../locales/ja.toml"))?,
            en: toml::from_str(include_str!("../locales/en.toml"))?,
        })
    }

    pub fn get(&self, lang: Lang) -> &Catalog {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_parse_with_every_key() {
        let c = Catalogs::load().unwrap();
        assert_eq!(c.get(Lang::Ja).lang_name, "日本語");
        assert_eq!(c.get(Lang::En).lang_name, "English");
    }

    #[test]
    fn accept_language_respects_q_values() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,ja;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("fr, ja;q=0.5, en;q=0.4"),
            Some(Lang::Ja)
        );
        assert_eq!(Lang::from_accept_language("ja-JP"), Some(Lang::Ja));
        assert_eq!(
            Lang::from_accept_language("en;q=0, ja;q=0.1"),
            Some(Lang::Ja)
        );
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("en;q=abc"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }
}
