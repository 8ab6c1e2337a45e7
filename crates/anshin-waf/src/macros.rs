//! `%{collection.key}` macro templates, used by setvar, msg, logdata and
//! operator arguments. Parsed once at load time; expanded per transaction.

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// A variable reference: collection (upper-case) and optional key
    /// (lower-case), e.g. `%{tx.anomaly_score}` or `%{MATCHED_VAR}`.
    Var(String, Option<String>),
}

/// Appends the first value of `%{collection.key}` to the buffer.
pub type Resolver<'r> = dyn FnMut(&str, Option<&str>, &mut Vec<u8>) + 'r;

/// A string with macros.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Template {
    /// The pieces, in order.
    pub parts: Vec<Part>,
}

impl Template {
    /// Parse a template; an unterminated `%{` is kept literally.
    pub fn parse(s: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(pos) = rest.find("%{") {
            let (before, after) = rest.split_at(pos);
            lit.push_str(before);
            let inner = after.get(2..).unwrap_or_default();
            match inner.find('}') {
                Some(end) => {
                    let name = inner.get(..end).unwrap_or_default();
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    let (col, key) = match name.split_once(['.', ':']) {
                        Some((c, k)) => (c, Some(k.to_ascii_lowercase())),
                        None => (name, None),
                    };
                    parts.push(Part::Var(col.trim().to_ascii_uppercase(), key));
                    rest = inner.get(end + 1..).unwrap_or_default();
                }
                None => {
                    lit.push_str(after);
                    rest = "";
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Template { parts }
    }

    /// Whether the template has no macro (it expands to itself).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The text of a template without macros, borrowed.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// The literal text of a static template.
    pub fn literal(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.clone(),
                Part::Var(c, Some(k)) => format!("%{{{c}.{k}}}"),
                Part::Var(c, None) => format!("%{{{c}}}"),
            })
            .collect()
    }

    /// Expand with a resolver returning a variable's first value.
    #[cfg(test)]
    pub fn expand(&self, resolve: &mut dyn FnMut(&str, Option<&str>) -> Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        self.expand_into(&mut out, &mut |c, k, out| out.extend(resolve(c, k)));
        out
    }

    /// Append the expansion to `out`, with a resolver that appends a
    /// variable's first value (so expanding `%{tx.x}` copies once).
    pub fn expand_into(&self, out: &mut Vec<u8>, resolve: &mut Resolver<'_>) {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.extend_from_slice(s.as_bytes()),
                Part::Var(c, k) => resolve(c, k.as_deref(), out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_macros() {
        let t = Template::parse("a %{tx.Foo} b %{MATCHED_VAR}%{x");
        assert_eq!(
            t.parts,
            vec![
                Part::Lit("a ".into()),
                Part::Var("TX".into(), Some("foo".into())),
                Part::Lit(" b ".into()),
                Part::Var("MATCHED_VAR".into(), None),
                Part::Lit("%{x".into()),
            ]
        );
        let out = t.expand(&mut |c, _| c.as_bytes().to_vec());
        assert_eq!(out, b"a TX b MATCHED_VAR%{x");
        assert!(!t.is_static());
        assert!(Template::parse("plain").is_static());
    }
}
