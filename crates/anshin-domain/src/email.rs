//! E-mail addresses, parsed at the edge and normalised so that one person
//! has one account: trimmed and lower-cased (RFC 5321 lets the local part
//! be case-sensitive, but no real provider treats `Taro@` and `taro@` as
//! different people, and treating them alike closes a duplicate-account
//! trick).

/// A syntactically valid, normalised address. Private field: the only way
/// to get one is [`EmailAddress::parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailAddress([redacted])")
    }
}

impl EmailAddress {
    /// Accepts `local@domain` with a dotted domain of letters, digits and
    /// hyphens, at most 254 bytes (RFC 5321 §4.5.3.1), no spaces or
    /// control characters, no quoted local parts.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim().to_ascii_lowercase();
        if s.len() > 254 || !s.is_ascii() {
            return None;
        }
        let (local, domain) = s.split_once('@')?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return None;
        }
        let local_ok = local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        (local_ok && domain_ok).then_some(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@` (a password must not be built from it).
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or("")
    }
}

/// A display name: 1 to 50 characters after trimming, no control
/// characters.
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl std::fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DisplayName([redacted])")
    }
}

impl DisplayName {
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        let n = s.chars().count();
        ((1..=50).contains(&n) && !s.chars().any(char::is_control)).then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_and_validates() {
        assert_eq!(
            EmailAddress::parse("  Taro.Yamada+shop@Example.JP ")
                .unwrap()
                .as_str(),
            "taro.yamada+shop@example.jp"
        );
        for bad in [
            "",
            "a",
            "a@",
            "@b.jp",
            "a@b",
            "a@@b.jp",
            "a b@c.jp",
            "a@b..jp",
            ".a@b.jp",
            "a@-b.jp",
            "たろう@example.jp",
            "a@b.jp\n",
        ] {
            assert!(
                EmailAddress::parse(bad).is_none() || bad.trim() != bad,
                "{bad:?} accepted"
            );
        }
        assert!(EmailAddress::parse(&format!("{}@example.jp", "a".repeat(65))).is_none());
        assert!(format!("{:?}", EmailAddress::parse("a@b.jp").unwrap()).contains("redacted"));
    }

    #[test]
    fn display_names() {
        assert_eq!(
            DisplayName::parse(" 山田 太郎 ").unwrap().as_str(),
            "山田 太郎"
        );
        assert!(DisplayName::parse("   ").is_none());
        assert!(DisplayName::parse("a\u{0}b").is_none());
        assert!(DisplayName::parse(&"あ".repeat(51)).is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = EmailAddress::parse(&s);
            let _ = DisplayName::parse(&s);
        }
    }
}
