//! The rule loop: a phase's rules in order (after the load-time prefix in
//! phase 1), each rule's chain, its log entry, disruptive action and flow
//! (`skip`, `skipAfter`, `allow`). A log entry must never carry a matched
//! value: a [`RuleMatch`] names the variable only.

use std::borrow::Cow;

use super::{Flow, Hit, Tx, Value};
use crate::engine::optimise::PrefixStep;
use crate::engine::{Intervention, Item, RuleMatch};
use crate::macros::Template;
use crate::rules::{AllowScope, Constant, Disruptive, EngineMode, Rule};

impl<'a> Tx<'a> {
    pub(super) fn rule_removed(&self, r: &Rule) -> bool {
        self.removed_ids.iter().any(|x| x.contains(r.id))
            || (!self.removed_tags.is_empty()
                && r.actions.tags.iter().any(|t| self.removed_tags.contains(t)))
    }

    pub(super) fn run_phase(&mut self, phase: u8) {
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
    pub(super) fn run_rule(&mut self, rule: &'a Rule, phase: u8) -> Flow<'a> {
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
    /// load time ([`fold_constant_checks`](crate::engine::optimise::fold_constant_checks)): one matching value, or none.
    pub(super) fn apply_constant(&mut self, rule: &'a Rule, c: &Constant) -> bool {
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
    pub(in crate::engine) fn eval_chain(&mut self, rule: &'a Rule, head: bool) -> bool {
        if !self.eval_rule(rule, head) {
            return false;
        }
        match &rule.chained {
            Some(next) => self.eval_chain(next, false),
            None => true,
        }
    }

    /// Evaluate one rule; true when some value matched.
    pub(super) fn eval_rule(&mut self, rule: &'a Rule, head: bool) -> bool {
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
}
