//! Helpers shared by the personal-data parsers: the redacted string
//! newtype, free-text cleaning and fixed-length digit codes. Nothing here
//! keeps or prints the input.

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::FieldError;

/// Defines a newtype over the canonical `String` of one piece of personal
/// data: private field, `as_str`, redacted `Debug`, wiped on drop, and no
/// `Display` or `Serialize`.
macro_rules! personal_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
        pub struct $name(String);

        impl $name {
            /// The canonical form: the bytes the vault encrypts (C13) and,
            /// where one exists, the blind index input. Personal data:
            /// never log it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}
pub(crate) use personal_string;

/// Free-text rules shared by names and address lines.
const REQUIRED: FieldError = FieldError::new("", "required");
const INVALID_CHARACTER: FieldError = FieldError::new("", "invalid_character");

/// Characters that are not control characters (`char::is_control`) but are
/// invisible or reorder text: zero-width characters and the bidirectional
/// overrides of "Trojan Source" (CVE-2021-42574). On a waybill or in the
/// staff console they would make a name or address read differently from
/// what is stored.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// Trims (including the ideographic space U+3000), rejects control and
/// invisible formatting characters, NFC-normalises (so that `が` typed as
/// `か` + U+3099 and as U+304C are the same bytes) and checks
/// `1..=max_chars` characters. The error's field is set by the caller.
pub(crate) fn clean_text(
    input: &str,
    max_chars: usize,
    too_long: FieldError,
) -> Result<Zeroizing<String>, FieldError> {
    // Bound the work before normalising: NFC never shrinks text by more
    // than a few characters per character, so 4x is generous.
    if input.chars().count() > max_chars.saturating_mul(4) {
        return Err(too_long);
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(REQUIRED);
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(INVALID_CHARACTER);
    }
    let normalized = Zeroizing::new(trimmed.nfc().collect::<String>());
    if normalized.chars().count() > max_chars {
        return Err(too_long);
    }
    Ok(normalized)
}

/// Why a fixed-length digit code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigitsError {
    Empty,
    NotDigits,
    WrongLength,
}

/// Exactly `len` ASCII digits after NFKC (full-width `０-９` become `0-9`)
/// and trimming. No padding, no separators.
pub(crate) fn exact_digits(input: &str, len: usize) -> Result<Zeroizing<String>, DigitsError> {
    if input.chars().count() > len.saturating_mul(8).saturating_add(16) {
        return Err(DigitsError::WrongLength);
    }
    let normalized = Zeroizing::new(input.nfkc().collect::<String>());
    let trimmed = normalized.trim();
    if trimmed.is_empty() {
        return Err(DigitsError::Empty);
    }
    if !trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(DigitsError::NotDigits);
    }
    if trimmed.len() != len {
        return Err(DigitsError::WrongLength);
    }
    Ok(Zeroizing::new(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: FieldError = FieldError::new("", "too_long");

    #[test]
    fn clean_text_trims_ideographic_space_and_composes_to_nfc() {
        let out = clean_text("\u{3000} か\u{3099}き \u{3000}", 10, LONG).unwrap();
        assert_eq!(&*out, "がき");
    }

    #[test]
    fn clean_text_rejects_control_and_bidi_characters() {
        for bad in [
            "山田\n太郎",
            "a\tb",
            "ab\u{202E}cd",
            "x\u{200B}y",
            "\u{0007}",
        ] {
            assert_eq!(
                clean_text(bad, 10, LONG).unwrap_err().code,
                "invalid_character"
            );
        }
    }

    #[test]
    fn clean_text_counts_characters_not_bytes() {
        assert!(clean_text(&"山".repeat(10), 10, LONG).is_ok());
        assert_eq!(
            clean_text(&"山".repeat(11), 10, LONG).unwrap_err().code,
            "too_long"
        );
        assert_eq!(clean_text("   ", 10, LONG).unwrap_err().code, "required");
    }

    #[test]
    fn exact_digits_accepts_full_width_and_refuses_padding_or_separators() {
        assert_eq!(&*exact_digits("０１２３", 4).unwrap(), "0123");
        assert_eq!(&*exact_digits(" 0123 ", 4).unwrap(), "0123");
        assert_eq!(exact_digits("123", 4), Err(DigitsError::WrongLength));
        assert_eq!(exact_digits("12-34", 4), Err(DigitsError::NotDigits));
        assert_eq!(exact_digits("", 4), Err(DigitsError::Empty));
        // Other scripts' digits are digits to Unicode, not to a bank.
        assert_eq!(exact_digits("١٢٣٤", 4), Err(DigitsError::NotDigits));
    }
}
