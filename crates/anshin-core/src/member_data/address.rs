//! Shipping addresses in Japan (C13: the recipient's name and address are
//! encrypted at rest).
//!
//! Canonical forms: postal code `123-4567`; prefecture its Japanese name
//! (`東京都`) with the JIS X 0401 code `01`..`47`; names and address lines
//! trimmed and NFC-normalised, otherwise as typed (we do not rewrite `１丁目`
//! to `1丁目`: the carrier prints what the member wrote).
//!
//! [`ShippingAddress::parse`] checks every field and returns all the
//! errors at once, so a form can mark each wrong field in one round trip.

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::text::{clean_text, personal_string};
use super::{FieldError, PhoneNumber};

const POSTAL_INVALID: FieldError = FieldError::new("postal_code", "invalid_format");
const POSTAL_REQUIRED: FieldError = FieldError::new("postal_code", "required");
const PREFECTURE_UNKNOWN: FieldError = FieldError::new("prefecture", "unknown_prefecture");
const PREFECTURE_REQUIRED: FieldError = FieldError::new("prefecture", "required");
const NAME_TOO_LONG: FieldError = FieldError::new("recipient_name", "too_long");
const CITY_TOO_LONG: FieldError = FieldError::new("city", "too_long");
const LINE_TOO_LONG: FieldError = FieldError::new("line1", "too_long");

const NAME_MAX: usize = 100;
const CITY_MAX: usize = 100;
const LINE_MAX: usize = 200;

personal_string!(
    /// A Japanese postal code, canonical `123-4567`.
    PostalCode
);

/// Hyphen-like characters people type between the two groups.
fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}')
}

impl PostalCode {
    /// Accepts `123-4567`, `1234567`, `123 4567`, full-width digits and
    /// hyphens, and a leading `〒`. Error field: `postal_code`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        if input.chars().count() > 32 {
            return Err(POSTAL_INVALID);
        }
        let normalized = Zeroizing::new(input.nfkc().collect::<String>());
        let trimmed = normalized.trim();
        let trimmed = trimmed.strip_prefix('〒').unwrap_or(trimmed).trim_start();
        if trimmed.is_empty() {
            return Err(POSTAL_REQUIRED);
        }
        let mut digits = Zeroizing::new(String::with_capacity(8));
        for c in trimmed.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if (is_hyphen(c) || c == ' ') && digits.len() == 3 {
                // One separator, and only between the 3 and the 4 digits.
                if trimmed.chars().filter(|c| !c.is_ascii_digit()).count() != 1 {
                    return Err(POSTAL_INVALID);
                }
            } else {
                return Err(POSTAL_INVALID);
            }
        }
        match (digits.get(..3), digits.get(3..)) {
            (Some(head), Some(tail)) if digits.len() == 7 => Ok(Self(format!("{head}-{tail}"))),
            _ => Err(POSTAL_INVALID),
        }
    }
}

macro_rules! prefectures {
    ($($variant:ident = $code:literal, $ja:literal, $romaji:literal;)*) => {
        /// One of the 47 prefectures, numbered by JIS X 0401.
        ///
        /// Not personal data on its own (47 values; shipping rates depend on
        /// it), so its `Debug` is the ordinary one; inside a
        /// [`ShippingAddress`] it is redacted and encrypted with the rest.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Prefecture {
            $($variant = $code,)*
        }

        impl Prefecture {
            /// All 47, in JIS X 0401 order (北海道 first, 沖縄県 last).
            pub const ALL: [Prefecture; 47] = [$(Prefecture::$variant,)*];

            /// The canonical Japanese name, e.g. `東京都`.
            pub fn name_ja(self) -> &'static str {
                match self { $(Prefecture::$variant => $ja,)* }
            }

            /// The romanised name without suffix, e.g. `Tokyo`.
            pub fn name_en(self) -> &'static str {
                match self { $(Prefecture::$variant => $romaji,)* }
            }
        }
    };
}

