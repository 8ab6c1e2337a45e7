//! Transformations (`t:`): normalise a value before an operator sees it, so
//! that encoded or obfuscated payloads reach the same patterns as plain ones.
//! Semantics follow ModSecurity's documentation; all work on bytes and never
//! fail (invalid encodings are left as they are).

use sha1::{Digest, Sha1};

/// One transformation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    Lowercase,
    Uppercase,
    UrlDecode,
    UrlDecodeUni,
    UrlEncode,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    CmdLine,
    CompressWhitespace,
    RemoveNulls,
    ReplaceNulls,
    RemoveWhitespace,
    ReplaceComments,
    RemoveComments,
    RemoveCommentsChar,
    NormalizePath,
    NormalizePathWin,
    Utf8ToUnicode,
    Base64Decode,
    Base64DecodeExt,
    Base64Encode,
    HexEncode,
    HexDecode,
    Length,
    Sha1,
    EscapeSeqDecode,
    Trim,
    TrimLeft,
    TrimRight,
}

impl Transform {
    /// Look a transformation up by its SecLang name (case-insensitive).
    /// `none` is handled by the parser, not here.
    pub fn from_name(name: &str) -> Option<Transform> {
        Some(match name.to_ascii_lowercase().as_str() {
            "lowercase" => Transform::Lowercase,
            "uppercase" => Transform::Uppercase,
            "urldecode" => Transform::UrlDecode,
            "urldecodeuni" => Transform::UrlDecodeUni,
            "urlencode" => Transform::UrlEncode,
            "htmlentitydecode" => Transform::HtmlEntityDecode,
            "jsdecode" => Transform::JsDecode,
            "cssdecode" => Transform::CssDecode,
            "cmdline" => Transform::CmdLine,
            "compresswhitespace" => Transform::CompressWhitespace,
            "removenulls" => Transform::RemoveNulls,
            "replacenulls" => Transform::ReplaceNulls,
            "removewhitespace" => Transform::RemoveWhitespace,
            "replacecomments" => Transform::ReplaceComments,
            "removecomments" => Transform::RemoveComments,
            "removecommentschar" => Transform::RemoveCommentsChar,
            "normalisepath" | "normalizepath" => Transform::NormalizePath,
            "normalisepathwin" | "normalizepathwin" => Transform::NormalizePathWin,
            "utf8tounicode" => Transform::Utf8ToUnicode,
            "base64decode" => Transform::Base64Decode,
            "base64decodeext" => Transform::Base64DecodeExt,
            "base64encode" => Transform::Base64Encode,
            "hexencode" => Transform::HexEncode,
            "hexdecode" => Transform::HexDecode,
            "length" => Transform::Length,
            "sha1" => Transform::Sha1,
            "escapeseqdecode" => Transform::EscapeSeqDecode,
            "trim" => Transform::Trim,
            "trimleft" => Transform::TrimLeft,
            "trimright" => Transform::TrimRight,
            _ => return None,
        })
    }

