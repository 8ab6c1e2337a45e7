//! The rule engine: runs a [`RuleSet`] over one [`Request`] and produces a
//! [`Verdict`]. Deterministic and free of I/O: persistent collections
//! (`IP`, `GLOBAL`, …) live only for the duration of one evaluation.
//!
//! Only the request phases (1 and 2) are run; response phases (3, 4) and the
//! logging phase (5) are loaded but skipped because the engine never sees a
//! response.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::sync::Arc;

use crate::body::{self, ParsedBody};
use crate::macros::Template;
use crate::operators::{OpKind, OpOutcome, Operator, atoi};
use crate::pcre::Pattern;
use crate::rules::{AllowScope, Constant, Ctl, Disruptive, EngineMode, IdRange, Rule, SetOp};
use crate::transformations::{Transform, url_decode};
use crate::variables::{Coll, Selector, VarSpec};
use regex::bytes::{RegexSet, SetMatches};

/// One entry of a phase's rule list.
#[derive(Clone, Debug)]
pub enum Item {
    /// A rule (with its chain).
    Rule(Arc<Rule>),
    /// A `SecMarker` target of `skipAfter`.
    Marker(String),
}

/// `@rx` patterns of rules that share a transformation chain, matched in
/// one pass per value.
#[derive(Clone, Debug)]
pub(crate) struct RxGroup {
    /// The group's transformation chain (see [`RuleSet::chains`]).
    chain: u32,
    set: Arc<LazySet>,
}

/// A regex set built when a request first needs it (groups of rules above
/// the paranoia level never are). If it cannot be built, its rules run
/// their own patterns.
#[derive(Debug)]
pub(crate) struct LazySet {
    sources: Vec<String>,
    built: std::sync::OnceLock<Option<RegexSet>>,
}

impl LazySet {
    fn get(&self) -> Option<&RegexSet> {
        self.built
            .get_or_init(|| {
                let refs: Vec<&str> = self.sources.iter().map(String::as_str).collect();
                Pattern::build_set(&refs)
            })
            .as_ref()
    }
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
    /// [`compute_prefix`]).
    pub(crate) prefix: Option<Prefix>,
    /// Let rules of a set group skip visiting their values when no value
    /// of the group matched their pattern ([`Tx::group_may_match`]); off
    /// only in tests that compare against plain evaluation.
    pub(crate) group_shortcut: bool,
}

/// The start of phase 1 as load-time evaluation left it: the CRS opens
/// with dozens of rules that only read and set `TX` variables from
/// constants (901xxx defaults, the 903 exclusion switches, …), the same on
/// every request. Their outcome is computed once by [`compute_prefix`];
/// a request starts from it and runs only the prefix's request-dependent
/// rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefix {
    /// `TX` after the constant rules, in key order.
    tx: Vec<(String, Vec<u8>)>,
    /// What each request still does, in order.
    steps: Vec<PrefixStep>,
    /// Index in phase 1's items where evaluation resumes.
    end: usize,
    /// Pending `skipAfter` marker and `skip` count at `end`.
    skip_to: Option<String>,
    skip_n: u32,
}

/// One step of a [`Prefix`] during a request.
#[derive(Clone, Debug)]
enum PrefixStep {
    /// Evaluate the rule at this index of phase 1 as usual.
    Run(usize),
    /// A constant rule matched here: `MATCHED_VAR` becomes this.
    MatchedVar(String, Vec<u8>),
}

