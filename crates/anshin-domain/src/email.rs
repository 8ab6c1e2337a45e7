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

    /// The address as a notice to someone else may show it: the first
    /// character of the local part, `***`, and the domain
    /// (`t***@example.com`). Whoever reads it learns the provider, never
    /// the mailbox; a one-letter mailbox looks like any other.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((self.0.as_str(), ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

/// A display name: 1 to [`DisplayName::MAX_CHARS`] characters after
/// trimming, no control characters. A longer name is refused with
/// [`DisplayNameError::TooLong`], never cut: a cut name is not the name
/// the person typed.
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayName(String);

/// Why a display name was refused; never holds the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayNameError {
    /// Nothing but spaces.
    Empty,
    /// More than [`DisplayName::MAX_CHARS`] characters; `chars` is how
    /// many there were (after trimming), so the form can say so.
    TooLong { chars: usize },
    /// A control character (a line break, a NUL…).
    InvalidCharacter,
}

impl std::fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DisplayName([redacted])")
    }
}

impl DisplayName {
    /// The most characters (Unicode scalar values) a name may have.
    pub const MAX_CHARS: usize = 50;

    /// The name, trimmed, or why it is refused.
    pub fn check(raw: &str) -> Result<Self, DisplayNameError> {
        let s = raw.trim();
        let n = s.chars().count();
        if n == 0 {
            Err(DisplayNameError::Empty)
        } else if n > Self::MAX_CHARS {
            Err(DisplayNameError::TooLong { chars: n })
        } else if s.chars().any(char::is_control) {
            Err(DisplayNameError::InvalidCharacter)
        } else {
            Ok(Self(s.to_owned()))
        }
    }

    /// [`DisplayName::check`] without the reason (the store reads names
    /// back with it).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::check(raw).ok()
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
        assert_eq!(
            DisplayName::parse(&"あ".repeat(50)).unwrap().as_str(),
            "あ".repeat(50),
            "50 characters are kept whole"
        );
        assert_eq!(
            DisplayName::check(&format!("  {}  ", "あ".repeat(51))),
            Err(DisplayNameError::TooLong { chars: 51 }),
            "refused with its length, not cut"
        );
        assert_eq!(
            DisplayName::check(" \u{3000} "),
            Err(DisplayNameError::Empty)
        );
        assert_eq!(
            DisplayName::check("a\nb"),
            Err(DisplayNameError::InvalidCharacter)
        );
    }

    #[test]
    fn masked_addresses_show_the_first_letter_and_the_domain() {
        let m = |a: &str| EmailAddress::parse(a).unwrap().masked();
        assert_eq!(m("taro.yamada@example.com"), "t***@example.com");
        assert_eq!(m("t@example.com"), "t***@example.com");
        assert_eq!(m("Hanako+shop@Example.JP"), "h***@example.jp");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = EmailAddress::parse(&s);
            let _ = DisplayName::parse(&s);
            if let Some(e) = EmailAddress::parse(&s) {
                let masked = e.masked();
                prop_assert!(masked.len() <= e.as_str().len() + 3);
                prop_assert!(masked.contains("***@"));
            }
        }
    }
}