    /// Apply the transformation.
    pub fn apply(self, v: &[u8]) -> Vec<u8> {
        match self {
            Transform::Lowercase => v.to_ascii_lowercase(),
            Transform::Uppercase => v.to_ascii_uppercase(),
            Transform::UrlDecode => url_decode(v, false),
            Transform::UrlDecodeUni => url_decode(v, true),
            Transform::UrlEncode => url_encode(v),
            Transform::HtmlEntityDecode => html_entity_decode(v),
            Transform::JsDecode => js_decode(v),
            Transform::CssDecode => css_decode(v),
            Transform::CmdLine => cmd_line(v),
            Transform::CompressWhitespace => compress_whitespace(v),
            Transform::RemoveNulls => v.iter().copied().filter(|&b| b != 0).collect(),
            Transform::ReplaceNulls => v.iter().map(|&b| if b == 0 { b' ' } else { b }).collect(),
            Transform::RemoveWhitespace => v.iter().copied().filter(|&b| !is_space(b)).collect(),
            Transform::ReplaceComments => replace_comments(v),
            Transform::RemoveComments => remove_comments(v),
            Transform::RemoveCommentsChar => remove_comments_char(v),
            Transform::NormalizePath => normalize_path(v, false),
            Transform::NormalizePathWin => normalize_path(v, true),
            Transform::Utf8ToUnicode => utf8_to_unicode(v),
            Transform::Base64Decode => base64_decode(v, false),
            Transform::Base64DecodeExt => base64_decode(v, true),
            Transform::Base64Encode => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .encode(v)
                    .into_bytes()
            }
            Transform::HexEncode => hex_encode(v),
            Transform::HexDecode => hex_decode(v),
            Transform::Length => decimal(v.len()),
            Transform::Sha1 => Sha1::digest(v).to_vec(),
            Transform::EscapeSeqDecode => escape_seq_decode(v),
            Transform::Trim => trim_right(trim_left(v)).to_vec(),
            Transform::TrimLeft => trim_left(v).to_vec(),
            Transform::TrimRight => trim_right(v).to_vec(),
        }
    }
}

impl Transform {
    /// Like [`Transform::apply`], but `None` when the result would equal the
    /// input. A quick scan settles the common case (nothing to decode,
    /// nothing to lower-case) without allocating; otherwise the result is
    /// computed and compared.
    pub fn apply_changed(self, v: &[u8]) -> Option<Vec<u8>> {
        use memchr::memmem;
        let has = |needle: &[u8]| memmem::find(v, needle).is_some();
        let untouched = match self {
            Transform::Lowercase => !v.iter().any(u8::is_ascii_uppercase),
            Transform::Uppercase => !v.iter().any(u8::is_ascii_lowercase),
            Transform::UrlDecode | Transform::UrlDecodeUni => {
                memchr::memchr2(b'%', b'+', v).is_none()
            }
            Transform::HtmlEntityDecode => memchr::memchr(b'&', v).is_none(),
            Transform::JsDecode | Transform::EscapeSeqDecode | Transform::CssDecode => {
                memchr::memchr(b'\\', v).is_none()
            }
            Transform::RemoveNulls | Transform::ReplaceNulls => memchr::memchr(0, v).is_none(),
            Transform::RemoveWhitespace => !v.iter().any(|&b| is_space(b)),
            Transform::CompressWhitespace => {
                !v.iter().any(|&b| b != b' ' && is_space(b)) && !has(b"  ")
            }
            Transform::ReplaceComments => !has(b"/*"),
            // `<!--` and `-->` contain `--`.
            Transform::RemoveComments => {
                !has(b"/*") && !has(b"--") && memchr::memchr(b'#', v).is_none()
            }
            Transform::RemoveCommentsChar => {
                !has(b"/*") && !has(b"*/") && !has(b"--") && memchr::memchr(b'#', v).is_none()
            }
            Transform::Utf8ToUnicode => v.is_ascii(),
            // Nothing to resolve: no empty, `.` or `..` segment inside.
            Transform::NormalizePath | Transform::NormalizePathWin => {
                (self != Transform::NormalizePathWin || memchr::memchr(b'\\', v).is_none())
                    && !has(b"//")
                    && !v
                        .split(|&b| b == b'/')
                        .any(|seg| seg == b"." || seg == b"..")
            }
            Transform::Trim => {
                !v.first().is_some_and(|b| is_space(*b)) && !v.last().is_some_and(|b| is_space(*b))
            }
            Transform::TrimLeft => !v.first().is_some_and(|b| is_space(*b)),
            Transform::TrimRight => !v.last().is_some_and(|b| is_space(*b)),
            _ => false,
        };
        if untouched {
            return None;
        }
        let out = self.apply(v);
        (out != v).then_some(out)
    }
}

/// Whitespace as ModSecurity's `isspace` plus the Latin-1 NBSP.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0xa0)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex2(v: &[u8], i: usize) -> Option<u8> {
    let h = hex_val(*v.get(i)?)?;
    let l = hex_val(*v.get(i + 1)?)?;
    Some(h * 16 + l)
}

