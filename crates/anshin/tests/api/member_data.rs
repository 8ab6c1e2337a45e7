//! Personal data (C13): phone, shipping addresses and bank account are
//! encrypted before they reach the database, moved or tampered ciphertexts
//! give a clear error, keys rotate and values re-encrypt online, and a
//! shredded member's data is gone, from backups too. Real HTTPS, real SMTP,
//! on SQLite and PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anshin_core::keys::Keys;
use anshin_core::member_data::{self, MemberDataError, sealed};
use anshin_core::random::Random;
use anshin_domain::MemberId;
use anshin_testkit::reqwest::{StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends};
use serde_json::{Value, json};
use uuid::Uuid;

backends!(
    c13_personal_data_never_reaches_the_database_in_clear,
    c13_moved_or_tampered_ciphertext_gives_a_clear_error,
    c13_shredded_member_is_unreadable_even_from_an_earlier_copy,
    c13_rotate_reencrypt_and_retire_run_online_and_resume_after_kill,
    c13_bad_fields_are_all_reported_and_bank_change_needs_recent_login,
    c13_addresses_page_shows_adds_and_deletes_with_csrf,
    c13_another_members_address_id_creates_no_data_key_for_the_caller,
    c13_retired_kek_takes_no_new_data_key_from_a_server_with_an_old_ring,
);

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    cookie: &str,
) -> anshin_testkit::reqwest::Response {
    let mut r = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .header(header::COOKIE, cookie);
    if let Some(b) = body {
        r = r.json(&b);
    } else if method != "GET" {
        // The API's CSRF rule: every unsafe request is typed JSON.
        r = r.header(header::CONTENT_TYPE, "application/json");
    }
    r.send().await.unwrap()
}

/// Signs up through the API and the mailed code; returns the session cookie.
async fn sign_up(app: &TestApp, email: &str) -> String {
    app.sign_up(email, "山田 花子", 0).await.session
}

async fn member_id(app: &TestApp, cookie: &str) -> Uuid {
    let me: Value = send(app, "GET", "/api/v1/me", None, cookie)
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().parse().unwrap()
}

const PHONE: &str = "090-8765-4321";
const RECIPIENT: &str = "鈴木 花子";
const CITY: &str = "渋谷区";
const LINE1: &str = "神宮前六丁目二十三番";
const LINE2: &str = "安心ハイツ九〇八号室";
const ACCOUNT_NUMBER: &str = "7654321";
const HOLDER: &str = "スズキ ハナコ";

fn address(recipient: &str) -> Value {
    json!({
        "recipient_name": recipient, "postal_code": "150-0001", "prefecture": "東京都",
        "city": CITY, "line1": LINE1, "line2": LINE2, "phone": "03-5468-1357"
    })
}

/// Stores a phone, an address and a bank account through the API.
async fn store_everything(app: &TestApp, cookie: &str) {
    let res = send(
        app,
        "PUT",
        "/api/v1/me/phone",
        Some(json!({"phone": PHONE})),
        cookie,
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "{:?}",
        res.text().await
    );
    let res = send(
        app,
        "POST",
        "/api/v1/me/addresses",
        Some(address(RECIPIENT)),
        cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    let res = send(
        app,
        "PUT",
        "/api/v1/me/bank-account",
        Some(
            json!({"bank_code": "0005", "branch_code": "123", "account_type": "ordinary",
                     "account_number": ACCOUNT_NUMBER, "holder_kana": HOLDER}),
        ),
        cookie,
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "{:?}",
        res.text().await
    );
}

/// Every byte the database holds: the SQLite file and its WAL, or a
/// `pg_dump` of the PostgreSQL database.
pub(crate) fn database_bytes(app: &TestApp) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => {
            let path = app
                .database_url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap()
                .to_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend_from_slice(&wal);
            }
            assert!(bytes.len() > 4096, "read the database file");
            bytes
        }
        Backend::Postgres => {
            let out = Command::new("pg_dump")
                .arg("--no-owner")
                .arg("--schema")
                .arg(app.database_schema().unwrap())
                .arg(&app.database_url)
                .output()
                .expect("pg_dump is installed (postgresql-client)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("member_phones"));
            out.stdout
        }
    }
}

