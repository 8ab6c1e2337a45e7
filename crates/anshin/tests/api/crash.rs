//! `kill -9` of the server while checkouts are under way (acceptance 5 of
//! issue 13). The real binary runs as a process with localstripe as its
//! processor and no webhooks at all (as if every one were lost); twelve
//! buyers pay at once and the process is killed in the middle. After a
//! restart, reconciliation alone must leave every order paid exactly once
//! or cancelled (its stock back), the processor must hold no second charge
//! for any order and no charge for a cancelled one, and `anshin ledger
//! check` must pass.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anshin_core::clock::SystemClock;
use anshin_core::random::Random;
use anshin_core::shops::{ItemInput, RawItem, RawShop, ShopInput};
use anshin_domain::{AttemptStatus, ItemStatus, OrderId, OrderStatus};
use anshin_store::Store;
use anshin_testkit::localstripe::{self, LocalStripe};
use anshin_testkit::process::ServerProcess;
use anshin_testkit::reqwest::{self, StatusCode};
use anshin_testkit::smtp::SmtpSink;
use anshin_testkit::{
    Backend, backends, client_for, code_in, cookie_pair, parse_mail, set_cookie, solve_challenge_at,
};
use futures_util::future::join_all;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_anshin");
const BUYERS: usize = 12;

backends!(c15_kill_9_mid_checkout_then_every_order_is_paid_once_or_cancelled);

struct Server {
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(&self) -> ServerProcess {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        ServerProcess::start(Path::new(BIN), self.dir.path(), &env)
    }
}

