//! Rule targets: `ARGS|!ARGS:foo|&TX:x|REQUEST_HEADERS:/^x-/` parsed into
//! [`VarSpec`]s. Values are extracted by the engine (see `engine/eval/targets.rs`).

use crate::pcre::Pattern;

/// How a target selects members of a collection.
#[derive(Clone, Debug)]
pub enum Selector {
    /// Exact key, compared case-insensitively (stored lower-case).
    Key(String),
    /// `/regex/` on the key.
    Regex(Pattern),
    /// A `/regex/` that is `/^word/` or `/^word.*/` (`TX:/^header_name_/`
    /// of rule 920450 runs over every `TX` key, which have no value id, so
    /// no per-request cache): answered without the regex engine. `text` is
    /// lower-case ASCII letters, digits, `_` and `-`; the answer is the
    /// pattern's, which is compiled case-insensitive and multi-line (so `^`
    /// also matches after a newline), and a trailing `.*` can match the
    /// empty string. Unanchored words stay regexes: their results are
    /// cached per member.
    Literal { text: String },
}

impl Selector {
    /// Whether a member named `key` is selected.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            Selector::Key(k) => k.eq_ignore_ascii_case(key),
            Selector::Regex(p) => p.is_match(key.as_bytes()),
            Selector::Literal { text } => {
                let k = key.as_bytes();
                let t = text.as_bytes();
                let at = |i: usize| {
                    k.get(i..i + t.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(t))
                };
                at(0) || k.iter().enumerate().any(|(i, &b)| b == b'\n' && at(i + 1))
            }
        }
    }

    /// The [`Selector::Literal`] equivalent of a selector pattern, if it
    /// is that simple.
    fn literal(pat: &str) -> Option<Selector> {
        let body = pat.strip_suffix(".*").unwrap_or(pat);
        let body = body.strip_prefix('^')?;
        let plain = !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        plain.then(|| Selector::Literal {
            text: body.to_ascii_lowercase(),
        })
    }
}

/// What a target's collection is, decided once at load time so that
/// evaluation matches on an enum instead of comparing names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coll {
    Args,
    ArgsGet,
    ArgsPost,
    ArgsNames,
    ArgsGetNames,
    ArgsPostNames,
    Cookies,
    CookieNames,
    Headers,
    HeaderNames,
    Files,
    FilesNames,
    PartHeaders,
    MatchedVars,
    MatchedVarsNames,
    Xml,
    /// `TX`, `IP`, `GLOBAL`, `SESSION`, `USER`, `RESOURCE`, `GEO`, `ENV`:
    /// looked up by name among the transaction's collections.
    Persistent,
    /// Single-valued variables (`REQUEST_URI`, `REQBODY_ERROR`, …), by name.
    Scalar,
}

impl Coll {
    /// The kind of an upper-case collection or variable name.
    pub fn of(name: &str) -> Coll {
        match name {
            "ARGS" => Coll::Args,
            "ARGS_GET" => Coll::ArgsGet,
            "ARGS_POST" => Coll::ArgsPost,
            "ARGS_NAMES" => Coll::ArgsNames,
            "ARGS_GET_NAMES" => Coll::ArgsGetNames,
            "ARGS_POST_NAMES" => Coll::ArgsPostNames,
            "REQUEST_COOKIES" => Coll::Cookies,
            "REQUEST_COOKIES_NAMES" => Coll::CookieNames,
            "REQUEST_HEADERS" => Coll::Headers,
            "REQUEST_HEADERS_NAMES" => Coll::HeaderNames,
            "FILES" => Coll::Files,
            "FILES_NAMES" => Coll::FilesNames,
            "MULTIPART_PART_HEADERS" => Coll::PartHeaders,
            "MATCHED_VARS" => Coll::MatchedVars,
            "MATCHED_VARS_NAMES" => Coll::MatchedVarsNames,
            "XML" => Coll::Xml,
            "TX" | "IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE" | "GEO" | "ENV" => {
                Coll::Persistent
            }
            _ => Coll::Scalar,
        }
    }
}

/// One target of a rule.
#[derive(Clone, Debug)]
pub struct VarSpec {
    /// Collection or variable name, upper-case (`ARGS`, `TX`, `REQUEST_URI`).
    pub collection: String,
    /// What `collection` names.
    pub kind: Coll,
    /// Optional member selector.
    pub selector: Option<Selector>,
    /// `&`: the number of members instead of their values.
    pub count: bool,
    /// `!`: an exclusion from the other targets.
    pub exclude: bool,
}

impl VarSpec {
    /// Whether this (exclusion) spec removes the value `collection:key`
    /// (`collection` upper-case, as every parsed name is).
    #[cfg(test)]
    pub fn excludes(&self, collection: &str, key: &str) -> bool {
        self.excludes_with(collection, key, &mut |s, k| s.matches(k))
    }

