//! Operators (`@rx`, `@pm`, `@eq`, …): decide whether one transformed value
//! matches. Compiled once at load time; arguments with `%{macros}` are
//! expanded per transaction.
//!
//! `@geoLookup` and `@rbl` are documented no-ops that never match: the engine
//! does no I/O and ships no GeoIP database.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::macros::Template;
use crate::pcre::Pattern;

/// An operator argument that may contain macros.
#[derive(Clone, Debug)]
pub enum Arg {
    /// Known at load time.
    Static(Vec<u8>),
    /// Expanded per transaction.
    Dynamic(Template),
}

/// A CIDR block for `@ipMatch`.
#[derive(Clone, Debug)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u32::from(net) & mask) == (u32::from(*ip) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u128::from(net) & mask) == (u128::from(*ip) & mask)
            }
            _ => false,
        }
    }
}

/// The operator kinds.
#[derive(Clone, Debug)]
pub enum OpKind {
    Rx(Pattern),
    RxDynamic(Template),
    Pm(Arc<AhoCorasick>),
    StrEq(Arg),
    Contains(Arg),
    ContainsWord(Arg),
    BeginsWith(Arg),
    EndsWith(Arg),
    Within(Arg),
    Eq(Arg),
    Ge(Arg),
    Gt(Arg),
    Le(Arg),
    Lt(Arg),
    ValidateByteRange(Box<[bool; 256]>),
    ValidateUrlEncoding,
    ValidateUtf8Encoding,
    IpMatch(Vec<Cidr>),
    DetectSqli,
    DetectXss,
    Unconditional,
    /// `@geoLookup`, `@rbl`, `@noMatch`: never match.
    NoMatch,
}

/// A compiled operator.
#[derive(Clone, Debug)]
pub struct Operator {
    /// `!@op`.
    pub negated: bool,
    /// The operator itself.
    pub kind: OpKind,
    /// Operator name as written, for diagnostics.
    pub name: String,
}

/// Result of running an operator on one value.
#[derive(Debug, Default, Clone)]
pub struct OpOutcome {
    /// Whether the operator (before negation) matched.
    pub matched: bool,
    /// Capture groups (for `capture`), group 0 first.
    pub captures: Vec<Vec<u8>>,
}

fn arg(s: &str) -> Arg {
    let t = Template::parse(s);
    if t.is_static() {
        Arg::Static(s.as_bytes().to_vec())
    } else {
        Arg::Dynamic(t)
    }
}

/// Words of a `@pm`/`@pmFromFile` list file: one per line, `#` comments.
fn read_list(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

fn build_pm(words: &[String]) -> Result<Arc<AhoCorasick>, String> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(words)
        .map(Arc::new)
        .map_err(|e| format!("@pm: {e}"))
}

fn parse_byte_ranges(s: &str) -> Result<Box<[bool; 256]>, String> {
    let mut table = Box::new([false; 256]);
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: u8 = lo.parse().map_err(|_| format!("bad byte range `{part}`"))?;
        let hi: u8 = hi.parse().map_err(|_| format!("bad byte range `{part}`"))?;
        for b in lo..=hi {
            if let Some(slot) = table.get_mut(usize::from(b)) {
                *slot = true;
            }
        }
    }
    Ok(table)
}

