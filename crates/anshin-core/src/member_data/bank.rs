//! Bank accounts for creator payouts (C13: bank account details are
//! encrypted at rest).
//!
//! A domestic transfer in Japan goes through the Zengin system (全銀システム)
//! and needs: bank code (4 digits), branch code (3 digits), account type,
//! account number (7 digits) and the holder's name in katakana, which the
//! receiving bank compares with its own record.
//!
//! # Holder name (口座名義カナ)
//!
//! Zengin's character set for names (全銀協の規定文字, as banks publish it,
//! e.g. <https://jinjer-kyuyo.zendesk.com/hc/ja/articles/900002885563>) is
//! half-width: the large kana `ｱ`-`ﾝ` with `ﾞ` `ﾟ`, `0`-`9`, `A`-`Z`, space
//! and a few symbols, at least `( ) . - /`. Small kana and the long vowel
//! mark do not exist in it: `キュウヨ` is sent as `ｷﾕｳﾖ`, and banks turn `ー`
//! into `-`. Members type their name as they spell it, so [`HolderKana`]
//! stores that, in full-width, and folding it into Zengin's alphabet is the
//! payout exporter's job. What we accept:
//! - full-width katakana `ァ`-`ヴ` including small and voiced ones, and `ー`;
//!   not the obsolete `ヰ` `ヱ` (Zengin has no equivalent) nor `ヵ` `ヶ` `ヷ`-`ヺ`;
//! - half-width katakana (`ﾔﾏﾀﾞ`, with `ﾞ`/`ﾟ` combined into `ダ`/`パ`) and
//!   hiragana (`やまだ`), converted to full-width katakana;
//! - the Zengin punctuation used in company names (`カ）アンシン`):
//!   `（ ） ． － ／`, half- or full-width, stored full-width;
//! - spaces of any width, stored as one full-width space `　` between words
//!   (`ﾔﾏﾀﾞ ﾀﾛｳ` → `ヤマダ　タロウ`), none at either end.
//!
//! We refuse Latin letters and digits although Zengin has them: payouts go
//! to individual creators, whose accounts are held in katakana, and a
//! romanised name (`YAMADA`) typed for such an account comes back as a name
//! mismatch. Kanji are refused with a message asking for the reading.
//!
//! Length: at most 30 characters as the Zengin record counts them (受取人名
//! is 30 half-width characters, and a voiced kana such as `ダ` is two:
//! `ﾀﾞ`), so a name we accept always fits the transfer record.

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::FieldError;
use super::address::keep;
use super::text::{DigitsError, exact_digits, personal_string};

/// Zengin's receiver-name field, in half-width characters.
const HOLDER_MAX_WIDTH: usize = 30;

personal_string!(
    /// 金融機関コード: exactly 4 digits, e.g. `0005`.
    BankCode
);
personal_string!(
    /// 支店コード: exactly 3 digits, e.g. `001`.
    BranchCode
);
personal_string!(
    /// 口座番号: exactly 7 digits, e.g. `1234567`.
    AccountNumber
);
personal_string!(
    /// 口座名義カナ in full-width katakana, e.g. `ヤマダ　タロウ`. See the
    /// module documentation for the accepted characters.
    HolderKana
);

/// Errors of one fixed-length code field.
struct DigitErrors {
    required: FieldError,
    not_digits: FieldError,
    wrong_length: FieldError,
}

impl DigitErrors {
    fn pick(&self, error: DigitsError) -> FieldError {
        match error {
            DigitsError::Empty => self.required,
            DigitsError::NotDigits => self.not_digits,
            DigitsError::WrongLength => self.wrong_length,
        }
    }
}

const BANK_CODE_ERRORS: DigitErrors = DigitErrors {
    required: FieldError::new("bank_code", "required"),
    not_digits: FieldError::new("bank_code", "not_digits"),
    wrong_length: FieldError::new("bank_code", "wrong_length"),
};

const BRANCH_CODE_ERRORS: DigitErrors = DigitErrors {
    required: FieldError::new("branch_code", "required"),
    not_digits: FieldError::new("branch_code", "not_digits"),
    wrong_length: FieldError::new("branch_code", "wrong_length"),
};

