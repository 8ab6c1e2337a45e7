//! Pathological inputs (ReDoS-style) cannot make one evaluation take
//! unbounded time: CRS patterns run on the linear-time `regex` engine, the
//! few that need backtracking have a step limit, and the layer caps the
//! body. Each case runs the whole CRS at paranoia level 4 (every rule
//! loaded) on a 64 KiB hostile value and must finish well within 2 s; the
//! times are printed (`-- --nocapture`), only the generous bound is asserted
//! so the test cannot flake on a loaded machine.

use std::time::{Duration, Instant};

use anshin_waf::{LoadOptions, RECOMMENDED_BASE_RULES, Request, RuleSet};

fn crs() -> RuleSet {
    let rules = std::env::var("ANSHIN_WAF_CRS_RULES")
        .unwrap_or_else(|_| "/usr/share/modsecurity-crs/rules".into());
    let setup = std::env::var("ANSHIN_WAF_CRS_SETUP")
        .unwrap_or_else(|_| "/etc/modsecurity/crs/crs-setup.conf".into());
    RuleSet::load(
        &[setup, format!("{rules}/*.conf")],
        &LoadOptions {
            paranoia_level: Some(4),
            directives_before: vec![RECOMMENDED_BASE_RULES.into()],
            ..LoadOptions::default()
        },
    )
    .expect("CRS 3.3.4 installed (apt-get install modsecurity-crs)")
}

fn pct(s: &[u8]) -> String {
    s.iter().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn pathological_inputs_finish_in_bounded_time() {
    let rs = crs();
    let (fast, fallback) = rs.regex_engine_counts();
    println!("patterns: {fast} linear-time, {fallback} backtracking with a step limit");
    const N: usize = 64 * 1024;
    let unit = |u: &str| u.repeat(N / u.len());
    let cases: Vec<(&str, String)> = vec![
        ("repeated letter", unit("a")),
        (
            "nested parentheses",
            format!(
                "{}{}",
                unit("(").get(..N / 2).unwrap(),
                unit(")").get(..N / 2).unwrap()
            ),
        ),
        ("quotes and equals (tautology shapes)", unit("'1'='1' ")),
        ("almost a comparison, never closed", unit("1 = 1 and ")),
        ("word boundaries and dots", unit("a.b-")),
        ("html-ish tags never closed", unit("<a ")),
        ("comment openers", unit("/*")),
        ("backslashes and quotes", unit("\\'\"")),
        ("spaces then a trailing bang", format!("{}!", " ".repeat(N))),
        ("mixed sql keywords", unit("select union from where ")),
        ("unicode", unit("ア")),
    ];
    let mut worst = Duration::ZERO;
    for (name, value) in cases {
        for (method, uri, body) in [
            (
                "GET",
                format!(
                    "/?q={}",
                    pct(value.as_bytes().get(..8 * 1024).unwrap_or(value.as_bytes()))
                ),
                String::new(),
            ),
            (
                "POST",
                "/form".to_owned(),
                format!("a={}", pct(value.as_bytes())),
            ),
        ] {
            let mut headers: Vec<(String, Vec<u8>)> = vec![("Host".into(), b"localhost".to_vec())];
            if method == "POST" {
                headers.push((
                    "Content-Type".into(),
                    b"application/x-www-form-urlencoded".to_vec(),
                ));
                headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
            }
            let req = Request {
                method: method.into(),
                uri,
                protocol: "HTTP/1.1".into(),
                headers,
                remote_addr: "192.0.2.1".into(),
                body: body.into_bytes(),
            };
            let t = Instant::now();
            let v = rs.evaluate(&req);
            let took = t.elapsed();
            worst = worst.max(took);
            println!(
                "{name:40} {method:4} {took:>12?} ({} matches)",
                v.matches.len()
            );
            assert!(
                took < Duration::from_secs(2),
                "{name} ({method}) took {took:?}"
            );
        }
    }
    println!("worst case: {worst:?}");
}
