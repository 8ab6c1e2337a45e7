//! Request body processors: urlencoded, multipart/form-data, JSON and XML.
//! They face hostile input: they never panic, bound their recursion, and
//! report malformed bodies through `REQBODY_ERROR` instead of failing.

use crate::transformations::url_decode;

/// Maximum JSON/XML nesting depth accepted before flagging an error.
const MAX_DEPTH: usize = 256;

/// What a body processor extracted.
#[derive(Debug, Default, Clone)]
pub struct ParsedBody {
    /// `ARGS_POST` name/value pairs.
    pub args: Vec<(String, Vec<u8>)>,
    /// `FILES`: form field name → uploaded file name.
    pub files: Vec<(String, Vec<u8>)>,
    /// Sum of uploaded file sizes.
    pub files_combined_size: usize,
    /// `MULTIPART_PART_HEADERS`: field name → one header line.
    pub part_headers: Vec<(String, Vec<u8>)>,
    /// `XML:/*`: the text content of the document.
    pub xml_text: Option<Vec<u8>>,
    /// `XML://@*`: attribute values of the document.
    pub xml_attrs: Vec<Vec<u8>>,
    /// Parse failure, surfaced as `REQBODY_ERROR` and `REQBODY_ERROR_MSG`.
    pub error: Option<String>,
}

/// Split `a=1&b=2` into decoded pairs (`+` is a space, as in forms).
pub fn parse_urlencoded(body: &[u8]) -> Vec<(String, Vec<u8>)> {
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = match p.iter().position(|&b| b == b'=') {
                Some(i) => (
                    p.get(..i).unwrap_or_default(),
                    p.get(i + 1..).unwrap_or_default(),
                ),
                None => (p, &b""[..]),
            };
            (
                String::from_utf8_lossy(&url_decode(n, false)).into_owned(),
                url_decode(v, false),
            )
        })
        .collect()
}

/// Extract a `key=value` parameter from a header value such as
/// `form-data; name="a"; filename="b"`.
fn header_param(h: &[u8], key: &str) -> Option<Vec<u8>> {
    let s = h;
    let lower = s.to_ascii_lowercase();
    let pat = format!("{key}=");
    let mut from = 0;
    while let Some(pos) = find(lower.get(from..)?, pat.as_bytes()) {
        let at = from + pos;
        let before = if at == 0 { None } else { lower.get(at - 1) };
        let boundary_ok = before.is_none_or(|b| *b == b';' || *b == b' ' || *b == b'\t');
        let start = at + pat.len();
        if boundary_ok {
            let rest = s.get(start..)?;
            if rest.first() == Some(&b'"') {
                let mut out = Vec::new();
                let mut i = 1;
                while let Some(&c) = rest.get(i) {
                    if c == b'\\'
                        && let Some(&n) = rest.get(i + 1)
                    {
                        out.push(n);
                        i += 2;
                        continue;
                    }
                    if c == b'"' {
                        break;
                    }
                    out.push(c);
                    i += 1;
                }
                return Some(out);
            }
            let end = rest.iter().position(|&c| c == b';').unwrap_or(rest.len());
            return Some(rest.get(..end).unwrap_or_default().trim_ascii().to_vec());
        }
        from = start;
    }
    None
}

/// Substring search in linear time (bodies and boundaries are hostile).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// The boundary of a `multipart/form-data` content type, if any.
pub fn multipart_boundary(content_type: &[u8]) -> Option<Vec<u8>> {
    let b = header_param(content_type, "boundary")?;
    if b.is_empty() { None } else { Some(b) }
}

/// Parse a multipart/form-data body.
pub fn parse_multipart(body: &[u8], boundary: &[u8]) -> ParsedBody {
    let mut out = ParsedBody::default();
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let Some(first) = find(body, &delim) else {
        out.error = Some("multipart: boundary not found".into());
        return out;
    };
    let mut pos = first + delim.len();
    let mut closed = false;
    loop {
        let rest = body.get(pos..).unwrap_or_default();
        if rest.starts_with(b"--") {
            closed = true;
            break;
        }
        // Skip to the end of the boundary line.
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            break;
        };
        let part_start = pos + nl + 1;
        let after = body.get(part_start..).unwrap_or_default();
        let mut next_delim = b"\n".to_vec();
        next_delim.extend_from_slice(&delim);
        let (part, next) = match find(after, &next_delim) {
            Some(i) => (
                after.get(..i).unwrap_or_default(),
                Some(part_start + i + next_delim.len()),
            ),
            None => (after, None),
        };
        let part = part.strip_suffix(b"\r").unwrap_or(part);
        parse_part(part, &mut out);
        match next {
            Some(n) => pos = n,
            None => break,
        }
    }
    if !closed && out.error.is_none() {
        out.error = Some("multipart: final boundary missing".into());
    }
    out
}

