//! Building a [`RuleSet`]: rule files, globs and SecLang text go through
//! the parser, then through the load-time passes of [`super::optimise`] in
//! a fixed order. Rule and data files are read only from here (through
//! the parser): this must never be reached from request evaluation, and a
//! bad file must be an error naming the file and line, never a panic.

use std::collections::HashMap;
use std::path::Path;

use super::{RuleSet, optimise};
use crate::rules::EngineMode;
use crate::{LoadError, LoadOptions, parser};

impl RuleSet {
    /// Load rule files. Each entry is a path or a glob whose file-name part
    /// may contain `*`/`?` (e.g. `/usr/share/modsecurity-crs/rules/*.conf`);
    /// glob matches load in name order. Data files (`@pmFromFile`) resolve
    /// relative to the rule file.
    pub fn load<P: AsRef<Path>>(paths: &[P], opts: &LoadOptions) -> Result<RuleSet, LoadError> {
        let mut b = parser::Builder::new();
        let here = Path::new(".");
        let mut settings = String::new();
        if let Some(pl) = opts.paranoia_level {
            settings.push_str(&format!(
                "SecAction \"id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={pl}\"\n"
            ));
        }
        if opts.inbound_anomaly_threshold.is_some() || opts.outbound_anomaly_threshold.is_some() {
            let mut acts = String::from("id:900110,phase:1,nolog,pass,t:none");
            if let Some(t) = opts.inbound_anomaly_threshold {
                acts.push_str(&format!(",setvar:tx.inbound_anomaly_score_threshold={t}"));
            }
            if let Some(t) = opts.outbound_anomaly_threshold {
                acts.push_str(&format!(",setvar:tx.outbound_anomaly_score_threshold={t}"));
            }
            settings.push_str(&format!("SecAction \"{acts}\"\n"));
        }
        b.load_str(&settings, "<options>", here)?;
        for (i, d) in opts.directives_before.iter().enumerate() {
            b.load_str(d, &format!("<before:{}>", i + 1), here)?;
        }
        for p in paths {
            let p = p.as_ref();
            let files = parser::expand_glob(p).map_err(|m| LoadError::Io {
                path: p.display().to_string(),
                message: m,
            })?;
            if files.is_empty() {
                return Err(LoadError::NoFiles(p.display().to_string()));
            }
            for f in files {
                b.load_file(&f)?;
            }
        }
        for (i, d) in opts.directives_after.iter().enumerate() {
            b.load_str(d, &format!("<after:{}>", i + 1), here)?;
        }
        let mut rs = finish(b);
        if let Some(m) = opts.engine_mode {
            rs.set_mode(m);
        }
        Ok(rs)
    }

    /// Load rules from SecLang text only (no files), e.g. for tests or
    /// app-specific rule sets. Data files resolve relative to `base`.
    pub fn from_str(text: &str, base: &Path) -> Result<RuleSet, LoadError> {
        let mut b = parser::Builder::new();
        b.load_str(text, "<string>", base)?;
        Ok(finish(b))
    }

    /// A rule set with no rules and the defaults (engine On, body access
    /// on), for the parser to fill.
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
}

/// The parsed rules, then the load-time passes in their fixed order:
/// [`optimise::compute_prefix`] and [`optimise::fold_constant_checks`]
/// evaluate rules, so they come after the passes that set what evaluation
/// reads (set slots, chain numbers), and the fixed checks build on the
/// prefix.
fn finish(b: parser::Builder) -> RuleSet {
    let mut rs = b.finish();
    optimise::build_regex_sets(&mut rs);
    optimise::number_chains(&mut rs);
    optimise::share_selectors(&mut rs);
    optimise::compute_prefix(&mut rs);
    optimise::fold_constant_checks(&mut rs);
    rs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_errors() {
        let e = RuleSet::load(&["/nonexistent/dir/*.conf"], &LoadOptions::default());
        assert!(e.is_err());
    }
}