/// What the rule loop does after a rule.
enum Flow<'a> {
    Next,
    /// Stop the phase (interruption, `allow`, engine off).
    Stop,
    SkipAfter(&'a str),
    Skip(u32),
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
    pub(crate) fn empty() -> RuleSet {
        RuleSet {
            groups: Vec::new(),
            chains: Vec::new(),
            phases: Default::default(),
            mode: EngineMode::On,
            request_body_access: true,
            default_disruptive: HashMap::new(),
            prefix: None,
            group_shortcut: true,
        }
    }

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

/// Visit every rule link of the request phases (1, 2) in a fixed order.
fn for_each_link(phases: &mut [Vec<Item>; 5], f: &mut dyn FnMut(&mut Rule)) {
    for items in phases.iter_mut().take(2) {
        for item in items.iter_mut() {
            if let Item::Rule(r) = item {
                let mut link: Option<&mut Rule> = Some(Arc::make_mut(r));
                while let Some(l) = link {
                    f(l);
                    link = l.chained.as_deref_mut();
                }
            }
        }
    }
}

/// Whether a rule link can take its `@rx` result from a shared set.
fn set_candidate(r: &Rule) -> Option<&str> {
    if r.actions.multi_match {
        return None;
    }
    match &r.operator {
        Some(Operator {
            kind: OpKind::Rx(p),
            ..
        }) => p.fast_source(),
        _ => None,
    }
}

/// Grouping key of shared regex sets.
type GroupKey = (u8, String, Vec<Transform>);

/// Group the fast `@rx` patterns by transformation chain into regex sets,
/// so one request does one regex pass per value and chain instead of one
/// per rule. Groups of one, and sets too large to build, are left alone.
pub(crate) fn build_regex_sets(rs: &mut RuleSet) {
    // Key: phase, targets, exclusions and transformations, so a set only
    // runs on values its rules would all have seen anyway.
    let key = |r: &Rule| -> GroupKey {
        (
            r.phase,
            format!("{:?}|{:?}", r.targets, r.exclusions),
            r.actions.transforms.clone(),
        )
    };
    let mut by_key: HashMap<GroupKey, Vec<String>> = HashMap::new();
    let mut order: Vec<GroupKey> = Vec::new();
    for_each_link(&mut rs.phases, &mut |r| {
        if let Some(src) = set_candidate(r) {
            let k = key(r);
            let e = by_key.entry(k.clone()).or_insert_with(|| {
                order.push(k);
                Vec::new()
            });
            e.push(src.to_string());
        }
    });
    let mut group_of: HashMap<GroupKey, (usize, usize)> = HashMap::new();
    for k in order {
        let Some(sources) = by_key.get(&k) else {
            continue;
        };
        if sources.len() < 2 {
            continue;
        }
        group_of.insert(k.clone(), (rs.groups.len(), 0));
        rs.groups.push(RxGroup {
            chain: chain_number(&mut rs.chains, &k.2),
            set: Arc::new(LazySet {
                sources: sources.clone(),
                built: std::sync::OnceLock::new(),
            }),
        });
    }
    for_each_link(&mut rs.phases, &mut |r| {
        if set_candidate(r).is_none() {
            return;
        }
        if let Some((g, next)) = group_of.get_mut(&key(r)) {
            r.set_slot = Some((*g, *next));
            *next += 1;
        }
    });
}

/// Let rules that use the same `/regex/` selector (`!REQUEST_COOKIES:/__utm/`
/// appears in dozens of CRS rules) share one compiled pattern, so it is
/// built once and its per-request results are cached across rules.
pub(crate) fn share_selectors(rs: &mut RuleSet) {
    let mut seen: HashMap<String, Pattern> = HashMap::new();
    for_each_link(&mut rs.phases, &mut |r| {
        for spec in r.targets.iter_mut().chain(r.exclusions.iter_mut()) {
            if let Some(Selector::Regex(p)) = &mut spec.selector
                && let Some(src) = p.fast_source()
            {
                match seen.get(src) {
                    Some(shared) => *p = shared.clone(),
                    None => {
                        seen.insert(src.to_string(), p.clone());
                    }
                }
            }
        }
    });
}

/// A `(collection, key)` pair of a transaction collection (`TX`, `IP`…).
type CollKey = (String, String);

/// What a rule link reads and writes of the transaction collections, for
/// [`compute_prefix`].
#[derive(Default)]
struct Effects {
    /// Collection members read (targets, macros, `=+`/`=-`).
    reads: Vec<CollKey>,
    /// Reads something other than named collection members: request data,
    /// a whole collection, `MATCHED_VAR` from before the rule…
    reads_other: bool,
    /// Collection members written (`setvar`, `capture`).
    writes: Vec<CollKey>,
    /// Writes a member whose name is only known per request.
    writes_dynamic: bool,
    /// Has an effect besides `setvar`/`capture`/logging: a `ctl` other
    /// than the body-processing ones, or `ctl:ruleEngine` (`stops`).
    other_effect: bool,
    stops: bool,
}

/// Collection members a macro template reads. `own_match`: the link has an
/// operator, so `MATCHED_VAR` in its actions is its own match.
fn template_reads(t: &Template, own_match: bool, e: &mut Effects) {
    for part in &t.parts {
        let crate::macros::Part::Var(c, k) = part else {
            continue;
        };
        match (Coll::of(c), k) {
            _ if c == "RULE" => {}
            (Coll::Persistent, Some(k)) => e.reads.push((c.clone(), k.clone())),
            _ if own_match && c.starts_with("MATCHED_VAR") => {}
            _ => e.reads_other = true,
        }
    }
}

/// The [`Effects`] of a rule and its chain links.
fn effects(rule: &Rule) -> Effects {
    let mut e = Effects::default();
    let mut link = Some(rule);
    while let Some(l) = link {
        for spec in l.targets.iter().chain(&l.exclusions) {
            match (&spec.kind, &spec.selector) {
                (Coll::Persistent, Some(Selector::Key(k))) if !spec.exclude => {
                    e.reads.push((spec.collection.clone(), k.clone()));
                }
                _ => e.reads_other = true,
            }
        }
        let own_match = l.operator.is_some();
        match l.operator.as_ref().map(|o| &o.kind) {
            Some(OpKind::RxDynamic(t)) => template_reads(t, false, &mut e),
            Some(
                OpKind::StrEq(a)
                | OpKind::Contains(a)
                | OpKind::ContainsWord(a)
                | OpKind::BeginsWith(a)
                | OpKind::EndsWith(a)
                | OpKind::Within(a)
                | OpKind::Eq(a)
                | OpKind::Ge(a)
                | OpKind::Gt(a)
                | OpKind::Le(a)
                | OpKind::Lt(a),
            ) => {
                if let crate::operators::Arg::Dynamic(t) = a {
                    template_reads(t, false, &mut e);
                }
            }
            _ => {}
        }
        for sv in &l.actions.setvars {
            match sv.key.as_literal() {
                Some(k) => e.writes.push((sv.collection.clone(), k.to_string())),
                None => e.writes_dynamic = true,
            }
            match &sv.op {
                SetOp::Set(t) => template_reads(t, own_match, &mut e),
                SetOp::Add(t) | SetOp::Sub(t) => {
                    template_reads(t, own_match, &mut e);
                    if let Some(k) = sv.key.as_literal() {
                        e.reads.push((sv.collection.clone(), k.to_string()));
                    }
                }
                SetOp::Delete => {}
            }
        }
        if l.actions.capture {
            for g in 0..10 {
                e.writes.push(("TX".to_string(), g.to_string()));
            }
        }
        for ctl in &l.actions.ctls {
            match ctl {
                Ctl::RequestBodyProcessor(_)
                | Ctl::RequestBodyAccess(_)
                | Ctl::ForceRequestBodyVariable(_)
                | Ctl::Ignored => {}
                Ctl::RuleEngine(_) => e.stops = true,
                _ => e.other_effect = true,
            }
        }
        link = l.chained.as_deref();
    }
    e
}

/// Evaluate the constant opening of phase 1 once, at load time.
///
/// Walking phase 1 from its start, a rule is *constant* when everything
/// it reads is a named member of a transaction collection (`TX:x`,
/// `&TX:x`, `%{tx.x}`; `MATCHED_VAR` of its own match) and its only
/// effects are `setvar`s with literal names and `capture`: its outcome is
/// then the same for every request, so it is run here and its result kept
/// ([`Prefix`]). Any other rule is *request-dependent* and stays in the
/// prefix (run per request, in order) only if its effects commute with the
/// constant rules that were moved before it: it may write only literal
/// members, which no constant rule then reads or writes; it may not skip,
/// be disruptive or remove rules; once it reads a collection member or can
/// switch the engine off, no later constant rule may write anything (so it
/// sees exactly the values it would have seen, and a request stopped there
/// ends with the same `TX`). Control flow inside the prefix (`skipAfter`
/// of the paranoia-level checks) depends only on constant rules, so it is
/// decided here too. The walk ends at the first rule that fits neither
/// class, or a constant rule that would log or disrupt. Checked against
/// plain evaluation by `prefix_matches_plain_evaluation` (below) and the
/// CRS regression corpus.
pub(crate) fn compute_prefix(rs: &mut RuleSet) {
    rs.prefix = None;
    let prefix = {
        let rs: &RuleSet = rs;
        let Some(items) = rs.phases.first() else {
            return;
        };
        let probe = Request::default();
        let mut tx = Tx::new(rs, &probe);
        let mut runtime_writes: Vec<CollKey> = Vec::new();
        let mut frozen = false;
        let mut steps: Vec<PrefixStep> = Vec::new();
        let mut skip_to: Option<&str> = None;
        let mut skip_n: u32 = 0;
        let mut end = 0;
        for (i, item) in items.iter().enumerate() {
            let rule: &Rule = match item {
                Item::Marker(m) => {
                    if skip_to == Some(m.as_str()) {
                        skip_to = None;
                    }
                    end = i + 1;
                    continue;
                }
                Item::Rule(r) => r,
            };
            if skip_to.is_some() || skip_n > 0 {
                skip_n = skip_n.saturating_sub(u32::from(skip_to.is_none()));
                end = i + 1;
                continue;
            }
            let e = effects(rule);
            let touches_runtime = e
                .reads
                .iter()
                .chain(&e.writes)
                .any(|k| runtime_writes.contains(k));
            let constant = !e.reads_other
                && e.writes.iter().all(|(c, _)| c == "TX")
                && !e.writes_dynamic
                && !e.other_effect
                && !e.stops
                && !touches_runtime
                && (!frozen || e.writes.is_empty());
            if constant {
                let before = (tx.tx.clone(), tx.matched_var.clone());
                tx.matched_vars_len = 0;
                tx.current_rule = Some(rule);
                let matched = tx.eval_chain(rule, true);
                let disrupts = !matches!(rule.actions.disruptive, None | Some(Disruptive::Pass));
                if matched && (rule.actions.log != Some(false) || disrupts) {
                    (tx.tx, tx.matched_var) = before;
                    break;
                }
                if tx.matched_var != before.1
                    && let Some((n, v)) = &tx.matched_var
                {
                    if let Some(PrefixStep::MatchedVar(..)) = steps.last() {
                        steps.pop();
                    }
                    steps.push(PrefixStep::MatchedVar(n.clone(), v.clone()));
                }
                if matched {
                    if let Some(m) = &rule.actions.skip_after {
                        skip_to = Some(m.as_str());
                    } else if rule.actions.skip > 0 {
                        skip_n = rule.actions.skip;
                    }
                }
                end = i + 1;
                continue;
            }
            let plain_flow = rule.actions.skip_after.is_none()
                && rule.actions.skip == 0
                && matches!(rule.actions.disruptive, None | Some(Disruptive::Pass));
            if !plain_flow || e.writes_dynamic || e.other_effect || touches_runtime {
                break;
            }
            // `MATCHED_VAR` from before a rule without an operator.
            if rule.operator.is_none() && e.reads_other {
                break;
            }
            if !e.reads.is_empty() || e.stops {
                frozen = true;
            }
            runtime_writes.extend(e.writes);
            steps.push(PrefixStep::Run(i));
            end = i + 1;
        }
        let tx_state: Vec<(String, Vec<u8>)> = tx
            .tx
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
        let other_collections = !tx.collections.is_empty();
        (!other_collections && end > 0).then(|| Prefix {
            tx: tx_state,
            steps,
            end,
            skip_to: skip_to.map(str::to_string),
            skip_n,
        })
    };
    rs.prefix = prefix;
}

/// Fix at load time the outcome of rules that only read `TX` members no
/// rule run per request can write: the paranoia-level checks of every
/// CRS file and phase (`TX:EXECUTING_PARANOIA_LEVEL "@lt 2"
/// skipAfter:END-…`, ~40 per request), which otherwise run in full.
///
/// Needs the load-time prefix ([`compute_prefix`]): after it, `TX` starts
/// every request as `Prefix::tx`. The rules run per request are phase 1's
/// prefix steps and rules from `Prefix::end` on, and all of phase 2 (the
/// other rules of the prefix were run, or skipped, at load time). Every
/// `TX` member any of them can write is collected: literal `setvar`
/// keys, `TX:0`–`TX:9` for `capture`, and for a key with macros its
/// literal start (lower-cased; a key starting with a macro could be
/// anything). A rule qualifies when it has no chain, its only target is
/// one named `TX` member (no count, no exclusions), everything it reads
/// (target and operator argument: [`effects`]) is a `TX` member outside
/// that set, and it has no effect but its match (no `setvar`, `ctl` or
/// `capture`; `nolog`; `pass` or no disruptive action). What it reads is
/// then the same whenever it runs, on every request, so its outcome — and
/// `MATCHED_VAR` when it matches — is computed here, on `Prefix::tx`.
/// At run time [`Tx::run_rule`] still honours `ctl:ruleRemoveById`, uses
/// the fixed outcome only while no `ctl` has removed targets, and applies
/// a match as [`Tx::eval_rule`] would (`MATCHED_VAR`, `MATCHED_VARS`,
/// flow). Checked by `prefix_matches_plain_evaluation` and the CRS
/// regression corpus.
pub(crate) fn fold_constant_checks(rs: &mut RuleSet) {
    let mut found: Vec<(usize, usize, Constant)> = Vec::new();
    {
        let rs: &RuleSet = rs;
        let Some(prefix) = &rs.prefix else {
            return;
        };
        let runtime = |phase: usize, i: usize| {
            phase == 1
                || i >= prefix.end
                || prefix
                    .steps
                    .iter()
                    .any(|s| matches!(s, PrefixStep::Run(j) if *j == i))
        };
        let mut literal: Vec<String> = Vec::new();
        let mut starts: Vec<String> = Vec::new();
        for (phase, items) in rs.phases.iter().take(2).enumerate() {
            for (i, item) in items.iter().enumerate() {
                let Item::Rule(r) = item else {
                    continue;
                };
                if !runtime(phase, i) {
                    continue;
                }
                let mut link = Some(&**r);
                while let Some(l) = link {
                    for sv in &l.actions.setvars {
                        if !sv.collection.eq_ignore_ascii_case("TX") {
                            continue;
                        }
                        match sv.key.as_literal() {
                            Some(k) => literal.push(k.to_ascii_lowercase()),
                            None => {
                                let start = match sv.key.parts.first() {
                                    Some(crate::macros::Part::Lit(t)) => t.to_ascii_lowercase(),
                                    _ => String::new(),
                                };
                                starts.push(start);
                            }
                        }
                    }
                    if l.actions.capture {
                        literal.extend((0..10).map(|g| g.to_string()));
                    }
                    link = l.chained.as_deref();
                }
            }
        }
        let writable = |key: &str| {
            let key = key.to_ascii_lowercase();
            literal.contains(&key) || starts.iter().any(|s| key.starts_with(s.as_str()))
        };
        let probe = Request::default();
        let mut tx = Tx::new(rs, &probe);
        tx.tx = prefix
            .tx
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_slice())))
            .collect();
        for (phase, items) in rs.phases.iter().take(2).enumerate() {
            for (i, item) in items.iter().enumerate() {
                let Item::Rule(r) = item else {
                    continue;
                };
                if !runtime(phase, i) {
                    continue;
                }
                let single_tx_target = matches!(
                    r.targets.as_slice(),
                    [VarSpec { kind: Coll::Persistent, selector: Some(Selector::Key(_)), count: false, exclude: false, collection }]
                        if collection == "TX"
                );
                let a = &r.actions;
                if !single_tx_target
                    || r.chained.is_some()
                    || !r.exclusions.is_empty()
                    || r.operator.is_none()
                    || !a.setvars.is_empty()
                    || !a.ctls.is_empty()
                    || a.capture
                    || a.log != Some(false)
                    || !matches!(a.disruptive, None | Some(Disruptive::Pass))
                {
                    continue;
                }
                let e = effects(r);
                let fixed = !e.reads_other
                    && e.writes.is_empty()
                    && !e.writes_dynamic
                    && !e.other_effect
                    && !e.stops
                    && !e.reads.is_empty()
                    && e.reads.iter().all(|(c, k)| c == "TX" && !writable(k));
                if !fixed {
                    continue;
                }
                tx.matched_var = None;
                tx.matched_vars_len = 0;
                tx.current_rule = Some(r);
                let c = if tx.eval_chain(r, true) {
                    match (&tx.matched_var, tx.matched_vars_len) {
                        (Some((name, value)), 1) => Constant::Match {
                            name: name.clone(),
                            value: value.clone(),
                        },
                        _ => continue,
                    }
                } else {
                    Constant::NoMatch
                };
                found.push((phase, i, c));
            }
        }
    }
    for (phase, i, c) in found {
        if let Some(Item::Rule(r)) = rs.phases.get_mut(phase).and_then(|p| p.get_mut(i)) {
            Arc::make_mut(r).constant = Some(c);
        }
    }
}

