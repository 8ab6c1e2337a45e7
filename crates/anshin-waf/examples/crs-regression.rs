//! CRS 3.3.4 regression runner: replays the CRS FTW test corpus in-process
//! against the engine (DetectionOnly, paranoia level 4, like Coraza's go-ftw
//! setup) and prints passed/failed/skipped, with the reason for each skip and
//! failure.
//!
//! Paths (env overrides):
//! * `ANSHIN_WAF_CORPUS`: the `crs-3.3.4-regression` directory; default
//!   `shared/waf-corpus/crs-3.3.4-regression` found upwards from the crate;
//! * `ANSHIN_WAF_CRS_RULES`: rules directory, default
//!   `/usr/share/modsecurity-crs/rules`;
//! * `ANSHIN_WAF_CRS_SETUP`: default `/etc/modsecurity/crs/crs-setup.conf`.
//!
//! Usage: `cargo run --example crs-regression [-- FILTER]` (FILTER: substring
//! of test titles to run) ; `-v` prints passes too.
#![allow(clippy::print_stdout)] // a command-line report: printing is its output
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use anshin_waf::{EngineMode, LoadOptions, RECOMMENDED_BASE_RULES, Request, RuleSet};
use serde_yaml::Value;

/// Totals of one run.
#[derive(Debug, Default)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// (test title, reason) of failures.
    pub failures: Vec<(String, String)>,
    /// (test title, reason) of skips.
    pub skips: Vec<(String, String)>,
}

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    if let Ok(p) = std::env::var("ANSHIN_WAF_CORPUS") {
        return PathBuf::from(p);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for up in ["../../../shared", "../../shared", "../shared"] {
        let p = manifest.join(up).join("waf-corpus/crs-3.3.4-regression");
        if p.is_dir() {
            return p;
        }
    }
    manifest.join("../../../shared/waf-corpus/crs-3.3.4-regression")
}

/// Load the CRS as the runner uses it.
pub fn load_crs() -> RuleSet {
    let rules = std::env::var("ANSHIN_WAF_CRS_RULES")
        .unwrap_or_else(|_| "/usr/share/modsecurity-crs/rules".into());
    let setup = std::env::var("ANSHIN_WAF_CRS_SETUP")
        .unwrap_or_else(|_| "/etc/modsecurity/crs/crs-setup.conf".into());
    let opts = LoadOptions {
        paranoia_level: Some(4),
        engine_mode: Some(EngineMode::DetectionOnly),
        directives_before: vec![RECOMMENDED_BASE_RULES.to_string()],
        ..LoadOptions::default()
    };
    let paths = vec![PathBuf::from(setup), Path::new(&rules).join("*.conf")];
    match RuleSet::load(&paths, &opts) {
        Ok(rs) => rs,
        Err(e) => panic!("loading CRS failed: {e}"),
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

fn as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default(),
    }
}

/// Undo chunked transfer coding, as the web server in front of ModSecurity does.
fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&rest[..nl]).to_string();
        let Ok(size) = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        rest = &rest[nl + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

/// Parse a raw HTTP request (for `raw_request`/`encoded_request`).
fn parse_raw(raw: &[u8]) -> Request {
    let (head, body) = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(p) => (&raw[..p], raw[p + 4..].to_vec()),
        None => match raw.windows(2).position(|w| w == b"\n\n") {
            Some(p) => (&raw[..p], raw[p + 2..].to_vec()),
            None => (raw, Vec::new()),
        },
    };
    let head = String::from_utf8_lossy(head).to_string();
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let mut parts = first.splitn(3, ' ');
    let method = parts.next().unwrap_or("GET").to_string();
    let uri = parts.next().unwrap_or("/").to_string();
    let protocol = parts.next().unwrap_or("HTTP/1.1").trim().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().as_bytes().to_vec()))
        .collect();
    Request {
        method,
        uri,
        protocol,
        headers,
        remote_addr: "127.0.0.1".into(),
        body,
    }
}

/// Build the request of one stage input.
fn build_request(input: &Value) -> Request {
    use base64::Engine;
    if let Some(enc) = input.get("encoded_request") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(as_string(enc).trim())
            .unwrap_or_default();
        return parse_raw(&raw);
    }
    if let Some(raw) = input.get("raw_request") {
        return parse_raw(as_string(raw).as_bytes());
    }
    let method = input
        .get("method")
        .map(as_string)
        .unwrap_or_else(|| "GET".into());
    let uri = input
        .get("uri")
        .map(as_string)
        .unwrap_or_else(|| "/".into());
    let protocol = input
        .get("version")
        .map(as_string)
        .unwrap_or_else(|| "HTTP/1.1".into());
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(Value::Mapping(m)) = input.get("headers") {
        for (k, v) in m {
            headers.push((as_string(k), as_string(v).into_bytes()));
        }
    }
    let mut body = match input.get("data") {
        Some(Value::Sequence(lines)) => lines
            .iter()
            .map(as_string)
            .collect::<Vec<_>>()
            .join("\r\n")
            .into_bytes(),
        Some(v) => as_string(v).into_bytes(),
        None => Vec::new(),
    };
    let stop_magic = input
        .get("stop_magic")
        .is_some_and(|v| v.as_bool() == Some(true));
    let has = |h: &[(String, Vec<u8>)], n: &str| h.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding")
            && v.to_ascii_lowercase().starts_with(b"chunked")
    });
    if chunked {
        body = dechunk(&body);
        // The web server drops Content-Length when Transfer-Encoding is set.
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
    } else if !stop_magic && !body.is_empty() && !has(&headers, "content-length") {
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
    }
    // Like FTW: a body without a declared type is sent as a form.
    if !stop_magic && !body.is_empty() && !has(&headers, "content-type") {
        headers.push((
            "Content-Type".into(),
            b"application/x-www-form-urlencoded".to_vec(),
        ));
    }
    Request {
        method,
        uri,
        protocol,
        headers,
        remote_addr: "127.0.0.1".into(),
        body,
    }
}

