//! The compiled rule model and the action list parser (`"id:1,phase:2,…"`).

use std::sync::Arc;

use crate::macros::Template;
use crate::operators::Operator;
use crate::transformations::Transform;
use crate::variables::{VarSpec, parse_one};

/// `SecRuleEngine` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineMode {
    /// Evaluate and enforce disruptive actions.
    On,
    /// Evaluate, report what would have happened, never interrupt.
    DetectionOnly,
    /// Do not evaluate.
    Off,
}

impl EngineMode {
    /// Parse `On`/`DetectionOnly`/`Off` (case-insensitive).
    pub fn parse(s: &str) -> Option<EngineMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" => Some(EngineMode::On),
            "detectiononly" => Some(EngineMode::DetectionOnly),
            "off" => Some(EngineMode::Off),
            _ => None,
        }
    }
}

/// Disruptive actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disruptive {
    Pass,
    /// Use the phase's `SecDefaultAction` disruptive action.
    Block,
    Deny,
    Drop,
    Redirect,
    /// `allow`: stop evaluating the transaction (or phase with `allow:phase`).
    Allow(AllowScope),
}

/// What `allow` skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllowScope {
    All,
    Phase,
    Request,
}

/// `setvar` operations.
#[derive(Clone, Debug)]
pub enum SetOp {
    Set(Template),
    Add(Template),
    Sub(Template),
    Delete,
}

/// One `setvar`.
#[derive(Clone, Debug)]
pub struct SetVar {
    /// Collection, upper-case (`TX`, `IP`, …).
    pub collection: String,
    /// Key; may contain macros.
    pub key: Template,
    /// What to do.
    pub op: SetOp,
}

/// A rule id or id range for `ctl:ruleRemoveById` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange(pub u64, pub u64);

impl IdRange {
    /// Parse `123` or `100-200`.
    pub fn parse(s: &str) -> Option<IdRange> {
        let s = s.trim();
        match s.split_once('-') {
            Some((a, b)) => Some(IdRange(a.trim().parse().ok()?, b.trim().parse().ok()?)),
            None => {
                let n = s.parse().ok()?;
                Some(IdRange(n, n))
            }
        }
    }

    /// Whether `id` is in the range.
    pub fn contains(&self, id: u64) -> bool {
        self.0 <= id && id <= self.1
    }
}

/// `ctl:` actions (per-transaction configuration changes).
#[derive(Clone, Debug)]
pub enum Ctl {
    RuleRemoveById(Vec<IdRange>),
    RuleRemoveByTag(String),
    RuleRemoveTargetById(IdRange, VarSpec),
    RuleRemoveTargetByTag(String, VarSpec),
    RuleEngine(EngineMode),
    RequestBodyProcessor(String),
    RequestBodyAccess(bool),
    ForceRequestBodyVariable(bool),
    /// Accepted and ignored (audit log settings, limits).
    Ignored,
}

/// Everything a rule's action list says.
#[derive(Clone, Debug, Default)]
pub struct Actions {
    pub id: Option<u64>,
    pub phase: Option<u8>,
    pub disruptive: Option<Disruptive>,
    pub chain: bool,
    pub skip_after: Option<String>,
    pub skip: u32,
    /// Transformations; `t_none` says the list was reset with `t:none`.
    pub transforms: Vec<Transform>,
    pub t_none: bool,
    pub setvars: Vec<SetVar>,
    pub ctls: Vec<Ctl>,
    pub capture: bool,
    pub multi_match: bool,
    pub msg: Option<Template>,
    pub logdata: Option<Template>,
    pub tags: Vec<String>,
    pub severity: Option<String>,
    pub log: Option<bool>,
    pub status: Option<u16>,
}

/// A compiled rule (SecRule or SecAction), with its chain.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: u64,
    pub phase: u8,
    pub file: Arc<str>,
    pub line: usize,
    /// Included targets.
    pub targets: Vec<VarSpec>,
    /// `!` exclusions (and those added by `SecRuleUpdateTargetById`).
    pub exclusions: Vec<VarSpec>,
    /// None for SecAction (always matches).
    pub operator: Option<Operator>,
    pub actions: Actions,
    /// Next link of a chain.
    pub chained: Option<Box<Rule>>,
    /// Slot in a shared regex set (group, pattern index), set at load time
    /// for `@rx` rules whose transformation chain other rules share.
    pub set_slot: Option<(usize, usize)>,
    /// Number of the transformation chain in the rule set's chain tree,
    /// set at load time (0: no transformation).
    pub chain_id: u32,
    /// The rule's outcome when it is fixed at load time (see
    /// `engine::optimise::fold_constant_checks`).
    pub(crate) constant: Option<Constant>,
}

