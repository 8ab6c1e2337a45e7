//! The bot challenge widget (C7) in a real browser: Debian's chromium,
//! driven by `e2e/challenge.spec.mjs` (playwright-core), solves the
//! challenge on /login and /signup under the site's strict CSP with no
//! console error and no CSP violation; the solutions it produced are then
//! accepted by the server's `challenge::check`, once each.
//!
//! Needs node, chromium and `e2e/node_modules` (`scripts/setup --test`
//! installs them); fails with that message when they are missing.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use anshin_core::Services;
use anshin_core::challenge::{ChallengeError, check};
use anshin_testkit::{Backend, TestApp};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A second core on the server's database and key ring.
fn state_for(app: &TestApp) -> Services {
    app.core_with_captcha(app.services.settings.captcha.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c07_widget_solves_the_challenge_in_chromium_under_the_csp() {
    let root = repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "chromium is missing at {chromium}: run scripts/setup --test"
    );
    assert!(
        root.join("e2e/node_modules/playwright-core").is_dir(),
        "e2e/node_modules is missing: run scripts/setup --test (npm install --prefix e2e)"
    );
    let app = TestApp::spawn(Backend::Sqlite).await;
    let out = tokio::process::Command::new("node")
        .arg(root.join("e2e/challenge.spec.mjs"))
        .arg(&app.origin)
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("node is missing: run scripts/setup --test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed:\n{stderr}\n{stdout}"
    );
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON result line");
    let solutions: Vec<String> = v["solutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(solutions.len(), 2, "one from /login, one from /signup");
    let state = state_for(&app);
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for s in &solutions {
        assert_eq!(
            check(&state, Some(s), ip, 0).await,
            Ok(()),
            "browser solution"
        );
        assert_eq!(
            check(&state, Some(s), ip, 0).await,
            Err(ChallengeError::Invalid),
            "browser solution replayed"
        );
    }
    app.stop().await;
}
