//! The catalog's words: what a shop and an item are made of, each parsed
//! at the edge with its limits, and the closed sets of their states.
//!
//! Texts are trimmed and bounded in *characters* (a Japanese title of 80
//! characters is 240 bytes of UTF-8). Control characters are refused in
//! one-line texts, and so are the Unicode bidirectional overrides
//! (U+202A–U+202E, U+2066–U+2069) everywhere: they make a title read
//! differently from what it holds ("Trojan Source", CVE-2021-42574), which
//! a buyer should never see on a price tag. Descriptions are Markdown
//! source: they keep line breaks and tabs; the core renders and sanitises
//! them for display, the store keeps the source.
//!
//! [`MediaKey`] is the name of a stored image file. Only the server makes
//! one (a kind, a UUID and an extension), and [`MediaKey::parse`] accepts
//! nothing else, so a key read from a URL can never walk out of the media
//! directory or name another bucket's object (`../`, `%2e%2e`, `\\`,
//! absolute paths, NUL bytes are all refused by the grammar).

use uuid::Uuid;

use crate::UnknownValue;

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A one-line text of `1..=max` characters after trimming: no control
/// characters, no bidi overrides.
fn one_line(raw: &str, max: usize) -> Option<String> {
    let s = raw.trim();
    let n = s.chars().count();
    ((1..=max).contains(&n) && !s.chars().any(|c| c.is_control() || is_bidi_control(c)))
        .then(|| s.to_owned())
}

/// A multi-line text of `0..=max` characters: `\r\n` and `\r` become
/// `\n`, trailing space is trimmed; tabs and line breaks are the only
/// control characters kept.
fn multi_line(raw: &str, max: usize) -> Option<String> {
    let s = raw.replace("\r\n", "\n").replace('\r', "\n");
    let s = s.trim_end();
    let s = s.trim_start_matches('\n');
    let n = s.chars().count();
    let ok = n <= max
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c));
    ok.then(|| s.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $parse:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Most characters allowed.
            pub const MAX_CHARS: usize = $max;

            /// `None` when the text breaks the rules above.
            pub fn parse(raw: &str) -> Option<Self> {
                $parse(raw, Self::MAX_CHARS).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A shop's name: one line, 1 to 40 characters.
    ShopName,
    one_line,
    40
);
text_type!(
    /// A shop's description, Markdown source: up to 2,000 characters.
    ShopDescription,
    multi_line,
    2_000
);
text_type!(
    /// An item's title: one line, 1 to 80 characters.
    ItemTitle,
    one_line,
    80
);
text_type!(
    /// An item's description, Markdown source: up to 10,000 characters.
    ItemDescription,
    multi_line,
    10_000
);

/// How many of an item there are: a count from 0 to [`Stock::MAX`], or
/// unlimited (`None` in [`Stock::count`], for digital goods later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stock(Option<u32>);

impl Stock {
    /// 99,999: a creator's shop, not a warehouse; and far from overflow.
    pub const MAX: u32 = 99_999;
    pub const UNLIMITED: Stock = Stock(None);

    /// `None` above [`Stock::MAX`].
    pub const fn limited(count: u32) -> Option<Self> {
        if count <= Self::MAX {
            Some(Self(Some(count)))
        } else {
            None
        }
    }

    /// What a person types: digits (full-width too, `,` allowed), at
    /// most [`Stock::MAX`]. Empty is `None` here; the form decides
    /// whether empty means [`Stock::UNLIMITED`].
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let mut n: u32 = 0;
        for c in t.chars() {
            let d = match c {
                '0'..='9' => c as u32 - '0' as u32,
                '０'..='９' => c as u32 - '０' as u32,
                ',' | '，' => continue,
                _ => return None,
            };
            n = n.checked_mul(10)?.checked_add(d)?;
            if n > Self::MAX {
                return None;
            }
        }
        Self::limited(n)
    }

    /// The count, or `None` for unlimited.
    pub const fn count(self) -> Option<u32> {
        self.0
    }

    /// What the store keeps: `NULL` for unlimited.
    pub fn to_db(self) -> Option<i64> {
        self.0.map(i64::from)
    }

    /// What the store read; `None` if it breaks the rules.
    pub fn from_db(value: Option<i64>) -> Option<Self> {
        match value {
            None => Some(Self::UNLIMITED),
            Some(n) => u32::try_from(n).ok().and_then(Self::limited),
        }
    }
}

