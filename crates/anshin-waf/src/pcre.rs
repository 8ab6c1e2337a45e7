//! PCRE compatibility: CRS patterns are written for PCRE, we run them on
//! `regex::bytes` (linear time) after a load-time rewrite, and fall back to
//! `fancy-regex` (bounded backtracking) only for the few patterns that need
//! lookaround or backreferences.
//!
//! Rewrite rules (applied outside and inside character classes as noted):
//! * possessive quantifiers `*+ ++ ?+ }+` lose the `+` (same matches for CRS
//!   patterns; only backtracking behaviour differs);
//! * atomic groups `(?>…)` become non-capturing groups `(?:…)`;
//! * `\Q…\E` is replaced by the escaped literal;
//! * escapes that PCRE treats as literals but `regex` rejects or reads
//!   differently (`\<`, `\>`, `\/`, `\'`, `\"`, `\e`, `\Z`, …) become literals or
//!   their nearest equivalent (`\Z` → `\z`, `\h` → `[ \t]`);
//! * a `{` that does not start a valid `{n}`, `{n,}` or `{n,m}` quantifier is
//!   escaped, as PCRE reads it literally;
//! * inside classes, `[` (unless it opens a POSIX class), `&`, `~` and a `-`
//!   that cannot form a range are escaped, because `regex` reads them as
//!   nested classes or set operators.
//!
//! * (fast engine only) non-ASCII characters become `\xHH` byte escapes, as
//!   PCRE without UTF mode reads them.
//!
//! Matching flags: DOTALL and MULTILINE, as ModSecurity v3 compiles patterns;
//! Unicode is off so `.` and classes work on bytes.

use std::sync::{Arc, OnceLock};

/// Upper bound of backtracking steps for the fallback engine: a hostile input
/// gives up (no match) instead of pinning a core.
const BACKTRACK_LIMIT: usize = 200_000;

/// A compiled pattern, whichever engine runs it.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// Linear-time engine, matches on bytes; built on first use.
    Fast(Arc<LazyRegex>),
    /// Backtracking engine for lookaround/backreferences, bounded by a
    /// backtrack limit; matches on bytes.
    Fancy(Arc<fancy_regex::Regex>),
}

/// A pattern for the linear-time engine, checked at load time but compiled
/// when a request first needs it.
///
/// Most compiled patterns are never run: response-phase rules (the engine
/// only inspects requests), rules above the configured paranoia level
/// (skipped by the CRS's `skipAfter` markers), rules whose `@rx` a shared
/// [`regex::bytes::RegexSet`] answers. Compiling lazily keeps their
/// automata out of memory. The load-time check runs the same parser and
/// translator `regex` uses, with the same flags, so a pattern that passes
/// it compiles (the size limit below is far above any CRS pattern); were a
/// build still to fail, the pattern would never match.
#[derive(Debug)]
pub struct LazyRegex {
    source: String,
    compiled: OnceLock<Option<regex::bytes::Regex>>,
}

impl LazyRegex {
    fn get(&self) -> Option<&regex::bytes::Regex> {
        self.compiled
            .get_or_init(|| build_fast(&self.source).ok())
            .as_ref()
    }
}

fn build_fast(source: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(source)
        .unicode(false)
        .dot_matches_new_line(true)
        .multi_line(true)
        .size_limit(256 << 20)
        .dfa_size_limit(64 << 20)
        .build()
}