fn parse_part(part: &[u8], out: &mut ParsedBody) {
    let (head, data) = match find(part, b"\r\n\r\n") {
        Some(i) => (
            part.get(..i).unwrap_or_default(),
            part.get(i + 4..).unwrap_or_default(),
        ),
        None => match find(part, b"\n\n") {
            Some(i) => (
                part.get(..i).unwrap_or_default(),
                part.get(i + 2..).unwrap_or_default(),
            ),
            None => {
                out.error = Some("multipart: part without header/body separator".into());
                return;
            }
        },
    };
    let mut name: Option<Vec<u8>> = None;
    let mut filename: Option<Vec<u8>> = None;
    let mut headers = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        headers.push(line.to_vec());
        let lower = line.to_ascii_lowercase();
        if lower.starts_with(b"content-disposition:") {
            let v = line.get(20..).unwrap_or_default();
            name = header_param(v, "name");
            filename = header_param(v, "filename");
        }
    }
    let Some(name) = name else {
        out.error = Some("multipart: part without name".into());
        return;
    };
    let name = String::from_utf8_lossy(&name).into_owned();
    for h in headers {
        out.part_headers.push((name.clone(), h));
    }
    match filename {
        Some(f) => {
            out.files.push((name, f));
            out.files_combined_size += data.len();
        }
        None => out.args.push((name, data.to_vec())),
    }
}

/// Flatten a JSON document into `json.a.b` style arguments.
pub fn parse_json(body: &[u8]) -> ParsedBody {
    let mut out = ParsedBody::default();
    // serde_json bounds recursion itself (128 levels) and returns an error.
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => flatten_json("json", &v, &mut out.args, 0),
        Err(e) => out.error = Some(format!("JSON parsing error: {e}")),
    }
    out
}

fn flatten_json(
    prefix: &str,
    v: &serde_json::Value,
    out: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten_json(&format!("{prefix}.{k}"), v, out, depth + 1);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten_json(&format!("{prefix}.{i}"), v, out, depth + 1);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.as_bytes().to_vec())),
        Value::Null => out.push((prefix.to_string(), Vec::new())),
        other => out.push((prefix.to_string(), other.to_string().into_bytes())),
    }
}

