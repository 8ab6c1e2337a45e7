//! The web application firewall in front of the public site (C6): loads
//! the OWASP CRS with the anshin tuning profile into `anshin-waf`, and
//! turns a refusal into the site's own error response (generic 403 page or
//! JSON with the request id, via `errors::render_error_pages`).
//!
//! The layer sits inside the request-id, security-header and error-page
//! layers and outside sessions and CSRF, so a blocked request gets a normal
//! error page yet runs no handler and touches no database.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use anshin_waf::{
    ANSHIN_PROFILE, ANSHIN_PROFILE_BEFORE, LoadOptions, Mode, ProseField, RECOMMENDED_BASE_RULES,
    Refusal, RuleSet, Waf, WafConfig, WafLayer, prose_field_rules,
};
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::header;

use super::errors::{ErrorCode, WebError};
use crate::config::{Settings, WafMode};

/// Loads the rule set the settings ask for. With `waf.mode = "off"` no
/// rules are read (the layer then passes everything through untouched).
pub fn load(settings: &Settings) -> anyhow::Result<Arc<Waf>> {
    let w = &settings.waf;
    let mode = match w.mode {
        WafMode::Block => Mode::Block,
        WafMode::Detect => Mode::Detect,
        WafMode::Off => Mode::Off,
    };
    let rules = if mode == Mode::Off {
        Arc::new(RuleSet::from_str("", std::path::Path::new("."))?)
    } else {
        rule_set(settings).map_err(|e| {
            anyhow::anyhow!(
                "cannot load the WAF rules (OWASP CRS) from {} and {}: {e}. \
                 Install them with `apt-get install modsecurity-crs`, or run without \
                 the WAF by setting waf.mode = \"off\" (env ANSHIN_WAF__MODE=off)",
                w.crs_setup.display(),
                w.crs_rules.display()
            )
        })?
    };
    if mode != Mode::Off {
        tracing::info!(
            mode = ?w.mode,
            paranoia_level = w.paranoia_level,
            threshold = w.inbound_anomaly_threshold,
            tuning = w.tuning,
            rules = rules.rule_count(),
            "WAF rules loaded"
        );
    }
    let config = WafConfig {
        mode,
        // The upload routes take more than other requests (the per-route
        // cap in front of the WAF, `uploads::limit_body`, holds the rest
        // to `http.body_limit_bytes`).
        body_limit_bytes: super::uploads::largest_body(settings),
        ..WafConfig::default()
    };
    Ok(Arc::new(Waf::new(rules, config).with_remote_addr(|ext| {
        ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
    })))
}

/// The compiled rule set is immutable and costs a few hundred
/// milliseconds to build, and `Application::build` can run many times in
/// one process (the test suite starts a server per test): the last one is
/// kept, keyed by everything that shapes it.
fn rule_set(settings: &Settings) -> Result<Arc<RuleSet>, anshin_waf::LoadError> {
    static LAST: Mutex<Option<(String, Arc<RuleSet>)>> = Mutex::new(None);
    let w = &settings.waf;
    let prose = prose_fields(settings);
    let key = format!(
        "{:?}|{:?}|{}|{}|{}|{:?}|{:?}",
        w.crs_setup,
        w.crs_rules,
        w.paranoia_level,
        w.inbound_anomaly_threshold,
        w.tuning,
        {
            w.exclusions
                .iter()
                .map(|e| (&e.path_prefix, &e.rule_ids))
                .collect::<Vec<_>>()
        },
        prose
    );
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((k, rs)) = last.as_ref()
        && *k == key
    {
        return Ok(rs.clone());
    }
    let mut before = vec![RECOMMENDED_BASE_RULES.to_owned()];
    let mut after = Vec::new();
    if w.tuning {
        before.push(ANSHIN_PROFILE_BEFORE.to_owned());
        before.push(
            prose_field_rules(&prose).map_err(|e| anshin_waf::LoadError::Syntax {
                file: "waf.prose_fields".into(),
                line: 0,
                message: e.to_string(),
            })?,
        );
        after.push(ANSHIN_PROFILE.to_owned());
    }
    before.push(exclusion_rules(settings));
    before.push(UPLOAD_RULES.to_owned());
    let rs = Arc::new(RuleSet::load(
        &[w.crs_setup.clone(), w.crs_rules.join("*.conf")],
        &LoadOptions {
            paranoia_level: Some(w.paranoia_level),
            inbound_anomaly_threshold: Some(w.inbound_anomaly_threshold),
            directives_before: before,
            directives_after: after,
            ..LoadOptions::default()
        },
    )?);
    // Patterns compile on first use: compile those ordinary requests reach
    // now, not while the first visitors wait.
    rs.warm_up();
    *last = Some((key, rs.clone()));
    Ok(rs)
}

