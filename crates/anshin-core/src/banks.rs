//! Japanese banks and their branches by name: a bundled, dated copy of the
//! Zengin bank and branch code list, so a member can find "みずほ銀行 渋谷"
//! instead of typing 0001 and 210 from memory.
//!
//! The list is the `zengin-code` package (MIT) turned into a compact table
//! by `scripts/update-zengin` and embedded at build time
//! (`data/zengin.tsv.gz`, its version and date in its first line and in
//! [`source`]). It is read once, on first use, and never fetched at run
//! time: a search touches no network and no database.
//!
//! Names are matched after folding ([`fold`]): NFKC (full-width letters and
//! half-width katakana), katakana as hiragana, small kana as large (bank
//! transfer kana has none: ほっかいどう is ほつかいどう), without spaces,
//! long-vowel marks or punctuation, and lower case. So "みずほ", "ミズホ",
//! "ﾐｽﾞﾎ", "mizuho" and "みずほ銀行" all find bank 0001.
//!
//! Nothing here is personal data: the list is public.

use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// How many matches a search returns at most.
pub const MAX_RESULTS: usize = 30;

/// Longest query looked at (characters); the rest is ignored.
const MAX_QUERY: usize = 40;

static TABLE: &[u8] = include_bytes!("../data/zengin.tsv.gz");

/// Where the bundled list comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// `zengin-code`.
    pub package: String,
    /// The package version (`1.0.0-p20260824`).
    pub version: String,
    /// The date of the data (`2026-08-24`).
    pub date: String,
}

/// A bank (or credit union, JA, …) of the Zengin list.
// nosemgrep: anshin-secret-field-in-debug-derive -- `code` is a bank's public Zengin code
#[derive(Debug, Clone)]
pub struct Bank {
    /// 4 digits.
    pub code: String,
    /// As people write it: `みずほ銀行`, `横浜信用金庫`.
    pub name: String,
    /// The list's own short form: `みずほ`, `横浜信金`.
    pub short_name: String,
    /// Reading of [`Bank::name`] in hiragana, as the list writes kana
    /// (no small kana): `みずほぎんこう`.
    pub reading: String,
    branches: Vec<Branch>,
    keys: Vec<String>,
}

/// A branch of a bank.
// nosemgrep: anshin-secret-field-in-debug-derive -- `code` is a branch's public Zengin code
#[derive(Debug, Clone)]
pub struct Branch {
    /// 3 digits.
    pub code: String,
    /// `渋谷`, `東京営業部`.
    pub name: String,
    /// Reading in hiragana: `しぶや`.
    pub reading: String,
    keys: Vec<String>,
}

impl Bank {
    /// Every branch, in code order.
    pub fn branches(&self) -> &[Branch] {
        &self.branches
    }

    /// The branch with this code.
    pub fn branch(&self, code: &str) -> Option<&Branch> {
        self.branches.iter().find(|b| b.code == code)
    }
}

#[derive(Debug, Default)]
struct Directory {
    source: Source,
    banks: Vec<Bank>,
}

static DIRECTORY: LazyLock<Directory> = LazyLock::new(|| match load(TABLE) {
    Ok(d) => d,
    Err(e) => {
        // Cannot happen with the committed table (a test reads it); the
        // search then finds nothing rather than taking the site down.
        tracing::error!(error = %e, "the bundled bank list does not load");
        Directory::default()
    }
});

/// The bundled list's package, version and date.
pub fn source() -> &'static Source {
    &DIRECTORY.source
}

/// How many banks the bundled list holds.
pub fn bank_count() -> usize {
    DIRECTORY.banks.len()
}

/// The bank with this 4-digit code.
pub fn bank(code: &str) -> Option<&'static Bank> {
    DIRECTORY.banks.iter().find(|b| b.code == code)
}

/// Banks whose name, reading, romaji or code matches `query`: exact names
/// first, then names that begin with it, then names that contain it, each
/// in code order;
/// at most [`MAX_RESULTS`]. An empty query finds nothing.
pub fn search(query: &str) -> Vec<&'static Bank> {
    ranked(&DIRECTORY.banks, query, |b| (&b.code, &b.keys))
}

