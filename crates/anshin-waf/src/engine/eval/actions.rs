//! A matching rule's non-disruptive actions: `setvar` on the transaction
//! collections and `ctl` changes for the rest of the transaction. Must
//! never keep anything beyond the transaction (`IP`, `GLOBAL`, … live for
//! one request here), and a literal key or value is borrowed from the rule
//! set, not copied.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::Tx;
use crate::operators::atoi;
use crate::rules::{Ctl, Rule, SetOp};

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

impl<'a> Tx<'a> {
    pub(super) fn run_actions(&mut self, rule: &'a Rule) {
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
}
