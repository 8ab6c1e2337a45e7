//! The two languages of the site. A member's choice is stored with the
//! account (their mails follow it); a visitor's comes from a cookie or
//! `Accept-Language` (RFC 9110 §12.5.4, with q-values).

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

#[cfg(test)]
mod tests {
    use super::*;

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