/// Number every rule's transformation chain (see [`RuleSet::chains`]).
pub(crate) fn number_chains(rs: &mut RuleSet) {
    let mut chains = std::mem::take(&mut rs.chains);
    for_each_link(&mut rs.phases, &mut |r| {
        r.chain_id = chain_number(&mut chains, &r.actions.transforms);
    });
    rs.chains = chains;
}

/// The number of a transformation chain, adding it and its prefixes to the
/// tree when new.
fn chain_number(chains: &mut Vec<(u32, Transform)>, transforms: &[Transform]) -> u32 {
    let mut id = 0u32;
    for t in transforms {
        let found = chains
            .iter()
            .position(|&(parent, x)| parent == id && x == *t);
        id = match found {
            Some(i) => u32::try_from(i + 1).unwrap_or(u32::MAX),
            None => {
                chains.push((id, *t));
                u32::try_from(chains.len()).unwrap_or(u32::MAX)
            }
        };
    }
    id
}

/// Hasher of the per-request maps. Their keys are made by the engine
/// (value positions with chain or group numbers, variable names from the
/// rules), never taken from request bytes, so a multiply-mix with a
/// SplitMix64 finish is enough, and much cheaper than SipHash.
#[derive(Clone, Copy, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 30;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            for (d, s) in buf.iter_mut().zip(chunk) {
                *d = *s;
            }
            self.write_u64(u64::from_le_bytes(buf));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type IdBuild = BuildHasherDefault<IdHasher>;

/// Where a value comes from, for the per-request caches: values of the
/// request (headers, arguments, cookies, body fields, URI parts) do not
/// change during a transaction, so `kind << 24 | index` names one for good.
/// Values rules can change (`TX`, `MATCHED_VAR`, …) have no id and are
/// never cached.
mod src {
    pub const HEADERS: u32 = 1;
    pub const HEADER_NAMES: u32 = 2;
    pub const ARGS_GET: u32 = 3;
    pub const ARGS_GET_NAMES: u32 = 4;
    pub const ARGS_POST: u32 = 5;
    pub const ARGS_POST_NAMES: u32 = 6;
    pub const COOKIES: u32 = 7;
    pub const COOKIE_NAMES: u32 = 8;
    pub const FILES: u32 = 9;
    pub const FILES_NAMES: u32 = 10;
    pub const PART_HEADERS: u32 = 11;
    pub const XML: u32 = 12;
    /// Scalars: the index is `generation * 64 + slot`; the generation
    /// changes when the body processor (re)sets scalars.
    pub const SCALAR: u32 = 13;
}

/// Scalars that get a value id (see [`src`]); the others are cheap to
/// recompute or change during the transaction.
const SCALAR_SLOTS: [&str; 14] = [
    "REQUEST_LINE",
    "REQUEST_METHOD",
    "REQUEST_PROTOCOL",
    "REQUEST_URI_RAW",
    "REQUEST_URI",
    "REQUEST_FILENAME",
    "PATH_INFO",
    "REQUEST_BASENAME",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "SERVER_NAME",
    "REQUEST_BODY",
    "UNIQUE_ID",
];

fn value_id(kind: u32, index: usize) -> Option<u32> {
    u32::try_from(index)
        .ok()
        .filter(|i| *i < 1 << 24)
        .map(|i| (kind << 24) | i)
}

/// A value after a transformation chain: the input itself when no step
/// changed it, else a shared result from the cache.
enum Transformed<'v> {
    Same(&'v [u8]),
    New(Rc<Vec<u8>>),
}

impl Transformed<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Transformed::Same(v) => v,
            Transformed::New(v) => v.as_slice(),
        }
    }
}

/// A rule's shared set: group number, group chain, the set, the rule's
/// pattern index in it.
type SetRef<'s> = (usize, u32, &'s RegexSet, usize);

/// Per (value id, chain): the transformed value, `None` when unchanged.
type TransformCache = DenseCache<Option<Rc<Vec<u8>>>>;

/// A per-request table keyed by (value id, column) without hashing: a
/// value's row is found through its id's kind and index (see [`src`]),
/// then the column (a chain or set-group number) indexes the row, whose
/// cell holds 1 + the entry's position in `items` (0: nothing stored).
/// Rows are appended to one flat vector when a value is first stored, so
/// a request adds a row only for values some rule looked at. Looked up
/// several times per rule and value, where a hash map's hashing, probing
/// and growth were most of the cache's cost.
struct DenseCache<T> {
    columns: usize,
    /// Per value kind, per index: 1 + the value's row number, 0 for none.
    rows: [Vec<u32>; 16],
    cells: Vec<u32>,
    items: Vec<T>,
}

impl<T> DenseCache<T> {
    fn new(columns: usize, rows_hint: usize, items_hint: usize) -> Self {
        DenseCache {
            columns,
            rows: Default::default(),
            cells: Vec::with_capacity(columns.saturating_mul(rows_hint)),
            items: Vec::with_capacity(items_hint),
        }
    }

    /// Kind and index of a value id.
    fn split(id: u32) -> (usize, usize) {
        ((id >> 24) as usize, (id & 0x00ff_ffff) as usize)
    }

    fn get(&self, id: u32, col: usize) -> Option<&T> {
        let (kind, index) = Self::split(id);
        let row = *self.rows.get(kind)?.get(index)?;
        let row = (row as usize).checked_sub(1)?;
        let cell = *self.cells.get(row * self.columns + col)?;
        self.items.get((cell as usize).checked_sub(1)?)
    }

    fn insert(&mut self, id: u32, col: usize, value: T) {
        if col >= self.columns {
            return;
        }
        let Ok(item) = u32::try_from(self.items.len() + 1) else {
            return;
        };
        let (kind, index) = Self::split(id);
        let Some(rows) = self.rows.get_mut(kind) else {
            return;
        };
        if rows.len() <= index {
            rows.resize(index + 1, 0);
        }
        let Some(slot) = rows.get_mut(index) else {
            return;
        };
        if *slot == 0 {
            let Ok(next) = u32::try_from(self.cells.len() / self.columns + 1) else {
                return;
            };
            self.cells.resize(self.cells.len() + self.columns, 0);
            *slot = next;
        }
        let row = *slot as usize - 1;
        if let Some(c) = self.cells.get_mut(row * self.columns + col) {
            *c = item;
            self.items.push(value);
        }
    }
}

/// What a request knows of a set group's values (see
/// [`Tx::group_may_match`]).
#[derive(Clone, Default)]
enum GroupUnion {
    #[default]
    Unknown,
    /// The group's targets can produce values that change during the
    /// transaction: no shortcut.
    Unusable,
    /// Bit `i` set when some value matched pattern `i`; valid while the
    /// request's values are those of `epoch` (see [`Tx::value_epoch`]).
    Known { epoch: (bool, u32), bits: Vec<u64> },
}

/// Targets whose values are fixed for a body-processing epoch and all
/// carry a value id: the request's own collections, and the scalars that
/// get ids. Counts, `TX` and the other transaction collections,
/// `MATCHED_VARS` are excluded (rules change them).
fn stable_target(spec: &VarSpec) -> bool {
    if spec.count {
        return false;
    }
    match spec.kind {
        Coll::Persistent | Coll::MatchedVars | Coll::MatchedVarsNames => false,
        Coll::Scalar => SCALAR_SLOTS.contains(&spec.collection.as_str()),
        _ => true,
    }
}

/// Callback of the member visitor: key, bytes and value id.
type MemberFn<'f> = dyn FnMut(&str, &[u8], Option<u32>) + 'f;

/// Callback of the value visitors: name, bytes and value id.
type ValueFn<'f> = dyn FnMut(VarName<'_>, &[u8], Option<u32>) + 'f;

/// The name of a produced value, built only when the value matches.
#[derive(Clone, Copy)]
struct VarName<'a> {
    col: &'a str,
    key: Option<&'a str>,
}

impl VarName<'_> {
    /// ModSecurity's display name: `ARGS:q`, `REQUEST_URI`, `XML`, or for
    /// `MATCHED_VARS` the name of the variable that matched; written into a
    /// reused buffer.
    fn render_into(&self, s: &mut String) {
        s.clear();
        match (self.col, self.key) {
            ("MATCHED_VARS", Some(k)) => s.push_str(k),
            ("XML" | "MATCHED_VARS_NAMES", _) | (_, None) => s.push_str(self.col),
            (c, Some(k)) => {
                s.push_str(c);
                s.push(':');
                s.push_str(k);
            }
        }
    }
}

/// A value produced by a target: its name (`ARGS:q`) and bytes.
type Value = (String, Vec<u8>);

/// A transaction collection (`TX`, `IP`, …): keys lower-case. Keys and
/// values written from a rule's literal text (most `setvar`s) borrow it
/// from the rule set, so setting them allocates nothing.
type Collection<'a> = BTreeMap<Cow<'a, str>, Cow<'a, [u8]>>;

/// Write `n` in decimal into `out` (replacing its contents) without the
/// formatting machinery or an allocation when `out` has room.
fn write_int(out: &mut Vec<u8>, n: i64) {
    out.clear();
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut m = n.unsigned_abs();
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (m % 10) as u8;
        }
        len += 1;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    out.extend(digits.iter().take(len).rev());
}

/// A value that matched a rule. Kept in a per-request pool whose buffers
/// are reused from rule to rule (rules match on most requests: CRS
/// initialisation, paranoia-level checks), so a match allocates nothing
/// once the buffers are large enough.
#[derive(Default)]
struct Hit {
    name: String,
    value: Vec<u8>,
    outcome: OpOutcome,
}