const ACCOUNT_NUMBER_ERRORS: DigitErrors = DigitErrors {
    required: FieldError::new("account_number", "required"),
    not_digits: FieldError::new("account_number", "not_digits"),
    wrong_length: FieldError::new("account_number", "wrong_length"),
};

const ACCOUNT_TYPE_UNKNOWN: FieldError = FieldError::new("account_type", "unknown_account_type");

const HOLDER_REQUIRED: FieldError = FieldError::new("holder_kana", "required");
const HOLDER_TOO_LONG: FieldError = FieldError::new("holder_kana", "too_long");
const HOLDER_LATIN: FieldError = FieldError::new("holder_kana", "latin_letters");
const HOLDER_KANJI: FieldError = FieldError::new("holder_kana", "kanji");
const HOLDER_DIGITS: FieldError = FieldError::new("holder_kana", "digits");
const HOLDER_INVALID: FieldError = FieldError::new("holder_kana", "invalid_character");

impl BankCode {
    /// Exactly 4 digits, full-width accepted. Error field: `bank_code`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        exact_digits(input, 4)
            .map(|d| Self(d.to_string()))
            .map_err(|e| BANK_CODE_ERRORS.pick(e))
    }
}

impl BranchCode {
    /// Exactly 3 digits, full-width accepted. Error field: `branch_code`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        exact_digits(input, 3)
            .map(|d| Self(d.to_string()))
            .map_err(|e| BRANCH_CODE_ERRORS.pick(e))
    }
}

impl AccountNumber {
    /// Exactly 7 digits, full-width accepted. A shorter number is refused,
    /// not zero-padded: a missing digit may be a typo, and a payout to the
    /// wrong account cannot be taken back. Error field: `account_number`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        exact_digits(input, 7)
            .map(|d| Self(d.to_string()))
            .map_err(|e| ACCOUNT_NUMBER_ERRORS.pick(e))
    }

    /// `****321`: four stars and the last 3 digits.
    pub fn masked(&self) -> String {
        let last = self
            .0
            .get(self.0.len().saturating_sub(3)..)
            .unwrap_or_default();
        format!("****{last}")
    }
}

/// 預金種目. Not personal data on its own (three values), so its `Debug`
/// is the ordinary one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountType {
    /// 普通預金
    Ordinary,
    /// 当座預金
    Checking,
    /// 貯蓄預金
    Savings,
}

impl AccountType {
    /// The API words `ordinary`, `checking`, `savings` (case-insensitive),
    /// or the Japanese labels `普通`, `当座`, `貯蓄`. Error field:
    /// `account_type`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "ordinary" | "普通" | "普通預金" => Ok(Self::Ordinary),
            "checking" | "当座" | "当座預金" => Ok(Self::Checking),
            "savings" | "貯蓄" | "貯蓄預金" => Ok(Self::Savings),
            _ => Err(ACCOUNT_TYPE_UNKNOWN),
        }
    }

    /// The API word, canonical form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ordinary => "ordinary",
            Self::Checking => "checking",
            Self::Savings => "savings",
        }
    }

    /// The label on Japanese forms.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Ordinary => "普通",
            Self::Checking => "当座",
            Self::Savings => "貯蓄",
        }
    }

    /// 預金種目コード in a Zengin transfer record.
    pub fn zengin_code(self) -> u8 {
        match self {
            Self::Ordinary => 1,
            Self::Checking => 2,
            Self::Savings => 4,
        }
    }
}

/// Full-width katakana we store: `ァ`..=`ヴ` except `ヰ` `ヱ`, and `ー`.
fn is_accepted_katakana(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30F4}' | '\u{30FC}') && !matches!(c, 'ヰ' | 'ヱ')
}

fn is_kanji(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3FFFF}')
}

/// Half-width Zengin punctuation (what NFKC leaves of the full-width
/// forms) and the full-width form we store.
fn full_width_punctuation(c: char) -> Option<char> {
    match c {
        '(' => Some('（'),
        ')' => Some('）'),
        '.' => Some('．'),
        '-' => Some('－'),
        '/' => Some('／'),
        _ => None,
    }
}