/// The prose fields the site declares next to its routes, and those the
/// operator adds (`waf.prose_fields`).
fn prose_fields(settings: &Settings) -> Vec<ProseField> {
    let mut all = crate::web::site::prose_fields();
    all.extend(settings.waf.prose_fields.iter().map(|f| f.to_waf()));
    all.sort();
    all.dedup();
    all
}
/// The API's image uploads (`uploads::is_upload`) send the image itself
/// as the body, typed `image/jpeg|png|webp`: CRS's content-type policy
/// (920420) allows only form, multipart, XML and JSON bodies, and would
/// refuse every one. For those two routes and those three types only, the
/// policy rule is removed and the body is not parsed as anything (it is
/// binary; the application checks it byte by byte, `shops::images`). The
/// URL, the headers and every other route stay fully inspected.
const UPLOAD_RULES: &str = r#"SecRule REQUEST_FILENAME "@rx ^/api/v1/me/shop/(?:items/[0-9a-f-]{36}/images|icon)$" "id:10900,phase:1,pass,nolog,t:none,chain"
    SecRule REQUEST_HEADERS:Content-Type "@rx ^image/(?:jpeg|png|webp)$" "t:lowercase,ctl:ruleRemoveById=920420"
"#;

/// `waf.exclusions` as runtime exclusions, loaded before the CRS so they
/// run before the rules they remove. Prefixes were validated to hold only
/// plain path characters (config.rs), so they cannot alter the rule text.
fn exclusion_rules(settings: &Settings) -> String {
    let mut text = String::new();
    for (i, e) in settings.waf.exclusions.iter().enumerate() {
        let ctls: Vec<String> = e
            .rule_ids
            .iter()
            .map(|id| format!("ctl:ruleRemoveById={id}"))
            .collect();
        text.push_str(&format!(
            "SecRule REQUEST_FILENAME \"@beginsWith {}\" \"id:{},phase:1,pass,nolog,t:none,{}\"\n",
            e.path_prefix,
            11000 + i,
            ctls.join(",")
        ));
    }
    text
}

/// The site's layer over `waf`.
pub fn layer(waf: Arc<Waf>) -> WafLayer<fn(Refusal, &http::request::Parts) -> Response> {
    WafLayer::new(waf, refusal)
}

/// A refused request becomes an ordinary [`WebError`]: the error-page
/// layer outside gives it the generic page or JSON with the request id.
/// A form post from one of our pages is instead sent back to that page
/// (303 to the `Referer`'s path, never to another host) with a flash that
/// says what happened and what to do: the request was not processed, and
/// the person is not left on a bare error page.
fn refusal(r: Refusal, parts: &http::request::Parts) -> Response {
    if matches!(r, Refusal::Blocked { status: 403, .. })
        && let Some(back) = form_page_to_return_to(parts)
        && let Ok(res) = super::flash::redirect(&back, super::flash::Flash::RequestBlocked)
    {
        return res;
    }
    let err = match r {
        // ModSecurity's recommended rule 200002: a body the WAF cannot
        // parse is refused (an unparsed body would be uninspected).
        Refusal::Blocked { status: 400, .. } => {
            let json = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
            WebError::BadRequest(if json {
                ErrorCode::MalformedJson
            } else {
                ErrorCode::MalformedBody
            })
        }
        Refusal::Blocked { .. } => WebError::Forbidden(ErrorCode::RequestBlocked),
        Refusal::BodyTooLarge => WebError::PayloadTooLarge,
        Refusal::BodyUnreadable => WebError::BadRequest(ErrorCode::UnreadableBody),
    };
    err.into_response()
}

