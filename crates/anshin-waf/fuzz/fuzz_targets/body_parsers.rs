//! Request bodies through the urlencoded, multipart, JSON and XML body
//! processors (selected by Content-Type, as ModSecurity's recommended rules
//! do), with rules that read every variable the processors fill.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const RULES: &str = r#"
SecRule ARGS|ARGS_NAMES|FILES|FILES_NAMES|MULTIPART_PART_HEADERS|REQUEST_BODY|XML:/*|XML://@* "@rx (?i)evil" "id:1,phase:2,pass,log"
SecRule REQBODY_ERROR "!@eq 0" "id:2,phase:2,pass,log"
SecRule &ARGS "@gt 1000" "id:3,phase:2,pass,log"
"#;

fn rules() -> &'static anshin_waf::RuleSet {
    static RS: OnceLock<anshin_waf::RuleSet> = OnceLock::new();
    RS.get_or_init(|| {
        let text = format!("{}\n{RULES}", anshin_waf::RECOMMENDED_BASE_RULES);
        anshin_waf::RuleSet::from_str(&text, std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("rules: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type: &[u8] = match selector % 4 {
        0 => b"application/x-www-form-urlencoded",
        1 => b"multipart/form-data; boundary=XyZ",
        2 => b"application/json",
        _ => b"application/xml",
    };
    let _ = rules().evaluate(&anshin_waf::Request {
        method: "POST".into(),
        uri: "/upload".into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"localhost".to_vec()),
            ("Content-Type".into(), content_type.to_vec()),
            ("Content-Length".into(), body.len().to_string().into_bytes()),
        ],
        remote_addr: "127.0.0.1".into(),
        body: body.to_vec(),
    });
});
