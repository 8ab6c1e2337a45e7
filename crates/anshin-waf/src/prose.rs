//! Prose fields: the arguments, route by route, that take sentences people
//! write (a search query, an item's title and description, a message), and
//! the tuning profile's treatment of them.
//!
//! In prose, ordinary English and Japanese trip a few CRS rules (see
//! [`PROSE_RELAXED_RULES`] and `profiles/anshin-prose.conf`). The profile
//! takes those rules off an argument only on a route that declares it as
//! prose, as (method, route, field) data from the embedding application:
//! this crate knows no route and no field name of its own. The same
//! argument name anywhere else (`/?q=…` when only `GET /search` declares
//! `q`) meets the whole CRS.
//!
//! [`prose_field_rules`] turns the declarations into SecLang for
//! [`crate::LoadOptions::directives_before`], after
//! [`crate::ANSHIN_PROFILE_BEFORE`]: per (method, route), one phase-1 rule
//! whose `ctl:ruleRemoveTargetById` actions take the relaxed rules off
//! exactly that route's prose fields for that one request; and the two
//! narrower nets of `anshin-prose.conf` (a shell command after a separator,
//! a stacked SQL statement), which keep watching every argument with a
//! declared prose name.
//!
//! Declarations are checked before any text is built (a closed character
//! set for each part), so they cannot change the meaning of the rules.

/// The CRS rules a declared prose field skips on its route (each is
/// justified in `profiles/anshin-prose.conf`): command injection
/// 932100/932105/932110/932115, SQL 942190 and 942360, PHP 933210.
pub const PROSE_RELAXED_RULES: &[u64] = &[932100, 932105, 932110, 932115, 942190, 942360, 933210];

/// The narrower nets for prose fields, with `@PROSE_NAMES@` standing for
/// the declared field names.
const PROSE_NETS: &str = include_str!("../profiles/anshin-prose.conf");

/// First rule id of the generated route rules (10500–10999 are kept for
/// them in anshin's range 10000–10999).
const FIRST_ID: usize = 10_500;
const MAX_ROUTES: usize = 500;

/// Methods a route can declare.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One argument that takes prose on one route: `GET /search` `q`, `POST
/// /api/v1/items/{id}` `description`. The field is matched as a form or
/// query argument (`description`) and as a top-level JSON member
/// (`json.description`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProseField {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The route as the router writes it: literal segments of
    /// `A-Z a-z 0-9 _ . ~ -`, and whole-segment parameters `{name}` that
    /// match one non-empty segment. Matched against the whole decoded path.
    pub route: String,
    /// The argument name: `A-Z a-z 0-9 _ -`, at most 64 characters.
    pub field: String,
}

impl ProseField {
    pub fn new(method: &str, route: &str, field: &str) -> Self {
        Self {
            method: method.to_owned(),
            route: route.to_owned(),
            field: field.to_owned(),
        }
    }
}

/// A declaration that cannot be turned into rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProseFieldError {
    #[error("prose field method {0:?}: must be one of GET, POST, PUT, PATCH, DELETE")]
    Method(String),
    #[error(
        "prose field route {0:?}: must start with /, with segments of A-Z a-z 0-9 _ . ~ - or a whole-segment {{name}}"
    )]
    Route(String),
    #[error("prose field name {0:?}: must be 1 to 64 of A-Z a-z 0-9 _ -")]
    Field(String),
    #[error("{0} routes declare prose fields; at most {MAX_ROUTES}")]
    TooMany(usize),
}

fn check(f: &ProseField) -> Result<(), ProseFieldError> {
    if !METHODS.contains(&f.method.as_str()) {
        return Err(ProseFieldError::Method(f.method.clone()));
    }
    if route_regex(&f.route).is_none() {
        return Err(ProseFieldError::Route(f.route.clone()));
    }
    let name_ok = (1..=64).contains(&f.field.len())
        && f.field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(ProseFieldError::Field(f.field.clone()));
    }
    Ok(())
}

/// `^/items/[^/]+$` for `/items/{id}`; `None` if the route is not in the
/// accepted form. Literal characters are escaped although the accepted
/// set holds only `.` that needs it.
fn route_regex(route: &str) -> Option<String> {
    if !route.starts_with('/') || route.len() > 512 {
        return None;
    }
    let mut re = String::from("^");
    for (i, segment) in route.split('/').enumerate() {
        if i > 0 {
            re.push('/');
        }
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let ident =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ident {
                return None;
            }
            re.push_str("[^/]+");
            continue;
        }
        for c in segment.chars() {
            match c {
                'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '~' | '-' => re.push(c),
                '.' => re.push_str("\\."),
                _ => return None,
            }
        }
    }
    re.push('$');
    Some(re)
}