/// Characters the Zengin record spends on `c`: 2 for a voiced or
/// semi-voiced kana (`ダ` is `ﾀﾞ`), else 1.
fn zengin_width(c: char) -> usize {
    let mut parts = 0;
    unicode_normalization::char::decompose_canonical(c, |_| parts += 1);
    parts
}

impl HolderKana {
    /// Converts and checks a holder name; see the module documentation.
    /// Error field: `holder_kana`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        if input.chars().count() > HOLDER_MAX_WIDTH * 4 {
            return Err(HOLDER_TOO_LONG);
        }
        // The spacing marks ゛ ゜ become combining ones, which NFKC then
        // composes with the kana before them (NFKC alone would turn them
        // into a space and a combining mark).
        let marks_combined: Zeroizing<String> = Zeroizing::new(
            input
                .chars()
                .map(|c| match c {
                    '\u{309B}' => '\u{3099}',
                    '\u{309C}' => '\u{309A}',
                    c => c,
                })
                .collect(),
        );
        // NFKC: half-width katakana to full-width with ﾞ/ﾟ composed
        // (ﾀﾞ → ダ), full-width Latin, digits and punctuation to ASCII.
        let normalized: Zeroizing<String> = Zeroizing::new(marks_combined.nfkc().collect());
        let mut out = Zeroizing::new(String::with_capacity(normalized.len()));
        let mut space_pending = false;
        let mut has_kana = false;
        for c in normalized.chars() {
            // Hiragana ぁ..ゖ sit exactly 0x60 below their katakana.
            let c = match c {
                '\u{3041}'..='\u{3096}' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
                c => c,
            };
            let stored = if is_accepted_katakana(c) {
                has_kana = true;
                c
            } else if let Some(full) = full_width_punctuation(c) {
                full
            } else if c.is_control() {
                // Tabs and line breaks are whitespace but not a name.
                return Err(HOLDER_INVALID);
            } else if c.is_whitespace() {
                space_pending = !out.is_empty();
                continue;
            } else if c.is_ascii_alphabetic() {
                return Err(HOLDER_LATIN);
            } else if c.is_ascii_digit() {
                return Err(HOLDER_DIGITS);
            } else if is_kanji(c) {
                return Err(HOLDER_KANJI);
            } else {
                return Err(HOLDER_INVALID);
            };
            if space_pending {
                out.push('\u{3000}');
                space_pending = false;
            }
            out.push(stored);
        }
        if out.is_empty() {
            return Err(HOLDER_REQUIRED);
        }
        if !has_kana {
            return Err(HOLDER_INVALID);
        }
        if out.chars().map(zengin_width).sum::<usize>() > HOLDER_MAX_WIDTH {
            return Err(HOLDER_TOO_LONG);
        }
        Ok(Self(out.to_string()))
    }
}

/// The payout account form as submitted, before parsing. Personal data:
/// redacted `Debug`, wiped on drop, deserialisable but never serialisable.
#[derive(Default, Clone, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct RawBankAccount {
    pub bank_code: String,
    pub branch_code: String,
    pub account_type: String,
    pub account_number: String,
    pub holder_kana: String,
}

impl std::fmt::Debug for RawBankAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawBankAccount([redacted])")
    }
}

/// A parsed payout account.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct BankAccount {
    bank_code: BankCode,
    branch_code: BranchCode,
    /// A fieldless enum has nothing to wipe.
    #[zeroize(skip)]
    account_type: AccountType,
    account_number: AccountNumber,
    holder_kana: HolderKana,
}

impl std::fmt::Debug for BankAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BankAccount([redacted])")
    }
}