impl Operator {
    /// Compile an operator string such as `!@rx foo` or `foo` (implicit
    /// `@rx`). `base` is the directory of the rule file, for `@pmFromFile`.
    pub fn parse(s: &str, base: &Path) -> Result<Operator, String> {
        let mut s = s.trim_start();
        let mut negated = false;
        if let Some(r) = s.strip_prefix('!') {
            negated = true;
            s = r.trim_start();
        }
        let (name, param) = if let Some(r) = s.strip_prefix('@') {
            match r.split_once(|c: char| c.is_ascii_whitespace()) {
                Some((n, p)) => (n.to_string(), p.trim_start().to_string()),
                None => (r.to_string(), String::new()),
            }
        } else {
            ("rx".to_string(), s.to_string())
        };
        let kind = match name.to_ascii_lowercase().as_str() {
            "rx" => {
                let t = Template::parse(&param);
                if t.is_static() {
                    OpKind::Rx(Pattern::compile(&param)?)
                } else {
                    OpKind::RxDynamic(t)
                }
            }
            "pm" => {
                let words: Vec<String> = param.split_whitespace().map(str::to_string).collect();
                OpKind::Pm(build_pm(&words)?)
            }
            "pmfromfile" | "pmf" => {
                let mut words = Vec::new();
                for f in param.split_whitespace() {
                    let p = base.join(f);
                    words.extend(read_list(&p)?);
                }
                OpKind::Pm(build_pm(&words)?)
            }
            "streq" => OpKind::StrEq(arg(&param)),
            "contains" => OpKind::Contains(arg(&param)),
            "containsword" => OpKind::ContainsWord(arg(&param)),
            "beginswith" => OpKind::BeginsWith(arg(&param)),
            "endswith" => OpKind::EndsWith(arg(&param)),
            "within" => OpKind::Within(arg(&param)),
            "eq" => OpKind::Eq(arg(&param)),
            "ge" => OpKind::Ge(arg(&param)),
            "gt" => OpKind::Gt(arg(&param)),
            "le" => OpKind::Le(arg(&param)),
            "lt" => OpKind::Lt(arg(&param)),
            "validatebyterange" => OpKind::ValidateByteRange(parse_byte_ranges(&param)?),
            "validateurlencoding" => OpKind::ValidateUrlEncoding,
            "validateutf8encoding" => OpKind::ValidateUtf8Encoding,
            "ipmatch" => {
                let mut v = Vec::new();
                for p in param
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    v.push(Cidr::parse(p).ok_or_else(|| format!("bad address `{p}`"))?);
                }
                OpKind::IpMatch(v)
            }
            "ipmatchfromfile" | "ipmatchf" => {
                let mut v = Vec::new();
                for f in param.split_whitespace() {
                    for line in read_list(&base.join(f))? {
                        if let Some(c) = Cidr::parse(&line) {
                            v.push(c);
                        }
                    }
                }
                OpKind::IpMatch(v)
            }
            "detectsqli" => OpKind::DetectSqli,
            "detectxss" => OpKind::DetectXss,
            "unconditionalmatch" => OpKind::Unconditional,
            "nomatch" | "geolookup" | "rbl" => OpKind::NoMatch,
            other => return Err(format!("unsupported operator @{other}")),
        };
        Ok(Operator {
            negated,
            kind,
            name,
        })
    }

    /// Run the operator on one value. `expand` resolves macro arguments.
    /// `want_captures` asks for capture groups (the `capture` action).
    pub fn eval(
        &self,
        v: &[u8],
        want_captures: bool,
        expand: &mut dyn FnMut(&Template) -> Vec<u8>,
    ) -> OpOutcome {
        let mut res = OpOutcome::default();
        let matched = match &self.kind {
            OpKind::Rx(p) => rx(p, v, want_captures, &mut res),
            OpKind::RxDynamic(t) => {
                let pat = String::from_utf8_lossy(&expand(t)).into_owned();
                match Pattern::compile(&pat) {
                    Ok(p) => rx(&p, v, want_captures, &mut res),
                    Err(_) => false,
                }
            }
            OpKind::Pm(ac) => match ac.find(v) {
                Some(m) => {
                    if want_captures {
                        res.captures = vec![v.get(m.start()..m.end()).unwrap_or_default().to_vec()];
                    }
                    true
                }
                None => false,
            },
            OpKind::StrEq(a) => *arg_bytes(a, expand) == *v,
            OpKind::Contains(a) => {
                let needle = arg_bytes(a, expand);
                let hit = find(v, &needle);
                if hit && want_captures {
                    res.captures = vec![needle.into_owned()];
                }
                hit
            }
            OpKind::ContainsWord(a) => contains_word(v, &arg_bytes(a, expand)),
            OpKind::BeginsWith(a) => v.starts_with(&arg_bytes(a, expand)),
            OpKind::EndsWith(a) => v.ends_with(&arg_bytes(a, expand)),
            // As libmodsecurity: an empty value is within anything.
            OpKind::Within(a) => find(&arg_bytes(a, expand), v),
            OpKind::Eq(a) => atoi(v) == atoi(&arg_bytes(a, expand)),
            OpKind::Ge(a) => atoi(v) >= atoi(&arg_bytes(a, expand)),
            OpKind::Gt(a) => atoi(v) > atoi(&arg_bytes(a, expand)),
            OpKind::Le(a) => atoi(v) <= atoi(&arg_bytes(a, expand)),
            OpKind::Lt(a) => atoi(v) < atoi(&arg_bytes(a, expand)),
            OpKind::ValidateByteRange(t) => v
                .iter()
                .any(|b| !t.get(usize::from(*b)).copied().unwrap_or(false)),
            OpKind::ValidateUrlEncoding => !valid_url_encoding(v),
            OpKind::ValidateUtf8Encoding => std::str::from_utf8(v).is_err(),
            OpKind::IpMatch(cidrs) => match std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
            {
                Some(ip) => cidrs.iter().any(|c| c.contains(&ip)),
                None => false,
            },
            // libinjectionrs is a machine translation: a panic inside it is
            // contained and counted as a detection (fail closed).
            OpKind::DetectSqli if sqli_proven_safe(v) => false,
            OpKind::DetectSqli => match std::panic::catch_unwind(|| libinjectionrs::detect_sqli(v))
            {
                Ok(r) => {
                    if r.is_injection()
                        && want_captures
                        && let Some(fp) = &r.fingerprint
                    {
                        res.captures = vec![fp.to_string().into_bytes()];
                    }
                    r.is_injection()
                }
                Err(_) => true,
            },
            OpKind::DetectXss if xss_proven_safe(v) => false,
            OpKind::DetectXss => {
                std::panic::catch_unwind(|| libinjectionrs::detect_xss(v).is_injection())
                    .unwrap_or(true)
            }
            OpKind::Unconditional => true,
            OpKind::NoMatch => false,
        };
        res.matched = matched;
        res
    }
}

