//! SecLang parser: turns configuration text (CRS `.conf` files, extra
//! directives) into a [`RuleSet`]. Errors name the file and line.
//!
//! Quoting follows Apache's configuration reader, which CRS is written for:
//! inside double quotes, `\"` gives `"` and `\\` gives `\`; other backslashes
//! are kept. Lines ending in `\` continue on the next line; lines starting
//! with `#` are comments.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::LoadError;
use crate::engine::{Item, RuleSet};
use crate::operators::Operator;
use crate::rules::{Actions, EngineMode, IdRange, Rule, parse_actions};
use crate::variables::{VarSpec, parse_targets};

/// Directives accepted and ignored: they configure logging, limits, storage
/// or response handling, none of which changes request verdicts here.
const IGNORED: &[&str] = &[
    "seccomponentsignature",
    "seccollectiontimeout",
    "secargumentseparator",
    "secrequestbodylimit",
    "secrequestbodynofileslimit",
    "secrequestbodyinmemorylimit",
    "secrequestbodylimitaction",
    "secrequestbodyjsondepthlimit",
    "secargumentslimit",
    "secpcrematchlimit",
    "secpcrematchlimitrecursion",
    "secresponsebodyaccess",
    "secresponsebodymimetype",
    "secresponsebodylimit",
    "secresponsebodylimitaction",
    "secauditengine",
    "secauditlog",
    "secauditlogparts",
    "secauditlogrelevantstatus",
    "secauditlogtype",
    "secauditlogformat",
    "secauditlogstoragedir",
    "secauditlogdirmode",
    "secauditlogfilemode",
    "secdebuglog",
    "secdebugloglevel",
    "sectmpdir",
    "secdatadir",
    "secuploaddir",
    "secuploadkeepfiles",
    "secuploadfilemode",
    "sectmpsaveuploadedfiles",
    "seccookieformat",
    "secunicodemapfile",
    "secstatusengine",
    "secserversignature",
    "secgeolookupdb",
    "sechashengine",
    "sechashkey",
    "sechashparam",
    "sechashmethodrx",
    "sechashmethodpm",
    "secxmlexternalentity",
    "secconnengine",
    "secwebappid",
    "secsensorid",
    "secruleinheritance",
    "secruleperftime",
];

/// A logical line: directive name, arguments, and its first physical line.
struct Directive {
    name: String,
    args: Vec<String>,
    line: usize,
}

/// Split configuration text into directives.
fn tokenize(text: &str) -> Result<Vec<Directive>, (usize, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0;
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let trimmed = raw.trim();
        if logical.is_empty() {
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            start_line = lineno;
        }
        match raw.trim_end().strip_suffix('\\') {
            Some(body) => {
                logical.push_str(body);
                continue;
            }
            None => logical.push_str(raw),
        }
        let l = std::mem::take(&mut logical);
        out.push(
            split_directive(&l)
                .map_err(|e| (start_line, e))?
                .with_line(start_line),
        );
    }
    if !logical.is_empty() {
        out.push(
            split_directive(&logical)
                .map_err(|e| (start_line, e))?
                .with_line(start_line),
        );
    }
    Ok(out)
}

impl Directive {
    fn with_line(mut self, line: usize) -> Directive {
        self.line = line;
        self
    }
}

fn split_directive(l: &str) -> Result<Directive, String> {
    let mut args = Vec::new();
    let mut chars = l.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut cur = String::new();
        if c == '"' || c == '\'' {
            let quote = c;
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.peek() {
                        Some(&n) if n == quote || n == '\\' => {
                            cur.push(n);
                            chars.next();
                        }
                        _ => cur.push('\\'),
                    }
                } else if c == quote {
                    closed = true;
                    break;
                } else {
                    cur.push(c);
                }
            }
            if !closed {
                return Err("unterminated quoted argument".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                cur.push(c);
                chars.next();
            }
        }
        args.push(cur);
    }
    let mut it = args.into_iter();
    let name = it.next().unwrap_or_default();
    Ok(Directive {
        name,
        args: it.collect(),
        line: 0,
    })
}

/// Builds a rule set from successive sources.
pub struct Builder {
    pub(crate) set: RuleSet,
    chain: Vec<Rule>,
    defaults: HashMap<u8, Actions>,
    remove_ids: Vec<IdRange>,
    remove_tags: Vec<String>,
    update_targets: Vec<(IdRange, Vec<VarSpec>)>,
    update_targets_tag: Vec<(String, Vec<VarSpec>)>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// An empty builder with ModSecurity's built-in defaults.
    pub fn new() -> Builder {
        Builder {
            set: RuleSet::empty(),
            chain: Vec::new(),
            defaults: HashMap::new(),
            remove_ids: Vec::new(),
            remove_tags: Vec::new(),
            update_targets: Vec::new(),
            update_targets_tag: Vec::new(),
        }
    }

