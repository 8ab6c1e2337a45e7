//! Evaluating one request: the per-request state [`Tx`], set up from the
//! [`Request`], run through phases 1 and 2 and turned into a [`Verdict`].
//! Split by concern: `request` (variables from the request, body
//! processing), `rule` (the rule loop, chains, disruptive actions and
//! flow), `matching` (transformations, operators, shared regex sets),
//! `actions` (`setvar`, `ctl`) and `targets` (the values a target names,
//! macro expansion).
//!
//! It must never do I/O, panic on any request, keep anything once the
//! verdict is made, or put a matched value in the verdict (variable names
//! only).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use regex::bytes::SetMatches;

use super::cache::{DenseCache, GroupUnion, IdBuild, TransformCache};
use super::{Intervention, Request, RuleMatch, RuleSet, Verdict};
use crate::body::ParsedBody;
use crate::operators::{OpOutcome, atoi};
use crate::rules::{EngineMode, IdRange, Rule};
use crate::variables::VarSpec;

mod actions;
mod matching;
mod request;
mod rule;
mod targets;

/// What the rule loop does after a rule.
enum Flow<'a> {
    Next,
    /// Stop the phase (interruption, `allow`, engine off).
    Stop,
    SkipAfter(&'a str),
    Skip(u32),
}

/// A value produced by a target: its name (`ARGS:q`) and bytes.
type Value = (String, Vec<u8>);

/// A transaction collection (`TX`, `IP`, …): keys lower-case. Keys and
/// values written from a rule's literal text (most `setvar`s) borrow it
/// from the rule set, so setting them allocates nothing.
type Collection<'a> = BTreeMap<Cow<'a, str>, Cow<'a, [u8]>>;

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
pub(super) struct Tx<'a> {
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
    pub(super) tx: Collection<'a>,
    /// The other collections (`IP`, `GLOBAL`, …: one request only).
    pub(super) collections: HashMap<String, Collection<'a>, IdBuild>,
    /// Scratch buffer for macro expansion in `setvar`.
    scratch: Vec<u8>,
    pub(super) matched_var: Option<Value>,
    /// `MATCHED_VARS` of the current rule: the first `matched_vars_len`
    /// entries (the rest are spare buffers for reuse).
    matched_vars: Vec<Value>,
    pub(super) matched_vars_len: usize,
    /// Name of the first value the current rule's first link matched (the
    /// logged variable name), in a reused buffer.
    first_name: String,
    /// Spare buffers for [`Tx::eval_rule`]'s matches.
    hit_pool: Vec<Hit>,
    removed_ids: Vec<IdRange>,
    removed_tags: Vec<String>,
    removed_targets_id: Vec<(IdRange, VarSpec)>,
    removed_targets_tag: Vec<(String, VarSpec)>,
    pub(super) current_rule: Option<&'a Rule>,
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
    /// which share the pattern: see
    /// [`share_selectors`](crate::engine::optimise::share_selectors)).
    selector_cache: RefCell<HashMap<(usize, u32), bool, IdBuild>>,
    /// Per (detector, captures wanted) a map value bytes → libinjection's
    /// outcome (looked up by `&[u8]`, so a miss allocates only to insert).
    /// Keyed by the bytes (with std's randomly seeded hasher, since they come
    /// from the request): the same bytes often reach the detector more than
    /// once (repeated form values, `multiMatch` intermediate values equal to
    /// another value's), and a call costs 10–200 thousand instructions.
    libinjection_cache: RefCell<[HashMap<Box<[u8]>, OpOutcome>; 4]>,
}

impl<'a> Tx<'a> {
    pub(in crate::engine) fn run(&mut self) {
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

    pub(in crate::engine) fn verdict(self) -> Verdict {
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
