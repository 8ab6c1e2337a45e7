//! The rule engine: runs a [`RuleSet`] over one [`Request`] and produces a
//! [`Verdict`]. Deterministic and free of I/O: persistent collections
//! (`IP`, `GLOBAL`, …) live only for the duration of one evaluation.
//!
//! Only the request phases (1 and 2) are run; response phases (3, 4) and the
//! logging phase (5) are loaded but skipped because the engine never sees a
//! response.
//!
//! This file holds the public types and the `RuleSet` methods callers use.
//! The work is split by phase of life: [`load`] builds a `RuleSet` from
//! rule files or text, [`optimise`] rewrites it at load time into a cheaper
//! equivalent, [`cache`] holds the per-request caches and value ids, and
//! [`eval`] runs one request. Nothing here may change a `RuleSet` once it
//! is loaded (beyond [`RuleSet::set_mode`]), keep state between requests,
//! or put a matched value in a [`Verdict`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::operators::{OpKind, Operator};
use crate::pcre::Pattern;
use crate::rules::{Disruptive, EngineMode, Rule};
use crate::transformations::Transform;

mod cache;
mod eval;
mod load;
mod optimise;

use eval::Tx;
use optimise::{Prefix, RxGroup};

/// One entry of a phase's rule list.
#[derive(Clone, Debug)]
pub enum Item {
    /// A rule (with its chain).
    Rule(Arc<Rule>),
    /// A `SecMarker` target of `skipAfter`.
    Marker(String),
}

/// A loaded, immutable rule set. Cheap to share across threads.
#[derive(Clone, Debug)]
pub struct RuleSet {
    pub(crate) groups: Vec<RxGroup>,
    /// Transformation chains as a tree of prefixes: chain number `n > 0`
    /// is `chains[n - 1] = (parent chain, last transformation)`; 0 is the
    /// empty chain. Rules that share a prefix (`t:utf8toUnicode,
    /// t:urlDecodeUni, …`) share its cached results during a request.
    pub(crate) chains: Vec<(u32, Transform)>,
    pub(crate) phases: [Vec<Item>; 5],
    pub(crate) mode: EngineMode,
    pub(crate) request_body_access: bool,
    /// `SecDefaultAction` per phase: disruptive action and status, used by
    /// `block`.
    pub(crate) default_disruptive: HashMap<u8, (Disruptive, Option<u16>)>,
    /// Phase 1's opening rules, partly evaluated at load time (see
    /// [`optimise::compute_prefix`]).
    pub(crate) prefix: Option<Prefix>,
    /// Let rules of a set group skip visiting their values when no value
    /// of the group matched their pattern ([`Tx::group_may_match`]); off
    /// only in tests that compare against plain evaluation.
    pub(crate) group_shortcut: bool,
}

/// An HTTP request as the engine sees it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Request target exactly as received (path and query, or absolute URI).
    pub uri: String,
    /// Protocol, e.g. `HTTP/1.1`.
    pub protocol: String,
    /// Headers in received order; names keep their case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Client address.
    pub remote_addr: String,
    /// Request body (possibly empty).
    pub body: Vec<u8>,
}

/// A disruptive outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intervention {
    /// HTTP status to answer with.
    pub status: u16,
    /// Rule that decided it.
    pub rule_id: u64,
}

/// A rule that matched. Never carries the matched value: it may be personal
/// data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMatch {
    /// Rule id (of the chain's first rule).
    pub rule_id: u64,
    /// Phase the rule ran in.
    pub phase: u8,
    /// Name of the variable that matched, e.g. `ARGS:q` or `REQUEST_HEADERS:User-Agent`.
    pub variable_name: String,
    /// The rule's `msg` as written (macros not expanded, so no data leaks).
    pub message: String,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// The rule's severity, if any.
    pub severity: Option<String>,
}

/// Facts about a loaded rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// Rule id.
    pub id: u64,
    /// Phase (1–5).
    pub phase: u8,
    /// File (or `<string>`, `<before:N>`) it was loaded from.
    pub file: String,
    /// Line of the directive's start.
    pub line: usize,
    /// Operator name without `@` (`rx`, `pm`, …); None for SecAction.
    pub operator: Option<String>,
    /// Number of rules in the chain (1 when not chained).
    pub chain_length: usize,
    /// Tags.
    pub tags: Vec<String>,
}

/// The outcome of evaluating one request.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// The enforced disruptive action (`None`: let the request through).
    /// Always `None` in DetectionOnly mode.
    pub disruptive: Option<Intervention>,
    /// What would have been enforced in On mode (set in both modes).
    pub would_interrupt: Option<Intervention>,
    /// Rules that matched and log, in evaluation order.
    pub matches: Vec<RuleMatch>,
    /// `TX:ANOMALY_SCORE` at the end of evaluation.
    pub anomaly_score: i64,
    /// Whether the request body could not be parsed (`REQBODY_ERROR`).
    pub body_error: bool,
}