    /// Load one file (globs in `Include` are resolved against its directory).
    pub fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        self.load_str(&text, &path.display().to_string(), &base)
    }

    /// Load configuration text. `name` is used in errors; `base` resolves
    /// relative data files.
    pub fn load_str(&mut self, text: &str, name: &str, base: &Path) -> Result<(), LoadError> {
        let file: Arc<str> = Arc::from(name);
        let err = |line: usize, message: String| LoadError::Syntax {
            file: name.to_string(),
            line,
            message,
        };
        let directives = tokenize(text).map_err(|(l, m)| err(l, m))?;
        for d in directives {
            self.directive(&d, &file, base)
                .map_err(|m| err(d.line, m))?;
        }
        if !self.chain.is_empty() {
            return Err(err(
                self.chain.last().map_or(0, |r| r.line),
                "chain not terminated at end of file".into(),
            ));
        }
        Ok(())
    }

    fn arg(d: &Directive, i: usize) -> Result<&str, String> {
        d.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("{} needs at least {} argument(s)", d.name, i + 1))
    }

    fn directive(&mut self, d: &Directive, file: &Arc<str>, base: &Path) -> Result<(), String> {
        let lname = d.name.to_ascii_lowercase();
        match lname.as_str() {
            "secrule" => {
                let targets = parse_targets(Self::arg(d, 0)?)?;
                let op = Operator::parse(Self::arg(d, 1)?, base)?;
                let acts = d.args.get(2).map(String::as_str).unwrap_or("");
                self.add_rule(Some(targets), Some(op), acts, file, d.line)
            }
            "secaction" => self.add_rule(None, None, Self::arg(d, 0)?, file, d.line),
            "secmarker" => {
                let m = Self::arg(d, 0)?.to_string();
                for items in self.set.phases.iter_mut() {
                    items.push(Item::Marker(m.clone()));
                }
                Ok(())
            }
            "secdefaultaction" => {
                let mut a = Actions::default();
                parse_actions(Self::arg(d, 0)?, &mut a)?;
                let phase = a.phase.unwrap_or(2);
                self.defaults.insert(phase, a);
                Ok(())
            }
            "secruleengine" => {
                self.set.mode = EngineMode::parse(Self::arg(d, 0)?)
                    .ok_or_else(|| format!("bad SecRuleEngine `{}`", d.args.join(" ")))?;
                Ok(())
            }
            "secrequestbodyaccess" => {
                self.set.request_body_access = Self::arg(d, 0)?.eq_ignore_ascii_case("on");
                Ok(())
            }
            "secruleremovebyid" => {
                for a in &d.args {
                    for part in a.split([' ', ',']).filter(|s| !s.is_empty()) {
                        self.remove_ids
                            .push(IdRange::parse(part).ok_or_else(|| format!("bad id `{part}`"))?);
                    }
                }
                Ok(())
            }
            "secruleremovebytag" => {
                self.remove_tags.push(Self::arg(d, 0)?.to_string());
                Ok(())
            }
            "secruleremovebymsg" => Ok(()),
            "secruleupdatetargetbyid" => {
                let ids = Self::arg(d, 0)?;
                let targets = parse_targets(Self::arg(d, 1)?)?;
                for part in ids.split([' ', ',']).filter(|s| !s.is_empty()) {
                    let r = IdRange::parse(part).ok_or_else(|| format!("bad id `{part}`"))?;
                    self.update_targets.push((r, targets.clone()));
                }
                Ok(())
            }
            "secruleupdatetargetbytag" => {
                let tag = Self::arg(d, 0)?.to_string();
                let targets = parse_targets(Self::arg(d, 1)?)?;
                self.update_targets_tag.push((tag, targets));
                Ok(())
            }
            "include" => {
                let pattern = Self::arg(d, 0)?;
                for p in expand_glob(&base.join(pattern))? {
                    self.load_file(&p).map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            n if IGNORED.contains(&n) => Ok(()),
            _ => Err(format!("unsupported directive `{}`", d.name)),
        }
    }

    fn add_rule(
        &mut self,
        targets: Option<Vec<VarSpec>>,
        op: Option<Operator>,
        acts: &str,
        file: &Arc<str>,
        line: usize,
    ) -> Result<(), String> {
        let mut actions = Actions::default();
        parse_actions(acts, &mut actions)?;
        let is_child = !self.chain.is_empty();
        let phase = match self.chain.first() {
            Some(head) => head.phase,
            None => actions.phase.unwrap_or(2),
        };
        if !is_child {
            if actions.id.is_none() {
                return Err("rule has no id".into());
            }
            // Apply SecDefaultAction of the phase: transforms unless t:none,
            // logging flag.
            if let Some(def) = self.defaults.get(&phase) {
                if !actions.t_none {
                    let mut t = def.transforms.clone();
                    t.extend(actions.transforms.iter().copied());
                    actions.transforms = t;
                }
                if actions.log.is_none() {
                    actions.log = def.log;
                }
            }
        }
        let (targets, exclusions): (Vec<VarSpec>, Vec<VarSpec>) = match targets {
            Some(t) => t.into_iter().partition(|v| !v.exclude),
            None => (Vec::new(), Vec::new()),
        };
        let rule = Rule {
            id: actions.id.unwrap_or(0),
            phase,
            file: file.clone(),
            line,
            targets,
            exclusions,
            operator: op,
            actions,
            chained: None,
            set_slot: None,
            chain_id: 0,
            constant: None,
        };
        let more = rule.actions.chain;
        self.chain.push(rule);
        if more {
            return Ok(());
        }
        // Fold the chain: the last link hangs off the one before, and so on.
        let mut tail: Option<Box<Rule>> = None;
        while let Some(mut r) = self.chain.pop() {
            r.chained = tail;
            tail = Some(Box::new(r));
        }
        if let Some(head) = tail {
            let idx = usize::from(head.phase.clamp(1, 5) - 1);
            if let Some(items) = self.set.phases.get_mut(idx) {
                items.push(Item::Rule(Arc::new(*head)));
            }
        }
        Ok(())
    }

    /// Apply load-time removals/updates and return the rule set (the
    /// engine's load-time passes run on it next: `engine::load`).
    pub fn finish(mut self) -> RuleSet {
        for (phase, a) in &self.defaults {
            if let Some(d) = a.disruptive {
                self.set.default_disruptive.insert(*phase, (d, a.status));
            }
        }
        let remove_ids = std::mem::take(&mut self.remove_ids);
        let remove_tags = std::mem::take(&mut self.remove_tags);
        let updates = std::mem::take(&mut self.update_targets);
        let updates_tag = std::mem::take(&mut self.update_targets_tag);
        for items in self.set.phases.iter_mut() {
            items.retain(|it| match it {
                Item::Rule(r) => {
                    !remove_ids.iter().any(|x| x.contains(r.id))
                        && !r.actions.tags.iter().any(|t| remove_tags.contains(t))
                }
                Item::Marker(_) => true,
            });
            for it in items.iter_mut() {
                if let Item::Rule(r) = it {
                    let extra: Vec<VarSpec> = updates
                        .iter()
                        .filter(|(range, _)| range.contains(r.id))
                        .flat_map(|(_, v)| v.iter().cloned())
                        .collect();
                    let extra_tag: Vec<VarSpec> = updates_tag
                        .iter()
                        .filter(|(t, _)| r.actions.tags.contains(t))
                        .flat_map(|(_, v)| v.iter().cloned())
                        .collect();
                    if extra.is_empty() && extra_tag.is_empty() {
                        continue;
                    }
                    let mut nr = (**r).clone();
                    for v in extra.into_iter().chain(extra_tag) {
                        if v.exclude {
                            nr.exclusions.push(v);
                        } else {
                            nr.targets.push(v);
                        }
                    }
                    *r = Arc::new(nr);
                }
            }
        }
        self.set
    }
}

/// Expand a path whose file name may contain `*` wildcards; sorted.
pub fn expand_glob(p: &Path) -> Result<Vec<PathBuf>, String> {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains('*') && !name.contains('?') {
        return Ok(vec![p.to_path_buf()]);
    }
    let dir = p.parent().unwrap_or(Path::new("."));
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| wildcard(name.as_bytes(), n.to_string_lossy().as_bytes()))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Shell-style `*`/`?` matching.
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wildcard(rest, s.get(i..).unwrap_or_default())),
        Some((b'?', rest)) => !s.is_empty() && wildcard(rest, s.get(1..).unwrap_or_default()),
        Some((c, rest)) => s.first() == Some(c) && wildcard(rest, s.get(1..).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn tokenizes_continuations_and_quotes() {
        let d = tokenize(
            "# comment \\\nSecRule ARGS \"@rx a\\\"b\\\\c\" \\\n    \"id:1,\\\n    phase:2\"\nSecMarker END\n",
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "SecRule");
        assert_eq!(d[0].args[1], "@rx a\"b\\c");
        assert_eq!(d[0].args[2], "id:1,    phase:2");
        assert_eq!(d[0].line, 2);
        assert_eq!(d[1].args[0], "END");
    }

    #[test]
    fn errors_name_file_and_line() {
        let mut b = Builder::new();
        let e = b
            .load_str(
                "SecRuleEngine On\n\nSecRule ARGS \"@nosuch x\" \"id:1\"\n",
                "t.conf",
                Path::new("."),
            )
            .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("t.conf") && s.contains(":3"), "{s}");
        let mut b = Builder::new();
        assert!(b.load_str("SecFoo bar\n", "x", Path::new(".")).is_err());
        let mut b = Builder::new();
        assert!(
            b.load_str(
                "SecRule ARGS \"@rx a\" \"id:1,chain\"\n",
                "x",
                Path::new(".")
            )
            .is_err()
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"*.conf", b"a.conf"));
        assert!(!wildcard(b"*.conf", b"a.data"));
        assert!(wildcard(b"REQUEST-9??-*", b"REQUEST-901-X"));
    }
}
