//! Japanese phone numbers (C13: encrypted at rest, found again through a
//! blind index of the canonical form).
//!
//! Accepted input: what people type, in any mix of full-width and ASCII:
//! `090-1234-5678`, `09012345678`, `０９０－１２３４－５６７８`,
//! `03(1234)5678`, `+81 90 1234 5678`, `+81 (0)90-1234-5678`. Separators are
//! spaces, hyphens and dashes (including `ー`, which Japanese IMEs produce
//! for `-`), dots and parentheses; anything else is refused.
//!
//! Canonical form: E.164, `+819012345678` (ITU-T E.164; Japan's national
//! format drops the trunk prefix `0` after `+81`). One member's number
//! always gives the same bytes, whatever they typed.
//!
//! Rules (MIC numbering plan, <https://www.soumu.go.jp/main_sosiki/joho_tsusin/top/tel_number/number_shitei.html>):
//! the national form starts with `0` then `1`–`9`; it has 11 digits for
//! mobile and M2M/IP/FMC prefixes `020`, `050`, `060`, `070`, `080`, `090`
//! and toll-free `0800`, and 10 digits otherwise (landlines, `0120`,
//! `0570`, ...). `00x`/`010` are international prefixes, not numbers.

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::FieldError;
use super::text::personal_string;

const FIELD: &str = "phone";

/// More characters than this is not a phone number however it is spaced.
const MAX_INPUT_CHARS: usize = 40;

/// National prefixes whose numbers have 11 digits; all others have 10.
const ELEVEN_DIGIT_PREFIXES: [&str; 7] = ["020", "050", "060", "070", "080", "090", "0800"];

const REQUIRED: FieldError = FieldError::new(FIELD, "required");
const LETTERS: FieldError = FieldError::new(FIELD, "invalid_character");
const NOT_JAPANESE: FieldError = FieldError::new(FIELD, "not_japanese");
const INVALID_PREFIX: FieldError = FieldError::new(FIELD, "invalid_prefix");
const TOO_SHORT: FieldError = FieldError::new(FIELD, "too_short");
const TOO_LONG: FieldError = FieldError::new(FIELD, "too_long");
const WRONG_LENGTH: FieldError = FieldError::new(FIELD, "wrong_length");

personal_string!(
    /// A Japanese phone number, canonical E.164 (`+819012345678`).
    PhoneNumber
);

/// Separators people put between digit groups. `ー` (U+30FC) is what a
/// Japanese IME gives for the `-` key; NFKC has already turned full-width
/// `－`, `（`, `）` and the ideographic space into ASCII.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '.' | '(' | ')' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}'
    )
}