impl RuleSet {
    /// The configured `SecRuleEngine` mode.
    pub fn mode(&self) -> EngineMode {
        self.mode
    }

    /// Override the `SecRuleEngine` mode.
    pub fn set_mode(&mut self, mode: EngineMode) {
        self.mode = mode;
    }

    /// Number of rules (chains count once), all phases.
    pub fn rule_count(&self) -> usize {
        self.phases
            .iter()
            .flatten()
            .filter(|i| matches!(i, Item::Rule(_)))
            .count()
    }

    /// Whether a rule with this id is loaded.
    pub fn has_rule(&self, id: u64) -> bool {
        self.phases
            .iter()
            .flatten()
            .any(|i| matches!(i, Item::Rule(r) if r.id == id))
    }

    /// How many `@rx` patterns run on the linear-time engine and how many
    /// needed the bounded backtracking fallback: `(fast, fallback)`.
    pub fn regex_engine_counts(&self) -> (usize, usize) {
        let mut counts = (0, 0);
        for item in self.phases.iter().flatten() {
            let Item::Rule(r) = item else { continue };
            let mut link: Option<&Rule> = Some(r);
            while let Some(l) = link {
                if let Some(Operator {
                    kind: OpKind::Rx(p),
                    ..
                }) = &l.operator
                {
                    match p {
                        Pattern::Fast(_) => counts.0 += 1,
                        Pattern::Fancy(_) => counts.1 += 1,
                    }
                }
                link = l.chained.as_deref();
            }
        }
        counts
    }

    /// Where a rule comes from and what it does, for diagnostics.
    pub fn rule_info(&self, id: u64) -> Option<RuleInfo> {
        self.phases.iter().flatten().find_map(|i| match i {
            Item::Rule(r) if r.id == id => Some(RuleInfo {
                id,
                phase: r.phase,
                file: r.file.to_string(),
                line: r.line,
                operator: r.operator.as_ref().map(|o| o.name.clone()),
                chain_length: {
                    let mut n = 1;
                    let mut c = r.chained.as_deref();
                    while let Some(x) = c {
                        n += 1;
                        c = x.chained.as_deref();
                    }
                    n
                },
                tags: r.actions.tags.clone(),
            }),
            _ => None,
        })
    }

    /// Run a few ordinary requests (a GET with a query string and cookie,
    /// urlencoded, JSON, multipart and XML posts) through the rules and
    /// throw the verdicts away, so that the patterns such requests reach
    /// are compiled now rather than during the first real requests
    /// (patterns compile on first use; with CRS 3.3.4 at PL1 the first GET
    /// would otherwise take some 50 ms). Call it once after loading.
    pub fn warm_up(&self) {
        let headers = |extra: &[(&str, &[u8])]| -> Vec<(String, Vec<u8>)> {
            let h: Vec<(String, Vec<u8>)> = [
                ("Host", &b"warm-up.invalid"[..]),
                ("User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) warm-up"),
                ("Accept", b"text/html,*/*;q=0.8"),
                ("Accept-Language", b"ja,en;q=0.5"),
                ("Accept-Encoding", b"gzip"),
                ("Referer", b"https://warm-up.invalid/a"),
                ("Cookie", b"session=abc; __utma=1"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect();
            h
        };
        let request = |method: &str, ct: Option<&[u8]>, body: &[u8]| Request {
            method: method.to_owned(),
            uri: "/warm-up/item.html?q=x+y&id=1".to_owned(),
            protocol: "HTTP/1.1".to_owned(),
            headers: match ct {
                Some(ct) => headers(&[("Content-Type", ct)]),
                None => headers(&[]),
            },
            remote_addr: "192.0.2.1".to_owned(),
            body: body.to_vec(),
        };
        let multipart = b"--b\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nxyz\r\n--b--\r\n";
        for req in [
            request("GET", None, b""),
            request(
                "POST",
                Some(b"application/x-www-form-urlencoded"),
                b"title=a+b&note=c",
            ),
            request("POST", Some(b"application/json"), br#"{"a":"x","b":[1]}"#),
            request("POST", Some(b"multipart/form-data; boundary=b"), multipart),
            request("POST", Some(b"text/xml"), br#"<a b="c">x</a>"#),
        ] {
            let _ = self.evaluate(&req);
        }
    }

    /// Evaluate a request.
    pub fn evaluate(&self, req: &Request) -> Verdict {
        let mut tx = Tx::new(self, req);
        tx.run();
        tx.verdict()
    }
}