/// The path (and query) of the page a refused form came from: a POST of
/// an urlencoded form, outside `/api/`, whose `Referer` has a plain path
/// (one `/`, so never `//host`, never a backslash).
fn form_page_to_return_to(parts: &http::request::Parts) -> Option<String> {
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if parts.method != http::Method::POST || !form || parts.uri.path().starts_with("/api/") {
        return None;
    }
    let referer = parts.headers.get(header::REFERER)?.to_str().ok()?;
    let uri: http::Uri = referer.parse().ok()?;
    let pq = uri.path_and_query()?.as_str();
    let plain = pq.starts_with('/')
        && !pq.starts_with("//")
        && !pq.contains('\\')
        && pq.len() <= 512
        && pq.bytes().all(|b| b.is_ascii_graphic());
    plain.then(|| pq.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WafExclusion;

    #[test]
    fn exclusions_become_path_scoped_runtime_removals() {
        let mut s = Settings::default();
        s.waf.exclusions = vec![WafExclusion {
            path_prefix: "/api/v1/items".into(),
            rule_ids: vec![942100, 941100],
        }];
        let text = exclusion_rules(&s);
        assert_eq!(
            text,
            "SecRule REQUEST_FILENAME \"@beginsWith /api/v1/items\" \"id:11000,phase:1,pass,nolog,t:none,ctl:ruleRemoveById=942100,ctl:ruleRemoveById=941100\"\n"
        );
        let rs = RuleSet::from_str(
            &format!("{text}SecRule ARGS \"@rx evil\" \"id:942100,phase:2,deny\"\n"),
            std::path::Path::new("."),
        )
        .unwrap();
        let req = |uri: &str| anshin_waf::Request {
            method: "GET".into(),
            uri: uri.into(),
            protocol: "HTTP/1.1".into(),
            headers: vec![("Host".into(), b"localhost".to_vec())],
            remote_addr: "127.0.0.1".into(),
            body: Vec::new(),
        };
        assert!(
            rs.evaluate(&req("/api/v1/items/3?q=evil"))
                .disruptive
                .is_none()
        );
        assert!(rs.evaluate(&req("/search?q=evil")).disruptive.is_some());
    }

    #[test]
    fn c06_a_refused_form_returns_only_to_a_plain_path_of_this_site() {
        let parts = |referer: &str, ct: &str, path: &str| {
            http::Request::post(path)
                .header(header::REFERER, referer)
                .header(header::CONTENT_TYPE, ct)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            form_page_to_return_to(&parts(
                "https://shop.example/account/phone",
                form,
                "/account/phone"
            )),
            Some("/account/phone".into())
        );
        for (referer, ct, path) in [
            ("https://evil.example//evil.example/x", form, "/x"),
            ("https://shop.example/a", "application/json", "/a"),
            ("https://shop.example/a", form, "/api/v1/x"),
            ("not a url", form, "/a"),
        ] {
            assert_eq!(
                form_page_to_return_to(&parts(referer, ct, path)),
                None,
                "{referer}"
            );
        }
        // Another host's page: only its path is kept, on this site.
        assert_eq!(
            form_page_to_return_to(&parts("https://evil.example/account", form, "/x")),
            Some("/account".into())
        );
    }

    #[test]
    fn off_mode_needs_no_rule_files() {
        let mut s = Settings::default();
        s.waf.mode = WafMode::Off;
        s.waf.crs_rules = "/nonexistent".into();
        assert_eq!(load(&s).unwrap().mode(), Mode::Off);
        s.waf.mode = WafMode::Block;
        let e = load(&s).unwrap_err().to_string();
        assert!(e.contains("apt-get install modsecurity-crs"), "{e}");
        assert!(e.contains("waf.mode"), "{e}");
    }
}