/// `needle` in UTF-8, UTF-16LE and UTF-16BE.
pub(crate) fn encodings(needle: &str) -> Vec<Vec<u8>> {
    let le: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = needle.encode_utf16().flat_map(u16::to_be_bytes).collect();
    vec![needle.as_bytes().to_vec(), le, be]
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

async fn c13_personal_data_never_reaches_the_database_in_clear(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let email = "hanako@example.jp";
    let cookie = sign_up(&app, email).await;
    store_everything(&app, &cookie).await;

    // The owner reads everything back; /me shows only masks.
    let me: Value = send(&app, "GET", "/api/v1/me", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["phone"], "090-****-4321");
    assert_eq!(me["bank_account"]["account_number"], "****321");
    assert_eq!(me["bank_account"]["account_type"], "ordinary");
    let list: Value = send(&app, "GET", "/api/v1/me/addresses", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["recipient_name"], RECIPIENT);
    assert_eq!(list[0]["city"], CITY);
    assert_eq!(list[0]["postal_code"], "150-0001");
    assert_eq!(list[0]["is_default"], true);
    // The bank change was announced by mail (sign-up code, welcome, notice).
    let mails = app.mails_to(email, 3).await;
    assert!(
        mails
            .iter()
            .any(|m| m.subject.contains("振込先口座") || m.subject.contains("bank account"))
    );

    // Neither the typed forms nor the canonical ones are in the database.
    let mut secrets: Vec<String> = [
        PHONE,
        "09087654321",
        "+819087654321",
        "0354681357",
        "+81354681357",
        RECIPIENT,
        CITY,
        LINE1,
        LINE2,
        ACCOUNT_NUMBER,
        HOLDER,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for field in ["recipient_name", "city", "line1", "line2"] {
        secrets.push(list[0][field].as_str().unwrap().to_owned());
    }
    let bytes = database_bytes(&app);
    // Positive control: the e-mail address is stored in clear, so the
    // search does see the rows.
    assert!(
        contains(&bytes, email.as_bytes()),
        "{b:?}: the dump misses the members table"
    );
    for s in &secrets {
        for (i, form) in encodings(s).iter().enumerate() {
            assert!(
                !contains(&bytes, form),
                "{b:?}: personal data in clear in the database (encoding #{i} of a {}-char value)",
                s.chars().count()
            );
        }
    }
    app.stop().await;
}

/// Direct SQL on the test database, as an attacker with write access.
async fn exec(app: &TestApp, sql: &'static str, blob: Option<Vec<u8>>, ids: &[Uuid]) {
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let mut q = sqlx::query(sql);
            if let Some(b) = blob {
                q = q.bind(b);
            }
            for id in ids {
                q = q.bind(*id);
            }
            assert_eq!(q.execute(&pool).await.unwrap().rows_affected(), 1, "{sql}");
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let mut q = sqlx::query(sql);
            if let Some(b) = blob {
                q = q.bind(b);
            }
            for id in ids {
                q = q.bind(*id);
            }
            assert_eq!(q.execute(&pool).await.unwrap().rows_affected(), 1, "{sql}");
            pool.close().await;
        }
    }
}

/// How many `member_keys` rows the member has (0 or 1).
async fn member_key_rows(app: &TestApp, member: Uuid) -> i64 {
    let sql = "SELECT COUNT(*) FROM member_keys WHERE member_id = $1";
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(sql)
                .bind(member)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(sql)
                .bind(member)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        }
    }
}

pub(crate) async fn fetch_blob(app: &TestApp, sql: &'static str, id: Uuid) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let (b,): (Vec<u8>,) = sqlx::query_as(sql).bind(id).fetch_one(&pool).await.unwrap();
            pool.close().await;
            b
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let (b,): (Vec<u8>,) = sqlx::query_as(sql).bind(id).fetch_one(&pool).await.unwrap();
            pool.close().await;
            b
        }
    }
}

