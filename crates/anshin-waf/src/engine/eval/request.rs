//! Setting up a transaction from the request: the scalars (`REQUEST_LINE`,
//! `REQUEST_URI`, `UNIQUE_ID`, …), cookies and query arguments, and the
//! body processors at the start of phase 2. It reads hostile bytes: it must
//! never panic or give up on a request, only set `REQBODY_ERROR`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use super::Tx;
use crate::body::{self, ParsedBody};
use crate::engine::cache::{DenseCache, IdBuild};
use crate::engine::{Request, RuleSet};
use crate::transformations::url_decode;

fn strip_scheme_host(uri: &[u8]) -> &[u8] {
    if uri.first() == Some(&b'/') || uri.is_empty() {
        return uri;
    }
    let Some(colon) = uri.iter().position(|&b| b == b':') else {
        return uri;
    };
    if uri.get(colon + 1..colon + 3) != Some(b"//") {
        return uri;
    }
    let from = colon + 3;
    match uri
        .get(from..)
        .and_then(|r| r.iter().position(|&b| b == b'/'))
    {
        Some(p) => uri.get(from + p..).unwrap_or(uri),
        None => uri,
    }
}

/// `%HH` decoding without `+` handling, as ModSecurity decodes the URI.
fn uri_decode(v: &[u8]) -> Vec<u8> {
    v.split(|&b| b == b'+')
        .map(|part| url_decode(part, false))
        .collect::<Vec<_>>()
        .join(&b'+')
}