/// Where an item stands. Only `OnSale` and `SoldOut` are shown to anyone
/// but the shop's owner; `Draft` (not ready) and `Hidden` (taken down by
/// the owner) answer 404 to everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Draft,
    OnSale,
    SoldOut,
    Hidden,
}

impl ItemStatus {
    pub const ALL: [ItemStatus; 4] = [
        ItemStatus::Draft,
        ItemStatus::OnSale,
        ItemStatus::SoldOut,
        ItemStatus::Hidden,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Draft => "draft",
            ItemStatus::OnSale => "on_sale",
            ItemStatus::SoldOut => "sold_out",
            ItemStatus::Hidden => "hidden",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(UnknownValue { set: "item status" })
    }

    /// Whether anyone may see the item (if its shop is open).
    pub fn is_public(self) -> bool {
        matches!(self, ItemStatus::OnSale | ItemStatus::SoldOut)
    }
}

/// Whether a shop is open. A closed shop and all its items answer 404 to
/// everyone but the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopStatus {
    Open,
    Closed,
}

impl ShopStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShopStatus::Open => "open",
            ShopStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        match text {
            "open" => Ok(ShopStatus::Open),
            "closed" => Ok(ShopStatus::Closed),
            _ => Err(UnknownValue { set: "shop status" }),
        }
    }
}

/// The formats anshin stores images in (after re-encoding): what an
/// image is served as, never what the uploader claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ImageFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
        }
    }

    pub fn from_content_type(text: &str) -> Result<Self, UnknownValue> {
        match text {
            "image/jpeg" => Ok(ImageFormat::Jpeg),
            "image/png" => Ok(ImageFormat::Png),
            _ => Err(UnknownValue {
                set: "image content type",
            }),
        }
    }
}

/// What a stored file is: an item image, its thumbnail, a shop icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Thumb,
    Icon,
}

impl MediaKind {
    fn prefix(self) -> &'static str {
        match self {
            MediaKind::Image => "img",
            MediaKind::Thumb => "thumb",
            MediaKind::Icon => "icon",
        }
    }
}

/// The name of a stored image file: `{kind}/{uuid}.{ext}`, e.g.
/// `img/0190a8c4-…-7b2e.jpg`. Lower-case ASCII only, one slash, a
/// hyphenated UUID and a known extension; nothing else parses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaKey(String);

impl MediaKey {
    /// The key of a new file (the id is fresh from the core's id source).
    pub fn new(kind: MediaKind, id: Uuid, format: ImageFormat) -> Self {
        Self(format!(
            "{}/{}.{}",
            kind.prefix(),
            id.hyphenated(),
            format.extension()
        ))
    }

    /// Accepts exactly the keys [`MediaKey::new`] makes.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > 64 {
            return None;
        }
        let (kind, rest) = text.split_once('/')?;
        if ![MediaKind::Image, MediaKind::Thumb, MediaKind::Icon]
            .iter()
            .any(|k| k.prefix() == kind)
        {
            return None;
        }
        let (id, ext) = rest.split_once('.')?;
        if !["jpg", "png"].contains(&ext) || id.len() != 36 {
            return None;
        }
        let uuid = Uuid::try_parse(id).ok()?;
        // Only the canonical lower-case hyphenated spelling.
        (uuid.hyphenated().to_string() == id).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The format its extension names (always one of ours).
    pub fn format(&self) -> ImageFormat {
        if self.0.ends_with(".png") {
            ImageFormat::Png
        } else {
            ImageFormat::Jpeg
        }
    }
}