prefectures! {
    Hokkaido = 1, "北海道", "Hokkaido";
    Aomori = 2, "青森県", "Aomori";
    Iwate = 3, "岩手県", "Iwate";
    Miyagi = 4, "宮城県", "Miyagi";
    Akita = 5, "秋田県", "Akita";
    Yamagata = 6, "山形県", "Yamagata";
    Fukushima = 7, "福島県", "Fukushima";
    Ibaraki = 8, "茨城県", "Ibaraki";
    Tochigi = 9, "栃木県", "Tochigi";
    Gunma = 10, "群馬県", "Gunma";
    Saitama = 11, "埼玉県", "Saitama";
    Chiba = 12, "千葉県", "Chiba";
    Tokyo = 13, "東京都", "Tokyo";
    Kanagawa = 14, "神奈川県", "Kanagawa";
    Niigata = 15, "新潟県", "Niigata";
    Toyama = 16, "富山県", "Toyama";
    Ishikawa = 17, "石川県", "Ishikawa";
    Fukui = 18, "福井県", "Fukui";
    Yamanashi = 19, "山梨県", "Yamanashi";
    Nagano = 20, "長野県", "Nagano";
    Gifu = 21, "岐阜県", "Gifu";
    Shizuoka = 22, "静岡県", "Shizuoka";
    Aichi = 23, "愛知県", "Aichi";
    Mie = 24, "三重県", "Mie";
    Shiga = 25, "滋賀県", "Shiga";
    Kyoto = 26, "京都府", "Kyoto";
    Osaka = 27, "大阪府", "Osaka";
    Hyogo = 28, "兵庫県", "Hyogo";
    Nara = 29, "奈良県", "Nara";
    Wakayama = 30, "和歌山県", "Wakayama";
    Tottori = 31, "鳥取県", "Tottori";
    Shimane = 32, "島根県", "Shimane";
    Okayama = 33, "岡山県", "Okayama";
    Hiroshima = 34, "広島県", "Hiroshima";
    Yamaguchi = 35, "山口県", "Yamaguchi";
    Tokushima = 36, "徳島県", "Tokushima";
    Kagawa = 37, "香川県", "Kagawa";
    Ehime = 38, "愛媛県", "Ehime";
    Kochi = 39, "高知県", "Kochi";
    Fukuoka = 40, "福岡県", "Fukuoka";
    Saga = 41, "佐賀県", "Saga";
    Nagasaki = 42, "長崎県", "Nagasaki";
    Kumamoto = 43, "熊本県", "Kumamoto";
    Oita = 44, "大分県", "Oita";
    Miyazaki = 45, "宮崎県", "Miyazaki";
    Kagoshima = 46, "鹿児島県", "Kagoshima";
    Okinawa = 47, "沖縄県", "Okinawa";
}

impl Prefecture {
    /// Parses a Japanese name (`東京都`, also without its suffix: `東京`,
    /// `大阪`) or a romanised one, case-insensitive, with or without
    /// macrons, `ou`/`oo` spellings and suffix (`Tokyo`, `TŌKYŌ`,
    /// `Toukyou`, `Osaka-fu`, `Kanagawa-ken`, `Hokkaido`, `Gumma`).
    /// Error field: `prefecture`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        if input.chars().count() > 40 {
            return Err(PREFECTURE_UNKNOWN);
        }
        let normalized: String = input.nfkc().collect();
        let trimmed = normalized.trim();
        if trimmed.is_empty() {
            return Err(PREFECTURE_REQUIRED);
        }
        if let Some(found) = Self::ALL.into_iter().find(|p| {
            let ja = p.name_ja();
            trimmed == ja
                || (*p != Prefecture::Hokkaido
                    && ja.strip_suffix(['都', '府', '県']) == Some(trimmed))
        }) {
            return Ok(found);
        }
        let romaji = romaji_key(trimmed);
        Self::ALL
            .into_iter()
            .find(|p| p.name_en().to_ascii_lowercase() == romaji)
            .ok_or(PREFECTURE_UNKNOWN)
    }

    /// The JIS X 0401 code, 1 (北海道) to 47 (沖縄県).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The prefecture with JIS X 0401 code `code`, if there is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The canonical form, the Japanese name.
    pub fn as_str(self) -> &'static str {
        self.name_ja()
    }
}