/// `%uHHHH` → byte, as ModSecurity: low byte, with full-width ASCII
/// (U+FF01..U+FF5E) mapped to ASCII.
fn unicode_escape(v: &[u8], i: usize) -> Option<u8> {
    for k in 0..4 {
        hex_val(*v.get(i + k)?)?;
    }
    let mut d = hex2(v, i + 2)?;
    let hi_ff = v.get(i).is_some_and(|b| *b == b'f' || *b == b'F')
        && v.get(i + 1).is_some_and(|b| *b == b'f' || *b == b'F');
    if d > 0 && d < 0x5f && hi_ff {
        d += 0x20;
    }
    Some(d)
}

/// `urlDecode` / `urlDecodeUni`: `%HH`, `+` → space, optionally `%uHHHH`.
pub fn url_decode(v: &[u8], uni: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'%' {
            if uni
                && matches!(v.get(i + 1), Some(b'u' | b'U'))
                && let Some(d) = unicode_escape(v, i + 2)
            {
                out.push(d);
                i += 6;
                continue;
            }
            if let Some(d) = hex2(v, i + 1) {
                out.push(d);
                i += 3;
                continue;
            }
            out.push(b);
        } else if b == b'+' {
            out.push(b' ');
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// `n` in decimal (`t:length`), without the formatting machinery.
fn decimal(mut n: usize) -> Vec<u8> {
    let mut digits = Vec::with_capacity(20);
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

/// Two lower-case hex digits, as `format!("{b:02x}")`.
fn push_hex_byte(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
    out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
}

fn url_encode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        if b == b' ' {
            out.push(b'+');
        } else if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) {
            out.push(b);
        } else {
            out.push(b'%');
            push_hex_byte(&mut out, b);
        }
    }
    out
}

/// Decode HTML entities: `&#DDD;`, `&#xHH;`, and the named entities
/// ModSecurity knows (quot, amp, lt, gt, nbsp); the `;` is optional.
fn html_entity_decode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b != b'&' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = v.get(i + 1..).unwrap_or_default();
        if rest.first() == Some(&b'#') {
            let (hex, start) = match rest.get(1) {
                Some(b'x' | b'X') => (true, 2),
                _ => (false, 1),
            };
            let mut j = start;
            let mut val: u32 = 0;
            while let Some(&d) = rest.get(j) {
                let dv = if hex {
                    hex_val(d).map(u32::from)
                } else if d.is_ascii_digit() {
                    Some(u32::from(d - b'0'))
                } else {
                    None
                };
                match dv {
                    Some(x) => {
                        val = val
                            .saturating_mul(if hex { 16 } else { 10 })
                            .saturating_add(x);
                        j += 1;
                    }
                    None => break,
                }
            }
            if j > start {
                out.push((val & 0xff) as u8);
                i += 1 + j;
                if v.get(i) == Some(&b';') {
                    i += 1;
                }
                continue;
            }
        } else {
            let names: [(&[u8], u8); 5] = [
                (b"quot", b'"'),
                (b"amp", b'&'),
                (b"lt", b'<'),
                (b"gt", b'>'),
                (b"nbsp", 0xa0),
            ];
            let mut done = false;
            for (name, rep) in names {
                if rest.len() >= name.len()
                    && rest
                        .get(..name.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(name))
                {
                    out.push(rep);
                    i += 1 + name.len();
                    if v.get(i) == Some(&b';') {
                        i += 1;
                    }
                    done = true;
                    break;
                }
            }
            if done {
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// JavaScript escapes: `\xHH`, `\uHHHH`, octal, `\n` and friends, `\c` → c.
fn js_decode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&n) = v.get(i + 1) else {
            out.push(b);
            i += 1;
            continue;
        };
        match n {
            b'u' => {
                if let Some(d) = unicode_escape(v, i + 2) {
                    out.push(d);
                    i += 6;
                    continue;
                }
                out.push(b'u');
                i += 2;
            }
            b'x' => {
                if let Some(d) = hex2(v, i + 2) {
                    out.push(d);
                    i += 4;
                    continue;
                }
                out.push(b'x');
                i += 2;
            }
            b'0'..=b'7' => {
                let mut j = i + 1;
                let mut val: u32 = 0;
                let mut count = 0;
                while let Some(&d) = v.get(j) {
                    if count < 3 && (b'0'..=b'7').contains(&d) {
                        val = val * 8 + u32::from(d - b'0');
                        j += 1;
                        count += 1;
                    } else {
                        break;
                    }
                }
                if val > 0xff {
                    // Only two digits fit a byte.
                    val >>= 3;
                    j -= 1;
                }
                out.push(val as u8);
                i = j;
            }
            _ => {
                out.push(match n {
                    b'a' => 7,
                    b'b' => 8,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0b,
                    other => other,
                });
                i += 2;
            }
        }
    }
    out
}