impl std::fmt::Display for MediaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_and_titles_are_one_bounded_line() {
        assert_eq!(
            ShopName::parse("  やまねこ工房 ").unwrap().as_str(),
            "やまねこ工房"
        );
        assert!(ShopName::parse("").is_none());
        assert!(ShopName::parse("   ").is_none());
        assert!(ShopName::parse(&"あ".repeat(41)).is_none());
        assert!(ShopName::parse(&"あ".repeat(40)).is_some());
        assert!(ItemTitle::parse("a\nb").is_none());
        assert!(ItemTitle::parse("a\u{0}b").is_none());
        // Trojan Source: the title would read "¥100" yet hold other text.
        assert!(ItemTitle::parse("mug \u{202E}001¥").is_none());
        assert!(ItemTitle::parse("mug \u{2067}x").is_none());
        assert!(ItemTitle::parse(&"x".repeat(81)).is_none());
    }

    #[test]
    fn descriptions_keep_lines_and_refuse_other_controls() {
        let d = ItemDescription::parse("\r\n# 見出し\r\n\r\n- a\r- b\t \n\n").unwrap();
        assert_eq!(d.as_str(), "# 見出し\n\n- a\n- b");
        assert_eq!(ItemDescription::parse("").unwrap().as_str(), "");
        assert!(ItemDescription::parse("a\u{7}b").is_none());
        assert!(ItemDescription::parse("a\u{202D}b").is_none());
        assert!(ItemDescription::parse(&"あ".repeat(10_001)).is_none());
        assert!(ShopDescription::parse(&"a".repeat(2_001)).is_none());
    }

    #[test]
    fn stock_is_a_bounded_count_or_unlimited() {
        assert_eq!(Stock::parse("5").unwrap().count(), Some(5));
        assert_eq!(Stock::parse("０").unwrap().count(), Some(0));
        assert_eq!(Stock::parse("99,999").unwrap().count(), Some(99_999));
        for bad in [
            "",
            "-1",
            "100000",
            "1e9",
            "4294967296",
            "99999999999999999999",
            "1.0",
        ] {
            assert_eq!(Stock::parse(bad), None, "{bad}");
        }
        assert_eq!(Stock::from_db(None), Some(Stock::UNLIMITED));
        assert_eq!(Stock::from_db(Some(-1)), None);
        assert_eq!(Stock::from_db(Some(7)).unwrap().to_db(), Some(7));
    }

    #[test]
    fn statuses_round_trip() {
        for s in ItemStatus::ALL {
            assert_eq!(ItemStatus::parse(s.as_str()), Ok(s));
        }
        assert!(ItemStatus::parse("deleted").is_err());
        assert!(ItemStatus::OnSale.is_public() && ItemStatus::SoldOut.is_public());
        assert!(!ItemStatus::Draft.is_public() && !ItemStatus::Hidden.is_public());
        assert_eq!(ShopStatus::parse("open"), Ok(ShopStatus::Open));
        assert!(ShopStatus::parse("OPEN").is_err());
    }

    #[test]
    fn media_keys_accept_only_what_the_server_makes() {
        let id = Uuid::from_u128(0x0190_a8c4_0000_7000_8000_0000_0000_7b2e);
        let k = MediaKey::new(MediaKind::Image, id, ImageFormat::Jpeg);
        assert_eq!(k.as_str(), "img/0190a8c4-0000-7000-8000-000000007b2e.jpg");
        assert_eq!(MediaKey::parse(k.as_str()), Some(k.clone()));
        assert_eq!(k.format(), ImageFormat::Jpeg);
        let t = MediaKey::new(MediaKind::Thumb, id, ImageFormat::Png);
        assert_eq!(
            MediaKey::parse(t.as_str()).unwrap().format(),
            ImageFormat::Png
        );
        for bad in [
            "",
            "../etc/passwd",
            "img/../../etc/passwd",
            "img/..%2f..%2fetc%2fpasswd",
            "/img/0190a8c4-0000-7000-8000-000000007b2e.jpg",
            "img//0190a8c4-0000-7000-8000-000000007b2e.jpg",
            "img\\0190a8c4-0000-7000-8000-000000007b2e.jpg",
            "IMG/0190a8c4-0000-7000-8000-000000007b2e.jpg",
            "img/0190A8C4-0000-7000-8000-000000007B2E.jpg",
            "img/0190a8c40000700080000000000007b2e.jpg",
            "img/0190a8c4-0000-7000-8000-000000007b2e.svg",
            "img/0190a8c4-0000-7000-8000-000000007b2e.jpg.html",
            "img/0190a8c4-0000-7000-8000-000000007b2e.jpg\0",
            "other/0190a8c4-0000-7000-8000-000000007b2e.jpg",
        ] {
            assert_eq!(MediaKey::parse(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,200}") {
            let _ = ShopName::parse(&s);
            let _ = ItemTitle::parse(&s);
            let _ = ItemDescription::parse(&s);
            let _ = Stock::parse(&s);
            if let Some(k) = MediaKey::parse(&s) {
                prop_assert!(!k.as_str().contains(".."));
            }
        }
    }
}
