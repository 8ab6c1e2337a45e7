//! SecLang text (rule files are input too: a bad update must give an error,
//! never a crash); whatever parses is also evaluated once.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rs) = anshin_waf::RuleSet::from_str(text, std::path::Path::new(".")) {
        let _ = rs.evaluate(&anshin_waf::Request {
            method: "POST".into(),
            uri: "/a?b=c&d=%27".into(),
            protocol: "HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), b"localhost".to_vec()),
                (
                    "Content-Type".into(),
                    b"application/x-www-form-urlencoded".to_vec(),
                ),
            ],
            remote_addr: "127.0.0.1".into(),
            body: b"x=1&y=<a>".to_vec(),
        });
    }
});