impl PhoneNumber {
    /// Parses what a person typed. See the module documentation for the
    /// accepted forms; errors name the field `phone`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(TOO_LONG);
        }
        let normalized = Zeroizing::new(input.nfkc().collect::<String>());
        let trimmed = normalized.trim();
        if trimmed.is_empty() {
            return Err(REQUIRED);
        }
        let mut digits = Zeroizing::new(String::with_capacity(16));
        let mut international = false;
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => international = true,
                c if is_separator(c) => {}
                _ => return Err(LETTERS),
            }
        }
        if digits.is_empty() {
            return Err(REQUIRED);
        }
        let national = if international {
            let Some(rest) = digits.strip_prefix("81") else {
                return Err(NOT_JAPANESE);
            };
            // `+81 (0)90 ...` and `+81 090 ...`: the trunk 0 written anyway.
            let rest = rest.strip_prefix('0').unwrap_or(rest);
            Zeroizing::new(format!("0{rest}"))
        } else {
            if !digits.starts_with('0') {
                return Err(INVALID_PREFIX);
            }
            digits.clone()
        };
        if national.starts_with("00") || national.starts_with("010") {
            return Err(INVALID_PREFIX);
        }
        let len = national.len();
        if len < 10 {
            return Err(TOO_SHORT);
        }
        if len > 11 {
            return Err(TOO_LONG);
        }
        let eleven = ELEVEN_DIGIT_PREFIXES
            .iter()
            .any(|prefix| national.starts_with(prefix));
        if eleven != (len == 11) {
            return Err(WRONG_LENGTH);
        }
        let without_trunk = national.get(1..).unwrap_or_default();
        Ok(Self(format!("+81{without_trunk}")))
    }

    /// National digits with the trunk `0`: `09012345678`.
    pub fn national_digits(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("0{}", self.0.get(3..).unwrap_or_default()))
    }

    /// National form for display to the member: grouped with hyphens when
    /// the grouping follows from the prefix (`090-1234-5678`,
    /// `03-1234-5678`, `0120-123-456`, `0800-123-4567`), otherwise the
    /// plain digits (a landline's area code can be 2 to 5 digits and only
    /// a full area-code table tells them apart).
    pub fn national_display(&self) -> Zeroizing<String> {
        let digits = self.national_digits();
        match grouping(&digits) {
            Some(sizes) => Zeroizing::new(group(&digits, sizes, |_, c| c)),
            None => digits,
        }
    }

    /// For showing which number is on file without showing the number:
    /// the first group and the last 4 digits, each other digit a `*`
    /// (`090-****-5678`, `03-****-5678`). Without a known grouping the
    /// first 3 digits count as the first group (`042***3456`).
    pub fn masked(&self) -> String {
        let digits = self.national_digits();
        let len = digits.len();
        let (sizes, first) = match grouping(&digits) {
            Some([first, second, third]) => ([first, second, third], first),
            None => ([len, 0, 0], 3),
        };
        let last_from = len.saturating_sub(4);
        group(&digits, sizes, |i, c| {
            if i < first || i >= last_from { c } else { '*' }
        })
    }
}

/// Digit-group sizes of a national number, when its prefix decides them.
fn grouping(national: &str) -> Option<[usize; 3]> {
    let len = national.len();
    if len == 11 && national.starts_with("0800") {
        Some([4, 3, 4])
    } else if len == 11 {
        // 020, 050, 060, 070, 080, 090 (parse admits no other 11 digits).
        Some([3, 4, 4])
    } else if ["0120", "0570", "0990", "0180"]
        .iter()
        .any(|p| national.starts_with(p))
    {
        Some([4, 3, 3])
    } else if national.starts_with("03") || national.starts_with("06") {
        // Tokyo and Osaka: the only areas whose whole code is two digits.
        Some([2, 4, 4])
    } else {
        None
    }
}