async fn assert_unreadable(app: &TestApp, path: &str, cookie: &str) {
    let res = send(app, "GET", path, None, cookie).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "data_unreadable", "{path}: {body}");
    assert!(body["request_id"].is_string());
}

async fn c13_moved_or_tampered_ciphertext_gives_a_clear_error(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let alice = sign_up(&app, "alice@example.jp").await;
    let bob = sign_up(&app, "bob@example.jp").await;
    store_everything(&app, &alice).await;
    store_everything(&app, &bob).await;
    let (a, bo) = (member_id(&app, &alice).await, member_id(&app, &bob).await);

    // Alice's phone ciphertext copied into Bob's row: Bob's key, Bob's row.
    let alice_phone = fetch_blob(
        &app,
        "SELECT phone FROM member_phones WHERE member_id = $1",
        a,
    )
    .await;
    exec(
        &app,
        "UPDATE member_phones SET phone = $1 WHERE member_id = $2",
        Some(alice_phone),
        &[bo],
    )
    .await;
    assert_unreadable(&app, "/api/v1/me", &bob).await;
    let err = member_data::phone(&app.services, MemberId::from_uuid(bo))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MemberDataError::Unreadable {
                table: "member_phones",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("does not belong to this table/column/row"),
        "{err}"
    );

    // Alice's own bank ciphertext moved into her phone column: same key,
    // other table and column.
    let alice_bank = fetch_blob(
        &app,
        "SELECT account FROM bank_accounts WHERE member_id = $1",
        a,
    )
    .await;
    exec(
        &app,
        "UPDATE member_phones SET phone = $1 WHERE member_id = $2",
        Some(alice_bank),
        &[a],
    )
    .await;
    assert_unreadable(&app, "/api/v1/me", &alice).await;

    // One flipped byte in an address.
    let list = member_data::list_addresses(&app.services, MemberId::from_uuid(bo))
        .await
        .unwrap();
    let id = list[0].id.as_uuid();
    let mut ct = fetch_blob(
        &app,
        "SELECT address FROM shipping_addresses WHERE id = $1",
        id,
    )
    .await;
    ct[20] ^= 0x01;
    exec(
        &app,
        "UPDATE shipping_addresses SET address = $1 WHERE id = $2",
        Some(ct),
        &[id],
    )
    .await;
    assert_unreadable(&app, "/api/v1/me/addresses", &bob).await;

    // A wrapped key swapped between members opens for neither.
    let alice_key = fetch_blob(
        &app,
        "SELECT wrapped_key FROM member_keys WHERE member_id = $1",
        a,
    )
    .await;
    exec(
        &app,
        "UPDATE member_keys SET wrapped_key = $1 WHERE member_id = $2",
        Some(alice_key),
        &[bo],
    )
    .await;
    let err = member_data::bank_account(&app.services, MemberId::from_uuid(bo))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MemberDataError::Unreadable {
                table: "member_keys",
                ..
            }
        ),
        "{err}"
    );
    // The server is still up and other requests work.
    assert_eq!(
        send(&app, "GET", "/api/v1/me/sessions", None, &bob)
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

async fn c13_shredded_member_is_unreadable_even_from_an_earlier_copy(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let alice = sign_up(&app, "alice@example.jp").await;
    let bob = sign_up(&app, "bob@example.jp").await;
    store_everything(&app, &alice).await;
    store_everything(&app, &bob).await;
    let (a, bo) = (member_id(&app, &alice).await, member_id(&app, &bob).await);

    // The copy taken before shredding (a backup): Alice's wrapped key and
    // her ciphertexts.
    let backup_key = fetch_blob(
        &app,
        "SELECT wrapped_key FROM member_keys WHERE member_id = $1",
        a,
    )
    .await;
    let backup_phone = fetch_blob(
        &app,
        "SELECT phone FROM member_phones WHERE member_id = $1",
        a,
    )
    .await;

    assert!(
        member_data::shred(&app.services, MemberId::from_uuid(a))
            .await
            .unwrap()
    );
    // The wrapped key is gone, and with it every value of hers.
    let md = app.store.member_data();
    assert!(
        md.member_key(MemberId::from_uuid(a))
            .await
            .unwrap()
            .is_none()
    );
    assert!(md.phone(MemberId::from_uuid(a)).await.unwrap().is_none());
    assert!(
        md.bank_account(MemberId::from_uuid(a))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        md.list_addresses(MemberId::from_uuid(a))
            .await
            .unwrap()
            .is_empty()
    );
    let me: Value = send(&app, "GET", "/api/v1/me", None, &alice)
        .await
        .json()
        .await
        .unwrap();
    assert!(me["phone"].is_null() && me["bank_account"].is_null());

    // Nothing the live system still holds opens the copy's ciphertext:
    // there is no key for Alice, and Bob's key fails.
    let keys = Keys::load_or_create(&app.keys_file, &Random::os()).unwrap();
    assert!(
        sealed::existing_key_in(app.store.as_ref(), &keys, MemberId::from_uuid(a))
            .await
            .unwrap()
            .is_none()
    );
    let bob_key = sealed::existing_key_in(app.store.as_ref(), &keys, MemberId::from_uuid(bo))
        .await
        .unwrap()
        .unwrap();
    let ctx = sealed::context(anshin_store::SealedTable::Phones, a.as_bytes());
    assert!(anshin_vault::fields::decrypt(&bob_key, &ctx, &backup_phone).is_err());

    // The backup still holds her wrapped key, which opens while KEK v1
    // lives...
    let dek = keys.ring().unwrap(&backup_key, a.as_bytes()).unwrap();
    assert!(anshin_vault::fields::decrypt(&dek, &ctx, &backup_phone).is_ok());
    // ...and dies once v1 is rotated away and retired (what ADR 0006
    // schedules after every shredding batch).
    let clock = anshin_core::clock::SystemClock;
    let (v, n) = anshin_core::rotation::rotate(app.store.as_ref(), &keys, &clock, &Random::os())
        .await
        .unwrap();
    assert_eq!((v, n), (2, 1), "only Bob's key is left to rewrap");
    anshin_core::rotation::retire(app.store.as_ref(), &keys, &clock, 1)
        .await
        .unwrap();
    let reloaded = Keys::load_or_create(&app.keys_file, &Random::os()).unwrap();
    assert_eq!(
        reloaded
            .ring()
            .unwrap(&backup_key, a.as_bytes())
            .unwrap_err(),
        anshin_vault::VaultError::RetiredKek(1)
    );
    // Bob's data still reads through the running server.
    let me: Value = send(&app, "GET", "/api/v1/me", None, &bob)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["phone"], "090-****-4321");
    app.stop().await;
}

