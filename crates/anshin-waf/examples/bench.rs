//! Rough evaluation timing on a large benign form post (100 fields), for
//! tuning: `cargo run --release --example bench -- [PARANOIA_LEVEL]`.
//! Rule paths: `ANSHIN_WAF_CRS_RULES`, `ANSHIN_WAF_CRS_SETUP` (Debian
//! defaults otherwise).
#![allow(clippy::print_stdout)] // a command-line report: printing is its output
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anshin_waf::{LoadOptions, RECOMMENDED_BASE_RULES, Request, RuleSet};

fn main() {
    let pl: u8 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let rules = std::env::var("ANSHIN_WAF_CRS_RULES")
        .unwrap_or_else(|_| "/usr/share/modsecurity-crs/rules".into());
    let setup = std::env::var("ANSHIN_WAF_CRS_SETUP")
        .unwrap_or_else(|_| "/etc/modsecurity/crs/crs-setup.conf".into());
    let t = std::time::Instant::now();
    let rs = RuleSet::load(
        &[setup, format!("{rules}/*.conf")],
        &LoadOptions {
            paranoia_level: Some(pl),
            directives_before: vec![RECOMMENDED_BASE_RULES.into()],
            ..LoadOptions::default()
        },
    )
    .expect("CRS loads");
    println!("load {:?}", t.elapsed());
    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!(
            "field{i}=The+quick+brown+fox+jumps+over+the+lazy+dog+{i}+and+some+more+words&"
        ));
    }
    let req = Request {
        method: "POST".into(),
        uri: "/shop/items?page=1&q=shoes".into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"shop.example".to_vec()),
            ("User-Agent".into(), b"Mozilla/5.0 Firefox/120.0".to_vec()),
            (
                "Content-Type".into(),
                b"application/x-www-form-urlencoded".to_vec(),
            ),
            ("Accept".into(), b"*/*".to_vec()),
        ],
        remote_addr: "192.0.2.1".into(),
        body: body.into_bytes(),
    };
    let v = rs.evaluate(&req);
    println!(
        "matches: {:?}",
        v.matches.iter().map(|m| m.rule_id).collect::<Vec<_>>()
    );
    let t = std::time::Instant::now();
    for _ in 0..100 {
        std::hint::black_box(rs.evaluate(&req));
    }
    println!(
        "PL{pl}: mean {:?} per evaluation (100 fields, {} bytes)",
        t.elapsed() / 100,
        req.body.len()
    );
}