/// A rule outcome fixed at load time (`engine::optimise::fold_constant_checks`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Constant {
    /// The rule matches nothing.
    NoMatch,
    /// The rule matches one value: `MATCHED_VAR`'s name and bytes.
    Match { name: String, value: Vec<u8> },
}

/// Phase names allowed by `phase:`.
fn parse_phase(v: &str) -> Option<u8> {
    match v.trim().to_ascii_lowercase().as_str() {
        "request" => Some(2),
        "response" => Some(4),
        "logging" => Some(5),
        n => n.parse().ok().filter(|p| (1..=5).contains(p)),
    }
}

/// Split an action list on commas outside single quotes.
fn split_actions(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut esc = false;
    for c in s.chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' if in_q => {
                cur.push(c);
                esc = true;
            }
            '\'' => {
                in_q = !in_q;
                cur.push(c);
            }
            ',' if !in_q => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

/// Strip one level of single quotes and unescape `\'`.
fn unquote(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        Some(inner) => inner.replace("\\'", "'"),
        None => v.to_string(),
    }
}

fn parse_setvar(v: &str) -> Result<SetVar, String> {
    let v = v.trim();
    let (delete, v) = match v.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, v),
    };
    let (lhs, rhs) = match v.split_once('=') {
        Some((l, r)) => (l.trim(), Some(r)),
        None => (v, None),
    };
    let (col, key) = lhs
        .split_once('.')
        .ok_or_else(|| format!("setvar `{v}` lacks a collection"))?;
    let op = if delete {
        SetOp::Delete
    } else {
        match rhs {
            None => SetOp::Set(Template::parse("1")),
            Some(r) => {
                if let Some(x) = r.strip_prefix('+') {
                    SetOp::Add(Template::parse(x))
                } else if let Some(x) = r.strip_prefix('-') {
                    SetOp::Sub(Template::parse(x))
                } else {
                    SetOp::Set(Template::parse(r))
                }
            }
        }
    };
    Ok(SetVar {
        collection: col.trim().to_ascii_uppercase(),
        key: Template::parse(&key.trim().to_ascii_lowercase()),
        op,
    })
}

fn parse_ctl(v: &str) -> Result<Ctl, String> {
    let (name, val) = v
        .split_once('=')
        .ok_or_else(|| format!("ctl `{v}` lacks `=`"))?;
    let val = val.trim();
    let on_off = |s: &str| s.eq_ignore_ascii_case("on") || s.eq_ignore_ascii_case("true");
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "ruleremovebyid" => {
            let ids: Option<Vec<IdRange>> = val
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(IdRange::parse)
                .collect();
            Ctl::RuleRemoveById(ids.ok_or_else(|| format!("bad id in ctl `{v}`"))?)
        }
        "ruleremovebytag" => Ctl::RuleRemoveByTag(val.to_string()),
        "ruleremovetargetbyid" => {
            let (id, target) = val
                .split_once(';')
                .ok_or_else(|| format!("ctl `{v}` lacks `;`"))?;
            let id = IdRange::parse(id).ok_or_else(|| format!("bad id in ctl `{v}`"))?;
            Ctl::RuleRemoveTargetById(id, parse_one(target)?)
        }
        "ruleremovetargetbytag" => {
            let (tag, target) = val
                .split_once(';')
                .ok_or_else(|| format!("ctl `{v}` lacks `;`"))?;
            Ctl::RuleRemoveTargetByTag(tag.to_string(), parse_one(target)?)
        }
        "ruleengine" => Ctl::RuleEngine(
            EngineMode::parse(val).ok_or_else(|| format!("bad ruleEngine `{val}`"))?,
        ),
        "requestbodyprocessor" => Ctl::RequestBodyProcessor(val.to_ascii_uppercase()),
        "requestbodyaccess" => Ctl::RequestBodyAccess(on_off(val)),
        "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on_off(val)),
        "auditengine" | "auditlogparts" | "requestbodylimit" | "responsebodyaccess"
        | "debugloglevel" | "hashengine" | "hashenforcement" | "parsexmlintoargs" => Ctl::Ignored,
        other => return Err(format!("unsupported ctl `{other}`")),
    })
}