async fn c13_bad_fields_are_all_reported_and_bank_change_needs_recent_login(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "taro@example.jp").await;
    let res = send(
        &app,
        "POST",
        "/api/v1/me/addresses",
        Some(
            json!({"recipient_name": "", "postal_code": "12", "prefecture": "Atlantis",
                    "city": CITY, "line1": LINE1}),
        ),
        &cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_fields");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["recipient_name", "postal_code", "prefecture"]);
    assert!(body["fields"][0]["code"].is_string() && body["fields"][0]["message"].is_string());

    // Defaults: the first address is the default; a new default takes over;
    // deleting the default promotes the oldest remaining one.
    let mut ids = Vec::new();
    for (name, default) in [("一", false), ("二", false), ("三", true)] {
        let mut body = address(&format!("山田 {name}"));
        body["is_default"] = json!(default);
        let res = send(&app, "POST", "/api/v1/me/addresses", Some(body), &cookie).await;
        let v: Value = res.json().await.unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let list: Value = send(&app, "GET", "/api/v1/me/addresses", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    let defaults: Vec<bool> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["is_default"].as_bool().unwrap())
        .collect();
    assert_eq!(defaults, [false, false, true]);
    let res = send(
        &app,
        "DELETE",
        &format!("/api/v1/me/addresses/{}", ids[2]),
        None,
        &cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send(
        &app,
        "PUT",
        &format!("/api/v1/me/addresses/{}", ids[1]),
        Some(address("佐藤 次郎")),
        &cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let list: Value = send(&app, "GET", "/api/v1/me/addresses", None, &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["is_default"], true);
    assert_eq!(list[1]["recipient_name"], "佐藤 次郎");
    // Another member cannot touch them.
    let other = sign_up(&app, "other@example.jp").await;
    let res = send(
        &app,
        "DELETE",
        &format!("/api/v1/me/addresses/{}", ids[0]),
        None,
        &other,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // An hour later the session is no longer a recent login.
    app.clock.advance(3600 * anshin_testkit::SECOND);
    let res = send(
        &app,
        "PUT",
        "/api/v1/me/bank-account",
        Some(
            json!({"bank_code": "0005", "branch_code": "123", "account_type": "ordinary",
                     "account_number": ACCOUNT_NUMBER, "holder_kana": HOLDER}),
        ),
        &cookie,
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "reauthentication_required");
    assert!(
        app.store
            .member_data()
            .bank_account(MemberId::from_uuid(member_id(&app, &cookie).await))
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

/// `anshin keys …` against the running app's database and ring.
fn keys_cmd(app: &TestApp, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_anshin"));
    c.arg("--data-dir")
        .arg(&app.data_dir)
        .arg("keys")
        .args(args)
        .env("ANSHIN_DATABASE__URL", &app.database_url)
        .env("ANSHIN_KEYS__FILE", &app.keys_file)
        .env("ANSHIN_LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run_ok(app: &TestApp, args: &[&str]) -> String {
    let out = keys_cmd(app, args).output().unwrap();
    assert!(
        out.status.success(),
        "keys {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn c13_rotate_reencrypt_and_retire_run_online_and_resume_after_kill(b: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let app = Arc::new(TestApp::spawn_mail(b).await);
    let mut cookies = Vec::new();
    for who in ["a", "b", "c"] {
        let c = sign_up(&app, &format!("{who}@example.jp")).await;
        store_everything(&app, &c).await;
        let res = send(
            &app,
            "POST",
            "/api/v1/me/addresses",
            Some(address("田中 一郎")),
            &c,
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        cookies.push(c);
    }
    // 3 members × (phone, 2 addresses, bank) = 12 values.

    // Readers run during every step.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = {
        let (app, stop, ok, failed, cookies) = (
            app.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
            cookies.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for c in &cookies {
                    for path in ["/api/v1/me", "/api/v1/me/addresses"] {
                        let res = send(&app, "GET", path, None, c).await;
                        let good = res.status() == StatusCode::OK
                            && res.text().await.unwrap().contains("****321")
                                == (path == "/api/v1/me");
                        let n = if good { &ok } else { &failed };
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };

    let status = run_ok(&app, &["status"]);
    assert!(status.contains("current KEK version: 1"), "{status}");
    assert!(status.contains("1\t3\t12"), "{status}");

    // keys.ring_env: the same ring from an environment variable works; it
    // cannot be rotated (nothing to write back); another ring is refused.
    let ring_text = std::fs::read_to_string(&app.keys_file).unwrap();
    let out = keys_cmd(&app, &["status"])
        .env("ANSHIN_KEYS__RING_ENV", "TEST_ANSHIN_RING")
        .env("TEST_ANSHIN_RING", &ring_text)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1\t3\t12"));
    let out = keys_cmd(&app, &["rotate"])
        .env("ANSHIN_KEYS__RING_ENV", "TEST_ANSHIN_RING")
        .env("TEST_ANSHIN_RING", &ring_text)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let other_dir = tempfile::tempdir().unwrap();
    let other = Keys::load_or_create(&other_dir.path().join("ring"), &Random::os()).unwrap();
    let out = keys_cmd(&app, &["status"])
        .env("ANSHIN_KEYS__RING_ENV", "TEST_ANSHIN_RING")
        .env("TEST_ANSHIN_RING", other.ring().to_text().as_str())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a different ring must be refused");
    assert_eq!(std::fs::read_to_string(&app.keys_file).unwrap(), ring_text);

    let out = tokio::task::spawn_blocking({
        let app = app.clone();
        move || run_ok(&app, &["rotate"])
    })
    .await
    .unwrap();
    assert!(
        out.contains("KEK version 2 is current; rewrapped 3 data key(s)"),
        "{out}"
    );
    let mode = std::fs::metadata(&app.keys_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let status = run_ok(&app, &["status"]);
    assert!(status.contains("2\t3\t12"), "{status}");

    // reencrypt one value per batch, killed after it committed some.
    let mut child = keys_cmd(
        &app,
        &["reencrypt", "--batch-size", "1", "--pause-ms", "300"],
    )
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let seen = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("reencrypt ended early").unwrap();
            if let Some(rest) = line.strip_prefix("progress ") {
                let done: u64 = rest.split('/').next().unwrap().parse().unwrap();
                if done >= 3 {
                    return done;
                }
            }
        }
    })
    .await
    .unwrap();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!((3..12).contains(&seen), "killed midway, after {seen}");
    let status = run_ok(&app, &["status"]);
    assert!(status.contains("reencrypt interrupted"), "{status}");

    let out = tokio::task::spawn_blocking({
        let app = app.clone();
        move || run_ok(&app, &["reencrypt", "--batch-size", "2"])
    })
    .await
    .unwrap();
    assert!(out.contains("re-encrypted 12 value(s) (resumed)"), "{out}");
    assert!(out.contains("0 unreadable"), "{out}");
    let status = run_ok(&app, &["status"]);
    assert!(status.contains("no reencrypt in progress"), "{status}");

    // v1 wraps nothing now: it can be retired, and nothing breaks.
    let out = run_ok(&app, &["retire", "1"]);
    assert!(out.contains("KEK version 1 retired"), "{out}");
    let refused = keys_cmd(&app, &["retire", "2"]).output().unwrap();
    assert!(
        !refused.status.success(),
        "the current version cannot be retired"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(
        failed, 0,
        "{failed} reads failed during maintenance ({ok} succeeded)"
    );
    assert!(ok > 20, "the readers ran ({ok})");
    // A fresh instance with the retired ring reads everything too.
    let sibling = app.sibling().await;
    for c in &cookies {
        let me: Value = send(&sibling, "GET", "/api/v1/me", None, c)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["phone"], "090-****-4321");
    }
    sibling.stop().await;
    match Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("app still shared"),
    }
}

fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("token in form") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn c13_addresses_page_shows_adds_and_deletes_with_csrf(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let cookie = sign_up(&app, "page@example.jp").await;
    store_everything(&app, &cookie).await;
    let page = send(&app, "GET", "/account/addresses", None, &cookie).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(RECIPIENT) && html.contains(CITY),
        "the owner sees the address"
    );
    let token = csrf_token(&html);

    // Without the token: refused, nothing added.
    let form = [
        ("recipient_name", "佐藤 三郎"),
        ("postal_code", "1000001"),
        ("prefecture", "東京都"),
        ("city", "千代田区"),
        ("line1", "千代田一番"),
        ("line2", ""),
        ("phone", ""),
    ];
    let res = app
        .client
        .post(app.url("/account/addresses"))
        .header(header::COOKIE, &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let id = member_id(&app, &cookie).await;
    assert_eq!(
        app.store
            .member_data()
            .list_addresses(MemberId::from_uuid(id))
            .await
            .unwrap()
            .len(),
        1
    );

    // With it: added, encrypted like the API's.
    let mut with_token: Vec<(&str, &str)> = form.to_vec();
    with_token.push(("csrf_token", &token));
    let res = app
        .client
        .post(app.url("/account/addresses"))
        .header(header::COOKIE, &cookie)
        .form(&with_token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {text}"
    );
    let html = send(&app, "GET", "/account/addresses", None, &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("佐藤 三郎") && html.contains("100-0001"));
    assert_eq!(
        app.store
            .member_data()
            .list_addresses(MemberId::from_uuid(id))
            .await
            .unwrap()
            .len(),
        2
    );

    // Field errors come back on the page, in the member's language.
    let bad = [
        ("recipient_name", ""),
        ("postal_code", "12"),
        ("prefecture", "東京都"),
        ("city", "千代田区"),
        ("line1", "千代田一番"),
        ("csrf_token", token.as_str()),
    ];
    let res = app
        .client
        .post(app.url("/account/addresses"))
        .header(header::COOKIE, &cookie)
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("role=\"alert\""));
    assert_eq!(
        app.store
            .member_data()
            .list_addresses(MemberId::from_uuid(id))
            .await
            .unwrap()
            .len(),
        2
    );

    // Delete the first one through its form.
    let first = app
        .store
        .member_data()
        .list_addresses(MemberId::from_uuid(id))
        .await
        .unwrap()[0]
        .id;
    let res = app
        .client
        .post(app.url(&format!("/account/addresses/{first}/delete")))
        .header(header::COOKIE, &cookie)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    let left = app
        .store
        .member_data()
        .list_addresses(MemberId::from_uuid(id))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert!(
        left[0].is_default,
        "the remaining address became the default"
    );

    // Logged out: to the login page, no data.
    let res = app
        .client
        .get(app.url("/account/addresses"))
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(!body.contains("佐藤 三郎"));
    app.stop().await;
}

/// `PUT` or `DELETE /api/v1/me/addresses/{id}` with another member's
/// address id (or an unknown one) is a 404 that leaves the caller without a
/// stray data key, and with their own key unchanged if they have one.
async fn c13_another_members_address_id_creates_no_data_key_for_the_caller(b: Backend) {
    let app = TestApp::spawn_mail(b).await;
    let alice = sign_up(&app, "alice@example.jp").await;
    let res = send(
        &app,
        "POST",
        "/api/v1/me/addresses",
        Some(address(RECIPIENT)),
        &alice,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let target: Uuid = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let before: Value = send(&app, "GET", "/api/v1/me/addresses", None, &alice)
        .await
        .json()
        .await
        .unwrap();

    let bob = sign_up(&app, "bob@example.jp").await;
    let bob_id = member_id(&app, &bob).await;
    assert_eq!(member_key_rows(&app, bob_id).await, 0);
    let paths = [
        format!("/api/v1/me/addresses/{target}"),
        format!("/api/v1/me/addresses/{}", Uuid::now_v7()),
    ];
    for path in &paths {
        let res = send(&app, "PUT", path, Some(address("乗取 太郎")), &bob).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "PUT {path}");
        assert_eq!(
            member_key_rows(&app, bob_id).await,
            0,
            "PUT {path} left the caller a data key"
        );
        let res = send(&app, "DELETE", path, None, &bob).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "DELETE {path}");
        assert_eq!(member_key_rows(&app, bob_id).await, 0, "DELETE {path}");
    }

    // With a key of his own (from his phone), the key stays as it was.
    let res = send(
        &app,
        "PUT",
        "/api/v1/me/phone",
        Some(json!({"phone": PHONE})),
        &bob,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let key = app
        .store
        .member_data()
        .member_key(MemberId::from_uuid(bob_id))
        .await
        .unwrap();
    for path in &paths {
        let res = send(&app, "PUT", path, Some(address("乗取 太郎")), &bob).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "PUT {path}");
    }
    assert_eq!(member_key_rows(&app, bob_id).await, 1);
    assert_eq!(
        app.store
            .member_data()
            .member_key(MemberId::from_uuid(bob_id))
            .await
            .unwrap(),
        key
    );

    let after: Value = send(&app, "GET", "/api/v1/me/addresses", None, &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, before, "Alice's address is untouched");
    app.stop().await;
}

/// A server whose ring predates a rotation (its host's copy of the ring
/// file is not updated yet; a ring from `keys.ring_env` behaves the same)
/// still wraps new members' data keys under the old KEK version. `keys
/// retire` of that version must then either refuse (a key already uses
/// it) or make the database refuse the stale server's new key: never a
/// stored key under a destroyed KEK.
async fn c13_retired_kek_takes_no_new_data_key_from_a_server_with_an_old_ring(b: Backend) {
    use anshin_core::rotation::{self, RotationError};
    let app = TestApp::spawn_mail(b).await;
    let alice = sign_up(&app, "alice@example.jp").await;
    store_everything(&app, &alice).await;

    let stale_dir = tempfile::tempdir().unwrap();
    let stale_ring = stale_dir.path().join("keyring");
    std::fs::copy(&app.keys_file, &stale_ring).unwrap();
    let stale = app
        .sibling_with({
            let ring = stale_ring.clone();
            move |s| s.keys.file = Some(ring)
        })
        .await;

    let keys = Keys::load_or_create(&app.keys_file, &Random::os()).unwrap();
    let clock = anshin_core::clock::SystemClock;
    let md = app.store.member_data();
    assert_eq!(
        rotation::rotate(app.store.as_ref(), &keys, &clock, &Random::os())
            .await
            .unwrap(),
        (2, 1)
    );

    // Before the retirement: Carol's first data through the stale server
    // gets a key under v1, so v1 cannot be retired yet.
    let carol = sign_up(&stale, "carol@example.jp").await;
    let carol_id = member_id(&stale, &carol).await;
    let res = send(
        &stale,
        "PUT",
        "/api/v1/me/phone",
        Some(json!({"phone": PHONE})),
        &carol,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        md.member_key(MemberId::from_uuid(carol_id))
            .await
            .unwrap()
            .unwrap()
            .kek_version,
        1
    );
    let refused = rotation::retire(app.store.as_ref(), &keys, &clock, 1).await;
    assert!(
        matches!(
            refused,
            Err(RotationError::StillInUse {
                version: 1,
                count: 1
            })
        ),
        "{refused:?}"
    );
    assert!(
        keys.ring().versions().any(|v| v == 1),
        "v1 kept in the ring"
    );
    // Rewrapped (what `keys rotate` and `keys reencrypt` do), v1 retires.
    assert_eq!(
        rotation::rewrap_all(app.store.as_ref(), &keys, &clock, &Random::os(), 500)
            .await
            .unwrap(),
        1
    );
    rotation::retire(app.store.as_ref(), &keys, &clock, 1)
        .await
        .unwrap();

    // After it: Bob's first data through the stale server is refused and
    // nothing is stored under the destroyed v1.
    let bob = sign_up(&stale, "bob@example.jp").await;
    let bob_id = member_id(&stale, &bob).await;
    let res = send(
        &stale,
        "PUT",
        "/api/v1/me/phone",
        Some(json!({"phone": PHONE})),
        &bob,
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "a key under the retired v1 was accepted"
    );
    let res = send(
        &stale,
        "POST",
        "/api/v1/me/addresses",
        Some(address(RECIPIENT)),
        &bob,
    )
    .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(member_key_rows(&app, bob_id).await, 0);
    assert!(
        md.kek_usage()
            .await
            .unwrap()
            .iter()
            .all(|u| u.kek_version == 2),
        "every stored key is under the live KEK"
    );

    // Once the host has the current ring, the same server (rereading its
    // file before it wraps) stores Bob's key under v2, readable everywhere.
    std::fs::copy(&app.keys_file, &stale_ring).unwrap();
    let res = send(
        &stale,
        "PUT",
        "/api/v1/me/phone",
        Some(json!({"phone": PHONE})),
        &bob,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        md.member_key(MemberId::from_uuid(bob_id))
            .await
            .unwrap()
            .unwrap()
            .kek_version,
        2
    );
    for cookie in [&alice, &bob, &carol] {
        let me: Value = send(&app, "GET", "/api/v1/me", None, cookie)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["phone"], "090-****-4321");
    }
    stale.stop().await;
    app.stop().await;
}
