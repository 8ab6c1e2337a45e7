//! The route inventory (`src/web/routes.txt`, issue 18 acceptance 3, C3)
//! is every route of the routers and nothing else. Axum does not list its
//! routes, so the site's are read from the source: every
//! `.route("…", get(…).post(…))` under `src/web/` outside the console
//! (the site, the webhooks and the static files, which `web::router`
//! merges); the console's come from its own route record
//! (`console::routes()`, the only way a route gets into the console).
//! `scripts/dast` reads the same file, reaches every route and fails when
//! the server's per-route metrics show one it did not reach.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anshin::web::console;

type Route = (String, String, String);

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web")
}

/// The inventory's routes (door, method, path); `no-attack` lines must say
/// why.
fn inventory() -> Vec<Route> {
    let text = std::fs::read_to_string(web_dir().join("routes.txt")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (route, note) = match line.split_once("no-attack:") {
            Some((r, why)) => (r, Some(why.trim())),
            None => (line, None),
        };
        if let Some(why) = note {
            assert!(why.len() > 10, "a no-attack route needs its reason: {line}");
        }
        let fields: Vec<&str> = route.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "door method path: {line}");
        assert!(["site", "console"].contains(&fields[0]), "{line}");
        out.push((fields[0].into(), fields[1].into(), fields[2].into()));
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The argument text of the call whose `(` is at `open`, up to its
/// matching `)` (string literals skipped).
fn call_args(src: &str, open: usize) -> &str {
    let bytes = src.as_bytes();
    let mut depth = 0;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return &src[open + 1..i];
                }
            }
            b'"' => {
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!("unbalanced call at byte {open}");
}

/// Every `.route("path", method_router)` in `src`: one route per method
/// function (`get(`, `post(`, `put(`, `patch(`, `delete(`) in the method
/// router.
fn routes_in(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in src.match_indices(".route(") {
        let args = call_args(src, at + ".route".len());
        let start = args.find('"').expect("a path literal") + 1;
        let end = start + args[start..].find('"').unwrap();
        let path = &args[start..end];
        let rest = &args[end + 1..];
        let mut found = 0;
        for (i, _) in rest.match_indices('(') {
            let ident: String = rest[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let before = rest[..i - ident.len()].chars().next_back();
            if ["get", "post", "put", "patch", "delete"].contains(&ident.as_str())
                && before != Some(':')
            {
                out.push((ident.to_uppercase(), path.to_owned()));
                found += 1;
            }
        }
        assert!(found > 0, "no method function for .route({path:?}, …)");
    }
    out
}

/// The site's routes as the source declares them.
fn site_routes() -> BTreeSet<Route> {
    let mut files = Vec::new();
    rust_files(&web_dir(), &mut files);
    let console_dir = web_dir().join("console");
    let mut set = BTreeSet::new();
    for file in files.iter().filter(|f| !f.starts_with(&console_dir)) {
        let src = std::fs::read_to_string(file).unwrap();
        for (method, path) in routes_in(&src) {
            set.insert(("site".to_owned(), method, path));
        }
    }
    set
}

#[test]
fn c03_the_route_parser_reads_method_routers() {
    let src = r#"Router::new()
        .route("/a", get(a).post(b))
        .route(
            "/b/{id}",
            put(edit_thing).layer(DefaultBodyLimit::max(get_limit(x))),
        )"#;
    assert_eq!(
        routes_in(src),
        [
            ("GET".to_owned(), "/a".to_owned()),
            ("POST".to_owned(), "/a".to_owned()),
            ("PUT".to_owned(), "/b/{id}".to_owned()),
        ]
    );
}

#[test]
fn c03_route_inventory_matches_the_routers() {
    let lines = inventory();
    let inventory: BTreeSet<Route> = lines.iter().cloned().collect();
    let mut routers = site_routes();
    for e in console::routes().entries() {
        routers.insert(("console".into(), e.method.to_string(), e.path.into()));
    }
    // The parser found the routers' routes at all (not an empty match).
    assert!(routers.len() > 200, "{}", routers.len());
    let missing: Vec<_> = routers.difference(&inventory).collect();
    let stale: Vec<_> = inventory.difference(&routers).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "src/web/routes.txt is out of date.\nroutes not in it: {missing:#?}\nlines without a route: {stale:#?}"
    );
    // No line twice.
    assert_eq!(lines.len(), inventory.len(), "a duplicate line");
}
