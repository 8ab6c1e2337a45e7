//! The Zengin (全銀協) transfer file of a payout batch, and the bank's
//! result file (ADR 0020).
//!
//! # The transfer file (総合振込, 種別コード 21)
//! Fixed-length records of exactly 120 bytes, Shift_JIS (コード区分 0),
//! each ended by CR LF: one header (`1`), one data record (`2`) per
//! payout, one trailer (`8`) with the count and the total, one end
//! record (`9`). Numbers are right-aligned with zeros; text is left-
//! aligned with spaces, in Zengin's character set: half-width katakana
//! `ｦ`–`ﾝ` with `ﾞ` `ﾟ`, digits, upper-case letters, space and `( ) . -
//! / , ｢ ｣`. The layout:
//!
//! | record | bytes |
//! |---|---|
//! | header | 1 `1` · 2 `21` · 1 `0` · 10 依頼人コード · 40 依頼人名 · 4 振込指定日 MMDD · 4 仕向銀行番号 · 15 仕向銀行名 · 3 仕向支店番号 · 15 仕向支店名 · 1 預金種目 · 7 口座番号 · 17 dummy |
//! | data | 1 `2` · 4 被仕向銀行番号 · 15 銀行名 · 3 支店番号 · 15 支店名 · 4 手形交換所 · 1 預金種目 · 7 口座番号 · 30 受取人名 · 10 振込金額 · 1 新規コード `0` · 10 顧客コード1 (the batch line) · 10 顧客コード2 · 1 振込指定区分 `7` · 1 識別表示 · 7 dummy |
//! | trailer | 1 `8` · 6 合計件数 · 12 合計金額 · 101 dummy |
//! | end | 1 `9` · 119 dummy |
//!
//! The receiving bank's and branch's names are optional in the format
//! (the codes decide) and left blank.
//!
//! # Names
//! [`to_zengin`] folds a name into Zengin's alphabet (hiragana to
//! katakana, full-width to half-width, small kana to large, voiced kana to
//! kana + `ﾞ`, `ー` to `-`) and refuses what it cannot carry (kanji, `ヰ`,
//! symbols, lower-case kana that have no large form, anything wider than
//! the field), saying where and what kind of character, never the name:
//! the export is refused before a byte is written.
//!
//! # The result file
//! The bank's result (振込結果) is read in the same layout: its data
//! records name the batch line in 顧客コード1 and carry the result in the
//! 識別表示 byte (113): `0` paid, any other digit failed (the bank's
//! reason code). Records are checked against the batch (line, amount,
//! count) before anything is settled.

use encoding_rs::SHIFT_JIS;
use unicode_normalization::UnicodeNormalization;

/// Bytes per record, without the line end.
pub const RECORD_LEN: usize = 120;

/// Why a text cannot go into a Zengin field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("it is empty")]
    Empty,
    #[error("character {position} is a kanji (Zengin carries only the reading, in kana)")]
    Kanji { position: usize },
    #[error("character {position} is one Zengin cannot carry")]
    Unsupported { position: usize },
    #[error("it is {width} half-width characters long, more than the field's {max}")]
    TooLong { width: usize, max: usize },
}

fn is_kanji(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3FFFF}')
}

const FULL: &str = "ヲアイウエオヤユヨツアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
const SMALL: &str = "ヲァィゥェォャュョッ";

/// The half-width form of a full-width katakana without marks (small
/// kana as their large form: Zengin has no small kana).
fn half_kana(c: char) -> Option<char> {
    // Small kana first: ァ → ｱ, ッ → ﾂ, ヮ → ﾜ.
    let c = match c {
        'ヮ' => 'ワ',
        c => SMALL
            .chars()
            .position(|s| s == c)
            .filter(|&i| i > 0)
            .and_then(|i| FULL.chars().nth(i))
            .unwrap_or(c),
    };
    // U+FF66 ｦ, then ｧ..ｯ (skipped: small), ｰ, ｱ..ﾝ.
    const HALF_LARGE: &str = "ｦｱｲｳｴｵﾔﾕﾖﾂｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ";
    FULL.chars()
        .position(|f| f == c)
        .and_then(|i| HALF_LARGE.chars().nth(i))
}