/// Parse and translate `source` as [`build_fast`] would, without building
/// any automaton: the load-time check of a lazily compiled pattern.
fn check_fast(source: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .multi_line(true)
        .build()
        .parse(source)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl Pattern {
    /// Compile a PCRE pattern, rewriting it first. Errors carry both engines'
    /// messages.
    pub fn compile(pcre: &str) -> Result<Pattern, String> {
        let rewritten = rewrite(pcre);
        let source = bytes_literals(&rewritten);
        match check_fast(&source) {
            Ok(()) => Ok(Pattern::Fast(Arc::new(LazyRegex {
                source,
                compiled: OnceLock::new(),
            }))),
            Err(e1) => {
                let fancy = fancy_regex::RegexBuilder::new(&format!("(?sm){rewritten}"))
                    .backtrack_limit(BACKTRACK_LIMIT)
                    .build();
                match fancy {
                    Ok(r) => Ok(Pattern::Fancy(Arc::new(r))),
                    Err(e2) => Err(format!("regex: {e1}; fancy-regex: {e2}")),
                }
            }
        }
    }

    /// An address that identifies the compiled pattern (shared clones have
    /// the same), for per-request caches.
    pub fn identity(&self) -> usize {
        match self {
            Pattern::Fast(r) => Arc::as_ptr(r) as usize,
            Pattern::Fancy(r) => Arc::as_ptr(r) as usize,
        }
    }

    /// The rewritten source of a pattern on the linear-time engine.
    pub fn fast_source(&self) -> Option<&str> {
        match self {
            Pattern::Fast(r) => Some(r.source.as_str()),
            Pattern::Fancy(_) => None,
        }
    }

    /// Build a set matching several fast patterns in one pass (same flags
    /// as [`Pattern::compile`]). None if it exceeds the size limits.
    pub fn build_set(sources: &[&str]) -> Option<regex::bytes::RegexSet> {
        regex::bytes::RegexSetBuilder::new(sources)
            .unicode(false)
            .dot_matches_new_line(true)
            .multi_line(true)
            .size_limit(512 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .ok()
    }

    /// Whether the pattern matches anywhere in `input`.
    pub fn is_match(&self, input: &[u8]) -> bool {
        match self {
            Pattern::Fast(r) => r.get().is_some_and(|r| r.is_match(input)),
            // `find`, not fancy-regex's `is_match`: the same answer (for a
            // backtracking pattern its `is_match` runs this very search).
            // Its `is_match` is generic, so this crate instantiates it, and
            // since the engine split that copy shares this function's
            // codegen unit: regex-automata's `is_match` then has two callers
            // there and LLVM stops inlining it into the `Fast` arm above
            // (+0.7–0.9% instructions per request; bench/README.md).
            Pattern::Fancy(r) => r.find(input).is_ok_and(|m| m.is_some()),
        }
    }

    /// First match with up to ten capture groups (group 0 is the whole match).
    pub fn captures(&self, input: &[u8]) -> Option<Vec<Vec<u8>>> {
        match self {
            Pattern::Fast(r) => {
                let caps = r.get()?.captures(input)?;
                Some(
                    (0..caps.len().min(10))
                        .map(|i| {
                            caps.get(i)
                                .map(|m| m.as_bytes().to_vec())
                                .unwrap_or_default()
                        })
                        .collect(),
                )
            }
            Pattern::Fancy(r) => {
                let caps = r.captures(input).ok()??;
                Some(
                    (0..caps.len().min(10))
                        .map(|i| {
                            caps.get(i)
                                .and_then(|m| input.get(m.start()..m.end()))
                                .map(<[u8]>::to_vec)
                                .unwrap_or_default()
                        })
                        .collect(),
                )
            }
        }
    }
}

/// Non-ASCII characters become `\xHH` escapes of their UTF-8 bytes: that is
/// how PCRE without UTF mode (as ModSecurity compiles) reads them, inside and
/// outside classes.
fn bytes_literals(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
    }
    out
}

/// Whether `chars[i..]` starts a valid counted quantifier `{n}`, `{n,}`, `{n,m}`.
fn is_quantifier(chars: &[char], i: usize) -> bool {
    let mut j = i + 1;
    let start = j;
    while chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
        j += 1;
    }
    if j == start {
        return false;
    }
    match chars.get(j) {
        Some('}') => true,
        Some(',') => {
            j += 1;
            while chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            chars.get(j) == Some(&'}')
        }
        _ => false,
    }
}

/// Escape a literal for the `regex` syntax.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() || c == ' ' {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    } else if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{:02x}", c as u32));
    }
}

/// Translate an escape sequence `\c` (backslash already consumed) outside a
/// class. Returns the replacement, or None to copy it unchanged.
fn translate_escape(c: char) -> Option<&'static str> {
    match c {
        '<' => Some("<"),
        '>' => Some(">"),
        '/' => Some("/"),
        '\'' => Some("'"),
        '"' => Some("\""),
        '`' => Some("`"),
        '@' => Some("@"),
        '%' => Some("%"),
        '=' => Some("="),
        ':' => Some(":"),
        ';' => Some(";"),
        ',' => Some(","),
        '!' => Some("!"),
        '_' => Some("_"),
        'e' => Some("\\x1b"),
        'Z' => Some("\\z"),
        'h' => Some("[ \\t]"),
        'H' => Some("[^ \\t]"),
        'R' => Some("(?:\\r\\n|\\n|\\r)"),
        _ => None,
    }
}

