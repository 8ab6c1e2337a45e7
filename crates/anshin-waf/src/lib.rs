//! anshin-waf: a web application firewall engine that runs the OWASP Core
//! Rule Set (CRS 3.3.4, as Debian ships it) in-process.
//!
//! It exists so that a Rust server can inspect requests with the CRS without
//! an external ModSecurity: it parses SecLang, compiles the rules once, and
//! evaluates each request to a [`Verdict`] (block with a status, or pass) plus
//! the list of rules that matched.
//!
//! What it must never do:
//! * log, return or store a matched value: verdicts carry rule ids and
//!   variable *names* only, since values may be personal data;
//! * do I/O other than reading rule and data files at load time
//!   (`@rbl` and `@geoLookup` are no-ops that never match);
//! * know anything about the application that embeds it;
//! * panic on any input: rule files, request parts and bodies are treated as
//!   hostile.
//!
//! ```no_run
//! use anshin_waf::{LoadOptions, Request, RuleSet};
//! let rs = RuleSet::load(
//!     &["/etc/modsecurity/crs/crs-setup.conf", "/usr/share/modsecurity-crs/rules/*.conf"],
//!     &LoadOptions { paranoia_level: Some(1), ..LoadOptions::default() },
//! )?;
//! let v = rs.evaluate(&Request {
//!     method: "GET".into(),
//!     uri: "/?q=1' or '1'='1".into(),
//!     protocol: "HTTP/1.1".into(),
//!     headers: vec![("Host".into(), b"example".to_vec())],
//!     remote_addr: "127.0.0.1".into(),
//!     body: Vec::new(),
//! });
//! println!("{:?}", v.disruptive);
//! # Ok::<(), anshin_waf::LoadError>(())
//! ```

mod body;
mod engine;
mod layer;
mod macros;
mod operators;
mod parser;
mod pcre;
mod prose;
mod rules;
mod transformations;
mod variables;

pub use engine::{Intervention, Request, RuleInfo, RuleMatch, RuleSet, Verdict};
pub use layer::{
    Counters, CountersSnapshot, Mode, Refusal, RemoteAddrFn, Waf, WafConfig, WafLayer, WafService,
};
pub use prose::{PROSE_RELAXED_RULES, ProseField, ProseFieldError, prose_field_rules};
pub use rules::EngineMode;

/// The anshin tuning profile, part loaded *before* the CRS rule files
/// (`profiles/anshin-before.conf`): runtime exclusions (`ctl:`) that must
/// run before the rules they switch off. Pass it in
/// [`LoadOptions::directives_before`], after [`RECOMMENDED_BASE_RULES`],
/// and follow it with [`prose_field_rules`] for the application's prose
/// fields (part 3, `profiles/anshin-prose.conf`).
pub const ANSHIN_PROFILE_BEFORE: &str = include_str!("../profiles/anshin-before.conf");

/// The anshin tuning profile, part loaded *after* the CRS rule files
/// (`profiles/anshin.conf`): removals of the CRS rules that
/// `ANSHIN_PROFILE_BEFORE` replaces with narrower ones. Pass it in
/// [`LoadOptions::directives_after`]. Each entry is justified in the file.
pub const ANSHIN_PROFILE: &str = include_str!("../profiles/anshin.conf");

/// Rule loading failures. Each names the file (and line) at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// A directive could not be parsed or compiled.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file (or `<extra:N>` for extra directives).
        file: String,
        /// 1-based line of the directive's start.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A path or glob matched no file.
    #[error("{0}: no such rule file")]
    NoFiles(String),
}

/// Options applied around the rule files.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// CRS paranoia level (`tx.paranoia_level`, 1–4); None keeps the CRS
    /// default or what `crs-setup.conf` says.
    pub paranoia_level: Option<u8>,
    /// Inbound anomaly score threshold (`tx.inbound_anomaly_score_threshold`).
    pub inbound_anomaly_threshold: Option<u32>,
    /// Outbound anomaly score threshold.
    pub outbound_anomaly_threshold: Option<u32>,
    /// Override of `SecRuleEngine` after loading.
    pub engine_mode: Option<EngineMode>,
    /// SecLang text loaded before the rule files (after the settings above).
    pub directives_before: Vec<String>,
    /// SecLang text loaded after the rule files (exclusions, removals).
    pub directives_after: Vec<String>,
}

/// The request-body processor selection and body error rules of
/// ModSecurity's recommended configuration (`modsecurity.conf`), which the CRS
/// assumes: XML and JSON bodies get their processors; unparsable bodies are
/// denied with 400. Pass it in [`LoadOptions::directives_before`].
pub const RECOMMENDED_BASE_RULES: &str = r#"
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',severity:2"
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::path::Path;

    fn req(uri: &str) -> Request {
        Request {
            method: "GET".into(),
            uri: uri.into(),
            protocol: "HTTP/1.1".into(),
            headers: vec![("Host".into(), b"localhost".to_vec())],
            remote_addr: "127.0.0.1".into(),
            body: Vec::new(),
        }
    }

    const RULES: &str = r#"