/// CSS escapes: `\` + 1..6 hex digits (+ one optional whitespace), `\`
/// newline is removed, `\c` → c.
fn css_decode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&n) = v.get(i + 1) else {
            // A trailing backslash is dropped.
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < i + 7 && v.get(j).and_then(|d| hex_val(*d)).is_some() {
            j += 1;
        }
        let digits = j - (i + 1);
        if digits > 0 {
            let hex = v.get(i + 1..j).unwrap_or_default();
            let mut d = match digits {
                1 => hex_val(*hex.first().unwrap_or(&b'0')).unwrap_or(0),
                _ => hex2(hex, digits - 2).unwrap_or(0),
            };
            // Full-width ASCII: FF01..FF5E.
            if digits >= 4 && d > 0 && d < 0x5f {
                let hi = hex.get(digits - 4..digits - 2).unwrap_or_default();
                if hi.eq_ignore_ascii_case(b"ff")
                    && hex
                        .get(..digits - 4)
                        .unwrap_or_default()
                        .iter()
                        .all(|c| *c == b'0')
                {
                    d += 0x20;
                }
            }
            out.push(d);
            i = j;
            if v.get(i).is_some_and(|c| is_space(*c)) {
                i += 1;
            }
        } else if n == b'\n' {
            i += 2;
        } else {
            out.push(n);
            i += 2;
        }
    }
    out
}

/// Windows/Unix command-line normalisation (`t:cmdLine`).
fn cmd_line(v: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(v.len());
    let mut space = false;
    for &b in v {
        match b {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(b);
            }
            _ => {
                space = false;
                out.push(b.to_ascii_lowercase());
            }
        }
    }
    out
}

fn compress_whitespace(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut in_space = false;
    for &b in v {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b);
            in_space = false;
        }
    }
    out
}