impl BankAccount {
    /// Parses every field and returns either the account or all the field
    /// errors (at most one per field), in form order.
    pub fn parse(raw: RawBankAccount) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let bank_code = keep(&mut errors, BankCode::parse(&raw.bank_code));
        let branch_code = keep(&mut errors, BranchCode::parse(&raw.branch_code));
        let account_type = keep(&mut errors, AccountType::parse(&raw.account_type));
        let account_number = keep(&mut errors, AccountNumber::parse(&raw.account_number));
        let holder_kana = keep(&mut errors, HolderKana::parse(&raw.holder_kana));
        match (
            bank_code,
            branch_code,
            account_type,
            account_number,
            holder_kana,
        ) {
            (
                Some(bank_code),
                Some(branch_code),
                Some(account_type),
                Some(account_number),
                Some(holder_kana),
            ) if errors.is_empty() => Ok(Self {
                bank_code,
                branch_code,
                account_type,
                account_number,
                holder_kana,
            }),
            _ => Err(errors),
        }
    }

    pub fn bank_code(&self) -> &BankCode {
        &self.bank_code
    }

    pub fn branch_code(&self) -> &BranchCode {
        &self.branch_code
    }

    pub fn account_type(&self) -> AccountType {
        self.account_type
    }

    pub fn account_number(&self) -> &AccountNumber {
        &self.account_number
    }

    pub fn holder_kana(&self) -> &HolderKana {
        &self.holder_kana
    }

    /// `****321`: what a page may show of the account number.
    pub fn masked_number(&self) -> String {
        self.account_number.masked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw() -> RawBankAccount {
        RawBankAccount {
            bank_code: "0005".into(),
            branch_code: "001".into(),
            account_type: "ordinary".into(),
            account_number: "7654321".into(),
            holder_kana: "ﾔﾏﾀﾞ ﾀﾛｳ".into(),
        }
    }

    fn kana(input: &str) -> String {
        HolderKana::parse(input).unwrap().as_str().to_owned()
    }

    fn kana_err(input: &str) -> &'static str {
        let err = HolderKana::parse(input).unwrap_err();
        assert_eq!(err.field, "holder_kana");
        err.code
    }

    #[test]
    fn bank_and_branch_codes_are_exact_digit_counts() {
        assert_eq!(BankCode::parse("0005").unwrap().as_str(), "0005");
        assert_eq!(BankCode::parse("００３６").unwrap().as_str(), "0036");
        assert_eq!(BankCode::parse(" 9900 ").unwrap().as_str(), "9900");
        assert_eq!(BankCode::parse("005").unwrap_err().code, "wrong_length");
        assert_eq!(BankCode::parse("00051").unwrap_err().code, "wrong_length");
        assert_eq!(BankCode::parse("00a5").unwrap_err().code, "not_digits");
        assert_eq!(BankCode::parse("").unwrap_err().code, "required");
        assert_eq!(BranchCode::parse("001").unwrap().as_str(), "001");
        assert_eq!(BranchCode::parse("１２３").unwrap().as_str(), "123");
        let err = BranchCode::parse("12").unwrap_err();
        assert_eq!((err.field, err.code), ("branch_code", "wrong_length"));
        assert_eq!(BranchCode::parse("1-2").unwrap_err().code, "not_digits");
    }

    #[test]
    fn account_number_is_exactly_seven_digits_and_never_padded() {
        assert_eq!(AccountNumber::parse("1234567").unwrap().as_str(), "1234567");
        assert_eq!(
            AccountNumber::parse("０１２３４５６").unwrap().as_str(),
            "0123456"
        );
        assert_eq!(AccountNumber::parse("0001234").unwrap().as_str(), "0001234");
        let err = AccountNumber::parse("123456").unwrap_err();
        assert_eq!((err.field, err.code), ("account_number", "wrong_length"));
        let c = crate::i18n::Catalogs::load().unwrap();
        let en = err.message(c.get(crate::i18n::Lang::En));
        assert!(en.contains("exactly 7 digits"), "{en}");
        let ja = err.message(c.get(crate::i18n::Lang::Ja));
        assert!(ja.contains("7桁"), "{ja}");
        assert_eq!(
            AccountNumber::parse("12345678").unwrap_err().code,
            "wrong_length"
        );
        assert_eq!(
            AccountNumber::parse("123-4567").unwrap_err().code,
            "not_digits"
        );
        assert_eq!(AccountNumber::parse("  ").unwrap_err().code, "required");
    }

    #[test]
    fn c13_masked_number_shows_only_the_last_three_digits() {
        assert_eq!(AccountNumber::parse("7654321").unwrap().masked(), "****321");
        assert_eq!(
            BankAccount::parse(raw()).unwrap().masked_number(),
            "****321"
        );
        assert_eq!(AccountNumber::parse("0000009").unwrap().masked(), "****009");
    }

    #[test]
    fn account_type_parses_api_words_and_japanese_labels() {
        assert_eq!(
            AccountType::parse("ordinary").unwrap(),
            AccountType::Ordinary
        );
        assert_eq!(
            AccountType::parse(" Checking ").unwrap(),
            AccountType::Checking
        );
        assert_eq!(AccountType::parse("SAVINGS").unwrap(), AccountType::Savings);
        assert_eq!(AccountType::parse("普通").unwrap(), AccountType::Ordinary);
        assert_eq!(AccountType::parse("当座").unwrap(), AccountType::Checking);
        assert_eq!(AccountType::parse("貯蓄").unwrap(), AccountType::Savings);
        for bad in ["", "current", "checkings", "1", "普"] {
            let err = AccountType::parse(bad).unwrap_err();
            assert_eq!(
                (err.field, err.code),
                ("account_type", "unknown_account_type")
            );
        }
        for t in [
            AccountType::Ordinary,
            AccountType::Checking,
            AccountType::Savings,
        ] {
            assert_eq!(AccountType::parse(t.as_str()).unwrap(), t);
            assert_eq!(AccountType::parse(t.label_ja()).unwrap(), t);
        }
        assert_eq!(AccountType::Ordinary.zengin_code(), 1);
        assert_eq!(AccountType::Checking.zengin_code(), 2);
        assert_eq!(AccountType::Savings.zengin_code(), 4);
    }

    #[test]
    fn holder_kana_converts_half_width_katakana_with_voiced_marks() {
        assert_eq!(kana("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダ　タロウ");
        assert_eq!(kana("ｻﾄｳ ﾊﾟｸ"), "サトウ　パク");
        assert_eq!(kana("ｳﾞｨｸﾄﾙ"), "ヴィクトル");
        assert_eq!(kana("ｷｯﾄ ｼﾞｮｰ"), "キット　ジョー");
        assert_eq!(kana("ｦｶﾞﾜ"), "ヲガワ");
    }

    #[test]
    fn holder_kana_converts_hiragana_and_spacing_voiced_marks() {
        assert_eq!(kana("やまだ たろう"), "ヤマダ　タロウ");
        assert_eq!(kana("すずき　はなこ"), "スズキ　ハナコ");
        assert_eq!(kana("ゔぃくとる"), "ヴィクトル");
        assert_eq!(kana("きゃっと"), "キャット");
        assert_eq!(kana("か゛く"), "ガク");
        assert_eq!(kana("ハ゜ク"), "パク");
        assert_eq!(kana("カ\u{3099}ク"), "ガク");
        assert_eq!(kana("やまダ ﾀﾛｳ"), "ヤマダ　タロウ");
    }

    #[test]
    fn holder_kana_keeps_full_width_katakana_and_normalises_spaces() {
        assert_eq!(kana("ヤマダ　タロウ"), "ヤマダ　タロウ");
        assert_eq!(kana("  ヤマダ   タロウ  "), "ヤマダ　タロウ");
        assert_eq!(kana("ヤマダ 　 タロウ"), "ヤマダ　タロウ");
        assert_eq!(kana("ヤマダタロウ"), "ヤマダタロウ");
        assert_eq!(kana("ジョージ　スミス"), "ジョージ　スミス");
        assert_eq!(kana("ァィゥェォッャュョヮ"), "ァィゥェォッャュョヮ");
    }

    #[test]
    fn holder_kana_accepts_zengin_company_punctuation() {
        assert_eq!(kana("ｶ)ｱﾝｼﾝ"), "カ）アンシン");
        assert_eq!(kana("カ）アンシン"), "カ）アンシン");
        assert_eq!(kana("ド）ヤマダ．ショウテン"), "ド）ヤマダ．ショウテン");
        assert_eq!(kana("ヤマダ-タロウ"), "ヤマダ－タロウ");
        assert_eq!(kana("ヤマダ／タロウ"), "ヤマダ／タロウ");
    }

    #[test]
    fn holder_kana_rejects_latin_kanji_digits_and_other_symbols() {
        assert_eq!(kana_err("YAMADA TARO"), "latin_letters");
        assert_eq!(kana_err("ヤマダ taro"), "latin_letters");
        assert_eq!(kana_err("ＹＡＭＡＤＡ"), "latin_letters");
        assert_eq!(kana_err("山田太郎"), "kanji");
        assert_eq!(kana_err("ヤマ田"), "kanji");
        assert_eq!(kana_err("佐々木"), "kanji");
        assert_eq!(kana_err("ヤマダ2"), "digits");
        assert_eq!(kana_err("ヤマダ２"), "digits");
        assert_eq!(kana_err("スミス・ジョン"), "invalid_character");
        assert_eq!(kana_err("ｽﾐｽ･ｼﾞｮﾝ"), "invalid_character");
        assert_eq!(kana_err("ヤマダ!"), "invalid_character");
        assert_eq!(kana_err("ヰヱ"), "invalid_character");
        assert_eq!(kana_err("ヶ"), "invalid_character");
        assert_eq!(kana_err("ア゛"), "invalid_character");
        assert_eq!(kana_err("ヤマダ\nタロウ"), "invalid_character");
        assert_eq!(kana_err("（）"), "invalid_character");
        assert_eq!(kana_err("😀"), "invalid_character");
    }

    #[test]
    fn holder_kana_length_is_counted_as_zengin_counts_it() {
        assert_eq!(kana_err(""), "required");
        assert_eq!(kana_err(" 　 "), "required");
        assert_eq!(kana("ア"), "ア");
        assert_eq!(kana(&"ア".repeat(30)), "ア".repeat(30));
        assert_eq!(kana_err(&"ア".repeat(31)), "too_long");
        // ダ is ﾀﾞ in the transfer record: 15 of them fill 30.
        assert_eq!(kana(&"ダ".repeat(15)), "ダ".repeat(15));
        assert_eq!(kana_err(&"ダ".repeat(16)), "too_long");
        assert_eq!(kana(&"ﾀﾞ".repeat(15)), "ダ".repeat(15));
        assert_eq!(kana_err(&"ア".repeat(500)), "too_long");
    }

    #[test]
    fn c13_bank_account_parses_a_complete_form() {
        let account = BankAccount::parse(raw()).unwrap();
        assert_eq!(account.bank_code().as_str(), "0005");
        assert_eq!(account.branch_code().as_str(), "001");
        assert_eq!(account.account_type(), AccountType::Ordinary);
        assert_eq!(account.account_number().as_str(), "7654321");
        assert_eq!(account.holder_kana().as_str(), "ヤマダ　タロウ");
    }

    #[test]
    fn bank_account_reports_every_wrong_field_at_once() {
        let errors = BankAccount::parse(RawBankAccount {
            bank_code: "5".into(),
            branch_code: "abc".into(),
            account_type: "current".into(),
            account_number: "12345".into(),
            holder_kana: "Yamada".into(),
        })
        .unwrap_err();
        let got: Vec<_> = errors.iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(
            got,
            vec![
                ("bank_code", "wrong_length"),
                ("branch_code", "not_digits"),
                ("account_type", "unknown_account_type"),
                ("account_number", "wrong_length"),
                ("holder_kana", "latin_letters"),
            ]
        );
        let mut form = raw();
        form.holder_kana = "山田".into();
        let errors = BankAccount::parse(form).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].field, errors[0].code), ("holder_kana", "kanji"));
    }

    #[test]
    fn c13_debug_of_every_bank_type_is_redacted() {
        let account = BankAccount::parse(raw()).unwrap();
        let shown = [
            format!("{account:?}"),
            format!("{:?}", raw()),
            format!("{:?}", account.bank_code()),
            format!("{:?}", account.branch_code()),
            format!("{:?}", account.account_number()),
            format!("{:?}", account.holder_kana()),
        ];
        for text in &shown {
            assert!(text.contains("[redacted]"), "{text}");
            assert!(!text.chars().any(|c| c.is_ascii_digit()), "{text}");
            assert!(!text.contains("ヤマダ") && !text.contains("ﾔﾏ"), "{text}");
        }
    }

    /// Compiles only for types that wipe themselves when dropped.
    fn wipes_on_drop<T: ZeroizeOnDrop>(_: &T) {}

    #[test]
    fn c13_bank_types_zeroize_on_drop() {
        let account = BankAccount::parse(raw()).unwrap();
        wipes_on_drop(&account);
        wipes_on_drop(account.bank_code());
        wipes_on_drop(account.branch_code());
        wipes_on_drop(account.account_number());
        wipes_on_drop(account.holder_kana());
        wipes_on_drop(&raw());
        let mut account = account;
        account.zeroize();
        assert_eq!(account.account_number().as_str(), "");
        assert_eq!(account.holder_kana().as_str(), "");
    }

    /// Names built from accepted katakana, spaces and punctuation.
    fn holder_name() -> impl Strategy<Value = String> {
        "[ァ-ヴー]{1,3}([ 　（）．－／]{0,2}[ァ-ヴー]{1,3}){0,3}"
    }

    proptest! {
        #[test]
        fn parsers_never_panic(input in any::<String>()) {
            let _ = BankCode::parse(&input);
            let _ = BranchCode::parse(&input);
            let _ = AccountType::parse(&input);
            let _ = AccountNumber::parse(&input);
            let _ = HolderKana::parse(&input);
        }

        #[test]
        fn holder_kana_never_panics_on_kana_like_text(input in "[ぁ-ゟ゠-ヿｦ-ﾟ ー]{0,40}") {
            let _ = HolderKana::parse(&input);
        }

        #[test]
        fn c13_holder_kana_canonical_is_idempotent(input in holder_name()) {
            if let Ok(name) = HolderKana::parse(&input) {
                prop_assert_eq!(&HolderKana::parse(name.as_str()).unwrap(), &name);
                prop_assert!(!name.as_str().starts_with('　') && !name.as_str().ends_with('　'));
                prop_assert!(!name.as_str().contains(' '));
            }
        }

        #[test]
        fn c13_hiragana_and_katakana_spellings_agree(input in "[ぁ-ゔ]{1,15}") {
            let katakana: String = input
                .chars()
                .map(|c| char::from_u32(u32::from(c) + 0x60).unwrap())
                .collect();
            match (HolderKana::parse(&input), HolderKana::parse(&katakana)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert_eq!(a.map_err(|e| e.code).err(), b.map_err(|e| e.code).err()),
            }
        }

        #[test]
        fn c13_account_codes_canonical_is_idempotent(
            bank in "[0-9]{4}", branch in "[0-9]{3}", number in "[0-9]{7}"
        ) {
            let b = BankCode::parse(&bank).unwrap();
            prop_assert_eq!(&BankCode::parse(b.as_str()).unwrap(), &b);
            let br = BranchCode::parse(&branch).unwrap();
            prop_assert_eq!(&BranchCode::parse(br.as_str()).unwrap(), &br);
            let n = AccountNumber::parse(&number).unwrap();
            prop_assert_eq!(&AccountNumber::parse(n.as_str()).unwrap(), &n);
        }

        #[test]
        fn c13_masked_number_reveals_only_the_last_three(number in "[0-9]{7}") {
            let masked = AccountNumber::parse(&number).unwrap().masked();
            prop_assert_eq!(masked.chars().filter(|c| c.is_ascii_digit()).count(), 3);
            prop_assert_eq!(&masked[..4], "****");
            prop_assert_eq!(&masked[4..], &number[4..]);
        }

        #[test]
        fn c13_debug_never_contains_the_account_digits(number in "[0-9]{7}") {
            let mut form = raw();
            form.account_number = number;
            let account = BankAccount::parse(form).unwrap();
            let shown = format!("{account:?} {:?}", account.account_number());
            prop_assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{}", shown);
        }
    }
}