/// Lower-case ASCII romaji without macrons, suffix or long-vowel spellings:
/// `Tōkyō-to` → `tokyo`, `Oosaka` → `osaka`, `Gumma` → `gunma`.
fn romaji_key(input: &str) -> String {
    let mut key: String = input
        .chars()
        .map(|c| match c {
            'ō' | 'Ō' | 'ô' | 'Ô' => 'o',
            'ū' | 'Ū' | 'û' | 'Û' => 'u',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    for suffix in [" prefecture", "-ken", " ken", "-fu", " fu", "-to", " to"] {
        if let Some(stripped) = key.strip_suffix(suffix) {
            key = stripped.to_owned();
            break;
        }
    }
    // No prefecture's standard romaji contains "ou" or "oo", so these
    // are always long-vowel spellings (Toukyou, Oosaka, Kouchi, Ooita).
    key = key.replace("ou", "o").replace("oo", "o");
    // Hokkaido's "do" is part of its name, so `Hokkai-do` only loses the hyphen.
    match key.as_str() {
        "gumma" => "gunma".clone_into(&mut key),
        "hokkai-do" | "hokkai do" => "hokkaido".clone_into(&mut key),
        _ => {}
    }
    key
}

personal_string!(
    /// The name printed on the parcel: 1 to 100 characters after trimming,
    /// NFC, no control or invisible formatting characters.
    RecipientName
);

impl RecipientName {
    /// Error field: `recipient_name`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        clean_text(input, NAME_MAX, NAME_TOO_LONG)
            .map(|text| Self(text.to_string()))
            .map_err(|e| e.for_field("recipient_name"))
    }
}

personal_string!(
    /// City, ward, town or village (`渋谷区`, `横浜市中区`): 1 to 100
    /// characters, same rules as [`RecipientName`].
    City
);

impl City {
    /// Error field: `city`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        clean_text(input, CITY_MAX, CITY_TOO_LONG)
            .map(|text| Self(text.to_string()))
            .map_err(|e| e.for_field("city"))
    }
}

personal_string!(
    /// One line of street address (`神南1-2-3`, `〇〇ビル 4階`): 1 to 200
    /// characters, same rules as [`RecipientName`].
    AddressLine
);

impl AddressLine {
    /// Error field: `line1` (use [`FieldError::for_field`] for `line2`).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        clean_text(input, LINE_MAX, LINE_TOO_LONG)
            .map(|text| Self(text.to_string()))
            .map_err(|e| e.for_field("line1"))
    }
}

/// The address form as submitted, before parsing. Personal data too:
/// redacted `Debug`, wiped on drop, deserialisable but never serialisable.
#[derive(Default, Clone, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct RawAddress {
    pub recipient_name: String,
    pub postal_code: String,
    pub prefecture: String,
    pub city: String,
    pub line1: String,
    /// Building and room; blank means none.
    #[serde(default)]
    pub line2: Option<String>,
    /// Phone for the carrier; blank means none.
    #[serde(default)]
    pub phone: Option<String>,
}

impl std::fmt::Debug for RawAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawAddress([redacted])")
    }
}

/// A parsed Japanese shipping address.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ShippingAddress {
    recipient_name: RecipientName,
    postal_code: PostalCode,
    /// A fieldless enum has nothing to wipe.
    #[zeroize(skip)]
    prefecture: Prefecture,
    city: City,
    line1: AddressLine,
    line2: Option<AddressLine>,
    phone: Option<PhoneNumber>,
}

impl std::fmt::Debug for ShippingAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShippingAddress([redacted])")
    }
}