/// Apply the PCRE → `regex` rewrite rules described in the module docs.
pub fn rewrite(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 16);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    out.push_str("\\\\");
                    i += 1;
                    continue;
                };
                if n == 'Q' {
                    let mut j = i + 2;
                    while let Some(&q) = chars.get(j) {
                        if q == '\\' && chars.get(j + 1) == Some(&'E') {
                            j += 2;
                            break;
                        }
                        push_literal(&mut out, q);
                        j += 1;
                    }
                    i = j;
                    continue;
                }
                if n == 'E' {
                    i += 2;
                    continue;
                }
                if let Some(r) = translate_escape(n) {
                    out.push_str(r);
                } else {
                    out.push('\\');
                    out.push(n);
                }
                i += 2;
            }
            '[' => {
                i = rewrite_class(&chars, i, &mut out);
            }
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'>') => {
                out.push_str("(?:");
                i += 3;
            }
            '{' => {
                if is_quantifier(&chars, i) {
                    while let Some(&q) = chars.get(i) {
                        out.push(q);
                        i += 1;
                        if q == '}' {
                            break;
                        }
                    }
                    if chars.get(i) == Some(&'+') {
                        i += 1;
                    }
                } else {
                    out.push_str("\\{");
                    i += 1;
                }
            }
            '}' => {
                out.push_str("\\}");
                i += 1;
            }
            '*' | '+' | '?' => {
                out.push(c);
                i += 1;
                if chars.get(i) == Some(&'+') {
                    i += 1;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// One item of a character class, as far as range validity is concerned.
#[derive(PartialEq)]
enum ClassItem {
    /// A single character (literal or escape of one).
    Single,
    /// A multi-character item (`\w`, `[:alpha:]`) or a range already made.
    Multi,
    /// Start of the class.
    Start,
}

/// Rewrite a character class starting at `chars[start] == '['`; returns the
/// index after the closing `]`.
fn rewrite_class(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A leading ']' is a literal in PCRE.
    let mut prev = ClassItem::Start;
    if chars.get(i) == Some(&']') {
        out.push_str("\\]");
        i += 1;
        prev = ClassItem::Single;
    }
    while let Some(&c) = chars.get(i) {
        match c {
            ']' => {
                out.push(']');
                return i + 1;
            }
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    out.push_str("\\\\");
                    return i + 1;
                };
                let multi = matches!(n, 'w' | 'W' | 'd' | 'D' | 's' | 'S' | 'h' | 'v' | 'p' | 'P');
                match n {
                    'h' => out.push_str(" \\t"),
                    'e' => out.push_str("\\x1b"),
                    'x' | 'p' | 'P' | '0'..='7' => {
                        out.push('\\');
                        out.push(n);
                    }
                    c2 if c2.is_ascii_alphanumeric() => {
                        out.push('\\');
                        out.push(n);
                    }
                    other => push_literal(out, other),
                }
                i += 2;
                // \x{..} or \xhh: copy the hex digits verbatim.
                if n == 'x' {
                    if chars.get(i) == Some(&'{') {
                        while let Some(&h) = chars.get(i) {
                            out.push(h);
                            i += 1;
                            if h == '}' {
                                break;
                            }
                        }
                    } else {
                        for _ in 0..2 {
                            if let Some(&h) = chars.get(i).filter(|h| h.is_ascii_hexdigit()) {
                                out.push(h);
                                i += 1;
                            }
                        }
                    }
                }
                prev = if multi {
                    ClassItem::Multi
                } else {
                    ClassItem::Single
                };
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                // POSIX class: copy through ":]".
                let mut j = i;
                let mut closed = false;
                while let Some(&q) = chars.get(j) {
                    out.push(q);
                    j += 1;
                    if q == ']' && j > i + 2 {
                        closed = true;
                        break;
                    }
                }
                i = j;
                if !closed {
                    return i;
                }
                prev = ClassItem::Multi;
            }
            '-' => {
                let next = chars.get(i + 1).copied();
                let next_ok = match next {
                    None | Some(']') => false,
                    Some('\\') => !matches!(
                        chars.get(i + 2),
                        Some('w' | 'W' | 'd' | 'D' | 's' | 'S' | 'h' | 'v' | 'p' | 'P')
                    ),
                    Some('[') => false,
                    Some(_) => true,
                };
                if prev == ClassItem::Single && next_ok {
                    out.push('-');
                    prev = ClassItem::Multi;
                    // The range end is pushed by the next iteration; mark so a
                    // following '-' is literal.
                    i += 1;
                    if let Some(&e) = chars.get(i) {
                        if e == '\\' {
                            if let Some(&n) = chars.get(i + 1) {
                                if n.is_ascii_alphanumeric() {
                                    out.push('\\');
                                    out.push(n);
                                } else {
                                    push_literal(out, n);
                                }
                                i += 2;
                                if n == 'x' {
                                    if chars.get(i) == Some(&'{') {
                                        while let Some(&h) = chars.get(i) {
                                            out.push(h);
                                            i += 1;
                                            if h == '}' {
                                                break;
                                            }
                                        }
                                    } else {
                                        for _ in 0..2 {
                                            if let Some(&h) =
                                                chars.get(i).filter(|h| h.is_ascii_hexdigit())
                                            {
                                                out.push(h);
                                                i += 1;
                                            }
                                        }
                                    }
                                }
                            }
                        } else {
                            push_literal(out, e);
                            i += 1;
                        }
                    }
                    continue;
                }
                out.push_str("\\-");
                i += 1;
                prev = ClassItem::Single;
            }
            _ => {
                push_literal(out, c);
                i += 1;
                prev = ClassItem::Single;
            }
        }
    }
    i
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn possessive_and_atomic() {
        assert_eq!(rewrite("a*+b++(?>c)"), "a*b+(?:c)");
    }

    #[test]
    fn literal_braces_and_escapes() {
        assert_eq!(rewrite(r"a{b}\<x\>"), r"a\{b\}<x>");
        assert_eq!(rewrite(r"a{2,3}"), "a{2,3}");
    }

    #[test]
    fn classes() {
        assert_eq!(rewrite(r"[\w-.]"), r"[\w\-\.]");
        assert_eq!(rewrite(r"[a-z&&~[]"), r"[a-z\&\&\~\[]");
        assert_eq!(rewrite(r"[]a]"), r"[\]a]");
        assert_eq!(rewrite(r"[[:alpha:]-]"), r"[[:alpha:]\-]");
    }

    #[test]
    fn quote_meta() {
        assert_eq!(rewrite(r"\Qa.b\E"), r"a\.b");
    }

    #[test]
    fn compiles_and_matches_bytes_dotall() {
        let p = Pattern::compile("a.b").unwrap();
        assert!(p.is_match(b"a\nb"));
        assert!(p.is_match(b"a\xffb"));
        let p = Pattern::compile("^x$").unwrap();
        assert!(p.is_match(b"y\nx\nz"));
    }

    #[test]
    fn non_ascii_is_bytes() {
        let p = Pattern::compile("[´’]").unwrap();
        assert!(matches!(p, Pattern::Fast(_)));
        assert!(p.is_match(b"\xb4"));
        assert!(p.is_match("’".as_bytes()));
        assert!(!p.is_match(b"a"));
    }

    #[test]
    fn backreference_falls_back() {
        let p = Pattern::compile(r"(a)\1").unwrap();
        assert!(matches!(p, Pattern::Fancy(_)));
        assert!(p.is_match(b"xaa"));
        assert!(!p.is_match(b"xa"));
    }

    /// The fallback arm answers with `find`; it must say what fancy-regex's
    /// `is_match` says, including when the backtrack limit gives up.
    #[test]
    fn fallback_find_agrees_with_is_match() {
        let sources = [
            r"(a)\1",
            r"(?<=x)y",
            r"^(?!ab)\w+$",
            r"(a|b)\1{2}c",
            r"^(a|a)*\1$",
        ];
        let mut long = vec![b'a'; 40];
        long.push(b'c');
        let inputs: [&[u8]; 7] = [b"", b"xaa", b"xy", b"abc", b"bbbc", &long, b"a\xffb"];
        let mut gave_up = 0;
        for src in sources {
            let p = Pattern::compile(src).unwrap();
            let Pattern::Fancy(r) = &p else {
                panic!("{src} should need the fallback engine");
            };
            for input in inputs {
                let expected = r.is_match(input);
                gave_up += usize::from(expected.is_err());
                assert_eq!(
                    p.is_match(input),
                    expected.unwrap_or(false),
                    "{src} on {input:?}"
                );
            }
        }
        assert!(gave_up > 0, "the backtrack limit case is exercised");
    }
}