/// Per-request state.
struct Tx<'a> {
    rs: &'a RuleSet,
    req: &'a Request,
    mode: EngineMode,
    body_access: bool,
    body_processor: Option<String>,
    body: ParsedBody,
    body_parsed: bool,
    args_get: Vec<(String, Vec<u8>)>,
    cookies: Vec<(String, Vec<u8>)>,
    scalars: HashMap<&'static str, Vec<u8>, IdBuild>,
    /// Bumped whenever scalars are (re)set, so cached transformations of
    /// an old scalar value are never reused.
    scalar_generation: u32,
    /// The `TX` collection (looked up on almost every rule).
    tx: Collection<'a>,
    /// The other collections (`IP`, `GLOBAL`, …: one request only).
    collections: HashMap<String, Collection<'a>, IdBuild>,
    /// Scratch buffer for macro expansion in `setvar`.
    scratch: Vec<u8>,
    matched_var: Option<Value>,
    /// `MATCHED_VARS` of the current rule: the first `matched_vars_len`
    /// entries (the rest are spare buffers for reuse).
    matched_vars: Vec<Value>,
    matched_vars_len: usize,
    /// Name of the first value the current rule's first link matched (the
    /// logged variable name), in a reused buffer.
    first_name: String,
    /// Spare buffers for [`Tx::eval_rule`]'s matches.
    hit_pool: Vec<Hit>,
    removed_ids: Vec<IdRange>,
    removed_tags: Vec<String>,
    removed_targets_id: Vec<(IdRange, VarSpec)>,
    removed_targets_tag: Vec<(String, VarSpec)>,
    current_rule: Option<&'a Rule>,
    matches: Vec<RuleMatch>,
    interrupt: Option<Intervention>,
    would_interrupt: Option<Intervention>,
    allow_all: bool,
    force_body_var: bool,
    /// Per (value id, chain): the transformed value, `None` when the chain
    /// left it unchanged.
    transform_cache: RefCell<TransformCache>,
    /// Per (value id, set group): which patterns of the set matched.
    /// `None` when no pattern of the set matched (most values): found with
    /// `is_match`, which allocates nothing.
    set_cache: RefCell<DenseCache<Option<SetMatches>>>,
    /// Per set group: the patterns that some value of the group's targets
    /// matched (see [`Tx::group_may_match`]).
    group_union: RefCell<Vec<GroupUnion>>,
    /// Per (regex selector, member id): whether the selector takes the
    /// member's key (`!REQUEST_COOKIES:/__utm/` is tested by many rules,
    /// which share the pattern: see [`share_selectors`]).
    selector_cache: RefCell<HashMap<(usize, u32), bool, IdBuild>>,
    /// Per (detector, captures wanted) a map value bytes → libinjection's
    /// outcome (looked up by `&[u8]`, so a miss allocates only to insert).
    /// Keyed by the bytes (with std's randomly seeded hasher, since they come
    /// from the request): the same bytes often reach the detector more than
    /// once (repeated form values, `multiMatch` intermediate values equal to
    /// another value's), and a call costs 10–200 thousand instructions.
    libinjection_cache: RefCell<[HashMap<Box<[u8]>, OpOutcome>; 4]>,
}

fn strip_scheme_host(uri: &[u8]) -> &[u8] {
    if uri.first() == Some(&b'/') || uri.is_empty() {
        return uri;
    }
    let Some(colon) = uri.iter().position(|&b| b == b':') else {
        return uri;
    };
    if uri.get(colon + 1..colon + 3) != Some(b"//") {
        return uri;
    }
    let from = colon + 3;
    match uri
        .get(from..)
        .and_then(|r| r.iter().position(|&b| b == b'/'))
    {
        Some(p) => uri.get(from + p..).unwrap_or(uri),
        None => uri,
    }
}

/// `%HH` decoding without `+` handling, as ModSecurity decodes the URI.
fn uri_decode(v: &[u8]) -> Vec<u8> {
    v.split(|&b| b == b'+')
        .map(|part| url_decode(part, false))
        .collect::<Vec<_>>()
        .join(&b'+')
}