/// Folds `text` into Zengin's alphabet, at most `max` bytes (one per
/// half-width character). See the module documentation.
pub fn to_zengin(text: &str, max: usize) -> Result<String, NameError> {
    // NFKC: half-width kana to full-width (ﾀﾞ → ダ), full-width Latin and
    // digits to ASCII; ゛ ゜ as combining marks first, so they compose.
    let marks: String = text
        .chars()
        .map(|c| match c {
            '\u{309B}' => '\u{3099}',
            '\u{309C}' => '\u{309A}',
            c => c,
        })
        .collect();
    let normalized: String = marks.nfkc().collect();
    let mut out = String::new();
    let mut space = false;
    for (i, c) in normalized.chars().enumerate() {
        let position = i + 1;
        // Hiragana ぁ..ゖ sit 0x60 below their katakana.
        let c = match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
            c => c,
        };
        if c.is_whitespace() && !c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        let mut pushed = false;
        if matches!(c, 'ヰ' | 'ヱ' | 'ヵ' | 'ヶ' | 'ヷ'..='ヺ') {
            return Err(NameError::Unsupported { position });
        }
        if c == 'ー' || c == '\u{2212}' || c == '\u{2010}' {
            out.push('-');
            pushed = true;
        } else if matches!(c, '\u{30A1}'..='\u{30F4}') {
            let mut parts = Vec::new();
            unicode_normalization::char::decompose_canonical(c, |p| parts.push(p));
            for p in parts {
                match p {
                    '\u{3099}' => out.push('ﾞ'),
                    '\u{309A}' => out.push('ﾟ'),
                    p => out.push(half_kana(p).ok_or(NameError::Unsupported { position })?),
                }
            }
            pushed = true;
        } else if c.is_ascii_digit() || c.is_ascii_uppercase() {
            out.push(c);
            pushed = true;
        } else if c.is_ascii_lowercase() {
            out.push(c.to_ascii_uppercase());
            pushed = true;
        } else if matches!(c, '(' | ')' | '.' | '-' | '/' | ',') {
            out.push(c);
            pushed = true;
        } else if c == '「' || c == '」' {
            out.push(if c == '「' { '｢' } else { '｣' });
            pushed = true;
        }
        if !pushed {
            return Err(if is_kanji(c) {
                NameError::Kanji { position }
            } else {
                NameError::Unsupported { position }
            });
        }
    }
    if out.is_empty() {
        return Err(NameError::Empty);
    }
    let width = out.chars().count();
    if width > max {
        return Err(NameError::TooLong { width, max });
    }
    Ok(out)
}

/// Why a file cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("the file is not whole 120-byte records")]
    Length,
    #[error("record {record}: {problem}")]
    Record {
        record: usize,
        problem: RecordProblem,
    },
}

/// What is wrong with one record of a result file (the console says it
/// in the reader's language, the shell in English).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordProblem {
    #[error("the first record is not a header")]
    NoHeader,
    #[error("the last record is not an end record")]
    NoEnd,
    #[error("no trailer before the end record")]
    NoTrailer,
    #[error("not a data record")]
    NotData,
    #[error("the amount is not digits")]
    Amount,
    #[error("customer code 1 is not a batch line")]
    Line,
    #[error("the result (byte 113) is not a digit")]
    Result,
    #[error("the trailer's count or total differs from the data records")]
    Totals,
}

/// The remitter (the platform) as the header names it.
// nosemgrep: anshin-secret-field-in-debug-derive -- `code` is the platform's remitter (company) code, printed in every transfer file
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remitter {
    /// 振込依頼人コード: 10 digits the bank gave.
    pub code: String,
    /// 振込依頼人名, folded by [`to_zengin`] (40).
    pub name: String,
    pub bank_code: String,
    /// Folded (15).
    pub bank_name: String,
    pub branch_code: String,
    /// Folded (15).
    pub branch_name: String,
    /// 1 普通, 2 当座, 4 貯蓄.
    pub account_type: u8,
    pub account_number: String,
}

/// One transfer.
#[derive(Clone, PartialEq, Eq)]
pub struct Transfer {
    pub bank_code: String,
    pub branch_code: String,
    pub account_type: u8,
    pub account_number: String,
    /// Folded by [`to_zengin`] (30).
    pub name: String,
    pub amount: i64,
    /// 顧客コード1: the line in the batch.
    pub line: u32,
}

impl std::fmt::Debug for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfer")
            .field("line", &self.line)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