/// The branches of `bank` that match `query`, ranked as [`search`].
pub fn search_branches(bank: &'static Bank, query: &str) -> Vec<&'static Branch> {
    ranked(&bank.branches, query, |b| (&b.code, &b.keys))
}

fn ranked<'a, T>(
    items: &'a [T],
    query: &str,
    keys: impl Fn(&'a T) -> (&'a String, &'a Vec<String>),
) -> Vec<&'a T> {
    let q = fold(&query.chars().take(MAX_QUERY).collect::<String>());
    if q.is_empty() {
        return Vec::new();
    }
    // Exact names first, then names that begin with the query, then
    // names that contain it.
    let mut exact = Vec::new();
    let mut starts = Vec::new();
    let mut contains = Vec::new();
    for item in items {
        let (code, keys) = keys(item);
        if *code == q || keys.contains(&q) {
            exact.push(item);
        } else if code.starts_with(&q) || keys.iter().any(|k| k.starts_with(&q)) {
            starts.push(item);
        } else if keys.iter().any(|k| k.contains(&q)) {
            contains.push(item);
        }
        if exact.len() >= MAX_RESULTS {
            break;
        }
    }
    exact.extend(starts);
    exact.extend(contains);
    exact.truncate(MAX_RESULTS);
    exact
}

