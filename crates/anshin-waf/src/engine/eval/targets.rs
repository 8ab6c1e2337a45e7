//! The values a rule's targets name: request collections and scalars,
//! transaction collections, `MATCHED_VARS`, counts, exclusions (at load
//! time and by `ctl`), regex selectors; and macro expansion (`%{tx.x}`).
//! Values are visited by reference: it must never copy a value it does not
//! hand out, nor change the transaction (it only takes `&self`).

use std::borrow::Cow;

use super::{Collection, Tx};
use crate::engine::cache::{SCALAR_SLOTS, src, value_id};
use crate::macros::Template;
use crate::rules::Rule;
use crate::variables::{Coll, Selector, VarSpec};

/// Callback of the member visitor: key, bytes and value id.
pub(super) type MemberFn<'f> = dyn FnMut(&str, &[u8], Option<u32>) + 'f;

/// Callback of the value visitors: name, bytes and value id.
pub(super) type ValueFn<'f> = dyn FnMut(VarName<'_>, &[u8], Option<u32>) + 'f;

/// The name of a produced value, built only when the value matches.
#[derive(Clone, Copy)]
pub(super) struct VarName<'a> {
    col: &'a str,
    key: Option<&'a str>,
}

impl VarName<'_> {
    /// ModSecurity's display name: `ARGS:q`, `REQUEST_URI`, `XML`, or for
    /// `MATCHED_VARS` the name of the variable that matched; written into a
    /// reused buffer.
    #[inline]
    pub(super) fn render_into(&self, s: &mut String) {
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

impl<'a> Tx<'a> {
    /// Visit all values of a rule's targets, minus exclusions.
    pub(super) fn visit_targets(&self, rule: &Rule, f: &mut ValueFn<'_>) {
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
    pub(super) fn selector_matches(&self, s: &Selector, key: &str, member: Option<u32>) -> bool {
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
    pub(super) fn members(&self, kind: Coll, col: &str, f: &mut MemberFn<'_>) {
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
    pub(super) fn visit(
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
    pub(super) fn scalar(&self, col: &str) -> Option<(Cow<'_, [u8]>, Option<u32>)> {
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
    pub(super) fn collection(&self, name: &str) -> Option<&Collection<'a>> {
        if name == "TX" {
            Some(&self.tx)
        } else {
            self.collections.get(name)
        }
    }

    /// Append the first value of `%{collection.key}` to `out`.
    pub(super) fn resolve_into(&self, col: &str, key: Option<&str>, out: &mut Vec<u8>) {
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

    pub(super) fn expand(&self, t: &Template) -> Vec<u8> {
        let mut out = Vec::new();
        self.expand_into(t, &mut out);
        out
    }

    /// Append the expansion of `t` to `out`.
    pub(super) fn expand_into(&self, t: &Template, out: &mut Vec<u8>) {
        t.expand_into(out, &mut |c, k, out| self.resolve_into(c, k, out));
    }
}