/// Extract the text content of an XML document (what `XML:/*` yields):
/// character data and CDATA, with the predefined entities decoded; markup,
/// comments and processing instructions removed. Malformed markup (unclosed
/// tags, mismatched nesting) is reported as an error.
pub fn parse_xml(body: &[u8]) -> ParsedBody {
    let mut out = ParsedBody::default();
    let mut text = Vec::new();
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    let mut seen_root = false;
    let trimmed = body.trim_ascii();
    if !trimmed.starts_with(b"<") {
        out.error = Some("XML parsing error: document does not start with markup".into());
        return out;
    }
    while let Some(&b) = body.get(i) {
        if b != b'<' {
            let end = body
                .get(i..)
                .and_then(|r| r.iter().position(|&c| c == b'<'))
                .map_or(body.len(), |p| i + p);
            let chunk = body.get(i..end).unwrap_or_default();
            if !stack.is_empty() {
                text.extend(decode_entities(chunk));
            }
            i = end;
            continue;
        }
        let rest = body.get(i..).unwrap_or_default();
        let (skip_to, term): (usize, &[u8]) = if rest.starts_with(b"<!--") {
            (4, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            (9, b"]]>")
        } else if rest.starts_with(b"<?") {
            (2, b"?>")
        } else if rest.starts_with(b"<!") {
            (2, b">")
        } else {
            (1, b">")
        };
        let inner_start = i + skip_to;
        let Some(len) = body.get(inner_start..).and_then(|r| find(r, term)) else {
            out.error = Some("XML parsing error: unterminated markup".into());
            break;
        };
        let inner = body.get(inner_start..inner_start + len).unwrap_or_default();
        i = inner_start + len + term.len();
        if rest.starts_with(b"<![CDATA[") {
            text.extend_from_slice(inner);
            continue;
        }
        if skip_to != 1 {
            continue;
        }
        if let Some(name) = inner.strip_prefix(b"/") {
            let name = name.trim_ascii();
            if stack.pop().as_deref() != Some(name) {
                out.error = Some("XML parsing error: mismatched end tag".into());
                break;
            }
        } else {
            let self_closing = inner.ends_with(b"/");
            let name_end = inner
                .iter()
                .position(|c| c.is_ascii_whitespace() || *c == b'/')
                .unwrap_or(inner.len());
            let name = inner.get(..name_end).unwrap_or_default().to_vec();
            if name.is_empty() {
                out.error = Some("XML parsing error: empty tag name".into());
                break;
            }
            if stack.is_empty() && seen_root {
                out.error = Some("XML parsing error: extra content after root".into());
                break;
            }
            seen_root = true;
            xml_attributes(
                inner.get(name_end..).unwrap_or_default(),
                &mut out.xml_attrs,
            );
            if !self_closing {
                if stack.len() >= MAX_DEPTH {
                    out.error = Some("XML parsing error: too deep".into());
                    break;
                }
                stack.push(name);
            }
        }
    }
    if out.error.is_none() && (!stack.is_empty() || !seen_root) {
        out.error = Some("XML parsing error: premature end of document".into());
    }
    out.xml_text = Some(text);
    out
}

/// Collect the values of `name="value"` / `name='value'` attributes.
fn xml_attributes(mut s: &[u8], out: &mut Vec<Vec<u8>>) {
    while let Some(eq) = s.iter().position(|&b| b == b'=') {
        let rest = s.get(eq + 1..).unwrap_or_default().trim_ascii_start();
        let Some(&q) = rest.first().filter(|q| **q == b'"' || **q == b'\'') else {
            return;
        };
        let body = rest.get(1..).unwrap_or_default();
        let Some(end) = body.iter().position(|&b| b == q) else {
            return;
        };
        out.push(decode_entities(body.get(..end).unwrap_or_default()));
        s = body.get(end + 1..).unwrap_or_default();
    }
}

fn decode_entities(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'&' {
            let rest = v.get(i..).unwrap_or_default();
            let mut done = false;
            for (ent, rep) in [
                (&b"&lt;"[..], b'<'),
                (b"&gt;", b'>'),
                (b"&amp;", b'&'),
                (b"&quot;", b'"'),
                (b"&apos;", b'\''),
            ] {
                if rest.starts_with(ent) {
                    out.push(rep);
                    i += ent.len();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn urlencoded() {
        let a = parse_urlencoded(b"a=1+2&b=%3Cx&c&=d");
        assert_eq!(a[0], ("a".into(), b"1 2".to_vec()));
        assert_eq!(a[1], ("b".into(), b"<x".to_vec()));
        assert_eq!(a[2], ("c".into(), b"".to_vec()));
        assert_eq!(a[3], ("".into(), b"d".to_vec()));
    }

    #[test]
    fn multipart() {
        let ct = b"multipart/form-data; boundary=----abc";
        let b = multipart_boundary(ct).unwrap();
        let body = b"------abc\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nval\r\n------abc\r\nContent-Disposition: form-data; name=\"up\"; filename=\"x.php\"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n------abc--\r\n";
        let p = parse_multipart(body, &b);
        assert!(p.error.is_none(), "{:?}", p.error);
        assert_eq!(p.args, vec![("f".to_string(), b"val".to_vec())]);
        assert_eq!(p.files, vec![("up".to_string(), b"x.php".to_vec())]);
        assert_eq!(p.part_headers.len(), 3);
        assert_eq!(p.files_combined_size, 5);
        assert!(parse_multipart(b"garbage", b"zz").error.is_some());
    }

    #[test]
    fn json() {
        let p = parse_json(br#"{"a":{"b":[1,"x"]},"c":null}"#);
        assert!(p.error.is_none());
        assert_eq!(p.args[0], ("json.a.b.0".into(), b"1".to_vec()));
        assert_eq!(p.args[1], ("json.a.b.1".into(), b"x".to_vec()));
        assert!(parse_json(b"{bad").error.is_some());
    }

    #[test]
    fn xml() {
        let p = parse_xml(
            b"<?xml version=\"1.0\"?><a x=\"1\"><b>hi &lt;</b><!-- c --><![CDATA[<z>]]></a>",
        );
        assert!(p.error.is_none(), "{:?}", p.error);
        assert_eq!(p.xml_text.unwrap(), b"hi <<z>".to_vec());
        assert_eq!(p.xml_attrs, vec![b"1".to_vec()]);
        assert!(parse_xml(b"<a><b></a>").error.is_some());
        assert!(parse_xml(b"not xml").error.is_some());
    }

    proptest! {
        #[test]
        fn body_parsers_never_panic(v in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_urlencoded(&v);
            let _ = parse_multipart(&v, b"x");
            let _ = parse_json(&v);
            let _ = parse_xml(&v);
            let _ = multipart_boundary(&v);
        }

        #[test]
        fn multipart_never_panics_on_near_valid(s in "(--x\r\n(Content-Disposition: form-data; name=\"[a-z]{0,3}\"(; filename=\"[a-z.]{0,4}\")?\r\n)?\r?\n?[a-z<>]{0,5}\r\n){0,4}(--x--)?") {
            let _ = parse_multipart(s.as_bytes(), b"x");
        }
    }
}