impl Operator {
    /// `Some(0)` / `Some(1)` when evaluating this operator on `v` would call
    /// libinjection's SQLi / XSS detector (the prefilters below did not
    /// decide): its outcome is then a pure function of `v` (and of whether
    /// captures are wanted), which the engine caches per request.
    pub(crate) fn libinjection_call(&self, v: &[u8]) -> Option<u8> {
        match self.kind {
            OpKind::DetectSqli if !sqli_proven_safe(v) => Some(0),
            OpKind::DetectXss if !xss_proven_safe(v) => Some(1),
            _ => None,
        }
    }
}

/// Values for which `libinjectionrs::detect_sqli` (0.1.1) can never report
/// SQL injection, so `@detectSQLi` skips the call (it is the largest single
/// cost of a benign request). Two classes: `[A-Za-z_][A-Za-z0-9_]*` and
/// `[0-9]+`. Why, from the detector's code (`src/sqli/`):
///
/// * `detect()` returns false on empty input; otherwise it parses the input
///   with no quote context (ANSI, and again as MySQL if `reparse_as_mysql`
///   says so, which changes only how comments, `#` and `"` are read), and
///   adds the single- and double-quote contexts only if the input contains
///   `'` or `"` — neither class does.
/// * A result is SQLi only if the fingerprint is in the blacklist
///   (`is_blacklisted`: `"0"` + the fingerprint upper-cased, looked up as a
///   keyword of type `F`); the whitelist can only turn a hit into a miss.
///   The blacklisted fingerprints of one token are exactly one: `X` (an
///   "evil" token), i.e. keyword `0X` (the others are 2 to 5 tokens long).
/// * Letters class: the first byte's character type is `Word` or one of
///   `BString EString NQString QString UString XString` (b e n q u x); each
///   of those string parsers needs a `'` (or `&'`) after the letter and
///   otherwise calls `parse_word`. `parse_word` stops only at bytes of
///   ` []{}<>:\?=@!#~+-*/&|^%(),';\t\n\x0B\x0C\r"\xA0\0` and splits only
///   at `.` or `` ` ``; none is in the class, so the whole value is ONE
///   token, typed by `lookup_word` (bareword, or a keyword type from the
///   table: k f U E T t o & v 1 A B F — never `X`).
/// * Digits class: `parse_number`'s `0x`/`0b` prefixes need an `x`/`b`
///   byte, absent here; its integer loop takes every byte, and the input
///   ends there (no `.`, exponent or `d`/`f` suffix to read): ONE `Number`
///   token (`1`).
/// * An `X` token is made only by the tokenizer inside `/*` comments
///   (nested or MySQL `/*!`, needs `/`) and by folding a `{` token followed
///   by a bareword: neither can arise from one word or number token.
///
/// So the fingerprint is one character other than `X`, never blacklisted.
/// `tests::prefilters_agree_with_libinjection` runs the detector on
/// generated values of both classes and asserts none is flagged.
fn sqli_proven_safe(v: &[u8]) -> bool {
    match v.first() {
        Some(b) if b.is_ascii_digit() => v.iter().all(u8::is_ascii_digit),
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {
            v.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        _ => false,
    }
}

/// Values for which `libinjectionrs::detect_xss` (0.1.1) can never report
/// XSS, so `@detectXSS` skips the call: no byte among `<` `>` `=` `/` `"`
/// `'` `` ` ``, NUL and HTML whitespace (`\t \n \x0B \x0C \r` and space);
/// any other byte, UTF-8 or not, is allowed. Why, from `src/xss/`:
///
/// * `detect` runs `is_xss` in five contexts; `is_xss` returns true only on
///   a `Doctype` or `TagNameOpen` token, a `TagComment` token, or an
///   `AttrValue` token that follows an `AttrName` token (an attribute value
///   right after anything else resets `attr` to `None`).
/// * Data state: `state_data` looks for `<`; without one the whole value is
///   a single `DataText` token, then `state_eof`.
/// * Unquoted-value context starts in `state_before_attribute_name`:
///   `h5_skip_white` skips nothing (no whitespace or NUL), the first byte is
///   not `/` or `>`, so `state_attribute_name` scans for whitespace, `/`,
///   `=` or `>`, finds none and emits the whole value as ONE `AttrName`
///   token, then `state_eof`: no `AttrValue` follows it.
/// * Quoted-value contexts (`'`, `"`, `` ` ``) start at position 0, so they
///   skip no quote; the closing quote is absent, so the whole value is ONE
///   `AttrValue` token with no `AttrName` before it, then `state_eof`.
///
/// An empty value gives no token at all. `tests::prefilters_agree_with_libinjection`
/// backs this with generated values.
fn xss_proven_safe(v: &[u8]) -> bool {
    !v.iter().any(|b| {
        matches!(
            b,
            b'<' | b'>'
                | b'='
                | b'/'
                | b'"'
                | b'\''
                | b'`'
                | 0
                | b'\t'
                | b'\n'
                | 0x0B
                | 0x0C
                | b'\r'
                | b' '
        )
    })
}

/// An operator argument's bytes: static ones are borrowed, since most
/// operators run on every value.
fn arg_bytes<'a>(
    a: &'a Arg,
    expand: &mut dyn FnMut(&Template) -> Vec<u8>,
) -> std::borrow::Cow<'a, [u8]> {
    match a {
        Arg::Static(s) => std::borrow::Cow::Borrowed(s.as_slice()),
        Arg::Dynamic(t) => std::borrow::Cow::Owned(expand(t)),
    }
}

