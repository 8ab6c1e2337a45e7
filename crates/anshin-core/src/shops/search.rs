//! Search and browse: what a buyer types, turned into a
//! [`SearchQuery`] the store runs the same way on both databases.
//!
//! Text is compared after the same normalisation on both sides: the
//! item's title and description when it is saved ([`search_text`]), the
//! query when it is asked ([`terms`]): Unicode NFKC (full-width ＡＢＣ１２３
//! and half-width ｶﾀｶﾅ become abc123 and カタカナ), then lower case. The
//! databases then only compare substrings, so neither's collation or
//! case folding decides what is found.
//!
//! What an attacker tries here: wildcards (`%`, `_`), FTS5 syntax
//! (`"`, `NEAR(`, `*`), SQL (`' OR 1=1`), a huge query or thousands of
//! terms, a page number that makes the database skip millions of rows, a
//! negative or absurd price. The query is capped at
//! [`MAX_QUERY_CHARS`] characters and [`SearchQuery::MAX_TERMS`] terms,
//! the page at [`MAX_PAGE`], prices are parsed as [`anshin_domain::Yen`];
//! the store binds every term and escapes it for its syntax
//! (`anshin_store::sql::shops`).

use anshin_domain::{ItemDescription, ItemTitle, ShopId, Yen};
use anshin_store::{SearchQuery, SearchSort};
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use super::input::price_error;
use crate::member_data::FieldError;

/// Longest query kept, in characters (the rest is ignored).
pub const MAX_QUERY_CHARS: usize = 100;
/// Results per page.
pub const PAGE_SIZE: u32 = 24;
/// The last page a search may ask for (deeper pages make the database
/// skip ever more rows; a buyer refines the query instead).
pub const MAX_PAGE: u32 = 50;

/// NFKC then lower case: the form both the stored text and the query
/// are compared in.
pub fn normalise(text: &str) -> String {
    text.nfkc().collect::<String>().to_lowercase()
}

/// What the store indexes for an item: its title and description,
/// normalised, on separate lines (a query term holds no line break, so
/// it never matches across the two).
pub fn search_text(title: &ItemTitle, description: &ItemDescription) -> String {
    normalise(&format!("{}\n{}", title.as_str(), description.as_str()))
}

/// The query's terms: normalised, split at white space and at control
/// characters, at most [`SearchQuery::MAX_TERMS`] of them, from at most
/// [`MAX_QUERY_CHARS`] characters. No item's text holds a control
/// character to find, and SQLite's full-text index reads a NUL as the end
/// of its query (a scanner's `%00` answered 500 before this: issue 18's
/// dynamic scan).
pub fn terms(query: &str) -> Vec<String> {
    let capped: String = query.chars().take(MAX_QUERY_CHARS).collect();
    let mut out: Vec<String> = Vec::new();
    for t in normalise(&capped)
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|t| !t.is_empty())
    {
        if out.len() == SearchQuery::MAX_TERMS {
            break;
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    out
}

/// A search as the page and the API receive it (`/search?q=&min=&max=
/// &sort=&page=`); every field may be missing or empty.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchRequest {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub min: String,
    #[serde(default)]
    pub max: String,
    /// `newest` (default), `price_asc` or `price_desc`.
    #[serde(default)]
    pub sort: String,
    /// 1-based; empty is 1.
    #[serde(default)]
    pub page: String,
}

/// A parsed search: the store's query and the page it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSearch {
    pub query: SearchQuery,
    pub page: u32,
}

pub fn sort_name(sort: SearchSort) -> &'static str {
    match sort {
        SearchSort::Newest => "newest",
        SearchSort::PriceAsc => "price_asc",
        SearchSort::PriceDesc => "price_desc",
    }
}

