//! Running a rule's operator on one value: the transformation chain (its
//! results cached per value and chain prefix), `multiMatch`, the cache of
//! libinjection's answers, and the shared regex sets with the set-group
//! shortcut. Must never answer differently from the operator run on the
//! transformed value itself.

use std::rc::Rc;

use regex::bytes::SetMatches;

use super::Tx;
use crate::engine::cache::{GroupUnion, SetRef, Transformed, stable_target};
use crate::macros::Template;
use crate::operators::{OpOutcome, Operator};
use crate::rules::Rule;

impl<'a> Tx<'a> {
    /// The value after the transformation chain `chain`. Results of values
    /// with an id are cached per chain prefix for the transaction, so rules
    /// that share a chain (or its start) transform a value once.
    pub(super) fn transformed<'v>(
        &self,
        value: &'v [u8],
        id: Option<u32>,
        chain: u32,
    ) -> Transformed<'v> {
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
    pub(super) fn op_eval(
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
    pub(super) fn eval_value(
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
    pub(super) fn value_epoch(&self) -> (bool, u32) {
        (self.body_parsed, self.scalar_generation)
    }

    /// Whether some value of the rule's targets can match the rule's
    /// pattern in its shared set; false means the rule (not negated)
    /// matches nothing and need not visit its values.
    ///
    /// Every rule of a set group has the same targets, exclusions and
    /// transformations (the group's key, [`build_regex_sets`](crate::engine::optimise::build_regex_sets)), so when no
    /// `ctl` has removed targets at run time they all visit the same
    /// values. When those values are fixed — every target is
    /// [`stable_target`] and every visited value had an id — the union of
    /// the set's answers over them, computed once per epoch, tells each
    /// rule of the group whether any of its values matches its pattern.
    /// The per-value answers are the ones [`Tx::eval_from_set`] uses (the
    /// same cache), so a rule skipped here would have matched no value.
    pub(super) fn group_may_match(
        &self,
        rule: &Rule,
        (group, chain, set, idx): SetRef<'_>,
    ) -> bool {
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
    pub(super) fn eval_from_set(
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
}