/// The SecLang for these prose fields (empty for none), to load in
/// [`crate::LoadOptions::directives_before`] after
/// [`crate::ANSHIN_PROFILE_BEFORE`]. Duplicates are merged; the order of
/// `fields` does not matter.
pub fn prose_field_rules(fields: &[ProseField]) -> Result<String, ProseFieldError> {
    for f in fields {
        check(f)?;
    }
    let mut sorted: Vec<&ProseField> = fields.iter().collect();
    sorted.sort();
    sorted.dedup();
    // (method, route) → its fields, in a stable order.
    let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for f in &sorted {
        match groups.last_mut() {
            Some((m, r, names)) if *m == f.method && *r == f.route => names.push(&f.field),
            _ => groups.push((&f.method, &f.route, vec![&f.field])),
        }
    }
    if groups.len() > MAX_ROUTES {
        return Err(ProseFieldError::TooMany(groups.len()));
    }
    let mut text = String::new();
    if groups.is_empty() {
        return Ok(text);
    }
    text.push_str(
        "# Generated from the application's prose field declarations\n\
         # (anshin_waf::prose_field_rules): the relaxed rules leave exactly\n\
         # these arguments alone, on exactly these routes.\n",
    );
    for (i, (method, route, names)) in groups.iter().enumerate() {
        let re = route_regex(route).ok_or_else(|| ProseFieldError::Route((*route).to_owned()))?;
        let mut ctls = Vec::new();
        for name in names {
            for id in PROSE_RELAXED_RULES {
                ctls.push(format!("ctl:ruleRemoveTargetById={id};ARGS:{name}"));
                ctls.push(format!("ctl:ruleRemoveTargetById={id};ARGS:json.{name}"));
            }
        }
        text.push_str(&format!(
            "SecRule REQUEST_FILENAME \"@rx {re}\" \"id:{},phase:1,pass,nolog,t:none,chain\"\n    \
             SecRule REQUEST_METHOD \"@streq {method}\" \"t:none,{}\"\n",
            FIRST_ID + i,
            ctls.join(",")
        ));
    }
    let mut all_names: Vec<&str> = groups
        .iter()
        .flat_map(|(_, _, names)| names.iter().copied())
        .collect();
    all_names.sort_unstable();
    all_names.dedup();
    // Names hold only [A-Za-z0-9_-]: nothing to escape in a regex.
    text.push_str(&PROSE_NETS.replace("@PROSE_NAMES@", &all_names.join("|")));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{Request, RuleSet};

    fn req(method: &str, uri: &str) -> Request {
        Request {
            method: method.into(),
            uri: uri.into(),
            protocol: "HTTP/1.1".into(),
            headers: vec![("Host".into(), b"localhost".to_vec())],
            remote_addr: "127.0.0.1".into(),
            body: Vec::new(),
        }
    }

    #[test]
    fn routes_become_anchored_patterns() {
        assert_eq!(route_regex("/search").unwrap(), "^/search$");
        assert_eq!(
            route_regex("/api/v1/items/{id}").unwrap(),
            "^/api/v1/items/[^/]+$"
        );
        assert_eq!(route_regex("/a.b/{x}/c").unwrap(), "^/a\\.b/[^/]+/c$");
        assert_eq!(route_regex("/").unwrap(), "^/$");
    }

    /// Whatever a declaration holds, it either is refused or yields text
    /// with no quote, newline, backslash-escape of our own or extra rule
    /// that it did not ask for.
    #[test]
    fn c06_declarations_cannot_inject_rule_text() {
        for bad in [
            ProseField::new("GET", "/x\" \"id:1,phase:1,deny", "q"),
            ProseField::new("GET", "/x\nSecRuleEngine Off", "q"),
            ProseField::new("GET", "/x", "q,ctl:ruleEngine=Off"),
            ProseField::new("GET", "/x", "q\"x"),
            ProseField::new("GET", "/x", ""),
            ProseField::new("GET", "/x", "json.q"),
            ProseField::new("GET", "/x/{*rest}", "q"),
            ProseField::new("GET", "/x/{a}b", "q"),
            ProseField::new("GET", "x", "q"),
            ProseField::new("GET", "/x/(.*)", "q"),
            ProseField::new("get", "/x", "q"),
            ProseField::new("TRACE", "/x", "q"),
            ProseField::new("GET /x", "/x", "q"),
        ] {
            assert!(
                prose_field_rules(std::slice::from_ref(&bad)).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(prose_field_rules(&[]).unwrap(), "");
    }

    #[test]
    fn c06_a_declared_field_skips_the_relaxed_rules_on_its_route_only() {
        let fields = [
            ProseField::new("GET", "/search", "q"),
            ProseField::new("POST", "/items/{id}", "title"),
            ProseField::new("GET", "/search", "q"),
        ];
        let text = prose_field_rules(&fields).unwrap();
        assert_eq!(text.matches("SecRule REQUEST_FILENAME").count(), 2);
        // A rule standing for the relaxed ones (a `;` then a command).
        let rules = format!(
            "{text}\nSecRule ARGS \"@rx ;\\s*sleep\" \"id:932100,phase:2,deny,status:403\"\n"
        );
        let rs = RuleSet::from_str(&rules, Path::new(".")).unwrap();
        let blocked = |m: &str, uri: &str| rs.evaluate(&req(m, uri)).disruptive.is_some();
        assert!(!blocked("GET", "/search?q=a;sleep%2060;"));
        assert!(
            blocked("GET", "/?q=a;sleep%2060;"),
            "same name, other route"
        );
        assert!(blocked("GET", "/search?x=a;sleep%2060;"), "other name");
        assert!(blocked("POST", "/search?q=a;sleep%2060;"), "other method");
        assert!(blocked("GET", "/search/more?q=a;sleep%2060;"));
        assert!(blocked("GET", "/Search?q=a;sleep%2060;"));
        assert!(blocked("GET", "/search?q=ok&x=a;sleep%2060;"));
        assert!(!blocked("POST", "/items/42?title=a;sleep%2060;"));
        assert!(blocked("POST", "/items/?title=a;sleep%2060;"), "empty id");
        assert!(blocked("POST", "/items/4/2?title=a;sleep%2060;"));
        assert!(blocked("POST", "/items/42?q=a;sleep%2060;"));
    }
}