impl SearchRequest {
    /// The store's query for this request's page (one more row than a
    /// page, to know whether a next page exists), or every wrong field.
    pub fn parse(&self, shop: Option<ShopId>) -> Result<ParsedSearch, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut price = |field: &'static str, raw: &str| -> Option<Yen> {
            if raw.trim().is_empty() {
                return None;
            }
            match anshin_domain::Price::parse(raw) {
                Some(p) => Some(p.yen()),
                None => {
                    errors.push(price_error(field, raw));
                    None
                }
            }
        };
        let min = price("min", &self.min);
        let max = price("max", &self.max);
        let sort = match self.sort.as_str() {
            "price_asc" => SearchSort::PriceAsc,
            "price_desc" => SearchSort::PriceDesc,
            "" | "newest" => SearchSort::Newest,
            _ => {
                errors.push(FieldError::new("sort", "unknown"));
                SearchSort::Newest
            }
        };
        let page = match self.page.trim() {
            "" => 1,
            p => match p.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new("page", "out_of_range"));
                    1
                }
            },
        };
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            errors.push(FieldError::new("max", "below_min"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ParsedSearch {
            query: SearchQuery {
                terms: terms(&self.q),
                min,
                max,
                sort,
                shop,
                offset: (page - 1) * PAGE_SIZE,
                limit: PAGE_SIZE + 1,
            },
            page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_is_compared_in_one_form() {
        assert_eq!(normalise("ＭＵＧ　ｶｯﾌﾟ"), "mug カップ");
        assert_eq!(normalise("Café"), "café");
        assert_eq!(
            terms("  青い　マグ  青い ﾏｸﾞ a b c d e f"),
            ["青い", "マグ", "a", "b", "c"]
        );
        assert!(terms("   ").is_empty());
        assert_eq!(terms("ab\0cd\u{1}ef\u{7f}"), ["ab", "cd", "ef"]);
        assert!(terms("\0\0").is_empty());
        let long = "あ".repeat(500);
        assert_eq!(terms(&long), ["あ".repeat(MAX_QUERY_CHARS)]);
        let t = ItemTitle::parse("ＭＵＧ").unwrap();
        let d = ItemDescription::parse("ｶｯﾌﾟ").unwrap();
        assert_eq!(search_text(&t, &d), "mug\nカップ");
    }

    #[test]
    fn requests_parse_prices_sort_and_page() {
        let r = SearchRequest {
            q: "マグ".into(),
            min: "１００".into(),
            max: "¥2,000".into(),
            sort: "price_desc".into(),
            page: "3".into(),
        };
        let p = r.parse(None).unwrap();
        assert_eq!(p.page, 3);
        assert_eq!(p.query.offset, 2 * PAGE_SIZE);
        assert_eq!(p.query.limit, PAGE_SIZE + 1);
        assert_eq!(p.query.min, Some(Yen::new(100)));
        assert_eq!(p.query.max, Some(Yen::new(2000)));
        assert_eq!(p.query.sort, SearchSort::PriceDesc);
        let bad = SearchRequest {
            min: "-5".into(),
            max: "abc".into(),
            sort: "price; DROP".into(),
            page: "100000".into(),
            ..SearchRequest::default()
        };
        let e: Vec<String> = bad
            .parse(None)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            e,
            [
                "min: invalid",
                "max: invalid",
                "sort: unknown",
                "page: out_of_range"
            ]
        );
        let inverted = SearchRequest {
            min: "500".into(),
            max: "100".into(),
            ..SearchRequest::default()
        };
        assert!(inverted.parse(None).is_err());
        assert_eq!(SearchRequest::default().parse(None).unwrap().page, 1);
    }

    proptest! {
        #[test]
        fn any_request_parses_or_fails_cleanly(q in "\\PC{0,300}", n in "\\PC{0,12}") {
            let r = SearchRequest { q: q.clone(), min: n.clone(), max: n.clone(), sort: n.clone(), page: n };
            if let Ok(p) = r.parse(None) {
                prop_assert!(p.query.terms.len() <= SearchQuery::MAX_TERMS);
                prop_assert!(p.query.offset < MAX_PAGE * PAGE_SIZE);
                prop_assert!(p.query.terms.iter().all(|t| !t.is_empty() && !t.chars().any(char::is_whitespace)));
            }
        }
    }
}