impl<'a> Tx<'a> {
    fn new(rs: &'a RuleSet, req: &'a Request) -> Tx<'a> {
        let raw = req.uri.as_bytes();
        let decoded = uri_decode(raw);
        let path_decoded = match decoded.iter().position(|&b| b == b'?') {
            Some(p) => decoded.get(..p).unwrap_or_default().to_vec(),
            None => decoded.clone(),
        };
        let query = raw
            .iter()
            .position(|&b| b == b'?')
            .map(|p| raw.get(p + 1..).unwrap_or_default().to_vec())
            .unwrap_or_default();
        let basename = path_decoded
            .iter()
            .rposition(|&b| b == b'/' || b == b'\\')
            .map(|p| path_decoded.get(p + 1..).unwrap_or_default().to_vec())
            .unwrap_or_else(|| path_decoded.clone());
        // Sized for every scalar set here and by the body processor, so the
        // map never grows during the request.
        let mut scalars: HashMap<&'static str, Vec<u8>, IdBuild> =
            HashMap::with_capacity_and_hasher(32, IdBuild::default());
        let mut line =
            Vec::with_capacity(req.method.len() + req.uri.len() + req.protocol.len() + 2);
        line.extend_from_slice(req.method.as_bytes());
        line.push(b' ');
        line.extend_from_slice(raw);
        line.push(b' ');
        line.extend_from_slice(req.protocol.as_bytes());
        scalars.insert("REQUEST_LINE", line);
        scalars.insert("REQUEST_METHOD", req.method.as_bytes().to_vec());
        scalars.insert("REQUEST_PROTOCOL", req.protocol.as_bytes().to_vec());
        scalars.insert("REQUEST_URI_RAW", raw.to_vec());
        scalars.insert("REQUEST_URI", strip_scheme_host(&decoded).to_vec());
        scalars.insert(
            "REQUEST_FILENAME",
            strip_scheme_host(&path_decoded).to_vec(),
        );
        scalars.insert("PATH_INFO", strip_scheme_host(&path_decoded).to_vec());
        scalars.insert("REQUEST_BASENAME", basename);
        scalars.insert("QUERY_STRING", query.clone());
        scalars.insert("REMOTE_ADDR", req.remote_addr.as_bytes().to_vec());
        scalars.insert("REMOTE_HOST", req.remote_addr.as_bytes().to_vec());
        scalars.insert("REMOTE_PORT", b"0".to_vec());
        scalars.insert("DURATION", b"0".to_vec());
        scalars.insert("INBOUND_DATA_ERROR", b"0".to_vec());
        scalars.insert("OUTBOUND_DATA_ERROR", b"0".to_vec());
        scalars.insert("REQBODY_ERROR", b"0".to_vec());
        scalars.insert("REQBODY_PROCESSOR_ERROR", b"0".to_vec());
        scalars.insert("HIGHEST_SEVERITY", b"255".to_vec());
        {
            use sha1::{Digest, Sha1};
            let mut h = Sha1::new();
            h.update(req.method.as_bytes());
            h.update(raw);
            h.update(req.remote_addr.as_bytes());
            let d = h.finalize();
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut id = Vec::with_capacity(16);
            for b in d.iter().take(8) {
                id.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
                id.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
            }
            scalars.insert("UNIQUE_ID", id);
        }
        let mut cookies = Vec::new();
        let mut body_processor = None;
        for (k, v) in &req.headers {
            if k.eq_ignore_ascii_case("cookie") {
                cookies.extend(parse_cookies(v));
            }
            if k.eq_ignore_ascii_case("content-type") {
                let l = v.to_ascii_lowercase();
                if l.starts_with(b"multipart/form-data") {
                    body_processor = Some("MULTIPART".to_string());
                } else if l.starts_with(b"application/x-www-form-urlencoded") {
                    body_processor = Some("URLENCODED".to_string());
                }
            }
            if k.eq_ignore_ascii_case("host") {
                let host = v.split(|&b| b == b':').next().unwrap_or_default().to_vec();
                scalars.insert("SERVER_NAME", host);
            }
        }
        let args_get = if query.is_empty() {
            Vec::new()
        } else {
            body::parse_urlencoded(&query)
        };
        Tx {
            rs,
            req,
            mode: rs.mode,
            body_access: rs.request_body_access,
            body_processor,
            body: ParsedBody::default(),
            body_parsed: false,
            args_get,
            cookies,
            scalars,
            scalar_generation: 0,
            tx: BTreeMap::new(),
            collections: HashMap::default(),
            scratch: Vec::new(),
            matched_var: None,
            matched_vars: Vec::new(),
            matched_vars_len: 0,
            first_name: String::new(),
            hit_pool: Vec::new(),
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_targets_id: Vec::new(),
            removed_targets_tag: Vec::new(),
            current_rule: None,
            matches: Vec::new(),
            interrupt: None,
            would_interrupt: None,
            allow_all: false,
            force_body_var: false,
            transform_cache: RefCell::new(DenseCache::new(rs.chains.len(), 64, 512)),
            set_cache: RefCell::new(DenseCache::new(rs.groups.len(), 64, 512)),
            group_union: RefCell::new(Vec::new()),
            selector_cache: RefCell::new(HashMap::default()),
            libinjection_cache: RefCell::new(Default::default()),
        }
    }

    fn run(&mut self) {
        if self.mode == EngineMode::Off {
            return;
        }
        for phase in 1u8..=2 {
            if phase == 2 {
                self.process_body();
            }
            if self.mode == EngineMode::Off || self.interrupt.is_some() || self.allow_all {
                return;
            }
            self.run_phase(phase);
        }
    }

    /// Parse the request body with the selected processor (phase 2 start).
    fn process_body(&mut self) {
        if self.body_parsed {
            return;
        }
        self.body_parsed = true;
        let req = self.req;
        if !self.body_access {
            return;
        }
        let proc_name = self.body_processor.clone().unwrap_or_default();
        self.scalar_generation = self.scalar_generation.wrapping_add(1);
        // As in ModSecurity v2: the raw body is exposed for urlencoded
        // bodies, or when forced (CRS forces it for unknown types).
        if proc_name == "URLENCODED" || self.force_body_var {
            self.scalars.insert("REQUEST_BODY", req.body.clone());
        }
        self.scalars.insert(
            "REQUEST_BODY_LENGTH",
            req.body.len().to_string().into_bytes(),
        );
        if req.body.is_empty() {
            return;
        }
        let parsed = match proc_name.as_str() {
            "URLENCODED" => ParsedBody {
                args: body::parse_urlencoded(&req.body),
                ..ParsedBody::default()
            },
            "MULTIPART" => {
                let ct = self.header_value("content-type").unwrap_or_default();
                match body::multipart_boundary(&ct) {
                    Some(b) => body::parse_multipart(&req.body, &b),
                    None => ParsedBody {
                        error: Some("Multipart parsing error: no boundary".into()),
                        ..ParsedBody::default()
                    },
                }
            }
            "JSON" => body::parse_json(&req.body),
            "XML" => body::parse_xml(&req.body),
            _ => ParsedBody::default(),
        };
        if let Some(e) = &parsed.error {
            self.scalars.insert("REQBODY_ERROR", b"1".to_vec());
            self.scalars
                .insert("REQBODY_PROCESSOR_ERROR", b"1".to_vec());
            self.scalars
                .insert("REQBODY_ERROR_MSG", e.as_bytes().to_vec());
            self.scalars
                .insert("REQBODY_PROCESSOR_ERROR_MSG", e.as_bytes().to_vec());
        }
        self.body = parsed;
    }

    fn header_value(&self, name: &str) -> Option<Vec<u8>> {
        self.req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn rule_removed(&self, r: &Rule) -> bool {
        self.removed_ids.iter().any(|x| x.contains(r.id))
            || (!self.removed_tags.is_empty()
                && r.actions.tags.iter().any(|t| self.removed_tags.contains(t)))
    }

    fn run_phase(&mut self, phase: u8) {
        let rs = self.rs;
        let Some(items) = rs.phases.get(usize::from(phase - 1)) else {
            return;
        };
        let mut start = 0;
        let mut skip_to: Option<&str> = None;
        let mut skip_n: u32 = 0;
        if phase == 1
            && let Some(p) = &rs.prefix
        {
            self.tx =
                p.tx.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_slice())))
                    .collect();
            for step in &p.steps {
                match step {
                    PrefixStep::MatchedVar(n, v) => {
                        self.matched_var = Some((n.clone(), v.clone()));
                    }
                    PrefixStep::Run(i) => {
                        if let Some(Item::Rule(r)) = items.get(*i)
                            && let Flow::Stop = self.run_rule(r, phase)
                        {
                            return;
                        }
                    }
                }
            }
            start = p.end;
            skip_to = p.skip_to.as_deref();
            skip_n = p.skip_n;
        }
        for item in items.iter().skip(start) {
            let rule = match item {
                Item::Marker(m) => {
                    if skip_to == Some(m.as_str()) {
                        skip_to = None;
                    }
                    continue;
                }
                Item::Rule(r) => r,
            };
            if skip_to.is_some() {
                continue;
            }
            if skip_n > 0 {
                skip_n -= 1;
                continue;
            }
            match self.run_rule(rule, phase) {
                Flow::Next => {}
                Flow::Stop => return,
                Flow::SkipAfter(m) => skip_to = Some(m),
                Flow::Skip(n) => skip_n = n,
            }
        }
    }

    /// Evaluate one rule of the phase's list (unless removed) and apply
    /// its logging and disruptive action.
    fn run_rule(&mut self, rule: &'a Rule, phase: u8) -> Flow<'a> {
        let rs = self.rs;
        if self.rule_removed(rule) {
            return Flow::Next;
        }
        self.matched_vars_len = 0;
        self.current_rule = Some(rule);
        let matched = match &rule.constant {
            Some(c)
                if self.removed_targets_id.is_empty() && self.removed_targets_tag.is_empty() =>
            {
                self.apply_constant(rule, c)
            }
            _ => self.eval_chain(rule, true),
        };
        if !matched {
            return Flow::Next;
        }
        if rule.actions.log != Some(false) {
            self.matches.push(RuleMatch {
                rule_id: rule.id,
                phase,
                variable_name: self.first_name.clone(),
                message: rule
                    .actions
                    .msg
                    .as_ref()
                    .map(Template::literal)
                    .unwrap_or_default(),
                tags: rule.actions.tags.clone(),
                severity: rule.actions.severity.clone(),
            });
        }
        let (disruptive, default_status) = match rule.actions.disruptive {
            Some(Disruptive::Block) => rs
                .default_disruptive
                .get(&phase)
                .copied()
                .unwrap_or((Disruptive::Pass, None)),
            Some(d) => (d, None),
            None => (Disruptive::Pass, None),
        };
        match disruptive {
            Disruptive::Deny | Disruptive::Drop | Disruptive::Redirect => {
                let i = Intervention {
                    status: rule.actions.status.or(default_status).unwrap_or(403),
                    rule_id: rule.id,
                };
                if self.would_interrupt.is_none() {
                    self.would_interrupt = Some(i.clone());
                }
                if self.mode == EngineMode::On {
                    self.interrupt = Some(i);
                    return Flow::Stop;
                }
            }
            Disruptive::Allow(scope) => {
                if self.mode == EngineMode::On {
                    match scope {
                        AllowScope::Phase => return Flow::Stop,
                        AllowScope::All | AllowScope::Request => {
                            self.allow_all = true;
                            return Flow::Stop;
                        }
                    }
                }
            }
            Disruptive::Pass | Disruptive::Block => {}
        }
        if self.mode == EngineMode::Off {
            return Flow::Stop;
        }
        if let Some(m) = &rule.actions.skip_after {
            Flow::SkipAfter(m.as_str())
        } else if rule.actions.skip > 0 {
            Flow::Skip(rule.actions.skip)
        } else {
            Flow::Next
        }
    }

    /// What [`Tx::eval_chain`] does for a rule whose outcome was fixed at
    /// load time ([`fold_constant_checks`]): one matching value, or none.
    fn apply_constant(&mut self, rule: &'a Rule, c: &Constant) -> bool {
        let Constant::Match { name, value } = c else {
            return false;
        };
        match &mut self.matched_var {
            Some((n, v)) => {
                n.clear();
                n.push_str(name);
                v.clear();
                v.extend_from_slice(value);
            }
            None => self.matched_var = Some((name.clone(), value.clone())),
        }
        self.first_name.clear();
        self.first_name.push_str(name);
        if self.matched_vars.is_empty() {
            self.matched_vars.push(Value::default());
        }
        if let Some((n, v)) = self.matched_vars.first_mut() {
            n.clear();
            n.push_str(name);
            v.clear();
            v.extend_from_slice(value);
            self.matched_vars_len = 1;
        }
        self.run_actions(rule);
        true
    }

    /// Evaluate a rule and its chain; true when every link matched. The
    /// head link (`head`) records the first matching variable's name in
    /// `first_name`.
    fn eval_chain(&mut self, rule: &'a Rule, head: bool) -> bool {
        if !self.eval_rule(rule, head) {
            return false;
        }
        match &rule.chained {
            Some(next) => self.eval_chain(next, false),
            None => true,
        }
    }

    /// Evaluate one rule; true when some value matched.
    fn eval_rule(&mut self, rule: &'a Rule, head: bool) -> bool {
        let Some(op) = &rule.operator else {
            if head {
                self.first_name.clear();
            }
            self.run_actions(rule);
            return true;
        };
        // Match every value first (borrowing the request, no copies), then
        // apply the effects of each match in order. Operator arguments of
        // this rule therefore see the state from before the rule ran.
        let mut pool = std::mem::take(&mut self.hit_pool);
        let mut n = 0usize;
        let shared = rule.set_slot.and_then(|(g, i)| {
            let group = self.rs.groups.get(g)?;
            Some((g, group.chain, group.set.get()?, i))
        });
        if let Some(s) = shared
            && !op.negated
            && self.rs.group_shortcut
            && !self.group_may_match(rule, s)
        {
            return false;
        }
        self.visit_targets(rule, &mut |name, value, id| {
            if pool.len() == n {
                pool.push(Hit::default());
            }
            let Some(slot) = pool.get_mut(n) else {
                return;
            };
            let hit = match shared {
                Some(s) => self.eval_from_set(rule, op, s, value, id, &mut slot.value),
                None => self.eval_value(rule, op, value, id, &mut slot.value),
            };
            if let Some(outcome) = hit {
                name.render_into(&mut slot.name);
                slot.outcome = outcome;
                n += 1;
            }
        });
        for (i, hit) in pool.iter_mut().take(n).enumerate() {
            if rule.actions.capture && !hit.outcome.captures.is_empty() {
                const GROUPS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
                let tx = &mut self.tx;
                for g in GROUPS {
                    tx.remove(g);
                }
                for (g, cap) in GROUPS.iter().zip(std::mem::take(&mut hit.outcome.captures)) {
                    tx.insert(Cow::Borrowed(*g), Cow::Owned(cap));
                }
            }
            // Reuse MATCHED_VAR's buffers: rules match on most requests.
            match &mut self.matched_var {
                Some((n, v)) => {
                    n.clear();
                    n.push_str(&hit.name);
                    v.clear();
                    v.extend_from_slice(&hit.value);
                }
                None => self.matched_var = Some((hit.name.clone(), hit.value.clone())),
            }
            if head && i == 0 {
                self.first_name.clear();
                self.first_name.push_str(&hit.name);
            }
            if self.matched_vars.len() == self.matched_vars_len {
                self.matched_vars.push(Value::default());
            }
            if let Some((n, v)) = self.matched_vars.get_mut(self.matched_vars_len) {
                n.clear();
                n.push_str(&hit.name);
                v.clear();
                v.extend_from_slice(&hit.value);
                self.matched_vars_len += 1;
            }
            // Like ModSecurity, non-disruptive actions run for each
            // matching value, before later chain links are evaluated
            // (so `%{tx.0}` and `%{MATCHED_VAR}` refer to this match).
            self.run_actions(rule);
        }
        self.hit_pool = pool;
        n > 0
    }

    /// The value after the transformation chain `chain`. Results of values
    /// with an id are cached per chain prefix for the transaction, so rules
    /// that share a chain (or its start) transform a value once.
    fn transformed<'v>(&self, value: &'v [u8], id: Option<u32>, chain: u32) -> Transformed<'v> {
        // Chain `n > 0` is `chains[n - 1]` and column `n - 1` of the cache.
        let Some(col) = chain.checked_sub(1).map(|c| c as usize) else {
            return Transformed::Same(value);
        };
        let Some(&(parent, t)) = self.rs.chains.get(col) else {
            return Transformed::Same(value);
        };
        if let Some(id) = id
            && let Ok(cache) = self.transform_cache.try_borrow()
            && let Some(hit) = cache.get(id, col)
        {
            return match hit {
                Some(v) => Transformed::New(Rc::clone(v)),
                None => Transformed::Same(value),
            };
        }
        let base = self.transformed(value, id, parent);
        let out = match t.apply_changed(base.as_slice()) {
            Some(v) => Transformed::New(Rc::new(v)),
            None => base,
        };
        if let Some(id) = id
            && let Ok(mut cache) = self.transform_cache.try_borrow_mut()
        {
            let entry = match &out {
                Transformed::Same(_) => None,
                Transformed::New(v) => Some(Rc::clone(v)),
            };
            cache.insert(id, col, entry);
        }
        out
    }

    /// Run the operator on one (transformed) value; libinjection's answers
    /// come from the per-request cache when the same bytes were seen.
    fn op_eval(
        &self,
        op: &Operator,
        v: &[u8],
        want_captures: bool,
        expand: &mut dyn FnMut(&Template) -> Vec<u8>,
    ) -> OpOutcome {
        let Some(which) = op.libinjection_call(v) else {
            return op.eval(v, want_captures, expand);
        };
        let slot = usize::from(which) * 2 + usize::from(want_captures);
        if let Ok(cache) = self.libinjection_cache.try_borrow()
            && let Some(hit) = cache.get(slot).and_then(|m| m.get(v))
        {
            return hit.clone();
        }
        let outcome = op.eval(v, want_captures, expand);
        if let Ok(mut cache) = self.libinjection_cache.try_borrow_mut()
            && let Some(m) = cache.get_mut(slot)
        {
            m.insert(Box::from(v), outcome.clone());
        }
        outcome
    }

    /// Transform a value and run the operator (on every intermediate value
    /// with `multiMatch`). Returns the outcome and puts the value that
    /// matched in `out`.
    fn eval_value(
        &self,
        rule: &Rule,
        op: &Operator,
        value: &[u8],
        id: Option<u32>,
        out: &mut Vec<u8>,
    ) -> Option<OpOutcome> {
        let mut expand = |t: &Template| self.expand(t);
        let mut keep = |v: &[u8], outcome: OpOutcome| {
            out.clear();
            out.extend_from_slice(v);
            Some(outcome)
        };
        if !rule.actions.multi_match {
            let cur = self.transformed(value, id, rule.chain_id);
            let outcome = self.op_eval(op, cur.as_slice(), rule.actions.capture, &mut expand);
            if outcome.matched == op.negated {
                return None;
            }
            return keep(cur.as_slice(), outcome);
        }
        // multiMatch: the value and each distinct intermediate result, in
        // order; the prefixes of the chain come from the cache too.
        let mut prefixes = Vec::new();
        let mut c = rule.chain_id;
        while c != 0 {
            prefixes.push(c);
            c = c
                .checked_sub(1)
                .and_then(|i| self.rs.chains.get(i as usize))
                .map_or(0, |step| step.0);
        }
        let mut last = Transformed::Same(value);
        let outcome = self.op_eval(op, value, rule.actions.capture, &mut expand);
        if outcome.matched != op.negated {
            return keep(value, outcome);
        }
        for p in prefixes.into_iter().rev() {
            let cur = self.transformed(value, id, p);
            if cur.as_slice() == last.as_slice() {
                continue;
            }
            let outcome = self.op_eval(op, cur.as_slice(), rule.actions.capture, &mut expand);
            if outcome.matched != op.negated {
                return keep(cur.as_slice(), outcome);
            }
            last = cur;
        }
        None
    }

    /// Which body-processing state the request's values are in: values
    /// of the request change only when the body is processed (phase 2's
    /// start), which sets `body_parsed` and bumps the scalar generation.
    fn value_epoch(&self) -> (bool, u32) {
        (self.body_parsed, self.scalar_generation)
    }

    /// Whether some value of the rule's targets can match the rule's
    /// pattern in its shared set; false means the rule (not negated)
    /// matches nothing and need not visit its values.
    ///
    /// Every rule of a set group has the same targets, exclusions and
    /// transformations (the group's key, [`build_regex_sets`]), so when no
    /// `ctl` has removed targets at run time they all visit the same
    /// values. When those values are fixed — every target is
    /// [`stable_target`] and every visited value had an id — the union of
    /// the set's answers over them, computed once per epoch, tells each
    /// rule of the group whether any of its values matches its pattern.
    /// The per-value answers are the ones [`Tx::eval_from_set`] uses (the
    /// same cache), so a rule skipped here would have matched no value.
    fn group_may_match(&self, rule: &Rule, (group, chain, set, idx): SetRef<'_>) -> bool {
        if !(self.removed_targets_id.is_empty() && self.removed_targets_tag.is_empty()) {
            return true;
        }
        let epoch = self.value_epoch();
        let known = |bits: &[u64]| {
            bits.get(idx / 64)
                .is_some_and(|w| w & (1u64 << (idx % 64)) != 0)
        };
        if let Ok(unions) = self.group_union.try_borrow() {
            match unions.get(group) {
                Some(GroupUnion::Unusable) => return true,
                Some(GroupUnion::Known { epoch: e, bits }) if *e == epoch => return known(bits),
                _ => {}
            }
        }
        let mut state = GroupUnion::Unusable;
        if rule.targets.iter().all(stable_target) {
            let mut bits = vec![0u64; set.len().div_ceil(64)];
            let mut usable = true;
            self.visit_targets(rule, &mut |_, value, id| {
                let Some(id) = id else {
                    usable = false;
                    return;
                };
                let mut or_in = |m: &SetMatches| {
                    for i in m.iter() {
                        if let Some(w) = bits.get_mut(i / 64) {
                            *w |= 1u64 << (i % 64);
                        }
                    }
                };
                if let Ok(cache) = self.set_cache.try_borrow()
                    && let Some(m) = cache.get(id, group)
                {
                    if let Some(m) = m {
                        or_in(m);
                    }
                    return;
                }
                let cur = self.transformed(value, Some(id), chain);
                let m = set
                    .is_match(cur.as_slice())
                    .then(|| set.matches(cur.as_slice()));
                if let Some(m) = &m {
                    or_in(m);
                }
                if let Ok(mut cache) = self.set_cache.try_borrow_mut() {
                    cache.insert(id, group, m);
                }
            });
            if usable {
                state = GroupUnion::Known { epoch, bits };
            }
        }
        let answer = match &state {
            GroupUnion::Known { bits, .. } => known(bits),
            _ => true,
        };
        if let Ok(mut unions) = self.group_union.try_borrow_mut() {
            if unions.len() <= group {
                unions.resize(group + 1, GroupUnion::Unknown);
            }
            if let Some(u) = unions.get_mut(group) {
                *u = state;
            }
        }
        answer
    }

    /// Like [`Tx::eval_value`], but the match comes from the rule's shared
    /// regex set, run once per value and group.
    fn eval_from_set(
        &self,
        rule: &Rule,
        op: &Operator,
        (group, chain, set, idx): SetRef<'_>,
        value: &[u8],
        id: Option<u32>,
        out: &mut Vec<u8>,
    ) -> Option<OpOutcome> {
        let cached = id.and_then(|id| {
            let cache = self.set_cache.try_borrow().ok()?;
            cache
                .get(id, group)
                .map(|m| m.as_ref().is_some_and(|m| m.matched(idx)))
        });
        // With the set's answer cached, the transformed value is only
        // needed when the rule matches.
        let (matched, cur) = match cached {
            Some(m) => (m, None),
            None => {
                let cur = self.transformed(value, id, chain);
                let m = set
                    .is_match(cur.as_slice())
                    .then(|| set.matches(cur.as_slice()));
                let hit = m.as_ref().is_some_and(|m| m.matched(idx));
                if let Some(id) = id
                    && let Ok(mut cache) = self.set_cache.try_borrow_mut()
                {
                    cache.insert(id, group, m);
                }
                (hit, Some(cur))
            }
        };
        if matched == op.negated {
            return None;
        }
        let cur = cur.unwrap_or_else(|| self.transformed(value, id, chain));
        let mut outcome = OpOutcome {
            matched,
            captures: Vec::new(),
        };
        if matched && rule.actions.capture {
            let mut expand = |t: &Template| self.expand(t);
            outcome = op.eval(cur.as_slice(), true, &mut expand);
        }
        out.clear();
        out.extend_from_slice(cur.as_slice());
        Some(outcome)
    }

    fn run_actions(&mut self, rule: &'a Rule) {
        for sv in &rule.actions.setvars {
            // Keys are lower-case; a literal key or value (the common case)
            // is borrowed from the rule, existing entries are updated in
            // place, numbers are written into the existing buffer.
            let key: Cow<'a, str> = match sv.key.as_literal() {
                Some(k) => Cow::Borrowed(k),
                None => {
                    Cow::Owned(String::from_utf8_lossy(&self.expand(&sv.key)).to_ascii_lowercase())
                }
            };
            let mut buf = std::mem::take(&mut self.scratch);
            let literal: Option<&'a [u8]> = match &sv.op {
                SetOp::Set(t) | SetOp::Add(t) | SetOp::Sub(t) => match t.as_literal() {
                    Some(l) => Some(l.as_bytes()),
                    None => {
                        buf.clear();
                        self.expand_into(t, &mut buf);
                        None
                    }
                },
                SetOp::Delete => None,
            };
            let val: &[u8] = literal.unwrap_or(&buf);
            let col = if sv.collection == "TX" {
                &mut self.tx
            } else {
                if !self.collections.contains_key(&sv.collection) {
                    self.collections
                        .insert(sv.collection.clone(), BTreeMap::new());
                }
                match self.collections.get_mut(&sv.collection) {
                    Some(c) => c,
                    None => {
                        self.scratch = buf;
                        continue;
                    }
                }
            };
            match &sv.op {
                SetOp::Delete => {
                    col.remove(key.as_ref());
                }
                SetOp::Set(_) => match (col.get_mut(key.as_ref()), literal) {
                    (Some(slot), Some(l)) => *slot = Cow::Borrowed(l),
                    (Some(Cow::Owned(slot)), None) => {
                        slot.clear();
                        slot.extend_from_slice(val);
                    }
                    (Some(slot), None) => *slot = Cow::Owned(val.to_vec()),
                    (None, Some(l)) => {
                        col.insert(key, Cow::Borrowed(l));
                    }
                    (None, None) => {
                        col.insert(key, Cow::Owned(val.to_vec()));
                    }
                },
                SetOp::Add(_) | SetOp::Sub(_) => {
                    let old = col.get(key.as_ref()).map_or(0, |x| atoi(x));
                    let n = if matches!(sv.op, SetOp::Add(_)) {
                        old.saturating_add(atoi(val))
                    } else {
                        old.saturating_sub(atoi(val))
                    };
                    match col.get_mut(key.as_ref()) {
                        Some(Cow::Owned(slot)) => write_int(slot, n),
                        Some(slot) => {
                            let mut v = Vec::new();
                            write_int(&mut v, n);
                            *slot = Cow::Owned(v);
                        }
                        None => {
                            let mut v = Vec::new();
                            write_int(&mut v, n);
                            col.insert(key, Cow::Owned(v));
                        }
                    }
                }
            }
            self.scratch = buf;
        }
        for ctl in &rule.actions.ctls {
            match ctl {
                Ctl::RuleRemoveById(ids) => self.removed_ids.extend(ids.iter().copied()),
                Ctl::RuleRemoveByTag(t) => self.removed_tags.push(t.clone()),
                Ctl::RuleRemoveTargetById(id, v) => self.removed_targets_id.push((*id, v.clone())),
                Ctl::RuleRemoveTargetByTag(t, v) => {
                    self.removed_targets_tag.push((t.clone(), v.clone()))
                }
                Ctl::RuleEngine(m) => self.mode = *m,
                Ctl::RequestBodyProcessor(p) => self.body_processor = Some(p.clone()),
                Ctl::RequestBodyAccess(on) => self.body_access = *on,
                Ctl::ForceRequestBodyVariable(on) => self.force_body_var = *on,
                Ctl::Ignored => {}
            }
        }
    }

    /// Visit all values of a rule's targets, minus exclusions.
    fn visit_targets(&self, rule: &Rule, f: &mut ValueFn<'_>) {
        let head_id = self.current_rule.map_or(rule.id, |r| r.id);
        let head_tags: &[String] = self
            .current_rule
            .as_ref()
            .map_or(&rule.actions.tags[..], |r| &r.actions.tags[..]);
        let no_runtime_removals =
            self.removed_targets_id.is_empty() && self.removed_targets_tag.is_empty();
        let keep = |col: &str, key: &str, member: Option<u32>| {
            let mut sel = |s: &Selector, k: &str| self.selector_matches(s, k, member);
            !(rule
                .exclusions
                .iter()
                .any(|e| e.excludes_with(col, key, &mut sel))
                || self
                    .removed_targets_id
                    .iter()
                    .any(|(id, e)| id.contains(head_id) && e.excludes_with(col, key, &mut sel))
                || self
                    .removed_targets_tag
                    .iter()
                    .any(|(t, e)| head_tags.contains(t) && e.excludes_with(col, key, &mut sel)))
        };
        for spec in &rule.targets {
            // Most exclusions name another collection than this target's:
            // then no member needs checking.
            let excluded_here = !no_runtime_removals
                || rule
                    .exclusions
                    .iter()
                    .any(|e| e.collection == spec.collection);
            if excluded_here {
                self.visit(spec, &keep, f);
            } else {
                self.visit(spec, &|_, _, _| true, f);
            }
        }
    }

    /// Whether a selector takes a member's key; regex results are cached per
    /// member id for the transaction.
    fn selector_matches(&self, s: &Selector, key: &str, member: Option<u32>) -> bool {
        let (Selector::Regex(p), Some(id)) = (s, member) else {
            return s.matches(key);
        };
        let k = (p.identity(), id);
        if let Ok(cache) = self.selector_cache.try_borrow()
            && let Some(hit) = cache.get(&k)
        {
            return *hit;
        }
        let hit = s.matches(key);
        if let Ok(mut cache) = self.selector_cache.try_borrow_mut() {
            cache.insert(k, hit);
        }
        hit
    }

    /// Visit the members of a keyed collection as borrowed (key, value, id)
    /// triples, so callers copy nothing.
    fn members(&self, kind: Coll, col: &str, f: &mut MemberFn<'_>) {
        type Pairs = [(String, Vec<u8>)];
        fn pairs(v: &Pairs, kind: u32, f: &mut MemberFn<'_>) {
            for (i, (k, v)) in v.iter().enumerate() {
                f(k, v, value_id(kind, i));
            }
        }
        fn names(v: &Pairs, kind: u32, f: &mut MemberFn<'_>) {
            for (i, (k, _)) in v.iter().enumerate() {
                f(k, k.as_bytes(), value_id(kind, i));
            }
        }
        match kind {
            Coll::Args => {
                pairs(&self.args_get, src::ARGS_GET, f);
                pairs(&self.body.args, src::ARGS_POST, f);
            }
            Coll::ArgsGet => pairs(&self.args_get, src::ARGS_GET, f),
            Coll::ArgsPost => pairs(&self.body.args, src::ARGS_POST, f),
            Coll::ArgsNames => {
                names(&self.args_get, src::ARGS_GET_NAMES, f);
                names(&self.body.args, src::ARGS_POST_NAMES, f);
            }
            Coll::ArgsGetNames => names(&self.args_get, src::ARGS_GET_NAMES, f),
            Coll::ArgsPostNames => names(&self.body.args, src::ARGS_POST_NAMES, f),
            Coll::Cookies => pairs(&self.cookies, src::COOKIES, f),
            Coll::CookieNames => names(&self.cookies, src::COOKIE_NAMES, f),
            Coll::Headers => pairs(&self.req.headers, src::HEADERS, f),
            Coll::HeaderNames => names(&self.req.headers, src::HEADER_NAMES, f),
            Coll::Files => pairs(&self.body.files, src::FILES, f),
            Coll::FilesNames => names(&self.body.files, src::FILES_NAMES, f),
            Coll::PartHeaders => pairs(&self.body.part_headers, src::PART_HEADERS, f),
            Coll::MatchedVars => {
                for (k, v) in self.matched_vars.iter().take(self.matched_vars_len) {
                    f(k, v, None);
                }
            }
            Coll::MatchedVarsNames => {
                for (k, _) in self.matched_vars.iter().take(self.matched_vars_len) {
                    f(k, k.as_bytes(), None);
                }
            }
            Coll::Xml => {
                if let Some(t) = &self.body.xml_text {
                    f("/*", t, value_id(src::XML, 0));
                    for (i, a) in self.body.xml_attrs.iter().enumerate() {
                        f("//@*", a, value_id(src::XML, i + 1));
                    }
                }
            }
            Coll::Persistent | Coll::Scalar => {
                if let Some(c) = self.collection(col) {
                    for (k, v) in c {
                        f(k, v, None);
                    }
                }
            }
        }
    }

    /// Visit the values of one target spec that `keep(collection, key)`
    /// accepts.
    fn visit(
        &self,
        spec: &VarSpec,
        keep: &dyn Fn(&str, &str, Option<u32>) -> bool,
        f: &mut ValueFn<'_>,
    ) {
        let col = spec.collection.as_str();
        let keyed = spec.kind != Coll::Scalar;
        let whole = VarName { col, key: None };
        if !keyed {
            let value = self.scalar(col);
            if spec.count {
                f(whole, if value.is_some() { b"1" } else { b"0" }, None);
            } else if let Some((v, id)) = value
                && keep(col, "", None)
            {
                f(whole, &v, id);
            }
            return;
        }
        // Fast path: one key of a transaction collection (TX:foo).
        // (Only `TX` and the collections `setvar` created can answer: skip
        // the name lookup for the request's collections.)
        if let Some(Selector::Key(key)) = &spec.selector
            && (spec.kind == Coll::Persistent || !self.collections.is_empty())
            && let Some(c) = self.collection(col)
        {
            let hit = c.get(key.as_str()).filter(|_| keep(col, key, None));
            if spec.count {
                f(whole, if hit.is_some() { b"1" } else { b"0" }, None);
            } else if let Some(v) = hit {
                f(
                    VarName {
                        col,
                        key: Some(key),
                    },
                    v,
                    None,
                );
            }
            return;
        }
        let mut count = 0usize;
        self.members(spec.kind, col, &mut |k, v, id| {
            let chosen = match &spec.selector {
                None => true,
                // XPath: `//@*` selects attribute values, anything else
                // the document text.
                Some(Selector::Key(x)) if spec.kind == Coll::Xml => {
                    x.contains('@') == (k == "//@*")
                }
                Some(Selector::Key(x)) => x.eq_ignore_ascii_case(k),
                Some(s) => self.selector_matches(s, k, id),
            };
            if !(chosen && keep(col, k, id)) {
                return;
            }
            if spec.count {
                count += 1;
            } else {
                f(VarName { col, key: Some(k) }, v, id);
            }
        });
        if spec.count {
            f(whole, count.to_string().as_bytes(), None);
        }
    }

    /// Single-valued variables, with their value id when they have one.
    fn scalar(&self, col: &str) -> Option<(Cow<'_, [u8]>, Option<u32>)> {
        let owned = |v: Vec<u8>| Some((Cow::Owned(v), None));
        let fixed = |v: &'static [u8]| Some((Cow::Borrowed(v), None));
        match col {
            "MATCHED_VAR" => self
                .matched_var
                .as_ref()
                .map(|(_, v)| (Cow::Borrowed(v.as_slice()), None)),
            "MATCHED_VAR_NAME" => self
                .matched_var
                .as_ref()
                .map(|(n, _)| (Cow::Borrowed(n.as_bytes()), None)),
            "ARGS_COMBINED_SIZE" => {
                let n: usize = self
                    .args_get
                    .iter()
                    .chain(self.body.args.iter())
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                owned(n.to_string().into_bytes())
            }
            "FILES_COMBINED_SIZE" => owned(self.body.files_combined_size.to_string().into_bytes()),
            // Known from the Content-Type (or ctl) already in phase 1.
            "REQBODY_PROCESSOR" => Some((
                Cow::Borrowed(
                    self.body_processor
                        .as_deref()
                        .unwrap_or_default()
                        .as_bytes(),
                ),
                None,
            )),
            c if c.starts_with("MULTIPART_") => fixed(b"0"),
            "TIME_EPOCH" | "TIME" => fixed(b"0"),
            _ => {
                let v = self.scalars.get(col)?;
                let id = SCALAR_SLOTS
                    .iter()
                    .position(|s| *s == col)
                    .and_then(|slot| {
                        let generation = (self.scalar_generation & 0xffff) as usize;
                        value_id(src::SCALAR, generation * 64 + slot)
                    });
                Some((Cow::Borrowed(v.as_slice()), id))
            }
        }
    }

    /// A transaction collection by (upper-case) name.
    fn collection(&self, name: &str) -> Option<&Collection<'a>> {
        if name == "TX" {
            Some(&self.tx)
        } else {
            self.collections.get(name)
        }
    }

    /// Append the first value of `%{collection.key}` to `out`.
    fn resolve_into(&self, col: &str, key: Option<&str>, out: &mut Vec<u8>) {
        if col == "RULE" {
            let Some(r) = self.current_rule else {
                return;
            };
            match key.unwrap_or_default() {
                "id" => out.extend_from_slice(r.id.to_string().as_bytes()),
                "msg" => out.extend_from_slice(
                    r.actions
                        .msg
                        .as_ref()
                        .map(Template::literal)
                        .unwrap_or_default()
                        .as_bytes(),
                ),
                "severity" => out.extend_from_slice(
                    r.actions.severity.as_deref().unwrap_or_default().as_bytes(),
                ),
                _ => {}
            }
            return;
        }
        let kind = Coll::of(col);
        if kind == Coll::Persistent
            && let Some(k) = key
        {
            // `%{tx.foo}`, the common case: no target spec to build.
            if let Some(v) = self.collection(col).and_then(|c| c.get(k)) {
                out.extend_from_slice(v);
            }
            return;
        }
        let spec = VarSpec {
            collection: col.to_string(),
            kind,
            selector: key.map(|k| Selector::Key(k.to_string())),
            count: false,
            exclude: false,
        };
        let mut first = true;
        self.visit(&spec, &|_, _, _| true, &mut |_, v, _| {
            if first {
                first = false;
                out.extend_from_slice(v);
            }
        });
    }

    fn expand(&self, t: &Template) -> Vec<u8> {
        let mut out = Vec::new();
        self.expand_into(t, &mut out);
        out
    }

    /// Append the expansion of `t` to `out`.
    fn expand_into(&self, t: &Template, out: &mut Vec<u8>) {
        t.expand_into(out, &mut |c, k, out| self.resolve_into(c, k, out));
    }

    fn verdict(self) -> Verdict {
        let score = self.tx.get("anomaly_score").map_or(0, |v| atoi(v));
        Verdict {
            disruptive: self.interrupt,
            would_interrupt: self.would_interrupt,
            matches: self.matches,
            anomaly_score: score,
            body_error: self.scalars.get("REQBODY_ERROR").is_some_and(|v| v == b"1"),
        }
    }
}