/// Parse an action list into `acts`.
pub fn parse_actions(s: &str, acts: &mut Actions) -> Result<(), String> {
    for a in split_actions(s) {
        let (name, value) = match a.split_once(':') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(unquote(v))),
            None => (a.trim().to_ascii_lowercase(), None),
        };
        let val = value.clone().unwrap_or_default();
        match name.as_str() {
            "id" => {
                acts.id = Some(val.trim().parse().map_err(|_| format!("bad id `{val}`"))?);
            }
            "phase" => {
                acts.phase = Some(parse_phase(&val).ok_or_else(|| format!("bad phase `{val}`"))?)
            }
            "pass" => acts.disruptive = Some(Disruptive::Pass),
            "block" => acts.disruptive = Some(Disruptive::Block),
            "deny" => acts.disruptive = Some(Disruptive::Deny),
            "drop" => acts.disruptive = Some(Disruptive::Drop),
            "redirect" => acts.disruptive = Some(Disruptive::Redirect),
            "allow" => {
                let scope = match val.to_ascii_lowercase().as_str() {
                    "phase" => AllowScope::Phase,
                    "request" => AllowScope::Request,
                    _ => AllowScope::All,
                };
                acts.disruptive = Some(Disruptive::Allow(scope));
            }
            "chain" => acts.chain = true,
            "skipafter" => acts.skip_after = Some(val.trim().to_string()),
            "skip" => {
                acts.skip = val
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad skip `{val}`"))?
            }
            "t" => {
                if val.eq_ignore_ascii_case("none") {
                    acts.transforms.clear();
                    acts.t_none = true;
                } else {
                    let t = Transform::from_name(val.trim())
                        .ok_or_else(|| format!("unsupported transformation t:{val}"))?;
                    acts.transforms.push(t);
                }
            }
            "setvar" => acts.setvars.push(parse_setvar(&val)?),
            "ctl" => acts.ctls.push(parse_ctl(&val)?),
            "capture" => acts.capture = true,
            "multimatch" => acts.multi_match = true,
            "msg" => acts.msg = Some(Template::parse(&val)),
            "logdata" => acts.logdata = Some(Template::parse(&val)),
            "tag" => acts.tags.push(val),
            "severity" => acts.severity = Some(val),
            "log" => acts.log = Some(true),
            "nolog" => acts.log = Some(false),
            "status" => {
                acts.status = Some(
                    val.trim()
                        .parse()
                        .map_err(|_| format!("bad status `{val}`"))?,
                )
            }
            // Metadata, audit logging and persistence: accepted, no effect
            // on the verdict (collections live only for one transaction).
            "ver" | "rev" | "accuracy" | "maturity" | "auditlog" | "noauditlog" | "expirevar"
            | "initcol" | "setuid" | "setsid" | "sanitisematched" | "sanitizematched"
            | "sanitisearg" | "sanitizearg" | "append" | "prepend" | "exec" | "pause"
            | "deprecatevar" | "xmlns" | "setenv" => {}
            other => return Err(format!("unsupported action `{other}`")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_crs_style_actions() {
        let mut a = Actions::default();
        parse_actions(
            "id:942100,phase:2,block,capture,t:none,t:utf8toUnicode,t:urlDecodeUni,\
             msg:'SQL Injection Attack Detected via libinjection',\
             logdata:'Matched Data: %{TX.0} found within %{MATCHED_VAR_NAME}: %{MATCHED_VAR}',\
             tag:'attack-sqli',severity:'CRITICAL',\
             setvar:'tx.sql_injection_score=+%{tx.critical_anomaly_score}',\
             setvar:!tx.foo,ctl:ruleRemoveTargetById=942450;REQUEST_COOKIES:x,skipAfter:END",
            &mut a,
        )
        .unwrap();
        assert_eq!(a.id, Some(942100));
        assert_eq!(a.phase, Some(2));
        assert_eq!(a.disruptive, Some(Disruptive::Block));
        assert!(a.capture && a.t_none);
        assert_eq!(
            a.transforms,
            vec![Transform::Utf8ToUnicode, Transform::UrlDecodeUni]
        );
        assert_eq!(a.setvars.len(), 2);
        assert!(matches!(a.setvars[0].op, SetOp::Add(_)));
        assert!(matches!(a.setvars[1].op, SetOp::Delete));
        assert!(matches!(
            a.ctls[0],
            Ctl::RuleRemoveTargetById(IdRange(942450, 942450), _)
        ));
        assert_eq!(a.skip_after.as_deref(), Some("END"));
        assert_eq!(a.tags, vec!["attack-sqli".to_string()]);
    }

    #[test]
    fn rejects_unknown() {
        let mut a = Actions::default();
        assert!(parse_actions("id:1,frobnicate", &mut a).is_err());
        assert!(parse_actions("id:x", &mut a).is_err());
        assert!(parse_actions("t:nosuch", &mut a).is_err());
    }
}