SecRuleEngine On
SecDefaultAction "phase:2,log,pass"
SecAction "id:1,phase:1,nolog,pass,setvar:tx.threshold=5"
SecRule ARGS "@rx attack" "id:10,phase:2,block,capture,msg:'Attack %{MATCHED_VAR}',setvar:tx.score=+5"
SecRule ARGS:skip "@streq yes" "id:11,phase:2,pass,nolog,skipAfter:END"
SecRule ARGS "@contains evil" "id:12,phase:2,block,setvar:tx.score=+5"
SecMarker END
SecRule TX:SCORE "@ge %{tx.threshold}" "id:99,phase:2,deny,status:403"
"#;

    #[test]
    fn blocks_via_score_and_reports_names_only() {
        let rs = RuleSet::from_str(RULES, Path::new(".")).unwrap();
        // Warming up compiles patterns early and changes no verdict.
        rs.warm_up();
        let v = rs.evaluate(&req("/?q=attack"));
        assert_eq!(
            v.disruptive,
            Some(Intervention {
                status: 403,
                rule_id: 99
            })
        );
        assert_eq!(v.matches[0].rule_id, 10);
        assert_eq!(v.matches[0].variable_name, "ARGS:q");
        // The message is reported unexpanded: no matched value leaks.
        assert_eq!(v.matches[0].message, "Attack %{MATCHED_VAR}");
        let v = rs.evaluate(&req("/?q=fine"));
        assert!(v.disruptive.is_none());
        assert!(v.matches.is_empty());
    }

    #[test]
    fn skip_after_and_detection_only() {
        let mut rs = RuleSet::from_str(RULES, Path::new(".")).unwrap();
        let v = rs.evaluate(&req("/?q=evil&skip=yes"));
        assert!(v.disruptive.is_none(), "{v:?}");
        let v = rs.evaluate(&req("/?q=evil"));
        assert!(v.disruptive.is_some());
        rs.set_mode(EngineMode::DetectionOnly);
        let v = rs.evaluate(&req("/?q=evil"));
        assert!(v.disruptive.is_none());
        assert_eq!(v.would_interrupt.map(|i| i.rule_id), Some(99));
        rs.set_mode(EngineMode::Off);
        assert!(rs.evaluate(&req("/?q=evil")).matches.is_empty());
    }

    #[test]
    fn chains_counts_exclusions_and_ctl() {
        let rules = r#"
SecRule REQUEST_METHOD "@streq GET" "id:1,phase:1,deny,chain"
    SecRule &ARGS "@eq 2" "chain"
    SecRule ARGS|!ARGS:b "@rx ^x$"
SecRule ARGS:off "@streq 1" "id:2,phase:1,pass,nolog,ctl:ruleRemoveById=3"
SecRule ARGS "@rx ^z$" "id:3,phase:1,deny"
"#;
        let rs = RuleSet::from_str(rules, Path::new(".")).unwrap();
        let info = rs.rule_info(1).unwrap();
        assert_eq!((info.phase, info.line, info.chain_length), (1, 2, 3));
        assert_eq!(info.operator.as_deref(), Some("streq"));
        assert_eq!(rs.rule_count(), 3);
        assert!(rs.has_rule(3) && !rs.has_rule(4));
        assert_eq!(
            rs.evaluate(&req("/?a=x&b=y")).disruptive.map(|i| i.rule_id),
            Some(1)
        );
        assert!(rs.evaluate(&req("/?a=y&b=x")).disruptive.is_none());
        assert!(rs.evaluate(&req("/?a=x")).disruptive.is_none());
        assert_eq!(
            rs.evaluate(&req("/?a=z")).disruptive.map(|i| i.rule_id),
            Some(3)
        );
        assert!(rs.evaluate(&req("/?a=z&off=1")).disruptive.is_none());
    }

    #[test]
    fn json_body_via_ctl() {
        let rules = format!(
            "{RECOMMENDED_BASE_RULES}\nSecRule ARGS:json.a.b \"@rx evil\" \"id:5,phase:2,deny\"\n"
        );
        let rs = RuleSet::from_str(&rules, Path::new(".")).unwrap();
        let mut r = req("/");
        r.method = "POST".into();
        r.headers
            .push(("Content-Type".into(), b"application/json".to_vec()));
        r.body = br#"{"a":{"b":"evil"}}"#.to_vec();
        assert_eq!(rs.evaluate(&r).disruptive.map(|i| i.rule_id), Some(5));
        r.body = b"{broken".to_vec();
        let v = rs.evaluate(&r);
        assert!(v.body_error);
        assert_eq!(
            v.disruptive,
            Some(Intervention {
                status: 400,
                rule_id: 200002
            })
        );
    }

    use proptest::prelude::*;

    proptest! {
        /// Rule text is parsed defensively: garbage gives an error, never a
        /// panic.
        #[test]
        fn parser_never_panics(text in r#"(Sec[A-Za-z]{0,12}|SecRule|SecAction|SecMarker|[ "'\\\n|!&:@,%{}()\[\]a-zA-Z0-9_.=/-]){0,40}"#) {
            let _ = RuleSet::from_str(&text, Path::new("."));
        }

        #[test]
        fn rule_lines_never_panic(
            vars in r"[!&]?[A-Z_]{1,12}(:[/a-z'.*@]{0,6})?(\|[!&]?[A-Z_]{1,8}){0,3}",
            op in "!?@?(rx|pm|eq|within|streq|ipMatch|validateByteRange|contains|x)? ?[ -~]{0,16}",
            acts in "(id:[0-9]{1,3}|phase:[0-9]|t:[a-zA-Z]{0,8}|setvar:[a-z.%{}=+-]{0,10}|ctl:[a-zA-Z=;:0-9]{0,14}|chain|capture|skipAfter:[A-Z]{0,3}|msg:'[ -&(-~]{0,8}'|[a-z]{0,6})(,(id:[0-9]{1,3}|t:none|deny|pass|block|log|nolog)){0,4}",
        ) {
            let text = format!("SecRule {vars} \"{op}\" \"{acts}\"\nSecMarker A\n");
            if let Ok(rs) = RuleSet::from_str(&text, Path::new(".")) {
                let _ = rs.evaluate(&req("/?a=1&b=%zz"));
            }
        }
    }

    #[test]
    fn exclusions_at_load_and_at_runtime() {
        let base = r#"
SecDefaultAction "phase:2,log,deny,status:418"
SecRule ARGS "@rx evil" "id:20,phase:2,block"
SecRule ARGS "@rx bad" "id:21,phase:2,block"
SecRule REQUEST_FILENAME "@streq /admin" "id:30,phase:1,pass,nolog,ctl:ruleRemoveTargetById=20;ARGS:note"
"#;
        let rs = RuleSet::from_str(base, Path::new(".")).unwrap();
        // `block` takes the default action, with its status.
        assert_eq!(
            rs.evaluate(&req("/?note=evil")).disruptive,
            Some(Intervention {
                status: 418,
                rule_id: 20
            })
        );
        // ctl:ruleRemoveTargetById exempts one argument for this request only.
        assert!(rs.evaluate(&req("/admin?note=evil")).disruptive.is_none());
        assert!(rs.evaluate(&req("/admin?other=evil")).disruptive.is_some());
        let after =
            format!("{base}\nSecRuleRemoveById 21\nSecRuleUpdateTargetById 20 \"!ARGS:comment\"\n");
        let rs = RuleSet::from_str(&after, Path::new(".")).unwrap();
        assert!(!rs.has_rule(21));
        assert!(rs.evaluate(&req("/?x=bad")).disruptive.is_none());
        assert!(rs.evaluate(&req("/?comment=evil")).disruptive.is_none());
        assert!(rs.evaluate(&req("/?x=evil")).disruptive.is_some());
    }

    #[test]
    fn exclusions_by_tag() {
        let base = r#"
SecRule ARGS "@rx evil" "id:40,phase:2,deny,tag:'attack-x'"
SecRule ARGS "@rx bad" "id:41,phase:2,deny,tag:'attack-y'"
SecRule ARGS:off "@streq x" "id:42,phase:1,pass,nolog,ctl:ruleRemoveByTag=attack-x"
SecRule ARGS:off "@streq y" "id:43,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=attack-y;ARGS:c"
"#;
        let rs = RuleSet::from_str(base, Path::new(".")).unwrap();
        assert!(rs.evaluate(&req("/?a=evil")).disruptive.is_some());
        assert!(rs.evaluate(&req("/?a=evil&off=x")).disruptive.is_none());
        assert!(rs.evaluate(&req("/?c=bad&off=y")).disruptive.is_none());
        assert!(rs.evaluate(&req("/?d=bad&off=y")).disruptive.is_some());
        let more = format!(
            "{base}\nSecRuleRemoveByTag attack-x\nSecRuleUpdateTargetByTag attack-y \"!ARGS:c\"\n"
        );
        let rs = RuleSet::from_str(&more, Path::new(".")).unwrap();
        assert!(!rs.has_rule(40));
        assert!(rs.evaluate(&req("/?a=evil")).disruptive.is_none());
        assert!(rs.evaluate(&req("/?c=bad")).disruptive.is_none());
        assert!(rs.evaluate(&req("/?d=bad")).disruptive.is_some());
    }

    #[test]
    fn rule_sets_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<RuleSet>();
        let rs = std::sync::Arc::new(RuleSet::from_str(RULES, Path::new(".")).unwrap());
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let rs = rs.clone();
                std::thread::spawn(move || rs.evaluate(&req("/?q=attack")).disruptive)
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().map(|i| i.rule_id), Some(99));
        }
    }
}