/// Writes `digits` in groups of `sizes` joined by `-`, passing each digit
/// and its index through `map`. Empty groups are skipped.
fn group(digits: &str, sizes: [usize; 3], map: impl Fn(usize, char) -> char) -> String {
    let mut out = String::with_capacity(digits.len() + 2);
    let [first, second, _] = sizes;
    let boundaries = [first, first + second];
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && boundaries.contains(&i) {
            out.push('-');
        }
        out.push(map(i, c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e164(input: &str) -> String {
        PhoneNumber::parse(input).unwrap().as_str().to_owned()
    }

    fn code(input: &str) -> &'static str {
        PhoneNumber::parse(input).unwrap_err().code
    }

    #[test]
    fn c13_mobile_number_typed_every_way_has_one_canonical_form() {
        for typed in [
            "090-1234-5678",
            "09012345678",
            "０９０－１２３４－５６７８",
            "０９０１２３４５６７８",
            "090 1234 5678",
            "090ー1234ー5678",
            "０９０　１２３４　５６７８",
            "(090) 1234-5678",
            "090.1234.5678",
            "+81 90 1234 5678",
            "+819012345678",
            "＋８１９０１２３４５６７８",
            "+81-90-1234-5678",
            "+81 (0)90-1234-5678",
            "+81 090 1234 5678",
            "  090-1234-5678  ",
        ] {
            assert_eq!(e164(typed), "+819012345678", "{typed}");
        }
    }

    #[test]
    fn landlines_and_service_numbers_parse() {
        assert_eq!(e164("03-1234-5678"), "+81312345678");
        assert_eq!(e164("03(1234)5678"), "+81312345678");
        assert_eq!(e164("06-6123-4567"), "+81661234567");
        assert_eq!(e164("0422-12-3456"), "+81422123456");
        assert_eq!(e164("011-123-4567"), "+81111234567");
        assert_eq!(e164("0120-123-456"), "+81120123456");
        assert_eq!(e164("0800-123-4567"), "+818001234567");
        assert_eq!(e164("0570-123-456"), "+81570123456");
        assert_eq!(e164("050-1234-5678"), "+815012345678");
        assert_eq!(e164("070-1234-5678"), "+817012345678");
        assert_eq!(e164("080 1234 5678"), "+818012345678");
        assert_eq!(e164("020-1234-5678"), "+812012345678");
    }

    #[test]
    fn national_display_groups_known_prefixes_and_otherwise_shows_digits() {
        let shown = |s: &str| {
            PhoneNumber::parse(s)
                .unwrap()
                .national_display()
                .to_string()
        };
        assert_eq!(shown("+819012345678"), "090-1234-5678");
        assert_eq!(shown("０３１２３４５６７８"), "03-1234-5678");
        assert_eq!(shown("06 6123 4567"), "06-6123-4567");
        assert_eq!(shown("0120123456"), "0120-123-456");
        assert_eq!(shown("08001234567"), "0800-123-4567");
        assert_eq!(shown("0422-12-3456"), "0422123456");
        assert_eq!(
            &*PhoneNumber::parse("090-1234-5678")
                .unwrap()
                .national_digits(),
            "09012345678"
        );
    }

    #[test]
    fn c13_masked_keeps_first_group_and_last_four_digits() {
        let masked = |s: &str| PhoneNumber::parse(s).unwrap().masked();
        assert_eq!(masked("090-1234-5678"), "090-****-5678");
        assert_eq!(masked("+81 80 9876 5432"), "080-****-5432");
        assert_eq!(masked("03-1234-5678"), "03-****-5678");
        assert_eq!(masked("0800-123-4567"), "0800-***-4567");
        assert_eq!(masked("0120-123-456"), "0120-**3-456");
        assert_eq!(masked("0422-12-3456"), "042***3456");
    }

    #[test]
    fn too_short_and_too_long_are_refused() {
        assert_eq!(code("090-1234-567"), "wrong_length");
        assert_eq!(code("03-1234-567"), "too_short");
        assert_eq!(code("0312"), "too_short");
        assert_eq!(code("090-1234-56789"), "too_long");
        assert_eq!(code("+81 90 1234 56789"), "too_long");
        assert_eq!(code(&"0".repeat(41)), "too_long");
    }

    #[test]
    fn digit_count_must_match_the_prefix() {
        // Mobile numbers have 11 digits, landlines 10.
        assert_eq!(code("0901234567"), "wrong_length");
        assert_eq!(code("031234567890"), "too_long");
        assert_eq!(code("03123456789"), "wrong_length");
        assert_eq!(code("0120-1234-567"), "wrong_length");
    }

    #[test]
    fn letters_and_symbols_are_refused() {
        for bad in [
            "090-1234-567a",
            "TEL 090-1234-5678",
            "090-ABCD-5678",
            "０９０－１２３４－５６７８ｘ",
            "090_1234_5678",
            "090/1234/5678",
            "090+1234+5678",
            "九〇一二三四五六七八",
        ] {
            assert_eq!(code(bad), "invalid_character", "{bad}");
        }
    }

    #[test]
    fn foreign_and_international_prefixes_are_refused() {
        assert_eq!(code("+1 415 555 0100"), "not_japanese");
        assert_eq!(code("+44 20 7946 0000"), "not_japanese");
        assert_eq!(code("+82 10 1234 5678"), "not_japanese");
        assert_eq!(code("0081-90-1234-5678"), "invalid_prefix");
        assert_eq!(code("010-1-415-555-0100"), "invalid_prefix");
        assert_eq!(code("9012345678"), "invalid_prefix");
        assert_eq!(code("819012345678"), "invalid_prefix");
    }

    #[test]
    fn empty_input_is_required() {
        for blank in ["", "   ", "　", "---", "+"] {
            let err = PhoneNumber::parse(blank).unwrap_err();
            assert_eq!((err.field, err.code), ("phone", "required"), "{blank:?}");
        }
    }

    #[test]
    fn c13_debug_is_redacted() {
        let phone = PhoneNumber::parse("090-1234-5678").unwrap();
        assert_eq!(format!("{phone:?}"), "PhoneNumber([redacted])");
        assert_eq!(
            format!("{:?}", Some(&phone)),
            "Some(PhoneNumber([redacted]))"
        );
    }

    #[test]
    fn c13_errors_never_echo_the_input() {
        let err = PhoneNumber::parse("+1 415 555 0100").unwrap_err();
        let shown = format!("{err:?} {err}");
        assert!(!shown.contains("415"), "{shown}");
    }

    #[test]
    fn c13_zeroize_clears_the_number() {
        use zeroize::Zeroize;
        let mut phone = PhoneNumber::parse("090-1234-5678").unwrap();
        phone.zeroize();
        assert_eq!(phone.as_str(), "");
    }

    /// A valid national number: an 11-digit or a 10-digit prefix family.
    fn national_number() -> impl Strategy<Value = String> {
        prop_oneof![
            (
                prop::sample::select(vec!["020", "050", "060", "070", "080", "090"]),
                "[0-9]{8}"
            )
                .prop_map(|(p, rest)| format!("{p}{rest}")),
            "[0-9]{7}".prop_map(|rest| format!("0800{rest}")),
            ("[1-9]", "[1-9]", "[0-9]{7}").prop_map(|(a, b, rest)| format!("0{a}{b}{rest}")),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = PhoneNumber::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_phone_like_text(input in "[+0-9０-９ー－ ()a-z]{0,30}") {
            let _ = PhoneNumber::parse(&input);
        }

        #[test]
        fn c13_canonical_form_is_idempotent(national in national_number()) {
            let phone = PhoneNumber::parse(&national).unwrap();
            prop_assert_eq!(&PhoneNumber::parse(phone.as_str()).unwrap(), &phone);
            prop_assert_eq!(&PhoneNumber::parse(&phone.national_display()).unwrap(), &phone);
            prop_assert_eq!(&*phone.national_digits(), national.as_str());
        }

        #[test]
        fn c13_masked_reveals_at_most_first_group_and_last_four(national in national_number()) {
            let masked: Vec<char> = PhoneNumber::parse(&national).unwrap()
                .masked().chars().filter(|c| *c != '-').collect();
            let digits: Vec<char> = national.chars().collect();
            prop_assert_eq!(masked.len(), digits.len());
            let shown = masked.iter().filter(|c| c.is_ascii_digit()).count();
            prop_assert!(shown <= 4 + 4);
            prop_assert!(masked.iter().filter(|c| **c == '*').count() >= 2);
            for (i, (m, d)) in masked.iter().zip(&digits).enumerate() {
                // Every shown digit is the real one at its place, and the
                // last four are always shown.
                prop_assert!(*m == '*' || m == d);
                if i + 4 >= digits.len() {
                    prop_assert_eq!(m, d);
                }
            }
        }

        #[test]
        fn c13_debug_never_contains_the_digits(national in national_number()) {
            let phone = PhoneNumber::parse(&national).unwrap();
            let shown = format!("{phone:?}");
            prop_assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{}", shown);
        }
    }
}