/// `/* … */` → one space (an unterminated comment runs to the end).
fn replace_comments(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'/' && v.get(i + 1) == Some(&b'*') {
            let mut j = i + 2;
            loop {
                match v.get(j) {
                    None => break,
                    Some(b'*') if v.get(j + 1) == Some(&b'/') => {
                        j += 2;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            out.push(b' ');
            i = j;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Remove `/* … */`, `<!-- … -->`, and `--`/`#` comments to end of input.
fn remove_comments(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        let rest = v.get(i..).unwrap_or_default();
        if rest.starts_with(b"/*") || rest.starts_with(b"<!--") {
            let end: &[u8] = if b == b'/' { b"*/" } else { b"-->" };
            let mut j = i + 2;
            loop {
                match v.get(j..) {
                    Some(r) if r.starts_with(end) => {
                        j += end.len();
                        break;
                    }
                    Some(r) if !r.is_empty() => j += 1,
                    _ => break,
                }
            }
            i = j;
        } else if rest.starts_with(b"--") || b == b'#' {
            break;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Remove comment characters `/*`, `*/`, `<!--`, `-->`, `--`, `#`.
fn remove_comments_char(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        let rest = v.get(i..).unwrap_or_default();
        if rest.starts_with(b"<!--") {
            i += 4;
        } else if rest.starts_with(b"-->") {
            i += 3;
        } else if rest.starts_with(b"/*") || rest.starts_with(b"*/") || rest.starts_with(b"--") {
            i += 2;
        } else if b == b'#' {
            i += 1;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Resolve `.`/`..` segments and collapse repeated slashes.
fn normalize_path(v: &[u8], win: bool) -> Vec<u8> {
    let v: Vec<u8> = if win {
        v.iter()
            .map(|&b| if b == b'\\' { b'/' } else { b })
            .collect()
    } else {
        v.to_vec()
    };
    if v.is_empty() {
        return v;
    }
    let absolute = v.first() == Some(&b'/');
    let trailing = v.last() == Some(&b'/')
        || v.ends_with(b"/.")
        || v.ends_with(b"/..")
        || v == b"."
        || v == b"..";
    let mut parts: Vec<&[u8]> = Vec::new();
    for seg in v.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b"..") {
                    parts.pop();
                } else if !absolute {
                    parts.push(seg);
                }
            }
            _ => parts.push(seg),
        }
    }
    let mut out = Vec::with_capacity(v.len());
    if absolute {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if trailing && !parts.is_empty() {
        out.push(b'/');
    }
    out
}

/// Multi-byte UTF-8 sequences → `%uHHHH` (ASCII and invalid bytes unchanged).
/// `%u` and at least four lower-case hex digits, as `format!("%u{:04x}")`.
fn push_u_escape(out: &mut Vec<u8>, cp: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"%u");
    let digits = if cp > 0xffff {
        5 + usize::from(cp > 0xf_ffff)
    } else {
        4
    };
    for i in (0..digits).rev() {
        let nibble = (cp >> (4 * i)) & 0xf;
        out.push(HEX.get(nibble as usize).copied().unwrap_or(b'0'));
    }
}

fn utf8_to_unicode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii() {
                out.push(c as u8);
            } else {
                push_u_escape(&mut out, c as u32);
            }
        }
        out.extend_from_slice(chunk.invalid());
    }
    out
}

/// Lenient base64: decodes up to the first `=` or invalid character (`Ext`
/// skips invalid characters instead of stopping).
fn base64_decode(v: &[u8], skip_invalid: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in v {
        let val = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => {
                if skip_invalid || is_space(b) {
                    continue;
                }
                break;
            }
        };
        acc = (acc << 6) | u32::from(val);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

fn hex_encode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 2);
    for &b in v {
        push_hex_byte(&mut out, b);
    }
    out
}

fn hex_decode(v: &[u8]) -> Vec<u8> {
    v.chunks(2)
        .filter_map(|c| if c.len() == 2 { hex2(c, 0) } else { None })
        .collect()
}

/// ANSI C escapes (`\n`, `\xHH`, octal).
fn escape_seq_decode(v: &[u8]) -> Vec<u8> {
    js_decode(v)
}

fn trim_left(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !is_space(*b)).unwrap_or(v.len());
    v.get(start..).unwrap_or_default()
}