impl<'a> Tx<'a> {
    pub(in crate::engine) fn new(rs: &'a RuleSet, req: &'a Request) -> Tx<'a> {
        let raw = req.uri.as_bytes();
        let decoded = uri_decode(raw);
        let path_decoded = match decoded.iter().position(|&b| b == b'?') {
            Some(p) => decoded.get(..p).unwrap_or_default().to_vec(),
            None => decoded.clone(),
        };
        let query = raw
            .iter()
            .position(|&b| b == b'?')
            .map(|p| raw.get(p + 1..).unwrap_or_default().to_vec())
            .unwrap_or_default();
        let basename = path_decoded
            .iter()
            .rposition(|&b| b == b'/' || b == b'\\')
            .map(|p| path_decoded.get(p + 1..).unwrap_or_default().to_vec())
            .unwrap_or_else(|| path_decoded.clone());
        // Sized for every scalar set here and by the body processor, so the
        // map never grows during the request.
        let mut scalars: HashMap<&'static str, Vec<u8>, IdBuild> =
            HashMap::with_capacity_and_hasher(32, IdBuild::default());
        let mut line =
            Vec::with_capacity(req.method.len() + req.uri.len() + req.protocol.len() + 2);
        line.extend_from_slice(req.method.as_bytes());
        line.push(b' ');
        line.extend_from_slice(raw);
        line.push(b' ');
        line.extend_from_slice(req.protocol.as_bytes());
        scalars.insert("REQUEST_LINE", line);
        scalars.insert("REQUEST_METHOD", req.method.as_bytes().to_vec());
        scalars.insert("REQUEST_PROTOCOL", req.protocol.as_bytes().to_vec());
        scalars.insert("REQUEST_URI_RAW", raw.to_vec());
        scalars.insert("REQUEST_URI", strip_scheme_host(&decoded).to_vec());
        scalars.insert(
            "REQUEST_FILENAME",
            strip_scheme_host(&path_decoded).to_vec(),
        );
        scalars.insert("PATH_INFO", strip_scheme_host(&path_decoded).to_vec());
        scalars.insert("REQUEST_BASENAME", basename);
        scalars.insert("QUERY_STRING", query.clone());
        scalars.insert("REMOTE_ADDR", req.remote_addr.as_bytes().to_vec());
        scalars.insert("REMOTE_HOST", req.remote_addr.as_bytes().to_vec());
        scalars.insert("REMOTE_PORT", b"0".to_vec());
        scalars.insert("DURATION", b"0".to_vec());
        scalars.insert("INBOUND_DATA_ERROR", b"0".to_vec());
        scalars.insert("OUTBOUND_DATA_ERROR", b"0".to_vec());
        scalars.insert("REQBODY_ERROR", b"0".to_vec());
        scalars.insert("REQBODY_PROCESSOR_ERROR", b"0".to_vec());
        scalars.insert("HIGHEST_SEVERITY", b"255".to_vec());
        {
            use sha1::{Digest, Sha1};
            let mut h = Sha1::new();
            h.update(req.method.as_bytes());
            h.update(raw);
            h.update(req.remote_addr.as_bytes());
            let d = h.finalize();
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut id = Vec::with_capacity(16);
            for b in d.iter().take(8) {
                id.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
                id.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
            }
            scalars.insert("UNIQUE_ID", id);
        }
        let mut cookies = Vec::new();
        let mut body_processor = None;
        for (k, v) in &req.headers {
            if k.eq_ignore_ascii_case("cookie") {
                cookies.extend(parse_cookies(v));
            }
            if k.eq_ignore_ascii_case("content-type") {
                let l = v.to_ascii_lowercase();
                if l.starts_with(b"multipart/form-data") {
                    body_processor = Some("MULTIPART".to_string());
                } else if l.starts_with(b"application/x-www-form-urlencoded") {
                    body_processor = Some("URLENCODED".to_string());
                }
            }
            if k.eq_ignore_ascii_case("host") {
                let host = v.split(|&b| b == b':').next().unwrap_or_default().to_vec();
                scalars.insert("SERVER_NAME", host);
            }
        }
        let args_get = if query.is_empty() {
            Vec::new()
        } else {
            body::parse_urlencoded(&query)
        };
        Tx {
            rs,
            req,
            mode: rs.mode,
            body_access: rs.request_body_access,
            body_processor,
            body: ParsedBody::default(),
            body_parsed: false,
            args_get,
            cookies,
            scalars,
            scalar_generation: 0,
            tx: BTreeMap::new(),
            collections: HashMap::default(),
            scratch: Vec::new(),
            matched_var: None,
            matched_vars: Vec::new(),
            matched_vars_len: 0,
            first_name: String::new(),
            hit_pool: Vec::new(),
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_targets_id: Vec::new(),
            removed_targets_tag: Vec::new(),
            current_rule: None,
            matches: Vec::new(),
            interrupt: None,
            would_interrupt: None,
            allow_all: false,
            force_body_var: false,
            transform_cache: RefCell::new(DenseCache::new(rs.chains.len(), 64, 512)),
            set_cache: RefCell::new(DenseCache::new(rs.groups.len(), 64, 512)),
            group_union: RefCell::new(Vec::new()),
            selector_cache: RefCell::new(HashMap::default()),
            libinjection_cache: RefCell::new(Default::default()),
        }
    }

    /// Parse the request body with the selected processor (phase 2 start).
    pub(super) fn process_body(&mut self) {
        if self.body_parsed {
            return;
        }
        self.body_parsed = true;
        let req = self.req;
        if !self.body_access {
            return;
        }
        let proc_name = self.body_processor.clone().unwrap_or_default();
        self.scalar_generation = self.scalar_generation.wrapping_add(1);
        // As in ModSecurity v2: the raw body is exposed for urlencoded
        // bodies, or when forced (CRS forces it for unknown types).
        if proc_name == "URLENCODED" || self.force_body_var {
            self.scalars.insert("REQUEST_BODY", req.body.clone());
        }
        self.scalars.insert(
            "REQUEST_BODY_LENGTH",
            req.body.len().to_string().into_bytes(),
        );
        if req.body.is_empty() {
            return;
        }
        let parsed = match proc_name.as_str() {
            "URLENCODED" => ParsedBody {
                args: body::parse_urlencoded(&req.body),
                ..ParsedBody::default()
            },
            "MULTIPART" => {
                let ct = self.header_value("content-type").unwrap_or_default();
                match body::multipart_boundary(&ct) {
                    Some(b) => body::parse_multipart(&req.body, &b),
                    None => ParsedBody {
                        error: Some("Multipart parsing error: no boundary".into()),
                        ..ParsedBody::default()
                    },
                }
            }
            "JSON" => body::parse_json(&req.body),
            "XML" => body::parse_xml(&req.body),
            _ => ParsedBody::default(),
        };
        if let Some(e) = &parsed.error {
            self.scalars.insert("REQBODY_ERROR", b"1".to_vec());
            self.scalars
                .insert("REQBODY_PROCESSOR_ERROR", b"1".to_vec());
            self.scalars
                .insert("REQBODY_ERROR_MSG", e.as_bytes().to_vec());
            self.scalars
                .insert("REQBODY_PROCESSOR_ERROR_MSG", e.as_bytes().to_vec());
        }
        self.body = parsed;
    }

    pub(super) fn header_value(&self, name: &str) -> Option<Vec<u8>> {
        self.req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// Split a `Cookie` header as ModSecurity does: `;`-separated pairs, first
/// `=` separates name and value, names left-trimmed, empty names skipped.
fn parse_cookies(v: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for c in v.split(|&b| b == b';') {
        if c.is_empty() {
            continue;
        }
        let (k, val) = match c.iter().position(|&b| b == b'=') {
            Some(p) => (
                c.get(..p).unwrap_or_default(),
                c.get(p + 1..).unwrap_or_default(),
            ),
            None => (c, &b""[..]),
        };
        let k = k.trim_ascii_start();
        if k.is_empty() {
            continue;
        }
        out.push((
            String::from_utf8_lossy(k).into_owned(),
            val.trim_ascii_end().to_vec(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn cookies() {
        let c = parse_cookies(b"a=1; b=x=y;;  =z; c");
        assert_eq!(c.len(), 3);
        assert_eq!(c[1], ("b".to_string(), b"x=y".to_vec()));
        assert_eq!(c[2], ("c".to_string(), b"".to_vec()));
    }

    #[test]
    fn uri_helpers() {
        assert_eq!(strip_scheme_host(b"http://h/x?y"), b"/x?y");
        assert_eq!(strip_scheme_host(b"/a"), b"/a");
        assert_eq!(uri_decode(b"/a%20b+c"), b"/a b+c".to_vec());
    }
}