/// The log lines ModSecurity would write for this verdict.
fn log_lines(v: &anshin_waf::Verdict) -> String {
    let mut s = String::new();
    for m in &v.matches {
        s.push_str(&format!(
            "[id \"{}\"] [msg \"{}\"] [var \"{}\"]\n",
            m.rule_id, m.message, m.variable_name
        ));
    }
    s
}

fn check_regex(pat: &str) -> Option<regex::Regex> {
    regex::Regex::new(pat).ok()
}

/// Run the corpus against the CRS. `filter`: substring of test titles.
pub fn run(filter: Option<&str>, verbose: bool) -> Summary {
    let t0 = std::time::Instant::now();
    let rs = load_crs();
    let load_time = t0.elapsed();
    if verbose {
        println!("load: {load_time:?}");
    }
    run_with(&rs, filter, verbose)
}

/// Run the corpus against any rule set.
pub fn run_with(rs: &RuleSet, filter: Option<&str>, verbose: bool) -> Summary {
    let mut eval_time = std::time::Duration::ZERO;
    let mut evals = 0u32;
    if verbose {
        let (fast, fancy) = rs.regex_engine_counts();
        println!(
            "rules: {}, @rx on regex: {fast}, on fancy-regex: {fancy}",
            rs.rule_count()
        );
    }
    let mut files = Vec::new();
    yaml_files(&corpus_dir().join("tests"), &mut files);
    let mut s = Summary::default();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let doc: Value = match serde_yaml::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                s.skipped += 1;
                s.skips
                    .push((f.display().to_string(), format!("unparsable YAML: {e}")));
                continue;
            }
        };
        let enabled = doc
            .get("meta")
            .and_then(|m| m.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let Some(Value::Sequence(tests)) = doc.get("tests") else {
            continue;
        };
        for t in tests {
            let title = t
                .get("test_title")
                .map(as_string)
                .unwrap_or_else(|| "?".into());
            if filter.is_some_and(|fl| !title.contains(fl)) {
                continue;
            }
            if !enabled {
                s.skipped += 1;
                s.skips
                    .push((title, "test file disabled (meta.enabled: false)".into()));
                continue;
            }
            let Some(Value::Sequence(stages)) = t.get("stages") else {
                continue;
            };
            let mut result: Result<(), String> = Ok(());
            let mut skip_reason: Option<String> = None;
            for st in stages {
                let stage = st.get("stage").unwrap_or(st);
                let (Some(input), Some(output)) = (stage.get("input"), stage.get("output")) else {
                    skip_reason = Some("stage without input/output".into());
                    break;
                };
                let log = output.get("log_contains").map(as_string);
                let nolog = output.get("no_log_contains").map(as_string);
                if output.get("expect_error").is_some() && log.is_none() && nolog.is_none() {
                    skip_reason = Some("expects a transport error from the web server".into());
                    break;
                }
                if log.is_none() && nolog.is_none() {
                    skip_reason = Some(
                        "status-only expectation: depends on the web server's response".into(),
                    );
                    break;
                }
                let req = build_request(input);
                let t1 = std::time::Instant::now();
                let verdict = rs.evaluate(&req);
                eval_time += t1.elapsed();
                evals += 1;
                let lines = log_lines(&verdict);
                if let Some(p) = &log {
                    match check_regex(p) {
                        Some(r) if r.is_match(&lines) => {}
                        Some(_) => {
                            result = Err(format!(
                                "log_contains `{p}` not found; matched: {}",
                                ids(&verdict)
                            ));
                        }
                        None => {
                            skip_reason = Some(format!("log pattern `{p}` is not a valid regex"))
                        }
                    }
                }
                if let Some(p) = &nolog {
                    match check_regex(p) {
                        Some(r) if !r.is_match(&lines) => {}
                        Some(_) => {
                            result = Err(format!(
                                "no_log_contains `{p}` found; matched: {}",
                                ids(&verdict)
                            ))
                        }
                        None => {
                            skip_reason = Some(format!("log pattern `{p}` is not a valid regex"))
                        }
                    }
                }
                if result.is_err() || skip_reason.is_some() {
                    break;
                }
            }
            if let Some(r) = skip_reason {
                s.skipped += 1;
                s.skips.push((title, r));
            } else if let Err(e) = result {
                s.failed += 1;
                s.failures.push((title, e));
            } else {
                s.passed += 1;
                if verbose {
                    println!("PASS {title}");
                }
            }
        }
    }
    if verbose && evals > 0 {
        println!("evaluations: {evals}, mean {:?}", eval_time / evals);
    }
    s
}

fn ids(v: &anshin_waf::Verdict) -> String {
    v.matches
        .iter()
        .map(|m| m.rule_id.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let filter = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str);
    let s = run(filter, verbose);
    for (t, r) in &s.skips {
        println!("SKIP {t}: {r}");
    }
    for (t, r) in &s.failures {
        println!("FAIL {t}: {r}");
    }
    println!(
        "regression: {} passed, {} failed, {} skipped",
        s.passed, s.failed, s.skipped
    );
}