/// Split a `Cookie` header as ModSecurity does: `;`-separated pairs, first
/// `=` separates name and value, names left-trimmed, empty names skipped.
fn parse_cookies(v: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for c in v.split(|&b| b == b';') {
        if c.is_empty() {
            continue;
        }
        let (k, val) = match c.iter().position(|&b| b == b'=') {
            Some(p) => (
                c.get(..p).unwrap_or_default(),
                c.get(p + 1..).unwrap_or_default(),
            ),
            None => (c, &b""[..]),
        };
        let k = k.trim_ascii_start();
        if k.is_empty() {
            continue;
        }
        out.push((
            String::from_utf8_lossy(k).into_owned(),
            val.trim_ascii_end().to_vec(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn dense_cache() {
        let mut c: DenseCache<u8> = DenseCache::new(3, 1, 1);
        let a = value_id(src::HEADERS, 0).unwrap();
        let b = value_id(src::ARGS_GET, 5).unwrap();
        let s = value_id(src::SCALAR, 64 + 4).unwrap();
        assert_eq!(c.get(a, 0), None);
        c.insert(a, 2, 7);
        c.insert(b, 0, 8);
        c.insert(s, 1, 9);
        c.insert(a, 3, 1); // no such column: ignored
        assert_eq!(c.get(a, 2), Some(&7));
        assert_eq!(c.get(a, 0), None);
        assert_eq!(c.get(b, 0), Some(&8));
        assert_eq!(c.get(value_id(src::ARGS_GET, 4).unwrap(), 0), None);
        assert_eq!(c.get(value_id(src::ARGS_GET_NAMES, 5).unwrap(), 0), None);
        assert_eq!(c.get(s, 1), Some(&9));
        assert_eq!(c.get(value_id(src::SCALAR, 4).unwrap(), 1), None);
        c.insert(a, 2, 3);
        assert_eq!(c.get(a, 2), Some(&3));
        let mut empty: DenseCache<u8> = DenseCache::new(0, 4, 4);
        empty.insert(a, 0, 1);
        assert_eq!(empty.get(a, 0), None);
    }

    #[test]
    fn cookies() {
        let c = parse_cookies(b"a=1; b=x=y;;  =z; c");
        assert_eq!(c.len(), 3);
        assert_eq!(c[1], ("b".to_string(), b"x=y".to_vec()));
        assert_eq!(c[2], ("c".to_string(), b"".to_vec()));
    }

    /// The load-time prefix gives the same verdicts, matches and scores as
    /// running every rule, on ordinary and hostile requests, at PL1 and PL4.
    #[test]
    fn prefix_matches_plain_evaluation() {
        let rules = std::env::var("ANSHIN_WAF_CRS_RULES")
            .unwrap_or_else(|_| "/usr/share/modsecurity-crs/rules".into());
        let setup = std::env::var("ANSHIN_WAF_CRS_SETUP")
            .unwrap_or_else(|_| "/etc/modsecurity/crs/crs-setup.conf".into());
        if !std::path::Path::new(&setup).exists() {
            eprintln!("CRS not installed: skipped");
            return;
        }
        let h = |extra: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
            [
                ("Host", "shop.example.jp"),
                (
                    "User-Agent",
                    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                ),
                ("Accept", "text/html,*/*;q=0.8"),
                ("Cookie", "sid=abc; __utma=1"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_string(), v.as_bytes().to_vec()))
            .collect()
        };
        let r = |method: &str, uri: &str, extra: &[(&str, &str)], body: &str, addr: &str| Request {
            method: method.into(),
            uri: uri.into(),
            protocol: "HTTP/1.1".into(),
            headers: h(extra),
            remote_addr: addr.into(),
            body: body.as_bytes().to_vec(),
        };
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        let json = [("Content-Type", "application/json")];
        let requests = [
            r("GET", "/shop/items?page=2&q=mug", &[], "", "198.51.100.20"),
            r("GET", "/", &[], "", "127.0.0.1"),
            r(
                "GET",
                "/search?q=1%27+OR+%271%27%3D%271%27--",
                &[],
                "",
                "198.51.100.20",
            ),
            r(
                "POST",
                "/new",
                &form,
                "title=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                "192.0.2.1",
            ),
            r(
                "POST",
                "/api",
                &json,
                r#"{"a":"../../etc/passwd","b":[1]}"#,
                "192.0.2.1",
            ),
            r("POST", "/api", &json, "{broken", "192.0.2.1"),
            r("TRACE", "/", &[], "", "192.0.2.1"),
            r(
                "GET",
                "/a.bak",
                &[("Accept-Charset", "utf-7"), ("Content-Type", "text/xml")],
                "",
                "::1",
            ),
            r(
                "PUT",
                "/x?a=%00",
                &[("Content-Type", "application/foo")],
                "x",
                "192.0.2.1",
            ),
            r(
                "GET",
                "/?x=${jndi:ldap://a}",
                &[("User-Agent", "sqlmap/1.0")],
                "",
                "192.0.2.1",
            ),
            r(
                "GET",
                "/p?a=1&a=;cat+/etc/passwd&b=<svg/onload=alert(1)>",
                &[("Cookie", "__utmz=';drop table x--; s=1 union select 2")],
                "",
                "192.0.2.1",
            ),
            r(
                "POST",
                "/upload",
                &[("Content-Type", "multipart/form-data; boundary=b")],
                "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\n\r\n<?php system($_GET['c']); ?>\r\n--b--\r\n",
                "192.0.2.1",
            ),
            r(
                "POST",
                "/new?x=1",
                &form,
                "q=javascript%3Aalert(1)&n=..%2F..%2Fetc%2Fpasswd&q=select+1+from+information_schema.tables",
                "192.0.2.1",
            ),
        ];
        for pl in [1u8, 4] {
            for mode in [EngineMode::On, EngineMode::DetectionOnly] {
                let opts = crate::LoadOptions {
                    paranoia_level: Some(pl),
                    engine_mode: Some(mode),
                    directives_before: vec![crate::RECOMMENDED_BASE_RULES.into()],
                    ..Default::default()
                };
                let fast =
                    RuleSet::load(&[setup.clone(), format!("{rules}/*.conf")], &opts).unwrap();
                let p = fast.prefix.as_ref().unwrap();
                assert!(p.end > 20, "prefix covers the CRS initialisation");
                assert!(fast.group_shortcut);
                // Without the load-time prefix, without the set-group
                // shortcut, without both.
                let mut no_prefix = fast.clone();
                no_prefix.prefix = None;
                let mut no_shortcut = fast.clone();
                no_shortcut.group_shortcut = false;
                let constants = fast
                    .phases
                    .iter()
                    .flatten()
                    .filter(|i| matches!(i, Item::Rule(r) if r.constant.is_some()))
                    .count();
                assert!(constants > 20, "paranoia-level checks fixed: {constants}");
                let mut no_constants = fast.clone();
                for_each_link(&mut no_constants.phases, &mut |r| r.constant = None);
                let mut plain = no_prefix.clone();
                plain.group_shortcut = false;
                for_each_link(&mut plain.phases, &mut |r| r.constant = None);
                for req in &requests {
                    let a = fast.evaluate(req);
                    for other in [&no_prefix, &no_shortcut, &no_constants, &plain] {
                        let b = other.evaluate(req);
                        assert_eq!(a.matches, b.matches, "PL{pl} {} {}", req.method, req.uri);
                        assert_eq!(a.disruptive, b.disruptive);
                        assert_eq!(a.would_interrupt, b.would_interrupt);
                        assert_eq!(a.anomaly_score, b.anomaly_score);
                        assert_eq!(a.body_error, b.body_error);
                    }
                }
            }
        }
    }

    #[test]
    fn uri_helpers() {
        assert_eq!(strip_scheme_host(b"http://h/x?y"), b"/x?y");
        assert_eq!(strip_scheme_host(b"/a"), b"/a");
        assert_eq!(uri_decode(b"/a%20b+c"), b"/a b+c".to_vec());
    }
}