/// The form names are compared in: NFKC, lower case, katakana as
/// hiragana, small kana as large, without spaces, long-vowel marks,
/// hyphens or punctuation.
pub fn fold(s: &str) -> String {
    s.nfkc()
        .flat_map(char::to_lowercase)
        .filter_map(|c| {
            let c = match c {
                // Katakana ァ..ヶ to hiragana ぁ..ゖ.
                '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
                c => c,
            };
            match c {
                'ぁ' => Some('あ'),
                'ぃ' => Some('い'),
                'ぅ' => Some('う'),
                'ぇ' => Some('え'),
                'ぉ' => Some('お'),
                'っ' => Some('つ'),
                'ゃ' => Some('や'),
                'ゅ' => Some('ゆ'),
                'ょ' => Some('よ'),
                'ゎ' => Some('わ'),
                'ゕ' => Some('か'),
                'ゖ' => Some('け'),
                'ー' | '-' | '‐' | '‑' | '–' | '—' | '−' | '・' | '、' | '，' | ',' | '.'
                | '。' | '(' | ')' | '（' | '）' => None,
                c if c.is_whitespace() => None,
                c => Some(c),
            }
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
#[error("bundled bank list, line {line}: {what}")]
struct LoadError {
    line: usize,
    what: &'static str,
}

fn load(gz: &[u8]) -> Result<Directory, LoadError> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .map_err(|_| LoadError {
            line: 0,
            what: "not gzip'd UTF-8",
        })?;
    let mut d = Directory::default();
    for (i, line) in text.lines().enumerate() {
        let err = |what| LoadError { line: i + 1, what };
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["#", "source", package, version, date, ..] => {
                d.source = Source {
                    package: (*package).to_owned(),
                    version: (*version).to_owned(),
                    date: (*date).to_owned(),
                };
            }
            ["B", code, name, short, reading, short_reading, roma] => {
                let keys = [*name, *short, *reading, *short_reading, *roma]
                    .iter()
                    .map(|k| fold(k))
                    .collect();
                d.banks.push(Bank {
                    code: (*code).to_owned(),
                    name: (*name).to_owned(),
                    short_name: (*short).to_owned(),
                    reading: (*reading).to_owned(),
                    branches: Vec::new(),
                    keys,
                });
            }
            ["b", code, name, reading, roma] => {
                let bank = d.banks.last_mut().ok_or(err("a branch before any bank"))?;
                bank.branches.push(Branch {
                    code: (*code).to_owned(),
                    name: (*name).to_owned(),
                    reading: (*reading).to_owned(),
                    keys: [*name, *reading, *roma].iter().map(|k| fold(k)).collect(),
                });
            }
            [""] => {}
            _ => return Err(err("unknown line")),
        }
    }
    if d.source.version.is_empty() {
        return Err(LoadError {
            line: 1,
            what: "no source line",
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(banks: &[&Bank]) -> Vec<String> {
        banks.iter().map(|b| b.code.clone()).collect()
    }

    #[test]
    fn the_bundled_list_loads_with_its_date() {
        assert!(bank_count() > 1000, "{}", bank_count());
        let s = source();
        assert_eq!(s.package, "zengin-code");
        assert!(s.date.len() == 10 && s.date.starts_with("20"), "{s:?}");
        let mizuho = bank("0001").unwrap();
        assert_eq!(mizuho.name, "みずほ銀行");
        assert!(mizuho.branches().len() > 100);
    }

    /// Acceptance 4 (issue 12): みずほ銀行 from "みずほ" and from "ミズホ",
    /// then a branch by name within it.
    #[test]
    fn finds_mizuho_from_hiragana_and_katakana_then_a_branch_by_name() {
        for q in [
            "みずほ",
            "ミズホ",
            "ﾐｽﾞﾎ",
            "mizuho",
            "みずほ銀行",
            " みずほ ",
        ] {
            let found = search(q);
            assert_eq!(
                found.first().map(|b| b.name.as_str()),
                Some("みずほ銀行"),
                "{q}"
            );
        }
        let mizuho = bank("0001").unwrap();
        for q in ["渋谷", "しぶや", "シブヤ"] {
            let found = search_branches(mizuho, q);
            let first = found.first().unwrap();
            assert_eq!(
                (first.code.as_str(), first.name.as_str()),
                ("210", "渋谷"),
                "{q}"
            );
            assert!(found.iter().any(|b| b.name == "渋谷中央"), "{q}");
        }
        assert_eq!(search_branches(mizuho, "210")[0].name, "渋谷");
        assert!(search_branches(mizuho, "存在しない支店名").is_empty());
    }

    #[test]
    fn names_match_in_any_script_and_width_and_small_kana() {
        // 北海道信用金庫 is 北海道信金 in the list, ほつかいどう in its kana.
        let hokkaido = codes(&search("ほっかいどうしんようきんこ"));
        assert_eq!(hokkaido, ["1001"]);
        assert_eq!(codes(&search("ホッカイドウシンキン")), ["1001"]);
        assert_eq!(codes(&search("横浜信金"))[0], "1280");
        assert_eq!(codes(&search("ゆうちょ"))[0], "9900");
        assert_eq!(
            codes(&search("ＵＦＪ")).first().map(String::as_str),
            Some("0005")
        );
        assert_eq!(codes(&search("0009")), ["0009"]);
        // Prefix matches come before names that only contain the query.
        let kyoto = codes(&search("京都"));
        assert_eq!(kyoto[0], "0158", "京都銀行 first: {kyoto:?}");
        assert!(search("").is_empty() && search("  ").is_empty());
        assert!(search("銀").len() <= MAX_RESULTS);
    }

    #[test]
    fn fold_is_katakana_to_hiragana_nfkc_and_small_kana() {
        assert_eq!(fold("ミズホ"), "みずほ");
        assert_eq!(fold("ﾐｽﾞﾎ"), "みずほ");
        assert_eq!(fold("ＭＩＺＵＨＯ"), "mizuho");
        assert_eq!(fold("ホッカイドウ"), "ほつかいどう");
        assert_eq!(fold("エーユー　ジブン"), "えゆじぶん");
        assert_eq!(fold("え－ゆ－じぶん"), "えゆじぶん");
    }

    #[test]
    fn a_damaged_table_is_an_error_not_a_panic() {
        assert!(load(b"not gzip").is_err());
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(b"b\t001\tx\tx\tx\n").unwrap();
            e.finish().unwrap()
        };
        assert!(load(&gz).is_err());
    }
}