fn digits(field: &'static str, text: &str, len: usize) -> Result<String, FileError> {
    if text.len() == len && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(text.to_owned())
    } else {
        Err(FileError::Field {
            field,
            reason: format!("must be exactly {len} digits"),
        })
    }
}

fn number(field: &'static str, n: i64, len: usize) -> Result<String, FileError> {
    let s = format!("{n:0len$}");
    if n < 0 || s.len() > len {
        return Err(FileError::Field {
            field,
            reason: format!("does not fit {len} digits"),
        });
    }
    Ok(s)
}

/// Appends `text` (already in Zengin's alphabet) as Shift_JIS, padded
/// with spaces to `len` bytes.
fn text(out: &mut Vec<u8>, field: &'static str, text: &str, len: usize) -> Result<(), FileError> {
    let (bytes, _, unmappable) = SHIFT_JIS.encode(text);
    if unmappable || bytes.len() != text.chars().count() || bytes.len() > len {
        return Err(FileError::Field {
            field,
            reason: format!("is not {len} single-byte Shift_JIS characters"),
        });
    }
    out.extend_from_slice(&bytes);
    out.resize(out.len() + len - bytes.len(), b' ');
    Ok(())
}

fn ascii(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn end_record(out: &mut Vec<u8>, start: usize) -> Result<(), FileError> {
    if out.len() - start != RECORD_LEN {
        return Err(FileError::Length);
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes the transfer file: header, one data record per transfer,
/// trailer, end. `mmdd` is the 振込指定日.
pub fn write(
    remitter: &Remitter,
    mmdd: &str,
    transfers: &[Transfer],
) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::with_capacity((transfers.len() + 3) * (RECORD_LEN + 2));
    let start = out.len();
    ascii(&mut out, "1210");
    ascii(&mut out, &digits("remitter code", &remitter.code, 10)?);
    text(&mut out, "remitter name", &remitter.name, 40)?;
    ascii(&mut out, &digits("transfer date", mmdd, 4)?);
    ascii(
        &mut out,
        &digits("remitter bank code", &remitter.bank_code, 4)?,
    );
    text(&mut out, "remitter bank name", &remitter.bank_name, 15)?;
    ascii(
        &mut out,
        &digits("remitter branch code", &remitter.branch_code, 3)?,
    );
    text(&mut out, "remitter branch name", &remitter.branch_name, 15)?;
    ascii(
        &mut out,
        &number("remitter account type", i64::from(remitter.account_type), 1)?,
    );
    ascii(
        &mut out,
        &digits("remitter account number", &remitter.account_number, 7)?,
    );
    out.resize(out.len() + 17, b' ');
    end_record(&mut out, start)?;
    let mut total: i64 = 0;
    for t in transfers {
        let start = out.len();
        ascii(&mut out, "2");
        ascii(&mut out, &digits("bank code", &t.bank_code, 4)?);
        out.resize(out.len() + 15, b' ');
        ascii(&mut out, &digits("branch code", &t.branch_code, 3)?);
        out.resize(out.len() + 15 + 4, b' ');
        ascii(
            &mut out,
            &number("account type", i64::from(t.account_type), 1)?,
        );
        ascii(&mut out, &digits("account number", &t.account_number, 7)?);
        text(&mut out, "receiver name", &t.name, 30)?;
        ascii(&mut out, &number("amount", t.amount, 10)?);
        ascii(&mut out, "0");
        ascii(&mut out, &number("customer code", i64::from(t.line), 10)?);
        out.resize(out.len() + 10, b' ');
        ascii(&mut out, "7 ");
        out.resize(out.len() + 7, b' ');
        end_record(&mut out, start)?;
        total = total.checked_add(t.amount).ok_or(FileError::Field {
            field: "total",
            reason: "overflows".into(),
        })?;
    }
    let start = out.len();
    ascii(&mut out, "8");
    ascii(
        &mut out,
        &number(
            "count",
            i64::try_from(transfers.len()).unwrap_or(i64::MAX),
            6,
        )?,
    );
    ascii(&mut out, &number("total", total, 12)?);
    out.resize(out.len() + 101, b' ');
    end_record(&mut out, start)?;
    let start = out.len();
    ascii(&mut out, "9");
    out.resize(out.len() + 119, b' ');
    end_record(&mut out, start)?;
    Ok(out)
}

/// One data record of the bank's result file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultLine {
    /// 顧客コード1: the batch line.
    pub line: u32,
    pub amount: i64,
    /// `None`: paid; `Some(code)`: failed with the bank's reason code.
    pub failure: Option<char>,
}

/// What a result file says, checked for shape: whole records, a header
/// first, a trailer whose count and total match the data records, an end
/// record last.
pub fn read_result(file: &[u8]) -> Result<Vec<ResultLine>, FileError> {
    let mut records = Vec::new();
    let mut rest = file;
    while !rest.is_empty() {
        let (record, tail) = rest.split_at_checked(RECORD_LEN).ok_or(FileError::Length)?;
        records.push(record);
        rest = tail
            .strip_prefix(b"\r\n")
            .or_else(|| tail.strip_prefix(b"\n"))
            .unwrap_or(tail);
    }
    let kind = |r: Option<&&[u8]>| r.and_then(|r| r.first().copied());
    let field = |r: &[u8], from: usize, len: usize| -> Option<i64> {
        let s = std::str::from_utf8(r.get(from..from + len)?).ok()?;
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let n = records.len();
    if n < 3 || kind(records.first()) != Some(b'1') {
        return Err(FileError::Record {
            record: 1,
            problem: RecordProblem::NoHeader,
        });
    }
    if kind(records.last()) != Some(b'9') {
        return Err(FileError::Record {
            record: n,
            problem: RecordProblem::NoEnd,
        });
    }
    let trailer = match records.get(n - 2) {
        Some(t) if kind(Some(t)) == Some(b'8') => *t,
        _ => {
            return Err(FileError::Record {
                record: n - 1,
                problem: RecordProblem::NoTrailer,
            });
        }
    };
    let mut lines = Vec::new();
    let mut total: i64 = 0;
    for (i, r) in records.iter().enumerate().take(n - 2).skip(1) {
        let bad = |problem| FileError::Record {
            record: i + 1,
            problem,
        };
        if kind(Some(r)) != Some(b'2') {
            return Err(bad(RecordProblem::NotData));
        }
        let amount = field(r, 80, 10).ok_or(bad(RecordProblem::Amount))?;
        let line = field(r, 91, 10)
            .and_then(|l| u32::try_from(l).ok())
            .ok_or(bad(RecordProblem::Line))?;
        let failure = match r.get(112).copied() {
            Some(b'0') => None,
            Some(c @ b'1'..=b'9') => Some(char::from(c)),
            _ => return Err(bad(RecordProblem::Result)),
        };
        total = total.saturating_add(amount);
        lines.push(ResultLine {
            line,
            amount,
            failure,
        });
    }
    let count = field(trailer, 1, 6);
    let sum = field(trailer, 7, 12);
    if count != i64::try_from(lines.len()).ok() || sum != Some(total) {
        return Err(FileError::Record {
            record: n - 1,
            problem: RecordProblem::Totals,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_into_zengin_kana() {
        let ok = |s: &str| to_zengin(s, 30).unwrap();
        assert_eq!(ok("ヤマダ　タロウ"), "ﾔﾏﾀﾞ ﾀﾛｳ");
        assert_eq!(ok("やまだ たろう"), "ﾔﾏﾀﾞ ﾀﾛｳ");
        assert_eq!(ok("ｷｭｳﾖ"), "ｷﾕｳﾖ");
        assert_eq!(ok("パーク"), "ﾊﾟ-ｸ");
        assert_eq!(ok("ヴィヴィ"), "ｳﾞｲｳﾞｲ");
        assert_eq!(ok("カ）アンシン"), "ｶ)ｱﾝｼﾝ");
        assert_eq!(ok("ＡＢＣ１"), "ABC1");
        assert_eq!(ok("ヲッ"), "ｦﾂ");
    }

    #[test]
    fn names_zengin_cannot_carry_are_refused_with_where() {
        assert_eq!(to_zengin("山田", 30), Err(NameError::Kanji { position: 1 }));
        assert_eq!(
            to_zengin("ヤマヰ", 30),
            Err(NameError::Unsupported { position: 3 })
        );
        assert_eq!(
            to_zengin("ヤマダ😀", 30),
            Err(NameError::Unsupported { position: 4 })
        );
        assert_eq!(to_zengin("  ", 30), Err(NameError::Empty));
        assert_eq!(
            to_zengin("ガギグゲゴザジズゼゾダヂヅデド", 15),
            Err(NameError::TooLong { width: 30, max: 15 })
        );
    }
}