fn rx(p: &Pattern, v: &[u8], want_captures: bool, res: &mut OpOutcome) -> bool {
    // Most values do not match: answer that without building captures.
    if !p.is_match(v) {
        return false;
    }
    if want_captures {
        match p.captures(v) {
            Some(c) => res.captures = c,
            // The backtracking engine can give up on the second run.
            None => return false,
        }
    }
    true
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || memchr::memmem::find(hay, needle).is_some()
}

fn contains_word(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let is_word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let n = needle.len();
    (0..hay.len().saturating_sub(n - 1)).any(|i| {
        hay.get(i..i + n) == Some(needle)
            && !is_word(if i == 0 { None } else { hay.get(i - 1) })
            && !is_word(hay.get(i + n))
    })
}

/// C `atoi`: optional whitespace and sign, then digits; anything else is 0.
pub fn atoi(v: &[u8]) -> i64 {
    let mut it = v.iter().skip_while(|b| b.is_ascii_whitespace()).peekable();
    let mut neg = false;
    if let Some(&&s) = it.peek()
        && (s == b'-' || s == b'+')
    {
        neg = s == b'-';
        it.next();
    }
    let mut n: i64 = 0;
    for b in it {
        if !b.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

fn valid_url_encoding(v: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'%' {
            let ok = v.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && v.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(op: &str, v: &str) -> bool {
        let o = Operator::parse(op, Path::new("/nonexistent")).unwrap();
        let r = o.eval(v.as_bytes(), false, &mut |_| b"GET POST".to_vec());
        r.matched != o.negated
    }

    #[test]
    fn basic_operators() {
        assert!(m("@rx ^a.c$", "abc"));
        assert!(m("!@rx ^x", "abc"));
        assert!(m("@pm foo bar", "xxBARxx"));
        assert!(m("@within %{tx.allowed_methods}", "POST"));
        assert!(!m("@within %{tx.allowed_methods}", "PUT"));
        assert!(m("@within %{tx.allowed_methods}", ""));
        assert!(m("@eq 5", "5"));
        assert!(m("@lt 5", "abc"));
        assert!(m("@ge 10", "10"));
        assert!(m("@gt 1", "2"));
        assert!(m("@endsWith .php", "a.php"));
        assert!(m("@beginsWith a", "abc"));
        assert!(m("@streq abc", "abc"));
        assert!(m("@contains b", "abc"));
        assert!(m("@containsWord b", "a b c"));
        assert!(!m("@containsWord b", "abc"));
        assert!(m("@validateByteRange 32-126", "a\x01"));
        assert!(!m("@validateByteRange 32-126", "abc"));
        assert!(m("@validateUrlEncoding", "%zz"));
        assert!(!m("@validateUrlEncoding", "%41"));
        assert!(m("@ipMatch 127.0.0.1,10.0.0.0/8,::1", "10.2.3.4"));
        assert!(m("@ipMatch 127.0.0.1,10.0.0.0/8,::1", "::1"));
        assert!(!m("@ipMatch 127.0.0.1", "127.0.0.2"));
        assert!(!m("@geoLookup", "1.2.3.4"));
        assert!(!m("@rbl sbl-xbl.spamhaus.org", "1.2.3.4"));
    }

    #[test]
    fn libinjection_on_known_payloads() {
        assert!(m("@detectSQLi", "1' OR '1'='1"));
        assert!(m("@detectSQLi", "1 UNION SELECT password FROM users--"));
        assert!(!m("@detectSQLi", "hello world"));
        assert!(m("@detectXSS", "<script>alert(1)</script>"));
        assert!(m("@detectXSS", "<img src=x onerror=alert(1)>"));
        assert!(!m("@detectXSS", "just some text"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]
        /// The machine-translated libinjection must not panic on anything.
        #[test]
        fn libinjection_never_panics(
            v in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            s in "[ -~]{0,60}",
            sql in "(SELECT|UNION|OR|AND|'|\"|`|--|#|/\\*|\\*/|\\(|\\)|[0-9]{1,3}|[a-z]{1,5}|;|=| |,|@|\\$|\\\\|<|>|&|script|on[a-z]+=|javascript:){0,24}",
        ) {
            for input in [&v[..], s.as_bytes(), sql.as_bytes()] {
                let _ = libinjectionrs::detect_sqli(input);
                let _ = libinjectionrs::detect_xss(input);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 20000, ..Default::default() })]
        /// Every value the prefilters let skip libinjection is one the full
        /// detector does not flag (the argument is in their doc comments).
        #[test]
        fn prefilters_agree_with_libinjection(
            word in "[A-Za-z_][A-Za-z0-9_]{0,40}",
            kw in "(?i)(union|select|or|and|xor|div|like|sleep|benchmark|x|b|n|q|u|e|0x|0b|f|d|null|true|version|exec|_utf8|1e|1f|1d){1,4}",
            digits in "[0-9]{1,30}",
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60),
            text in "[^<>=/\"'` \t\n\r\x0B\x0C\x00]{0,60}",
            xssy in "(on[a-z]{0,8}|javascript:|script|style|href|src|formaction|xmlns|&#|&lt;|\\[if|xml|import|entity|!|\\?|-|:|;|\\(|\\)|\\[|]|[a-z0-9]{1,4}|\\x80|日本){0,12}",
        ) {
            for input in [word.as_bytes(), kw.as_bytes(), digits.as_bytes(), &bytes[..]] {
                if sqli_proven_safe(input) {
                    proptest::prop_assert!(!libinjectionrs::detect_sqli(input).is_injection(), "{:?}", input);
                }
            }
            for input in [word.as_bytes(), kw.as_bytes(), digits.as_bytes(), &bytes[..], text.as_bytes(), xssy.as_bytes()] {
                if xss_proven_safe(input) {
                    proptest::prop_assert!(!libinjectionrs::detect_xss(input).is_injection(), "{:?}", input);
                }
            }
        }
    }

    /// Every SQL keyword and fingerprint word of libinjection's table alone,
    /// and after a digit, a letter or `_`: what the letters class admits.
    #[test]
    fn prefilters_on_keywords() {
        for w in [
            "union",
            "UNION",
            "select",
            "or",
            "OR",
            "and",
            "xor",
            "div",
            "sleep",
            "X",
            "x",
            "0X",
            "null",
            "_utf8",
            "version",
            "exec",
            "waitfor",
            "1",
            "0",
            "00",
            "1234567890",
        ] {
            for input in [
                w.to_owned(),
                format!("a{w}"),
                format!("_{w}"),
                format!("{w}1"),
            ] {
                let b = input.as_bytes();
                if sqli_proven_safe(b) {
                    assert!(!libinjectionrs::detect_sqli(b).is_injection(), "{input}");
                }
                if xss_proven_safe(b) {
                    assert!(!libinjectionrs::detect_xss(b).is_injection(), "{input}");
                }
            }
        }
        assert!(!sqli_proven_safe(b""));
        assert!(!sqli_proven_safe(b"1a"));
        assert!(!sqli_proven_safe(b"a-b"));
        assert!(!xss_proven_safe(b"a b"));
        assert!(xss_proven_safe(b""));
    }

    #[test]
    fn atoi_semantics() {
        assert_eq!(atoi(b" -12x"), -12);
        assert_eq!(atoi(b"x"), 0);
    }
}