fn trim_right(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|b| !is_space(*b)).map_or(0, |p| p + 1);
    v.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(name: &str, v: &str) -> String {
        let tr = Transform::from_name(name).unwrap_or(Transform::Trim);
        String::from_utf8_lossy(&tr.apply(v.as_bytes())).into_owned()
    }

    #[test]
    fn encoders_without_format() {
        assert_eq!(t("length", ""), "0");
        assert_eq!(t("length", "abcdefghij"), "10");
        assert_eq!(t("hexEncode", "\u{0}a\u{ff}"), "0061c3bf");
        assert_eq!(t("urlEncode", "a b/~\n"), "a+b%2f%7e%0a");
    }

    #[test]
    fn utf8_to_unicode_escapes() {
        assert_eq!(t("utf8toUnicode", "aé日😀"), "a%u00e9%u65e5%u1f600");
    }

    #[test]
    fn url_decoding() {
        assert_eq!(t("urlDecode", "a%20b+c%zz%"), "a b c%zz%");
        assert_eq!(t("urlDecodeUni", "%u003c%uff1cx"), "<<x");
    }

    #[test]
    fn html_entities() {
        assert_eq!(
            t("htmlEntityDecode", "&lt;a&#x41;&#66&quot;&amp"),
            "<aAB\"&"
        );
    }

    #[test]
    fn js_and_css() {
        assert_eq!(t("jsDecode", r"\x3cscript\u003e\n\101"), "<script>\nA");
        assert_eq!(t("cssDecode", r"\3c \000041x\;"), "<Ax;");
    }

    #[test]
    fn cmdline() {
        assert_eq!(t("cmdLine", "C^A\"T  /etc/pa's's\\wd ("), "cat/etc/passwd(");
        assert_eq!(t("cmdLine", "a,b;;c"), "a b c");
    }

    #[test]
    fn whitespace_and_comments() {
        assert_eq!(t("compressWhitespace", "a \t\n b"), "a b");
        assert_eq!(t("removeWhitespace", " a b "), "ab");
        assert_eq!(t("replaceComments", "a/*x*/b/*c"), "a b ");
        assert_eq!(t("removeCommentsChar", "a/*b*/--c#"), "abc");
        assert_eq!(t("trim", "  x  "), "x");
    }

    #[test]
    fn paths() {
        assert_eq!(t("normalisePath", "/a/./b/../c//d"), "/a/c/d");
        assert_eq!(t("normalizePathWin", "a\\..\\..\\etc\\"), "../etc/");
        assert_eq!(t("normalizePath", "/../../etc/passwd"), "/etc/passwd");
    }

    #[test]
    fn encodings() {
        assert_eq!(t("base64Decode", "aGVsbG8="), "hello");
        assert_eq!(t("hexEncode", "AB"), "4142");
        assert_eq!(t("length", "abcd"), "4");
        assert_eq!(t("utf8toUnicode", "aé"), "a%u00e9");
        assert_eq!(Transform::Sha1.apply(b"abc").len(), 20);
    }

    proptest! {
        #[test]
        fn never_panic(v in proptest::collection::vec(any::<u8>(), 0..64)) {
            for name in ["urlDecodeUni", "htmlEntityDecode", "jsDecode", "cssDecode", "cmdLine",
                         "normalizePathWin", "utf8toUnicode", "base64Decode", "replaceComments",
                         "removeCommentsChar", "removeComments", "hexDecode", "escapeSeqDecode"] {
                let tr = Transform::from_name(name);
                prop_assert!(tr.is_some());
                if let Some(tr) = tr { let _ = tr.apply(&v); }
            }
        }

        /// The allocation-free shortcut never changes a result.
        #[test]
        fn apply_changed_agrees_with_apply(
            v in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b' '), Just(b'%'), Just(b'\\'), Just(b'-'),
                            Just(b'/'), Just(b'*'), Just(b'#'), Just(b'&'), Just(b'A'), Just(b'.')],
                0..48),
        ) {
            for name in ["lowercase", "uppercase", "urlDecode", "urlDecodeUni", "urlEncode",
                         "htmlEntityDecode", "jsDecode", "cssDecode", "cmdLine",
                         "compressWhitespace", "removeNulls", "replaceNulls", "removeWhitespace",
                         "replaceComments", "removeComments", "removeCommentsChar",
                         "normalizePath", "normalizePathWin", "utf8toUnicode", "base64Decode",
                         "hexDecode", "length", "escapeSeqDecode", "trim", "trimLeft",
                         "trimRight"] {
                let tr = Transform::from_name(name).unwrap_or(Transform::Trim);
                let full = tr.apply(&v);
                let short = tr.apply_changed(&v).unwrap_or_else(|| v.clone());
                prop_assert_eq!(full, short, "{}", name);
            }
        }
    }
}
