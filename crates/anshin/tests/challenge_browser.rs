//! The bot challenge widget (C7) in a real browser: Debian's chromium,
//! driven by `e2e/challenge.spec.mjs` (playwright-core), solves the
//! challenge on /login and /signup under the site's strict CSP with no
//! console error and no CSP violation; the solutions it produced are then
//! accepted by the server's `challenge::check`, once each.
//!
//! Needs node, chromium and `e2e/node_modules` (`scripts/setup --test`
//! installs them); fails with that message when they are missing.
// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use anshin::challenge::{CaptchaSettings, ChallengeError, Challenges, check};
use anshin::clock::Clock;
use anshin::web::{AppState, Inner};
use anshin_testkit::{Backend, TestApp};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn state_for(app: &TestApp) -> AppState {
    let settings = anshin_testkit::test_settings(app.data_dir.clone());
    let keys = anshin::keys::Keys::load_or_create(&app.keys_file).unwrap();
    let waf = anshin::web::waf::load(&settings).unwrap();
    AppState::new(Inner {
        waf,
        challenges: Challenges::new(&CaptchaSettings::default()).unwrap(),
        metrics: Default::default(),
        passwords: anshin::accounts::password::Passwords::new(settings.password_params(), 1)
            .unwrap(),
        settings: Arc::new(settings),
        store: app.store.clone(),
        clock: Arc::new(app.clock.clone()) as Arc<dyn Clock>,
        catalogs: anshin::i18n::Catalogs::load().unwrap(),
        assets: anshin::web::assets::Assets::new(),
        origin: app.origin.clone(),
        accepted_origins: vec![app.origin.clone()],
        keys: Arc::new(keys),
    })
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