    /// [`VarSpec::excludes`] with the selector test supplied by the caller
    /// (the engine caches regex selector results per request).
    pub fn excludes_with(
        &self,
        collection: &str,
        key: &str,
        matches: &mut dyn FnMut(&Selector, &str) -> bool,
    ) -> bool {
        if self.collection != collection {
            return false;
        }
        match &self.selector {
            None => true,
            Some(s) => matches(s, key),
        }
    }
}

/// Split a target list on `|`, keeping `|` inside `/regex/` selectors.
fn split_targets(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '|' {
            out.push(std::mem::take(&mut cur));
            i += 1;
            continue;
        }
        cur.push(c);
        i += 1;
        if c == ':' {
            if chars.get(i) == Some(&'\'') {
                cur.push('\'');
                i += 1;
            }
            if chars.get(i) == Some(&'/') && chars.get(i + 1) != Some(&'*') {
                cur.push('/');
                i += 1;
                while let Some(&r) = chars.get(i) {
                    cur.push(r);
                    i += 1;
                    if r == '\\' {
                        if let Some(&e) = chars.get(i) {
                            cur.push(e);
                            i += 1;
                        }
                    } else if r == '/' {
                        break;
                    }
                }
            }
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Parse a target list. Errors are human-readable.
pub fn parse_targets(s: &str) -> Result<Vec<VarSpec>, String> {
    let mut out = Vec::new();
    for t in split_targets(s) {
        out.push(parse_one(&t)?);
    }
    if out.is_empty() {
        return Err("empty target list".into());
    }
    Ok(out)
}

/// Parse one target such as `!REQUEST_COOKIES:/__utm/`.
pub fn parse_one(t: &str) -> Result<VarSpec, String> {
    let mut t = t.trim();
    let mut exclude = false;
    let mut count = false;
    if let Some(r) = t.strip_prefix('!') {
        exclude = true;
        t = r;
    }
    if let Some(r) = t.strip_prefix('&') {
        count = true;
        t = r;
    }
    let (name, sel) = match t.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (t, None),
    };
    let collection = name.trim().to_ascii_uppercase();
    if collection.is_empty()
        || !collection
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!("invalid variable name `{name}`"));
    }
    let selector = match sel {
        None => None,
        Some(s) => {
            let s = s.trim();
            let s = s
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .unwrap_or(s);
            if collection == "XML" {
                // XPath: only the whole-document forms are supported.
                Some(Selector::Key(s.to_string()))
            } else if s.len() >= 2 && s.starts_with('/') && s.ends_with('/') {
                let pat = s.get(1..s.len() - 1).unwrap_or_default();
                match Selector::literal(pat) {
                    Some(l) => Some(l),
                    None => {
                        let p = Pattern::compile(&format!("(?i){pat}"))
                            .map_err(|e| format!("bad selector regex `{pat}`: {e}"))?;
                        Some(Selector::Regex(p))
                    }
                }
            } else {
                Some(Selector::Key(s.to_ascii_lowercase()))
            }
        }
    };
    Ok(VarSpec {
        kind: Coll::of(&collection),
        collection,
        selector,
        count,
        exclude,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_lists() {
        let v = parse_targets("REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&TX:x|ARGS:/a|b/|XML:/*")
            .unwrap();
        assert_eq!(v.len(), 5);
        assert!(v[1].exclude);
        assert!(v[1].excludes("REQUEST_COOKIES", "__utma"));
        assert!(!v[1].excludes("REQUEST_COOKIES", "x"));
        assert!(v[2].count);
        assert!(matches!(&v[2].selector, Some(Selector::Key(k)) if k == "x"));
        assert!(v[3].selector.as_ref().unwrap().matches("B"));
        assert_eq!(v[4].collection, "XML");
    }

    /// Literal selectors answer as the regex they replace.
    #[test]
    fn literal_selectors_agree_with_regex() {
        let pats = ["^header_name_", "^__utm", "^rfi_parameter_.*", "^A-b", "^x"];
        let keys = [
            "header_name_accept",
            "HEADER_NAME_x",
            "xheader_name_",
            "a\nheader_name_b",
            "",
            "__utmz",
            "a__UTM",
            "rfi_parameter_q",
            "a-b",
            "za-b",
            "rfi_parameter",
            "x",
        ];
        for pat in pats {
            let lit = Selector::literal(pat).unwrap();
            let re = Selector::Regex(Pattern::compile(&format!("(?i){pat}")).unwrap());
            for k in keys {
                assert_eq!(lit.matches(k), re.matches(k), "{pat} on {k:?}");
            }
        }
        assert!(Selector::literal("a|b").is_none());
        assert!(Selector::literal("__utm").is_none());
        assert!(Selector::literal("^").is_none());
        assert!(Selector::literal("MULTIPART_HEADERS_CONTENT_TYPES_*").is_none());
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_targets("ARGS|RE QUEST").is_err());
        assert!(parse_targets("").is_err());
    }
}