async fn sign_up(client: &reqwest::Client, origin: &str, sink: &SmtpSink, email: &str) -> String {
    let altcha = solve_challenge_at(client, &format!("{origin}/api/v1/challenge")).await;
    let res = client
        .post(format!("{origin}/api/v1/signup"))
        .json(&json!({"email": email, "display_name": "買う人", "accept_terms": true, "altcha": altcha}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let flow: Value = res.json().await.unwrap();
    let code = loop {
        let found = sink
            .messages()
            .iter()
            .map(|m| parse_mail(m))
            .filter(|m| m.to == email)
            .find_map(|m| code_in(&m.text));
        if let Some(c) = found {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let res = client
        .post(format!("{origin}/api/v1/signup/verify"))
        .json(&json!({"flow_id": flow["flow_id"], "code": code}))
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(set_cookie(&res, "__Host-anshin_session").unwrap());
    assert_eq!(res.status(), StatusCode::CREATED);
    cookie
}

async fn call(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    body: Value,
    cookie: &str,
) -> reqwest::Response {
    client
        .request(method.parse().unwrap(), url)
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn c15_kill_9_mid_checkout_then_every_order_is_paid_once_or_cancelled(b: Backend) {
    // Every answer of the processor comes 300 ms after it acted, so the
    // server dies with charges made whose answers it never read.
    let stripe = Arc::new(LocalStripe::start_with_latency(300));
    let sink = SmtpSink::start();
    let db = match b {
        Backend::Postgres => Some(
            anshin_store_postgres::scratch::ScratchDatabase::migrated()
                .await
                .unwrap(),
        ),
        Backend::Sqlite => None,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = vec![
        (
            "ANSHIN_PAYMENTS__API_BASE".into(),
            format!("{}/", stripe.base),
        ),
        (
            "ANSHIN_PAYMENTS__JS_URL".into(),
            format!("{}/js.stripe.com/v3/", stripe.base),
        ),
        (
            "ANSHIN_PAYMENTS__SECRET_KEY".into(),
            localstripe::SECRET_KEY.into(),
        ),
        (
            "ANSHIN_PAYMENTS__PUBLISHABLE_KEY".into(),
            localstripe::PUBLISHABLE_KEY.into(),
        ),
        (
            "ANSHIN_PAYMENTS__WEBHOOK_SECRET".into(),
            localstripe::WEBHOOK_SECRET.into(),
        ),
        ("ANSHIN_PAYMENTS__RESERVATION_SECS".into(), "15".into()),
        ("ANSHIN_PAYMENTS__RECONCILE_AFTER_SECS".into(), "1".into()),
        ("ANSHIN_PAYMENTS__RECONCILE_EVERY_SECS".into(), "1".into()),
        ("ANSHIN_JOBS__LEASE_SECS".into(), "2".into()),
        ("ANSHIN_CAPTCHA__DIFFICULTY".into(), "1000".into()),
        ("ANSHIN_MAIL__TRANSPORT".into(), "smtp".into()),
        ("ANSHIN_MAIL__SMTP__HOST".into(), "127.0.0.1".into()),
        ("ANSHIN_MAIL__SMTP__PORT".into(), sink.port.to_string()),
        ("ANSHIN_MAIL__SMTP__TLS".into(), "none".into()),
        ("ANSHIN_LOG__LEVEL".into(), "info".into()),
    ];
    if let Some(db) = &db {
        env.push(("ANSHIN_DATABASE__URL".into(), db.url().to_owned()));
    }
    let server = Server { env, dir };
    let mut proc = server.start();
    let origin = format!("https://localhost:{}", proc.public.port());
    let client = client_for(&proc.cert_pem());

    // A shop with 12 items in stock, made through the core on the same
    // database, as the catalog pages would.
    let settings = anshin::config::Settings::load(None, Some(server.dir.path())).unwrap();
    let store: Arc<dyn Store> = match &db {
        Some(db) => {
            Arc::new(anshin_store_postgres::PostgresStore::connect_lazy(db.url(), 4).unwrap())
        }
        None => Arc::new(
            anshin_store_sqlite::SqliteStore::open_file(&server.dir.path().join("anshin.db"))
                .await
                .unwrap(),
        ),
    };
    let random = Random::os();
    let keys =
        Arc::new(anshin_core::keys::Keys::load_or_create(&settings.keys_file(), &random).unwrap());
    let core = anshin_core::Services::offline(
        store.clone(),
        keys,
        Arc::new(SystemClock),
        random,
        settings.core(),
        &origin,
    )
    .unwrap();
    let seller_cookie = sign_up(&client, &origin, &sink, "seller@example.jp").await;
    let _ = seller_cookie;
    let seller = store
        .accounts()
        .find_member_by_email(&anshin_domain::EmailAddress::parse("seller@example.jp").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let shop = anshin_core::shops::open_shop(
        &core,
        seller,
        &ShopInput::parse(&RawShop {
            name: "窯元".into(),
            description: String::new(),
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let item = anshin_core::shops::add_item(
        &core,
        seller,
        &ItemInput::parse(&RawItem {
            title: "皿".into(),
            description: String::new(),
            price: "1500".into(),
            stock: BUYERS.to_string(),
        })
        .unwrap(),
        ItemStatus::OnSale,
    )
    .await
    .unwrap();

    // Twelve buyers with an address, each with an order placed.
    let buyers = join_all((0..BUYERS).map(|i| {
        let (client, origin, sink) = (client.clone(), origin.clone(), &sink);
        async move {
            let cookie = sign_up(&client, &origin, sink, &format!("b{i}@example.jp")).await;
            let a: Value = call(&client, "POST", &format!("{origin}/api/v1/me/addresses"),
                json!({"recipient_name": "山田 花子", "postal_code": "150-0001", "prefecture": "東京都",
                       "city": "渋谷区", "line1": "神宮前1-2-3"}), &cookie).await.json().await.unwrap();
            let r = call(&client, "PUT", &format!("{origin}/api/v1/cart/items/{item}"), json!({"quantity": 1}), &cookie).await;
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            let r = call(&client, "POST", &format!("{origin}/api/v1/orders"),
                json!({"shop_id": shop, "address_id": a["id"]}), &cookie).await;
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{v}");
            (cookie, OrderId::parse(v["order_id"].as_str().unwrap()).unwrap())
        }
    }))
    .await;
    let mut cards = Vec::new();
    for i in 0..BUYERS {
        // A mix: most pay at once, some need 3-D Secure (and never finish it).
        cards.push(
            stripe
                .tokenise(if i % 4 == 3 {
                    crate::commerce::CARD_3DS
                } else {
                    crate::commerce::CARD_OK
                })
                .await,
        );
    }

    // The test's own connections are open before the race starts.
    for (_, order) in &buyers {
        assert!(store.orders().attempts(*order).await.unwrap().is_empty());
    }
    // Everyone pays at once; the server is killed in the middle.
    let payments = buyers.iter().zip(&cards).map(|((cookie, order), card)| {
        let (client, origin) = (client.clone(), origin.clone());
        let (cookie, order, card) = (cookie.clone(), *order, card.clone());
        tokio::spawn(async move {
            client
                .post(format!("{origin}/api/v1/orders/{order}/payment"))
                .header("cookie", cookie)
                .json(&json!({"payment_method": card}))
                .send()
                .await
                .map(|r| r.status())
        })
    });
    let payments: Vec<_> = payments.collect();
    // Kill once a third of the intents are known to the server, a little
    // later: by then the processor has confirmed (charged) some whose
    // answer is still on its way, created others whose ids the server
    // never stored, and was not asked about the rest.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut created = 0;
        for (_, order) in &buyers {
            created += store
                .orders()
                .attempts(*order)
                .await
                .unwrap()
                .iter()
                .filter(|a| a.intent_id.is_some())
                .count();
        }
        if created >= BUYERS / 3 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    proc.signal("KILL");
    assert!(proc.wait_exit(Duration::from_secs(10)).is_some(), "killed");
    let answered = join_all(payments).await;
    let cut = answered.iter().filter(|r| !matches!(r, Ok(Ok(_)))).count();
    eprintln!("payments cut off by the kill: {cut} of {BUYERS}");
    assert!(cut > 0, "the kill came after every payment was answered");
    let mut live_after_kill = 0;
    for (_, order) in &buyers {
        live_after_kill += store
            .orders()
            .attempts(*order)
            .await
            .unwrap()
            .iter()
            .filter(|a| a.status.is_live())
            .count();
    }
    eprintln!("attempts left unsettled by the kill: {live_after_kill}");

    // Restart; reconciliation runs every second, reservations end after 15 s.
    drop(proc);
    let proc = server.start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut open = 0;
        for (_, order) in &buyers {
            let o = store.orders().order(*order).await.unwrap().unwrap();
            let live = store
                .orders()
                .attempts(*order)
                .await
                .unwrap()
                .iter()
                .any(|a| a.status.is_live());
            if o.status == OrderStatus::AwaitingPayment || live {
                open += 1;
            }
        }
        if open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} orders still open after reconciliation"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every order is paid exactly once or cancelled; the processor agrees.
    let charges = stripe.charges_per_order().await;
    let mut paid = 0;
    for (_, order) in &buyers {
        let o = store.orders().order(*order).await.unwrap().unwrap();
        let n = charges.get(&order.to_string()).copied().unwrap_or(0);
        assert!(n <= 1, "order {order} charged {n} times");
        match o.status {
            OrderStatus::Paid => {
                paid += 1;
                assert_eq!(
                    n, 1,
                    "order {order} is paid but the processor holds {n} charges"
                );
                let succeeded = store
                    .orders()
                    .attempts(*order)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|a| a.status == AttemptStatus::Succeeded)
                    .count();
                assert_eq!(succeeded, 1);
            }
            OrderStatus::Cancelled => assert_eq!(n, 0, "cancelled order {order} was charged"),
            s => panic!("order {order} ended {s:?}"),
        }
    }
    eprintln!(
        "after the restart: {paid} paid, {} cancelled",
        BUYERS - paid
    );
    // Stock: what was paid is gone, what was cancelled came back.
    let left = store
        .shops()
        .item(item)
        .await
        .unwrap()
        .unwrap()
        .stock
        .count()
        .unwrap();
    assert_eq!(left as usize + paid, BUYERS);
    drop(proc);

    // `anshin ledger check` on the same database passes.
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["ledger", "check"])
        .env("ANSHIN_DATA_DIR", server.dir.path());
    for (k, v) in &server.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ledger check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{paid} transaction(s)")),
        "{stdout}"
    );
    assert!(stdout.contains("ledger check passed"), "{stdout}");
    store.close().await;
}