/// The value, or `None` after recording its error.
pub(crate) fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// `None` for a missing or blank optional field.
fn optional(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl ShippingAddress {
    /// Parses every field and returns either the address or all the
    /// field errors (at most one per field), in form order.
    pub fn parse(raw: RawAddress) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let recipient_name = keep(&mut errors, RecipientName::parse(&raw.recipient_name));
        let postal_code = keep(&mut errors, PostalCode::parse(&raw.postal_code));
        let prefecture = keep(&mut errors, Prefecture::parse(&raw.prefecture));
        let city = keep(&mut errors, City::parse(&raw.city));
        let line1 = keep(&mut errors, AddressLine::parse(&raw.line1));
        let line2 = keep(
            &mut errors,
            optional(raw.line2.as_ref())
                .map(|text| AddressLine::parse(text).map_err(|e| e.for_field("line2")))
                .transpose(),
        );
        let phone = keep(
            &mut errors,
            optional(raw.phone.as_ref())
                .map(PhoneNumber::parse)
                .transpose(),
        );
        match (
            recipient_name,
            postal_code,
            prefecture,
            city,
            line1,
            line2,
            phone,
        ) {
            (
                Some(recipient_name),
                Some(postal_code),
                Some(prefecture),
                Some(city),
                Some(line1),
                Some(line2),
                Some(phone),
            ) if errors.is_empty() => Ok(Self {
                recipient_name,
                postal_code,
                prefecture,
                city,
                line1,
                line2,
                phone,
            }),
            _ => Err(errors),
        }
    }

    pub fn recipient_name(&self) -> &RecipientName {
        &self.recipient_name
    }

    pub fn postal_code(&self) -> &PostalCode {
        &self.postal_code
    }

    pub fn prefecture(&self) -> Prefecture {
        self.prefecture
    }

    pub fn city(&self) -> &City {
        &self.city
    }

    pub fn line1(&self) -> &AddressLine {
        &self.line1
    }

    pub fn line2(&self) -> Option<&AddressLine> {
        self.line2.as_ref()
    }

    pub fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw() -> RawAddress {
        RawAddress {
            recipient_name: "山田 太郎".into(),
            postal_code: "〒150-0041".into(),
            prefecture: "東京都".into(),
            city: "渋谷区".into(),
            line1: "神南1-2-3".into(),
            line2: Some("アンシンビル 4階".into()),
            phone: Some("090-1234-5678".into()),
        }
    }

    #[test]
    fn postal_code_accepts_what_people_type() {
        for typed in [
            "123-4567",
            "1234567",
            "123 4567",
            "１２３－４５６７",
            "１２３４５６７",
            "〒123-4567",
            "〒 123-4567",
            "〒１２３ー４５６７",
            "  123-4567  ",
            "123‐4567",
            "123−4567",
        ] {
            assert_eq!(
                PostalCode::parse(typed).unwrap().as_str(),
                "123-4567",
                "{typed}"
            );
        }
    }

    #[test]
    fn postal_code_rejects_wrong_shapes() {
        for bad in [
            "123-456",
            "12-34567",
            "1234-567",
            "12345678",
            "123--4567",
            "123-45-67",
            "abc-defg",
            "123-456a",
            "〒",
            "-1234567",
            "1234567-",
        ] {
            let err = PostalCode::parse(bad).unwrap_err();
            assert_eq!(err.field, "postal_code", "{bad}");
            assert!(["invalid_format", "required"].contains(&err.code), "{bad}");
        }
        assert_eq!(PostalCode::parse("").unwrap_err().code, "required");
        assert_eq!(PostalCode::parse("〒").unwrap_err().code, "required");
        assert_eq!(
            PostalCode::parse("12-34567").unwrap_err().code,
            "invalid_format"
        );
    }

    #[test]
    fn prefecture_parses_japanese_names_with_and_without_suffix() {
        assert_eq!(Prefecture::parse("東京都").unwrap(), Prefecture::Tokyo);
        assert_eq!(Prefecture::parse("北海道").unwrap(), Prefecture::Hokkaido);
        assert_eq!(Prefecture::parse("大阪府").unwrap(), Prefecture::Osaka);
        assert_eq!(Prefecture::parse("神奈川県").unwrap(), Prefecture::Kanagawa);
        assert_eq!(Prefecture::parse(" 京都府 ").unwrap(), Prefecture::Kyoto);
        assert_eq!(Prefecture::parse("京都").unwrap(), Prefecture::Kyoto);
        assert_eq!(Prefecture::parse("東京").unwrap(), Prefecture::Tokyo);
        assert_eq!(Prefecture::parse("沖縄").unwrap(), Prefecture::Okinawa);
        // 北海道 has no suffix to drop.
        assert!(Prefecture::parse("北海").is_err());
    }

    #[test]
    fn prefecture_parses_romaji_case_insensitively() {
        for (typed, expected) in [
            ("Tokyo", Prefecture::Tokyo),
            ("tokyo", Prefecture::Tokyo),
            ("TOKYO", Prefecture::Tokyo),
            ("Tōkyō", Prefecture::Tokyo),
            ("Toukyou", Prefecture::Tokyo),
            ("Tokyo-to", Prefecture::Tokyo),
            ("Hokkaido", Prefecture::Hokkaido),
            ("hokkaidō", Prefecture::Hokkaido),
            ("Hokkai-do", Prefecture::Hokkaido),
            ("Osaka-fu", Prefecture::Osaka),
            ("Oosaka", Prefecture::Osaka),
            ("Kanagawa-ken", Prefecture::Kanagawa),
            ("Kanagawa Prefecture", Prefecture::Kanagawa),
            ("Kyoto", Prefecture::Kyoto),
            ("Hyōgo", Prefecture::Hyogo),
            ("Kōchi", Prefecture::Kochi),
            ("Ōita", Prefecture::Oita),
            ("Gumma", Prefecture::Gunma),
            ("ＴＯＫＹＯ", Prefecture::Tokyo),
            ("okinawa", Prefecture::Okinawa),
        ] {
            assert_eq!(Prefecture::parse(typed).unwrap(), expected, "{typed}");
        }
    }

    #[test]
    fn prefecture_rejects_unknown_names() {
        for bad in [
            "Tokio",
            "東京府",
            "大阪県",
            "California",
            "13",
            "関東",
            "Kyo",
        ] {
            let err = Prefecture::parse(bad).unwrap_err();
            assert_eq!(
                (err.field, err.code),
                ("prefecture", "unknown_prefecture"),
                "{bad}"
            );
        }
        assert_eq!(Prefecture::parse("  ").unwrap_err().code, "required");
    }

    #[test]
    fn prefecture_codes_follow_jis_x_0401() {
        assert_eq!(Prefecture::Hokkaido.code(), 1);
        assert_eq!(Prefecture::Tokyo.code(), 13);
        assert_eq!(Prefecture::Kanagawa.code(), 14);
        assert_eq!(Prefecture::Osaka.code(), 27);
        assert_eq!(Prefecture::Okinawa.code(), 47);
        assert_eq!(Prefecture::from_code(26), Some(Prefecture::Kyoto));
        assert_eq!(Prefecture::from_code(0), None);
        assert_eq!(Prefecture::from_code(48), None);
        for (i, p) in Prefecture::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(p.code()), i + 1);
            assert_eq!(Prefecture::parse(p.as_str()).unwrap(), p);
            assert_eq!(Prefecture::parse(p.name_en()).unwrap(), p);
            assert!(
                ["都", "道", "府", "県"]
                    .iter()
                    .any(|s| p.name_ja().ends_with(s))
            );
        }
    }

    #[test]
    fn recipient_name_is_trimmed_and_nfc_normalised() {
        let name = RecipientName::parse("\u{3000}山田 太郎 ").unwrap();
        assert_eq!(name.as_str(), "山田 太郎");
        // "ガ" as カ + combining voiced mark becomes the one code point.
        assert_eq!(
            RecipientName::parse("カ\u{3099}ク").unwrap().as_str(),
            "ガク"
        );
        assert_eq!(
            RecipientName::parse("Émile Zola").unwrap().as_str(),
            "Émile Zola"
        );
        assert!(RecipientName::parse(&"あ".repeat(100)).is_ok());
    }

    #[test]
    fn recipient_name_rejects_empty_long_and_control_characters() {
        let code = |s: &str| RecipientName::parse(s).unwrap_err();
        assert_eq!(code("").code, "required");
        assert_eq!(code(" \u{3000} ").code, "required");
        assert_eq!(code(&"あ".repeat(101)).code, "too_long");
        assert_eq!(code("山田\r\n太郎").code, "invalid_character");
        assert_eq!(code("山田\u{202E}太郎").code, "invalid_character");
        assert_eq!(code("山田\u{0000}").field, "recipient_name");
    }

    #[test]
    fn city_and_address_lines_have_their_limits() {
        assert_eq!(City::parse(" 渋谷区 ").unwrap().as_str(), "渋谷区");
        assert_eq!(City::parse(&"市".repeat(101)).unwrap_err().field, "city");
        assert!(AddressLine::parse(&"丁".repeat(200)).is_ok());
        let err = AddressLine::parse(&"丁".repeat(201)).unwrap_err();
        assert_eq!((err.field, err.code), ("line1", "too_long"));
    }

    #[test]
    fn c13_shipping_address_parses_a_complete_form() {
        let address = ShippingAddress::parse(raw()).unwrap();
        assert_eq!(address.recipient_name().as_str(), "山田 太郎");
        assert_eq!(address.postal_code().as_str(), "150-0041");
        assert_eq!(address.prefecture(), Prefecture::Tokyo);
        assert_eq!(address.city().as_str(), "渋谷区");
        assert_eq!(address.line1().as_str(), "神南1-2-3");
        assert_eq!(address.line2().unwrap().as_str(), "アンシンビル 4階");
        assert_eq!(address.phone().unwrap().as_str(), "+819012345678");
    }

    #[test]
    fn blank_optional_fields_are_none() {
        // RawAddress wipes itself on drop, so it has no `..raw()` syntax.
        let mut form = raw();
        form.line2 = Some("  ".into());
        form.phone = None;
        let address = ShippingAddress::parse(form).unwrap();
        assert!(address.line2().is_none());
        assert!(address.phone().is_none());
    }

    #[test]
    fn shipping_address_reports_every_wrong_field_at_once() {
        let errors = ShippingAddress::parse(RawAddress {
            recipient_name: " ".into(),
            postal_code: "123-45".into(),
            prefecture: "Tokio".into(),
            city: "渋谷\n区".into(),
            line1: String::new(),
            line2: Some("x".repeat(201)),
            phone: Some("+1 415 555 0100".into()),
        })
        .unwrap_err();
        let got: Vec<_> = errors.iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(
            got,
            vec![
                ("recipient_name", "required"),
                ("postal_code", "invalid_format"),
                ("prefecture", "unknown_prefecture"),
                ("city", "invalid_character"),
                ("line1", "required"),
                ("line2", "too_long"),
                ("phone", "not_japanese"),
            ]
        );
        let c = crate::i18n::Catalogs::load().unwrap();
        for error in &errors {
            for lang in [crate::i18n::Lang::Ja, crate::i18n::Lang::En] {
                let t = c.get(lang);
                assert_ne!(error.message(t), t.error_400_body, "{error} has no message");
            }
        }
    }

    #[test]
    fn one_wrong_field_gives_exactly_one_error() {
        let mut form = raw();
        form.postal_code = "abc".into();
        let errors = ShippingAddress::parse(form).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "postal_code");
    }

    #[test]
    fn c13_debug_of_every_address_type_is_redacted() {
        let address = ShippingAddress::parse(raw()).unwrap();
        let shown = [
            format!("{address:?}"),
            format!("{:?}", raw()),
            format!("{:?}", address.recipient_name()),
            format!("{:?}", address.postal_code()),
            format!("{:?}", address.city()),
            format!("{:?}", address.line1()),
            format!("{:?}", address.line2()),
        ];
        for text in &shown {
            assert!(text.contains("[redacted]"), "{text}");
            for secret in ["山田", "150", "0041", "渋谷", "神南", "アンシン", "5678"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
    }

    /// Compiles only for types that wipe themselves when dropped.
    fn wipes_on_drop<T: ZeroizeOnDrop>(_: &T) {}

    #[test]
    fn c13_address_types_zeroize_on_drop() {
        let address = ShippingAddress::parse(raw()).unwrap();
        wipes_on_drop(&address);
        wipes_on_drop(address.recipient_name());
        wipes_on_drop(address.postal_code());
        wipes_on_drop(address.city());
        wipes_on_drop(address.line1());
        wipes_on_drop(&raw());
        let mut address = address;
        address.zeroize();
        assert_eq!(address.recipient_name().as_str(), "");
        assert_eq!(address.postal_code().as_str(), "");
        assert_eq!(address.line1().as_str(), "");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(input in any::<String>()) {
            let _ = PostalCode::parse(&input);
            let _ = Prefecture::parse(&input);
            let _ = RecipientName::parse(&input);
            let _ = City::parse(&input);
            let _ = AddressLine::parse(&input);
        }

        #[test]
        fn shipping_address_never_panics(
            fields in proptest::collection::vec(any::<String>(), 7)
        ) {
            let mut f = fields.into_iter();
            let mut next = || f.next().unwrap_or_default();
            let _ = ShippingAddress::parse(RawAddress {
                recipient_name: next(),
                postal_code: next(),
                prefecture: next(),
                city: next(),
                line1: next(),
                line2: Some(next()),
                phone: Some(next()),
            });
        }

        #[test]
        fn c13_postal_code_canonical_is_idempotent(d in "[0-9]{7}", full_width in any::<bool>()) {
            let typed: String = if full_width {
                d.chars().map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap()).collect()
            } else {
                d.clone()
            };
            let code = PostalCode::parse(&typed).unwrap();
            prop_assert_eq!(code.as_str(), format!("{}-{}", &d[..3], &d[3..]));
            prop_assert_eq!(PostalCode::parse(code.as_str()).unwrap(), code);
        }

        #[test]
        fn c13_text_canonical_is_idempotent(input in "\\PC{1,100}") {
            if let Ok(name) = RecipientName::parse(&input) {
                prop_assert_eq!(&RecipientName::parse(name.as_str()).unwrap(), &name);
            }
            if let Ok(line) = AddressLine::parse(&input) {
                prop_assert_eq!(&AddressLine::parse(line.as_str()).unwrap(), &line);
            }
        }

        #[test]
        fn c13_debug_never_contains_the_postal_digits(d in "[0-9]{7}") {
            let code = PostalCode::parse(&d).unwrap();
            let shown = format!("{code:?}");
            prop_assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{}", shown);
        }
    }
}
