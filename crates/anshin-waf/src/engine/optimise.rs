//! Load-time passes that make a loaded [`RuleSet`] cheaper to evaluate:
//! shared regex sets and selectors, numbered transformation chains, the
//! constant opening of phase 1 evaluated once ([`compute_prefix`]) and the
//! paranoia-level checks fixed ([`fold_constant_checks`]).
//!
//! A pass must never change a verdict, a logged match or a score: each
//! carries the argument why it does not in its doc comment, and
//! `prefix_matches_plain_evaluation` (below) compares them with plain
//! evaluation. They run once per load, never per request.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use regex::bytes::RegexSet;

use super::eval::Tx;
use super::{Item, Request, RuleSet};
use crate::macros::Template;
use crate::operators::{OpKind, Operator};
use crate::pcre::Pattern;
use crate::rules::{Constant, Ctl, Disruptive, Rule, SetOp};
use crate::transformations::Transform;
use crate::variables::{Coll, Selector, VarSpec};

/// `@rx` patterns of rules that share a transformation chain, matched in
/// one pass per value.
#[derive(Clone, Debug)]
pub(crate) struct RxGroup {
    /// The group's transformation chain (see [`RuleSet::chains`]).
    pub(super) chain: u32,
    pub(super) set: Arc<LazySet>,
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
    pub(super) fn get(&self) -> Option<&RegexSet> {
        self.built
            .get_or_init(|| {
                let refs: Vec<&str> = self.sources.iter().map(String::as_str).collect();
                Pattern::build_set(&refs)
            })
            .as_ref()
    }
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
    pub(super) tx: Vec<(String, Vec<u8>)>,
    /// What each request still does, in order.
    pub(super) steps: Vec<PrefixStep>,
    /// Index in phase 1's items where evaluation resumes.
    pub(super) end: usize,
    /// Pending `skipAfter` marker and `skip` count at `end`.
    pub(super) skip_to: Option<String>,
    pub(super) skip_n: u32,
}

/// One step of a [`Prefix`] during a request.
#[derive(Clone, Debug)]
pub(super) enum PrefixStep {
    /// Evaluate the rule at this index of phase 1 as usual.
    Run(usize),
    /// A constant rule matched here: `MATCHED_VAR` becomes this.
    MatchedVar(String, Vec<u8>),
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
pub(super) fn build_regex_sets(rs: &mut RuleSet) {
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
pub(super) fn share_selectors(rs: &mut RuleSet) {
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
pub(super) fn compute_prefix(rs: &mut RuleSet) {
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
pub(super) fn fold_constant_checks(rs: &mut RuleSet) {
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
pub(super) fn number_chains(rs: &mut RuleSet) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::rules::EngineMode;

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
}
