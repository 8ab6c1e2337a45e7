//! The engine with the real CRS (paranoia level 1, blocking mode), as the
//! application will use it: benign traffic passes untouched, attacks are
//! blocked by the anomaly-scoring rules, and verdicts carry names, never
//! values.

// Test code: a failed expectation is a panic by design.

use std::sync::OnceLock;

use anshin_waf::{EngineMode, LoadOptions, RECOMMENDED_BASE_RULES, Request, RuleSet};
use proptest::prelude::*;

fn crs() -> &'static RuleSet {
    static RS: OnceLock<RuleSet> = OnceLock::new();
    RS.get_or_init(|| {
        let rules = std::env::var("ANSHIN_WAF_CRS_RULES")
            .unwrap_or_else(|_| "/usr/share/modsecurity-crs/rules".into());
        let setup = std::env::var("ANSHIN_WAF_CRS_SETUP")
            .unwrap_or_else(|_| "/etc/modsecurity/crs/crs-setup.conf".into());
        RuleSet::load(
            &[setup, format!("{rules}/*.conf")],
            &LoadOptions {
                paranoia_level: Some(1),
                engine_mode: Some(EngineMode::On),
                directives_before: vec![RECOMMENDED_BASE_RULES.to_string()],
                ..LoadOptions::default()
            },
        )
        .unwrap()
    })
}

fn get(uri: &str) -> Request {
    Request {
        method: "GET".into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"shop.example".to_vec()),
            (
                "User-Agent".into(),
                b"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0".to_vec(),
            ),
            ("Accept".into(), b"text/html,application/xhtml+xml".to_vec()),
        ],
        remote_addr: "192.0.2.10".into(),
        body: Vec::new(),
    }
}

fn post(uri: &str, ctype: &str, body: &[u8]) -> Request {
    let mut r = get(uri);
    r.method = "POST".into();
    r.headers
        .push(("Content-Type".into(), ctype.as_bytes().to_vec()));
    r.headers
        .push(("Content-Length".into(), body.len().to_string().into_bytes()));
    r.body = body.to_vec();
    r
}

#[test]
fn loads_every_crs_rule() {
    let rs = crs();
    assert!(rs.rule_count() > 600, "{}", rs.rule_count());
    for id in [901001, 920100, 942100, 941100, 949110, 980130] {
        assert!(rs.has_rule(id), "{id}");
    }
    let info = rs.rule_info(942100).unwrap();
    assert!(
        info.file
            .ends_with("REQUEST-942-APPLICATION-ATTACK-SQLI.conf")
    );
    assert_eq!(info.operator.as_deref(), Some("detectSQLi"));
}

#[test]
fn benign_requests_pass_cleanly() {
    let rs = crs();
    for r in [
        get("/"),
        get("/items?page=2&sort=price&q=red+shoes"),
        post(
            "/cart",
            "application/x-www-form-urlencoded",
            b"item=42&qty=1",
        ),
        post(
            "/api/orders",
            "application/json",
            br#"{"item":42,"note":"leave at door"}"#,
        ),
    ] {
        let v = rs.evaluate(&r);
        assert!(v.disruptive.is_none(), "{r:?} -> {v:?}");
        assert!(v.matches.is_empty(), "{r:?} -> {:?}", v.matches);
        assert_eq!(v.anomaly_score, 0);
    }
}

#[test]
fn sqli_in_query_is_blocked_by_anomaly_score() {
    let payload = "1' UNION SELECT password FROM users--";
    let v = crs().evaluate(&get(&format!("/items?id={}", payload.replace(' ', "%20"))));
    let i = v.disruptive.clone().expect("blocked");
    assert_eq!((i.status, i.rule_id), (403, 949110));
    assert!(v.anomaly_score >= 5);
    let m = v
        .matches
        .iter()
        .find(|m| m.rule_id == 942100)
        .expect("942100 matched");
    assert_eq!(m.variable_name, "ARGS:id");
    // Nothing of the matched value is reported.
    let dump = format!("{v:?}");
    assert!(
        !dump.contains("UNION") && !dump.contains("password"),
        "{dump}"
    );
}

#[test]
fn xss_in_json_body_is_blocked() {
    let v = crs().evaluate(&post(
        "/api/review",
        "application/json",
        br#"{"review":{"text":"<script>alert(document.cookie)</script>"}}"#,
    ));
    assert_eq!(v.disruptive.map(|i| i.rule_id), Some(949110));
    assert!(
        v.matches
            .iter()
            .any(|m| m.rule_id == 941100 && m.variable_name == "ARGS:json.review.text")
    );
}

#[test]
fn php_upload_and_broken_bodies() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shell.php\"\r\nContent-Type: text/plain\r\n\r\n<?php system($_GET['c']); ?>\r\n--b--\r\n";
    let v = crs().evaluate(&post("/upload", "multipart/form-data; boundary=b", body));
    assert!(
        v.matches.iter().any(|m| m.rule_id == 933110),
        "{:?}",
        v.matches
    );
    assert!(v.disruptive.is_some());
    let v = crs().evaluate(&post("/api", "application/json", b"{\"a\": [1,"));
    assert!(v.body_error);
    assert_eq!(
        v.disruptive.map(|i| (i.status, i.rule_id)),
        Some((400, 200002))
    );
}

#[test]
fn detection_only_reports_without_blocking() {
    let mut rs = crs().clone();
    rs.set_mode(EngineMode::DetectionOnly);
    let v = rs.evaluate(&get("/?file=../../../../etc/passwd"));
    assert!(v.disruptive.is_none());
    assert_eq!(v.would_interrupt.map(|i| i.rule_id), Some(949110));
    assert!(
        v.matches
            .iter()
            .any(|m| m.rule_id == 930110 || m.rule_id == 930120)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Hostile requests never panic the engine, whatever the body type.
    #[test]
    fn never_panics_on_hostile_requests(
        method in "[A-Z]{0,8}",
        uri in "[ -~]{0,60}",
        hname in "[A-Za-z-]{1,12}",
        hval in proptest::collection::vec(any::<u8>(), 0..40),
        ctype in prop_oneof![
            Just("application/json"), Just("text/xml"), Just("multipart/form-data; boundary=x"),
            Just("application/x-www-form-urlencoded"), Just("")
        ],
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut r = post(&uri, ctype, &body);
        r.method = method;
        r.headers.push((hname, hval));
        let v = crs().evaluate(&r);
        prop_assert!(v.matches.iter().all(|m| m.rule_id > 0));
    }
}
