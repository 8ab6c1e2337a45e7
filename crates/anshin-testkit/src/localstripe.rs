//! localstripe (a fake of Stripe's API, PyPI) for the payment tests,
//! started per test on a free port of 127.0.0.1 through
//! `scripts/localstripe` (loopback only, no pickle on disk, Stripe's
//! idempotency rule, webhooks over HTTPS trusting the test server's own
//! certificate). Installed by `scripts/setup --test`.
//!
//! The test plays the buyer's browser where the real one would run the
//! processor's script: [`LocalStripe::tokenise`] posts the card to the
//! processor with the publishable key, as the card element does, and
//! [`LocalStripe::authenticate`] finishes 3-D Secure as its modal does.
//! anshin itself only ever sees the returned `card_…` reference.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anshin::config::Settings;
use serde_json::Value;

/// The publishable and secret keys localstripe accepts (any `pk_`/`sk_`).
pub const PUBLISHABLE_KEY: &str = "pk_test_anshin";
pub const SECRET_KEY: &str = "sk_test_anshin";
/// The webhook signing secret the tests configure on both sides.
pub const WEBHOOK_SECRET: &str = "whsec_anshin_test";

/// A running localstripe; killed when dropped.
#[derive(Debug)]
pub struct LocalStripe {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    child: Child,
    client: reqwest::Client,
}

impl LocalStripe {
    /// Starts it and waits (up to 30 s) for its `listening on` line.
    pub fn start() -> Self {
        Self::start_with_latency(0)
    }

    /// Starts one that answers every server-side call `ms` after making
    /// it (a processor whose answers are slow to come back).
    pub fn start_with_latency(ms: u64) -> Self {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/localstripe");
        let mut child = Command::new("python3")
            .arg(&script)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--latency-ms",
                &ms.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 scripts/localstripe (run scripts/setup --test)");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("localstripe did not start (pip install localstripe)");
        let base = line
            .strip_prefix("listening on ")
            .expect("localstripe's first line names its address")
            .trim()
            .to_owned();
        Self {
            base,
            child,
            client: reqwest::Client::new(),
        }
    }

    /// Points a server's `[payments]` at this processor.
    pub fn configure(&self, s: &mut Settings) {
        s.payments.api_base = url::Url::parse(&format!("{}/", self.base)).unwrap();
        s.payments.js_url = url::Url::parse(&format!("{}/js.stripe.com/v3/", self.base)).unwrap();
        s.payments.secret_key = Some(SECRET_KEY.to_owned().into());
        s.payments.publishable_key = Some(PUBLISHABLE_KEY.to_owned());
        s.payments.webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
    }

    /// Makes the processor deliver its events to `origin`'s webhook,
    /// trusting the certificate in `cert_file`.
    pub async fn send_webhooks_to(&self, origin: &str, cert_file: &std::path::Path) {
        let res = self
            .client
            .post(format!("{}/_config/webhook_ca", self.base))
            .json(&serde_json::json!({"path": cert_file}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "webhook CA: {}", res.status());
        let res = self
            .client
            .post(format!("{}/_config/webhooks/anshin", self.base))
            .form(&[
                ("url", format!("{origin}/hooks/payments")),
                ("secret", WEBHOOK_SECRET.to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "webhook config: {}",
            res.status()
        );
    }

    /// What the card element does in the browser: the card goes to the
    /// processor (never to anshin) and comes back as a `card_…` reference.
    pub async fn tokenise(&self, number: &str) -> String {
        let v: Value = self
            .client
            .post(format!("{}/v1/tokens", self.base))
            .form(&[
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
                ("key", PUBLISHABLE_KEY),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["card"]["id"]
            .as_str()
            .expect("a card reference")
            .to_owned()
    }

    /// What the processor's 3-D Secure modal does with the client secret.
    pub async fn authenticate(&self, client_secret: &str, success: bool) {
        let pi = client_secret.split("_secret_").next().unwrap();
        let res = self
            .client
            .post(format!(
                "{}/v1/payment_intents/{pi}/_authenticate?success={success}",
                self.base
            ))
            .json(&serde_json::json!({"key": PUBLISHABLE_KEY, "client_secret": client_secret}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "authenticate: {}", res.status());
    }

    /// What a browser can do with an old intent's client secret (Stripe.js
    /// `confirmCardPayment(secret, {payment_method})`), whatever anshin
    /// thinks of that intent: confirm it again with another card. An
    /// intent whose 3-D Secure failed has no card left; localstripe
    /// confirms only without a `payment_method` parameter, so the card is
    /// set first (an update), then the intent is confirmed. Returns the
    /// intent as the processor then reports it.
    pub async fn confirm_again(&self, intent: &str, card: &str) -> Value {
        let url = format!("{}/v1/payment_intents/{intent}", self.base);
        let res = self
            .client
            .post(&url)
            .bearer_auth(SECRET_KEY)
            .form(&[("payment_method", card)])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "update: {}", res.status());
        let res = self
            .client
            .post(format!("{url}/confirm"))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "confirm: {}", res.status());
        res.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every PaymentIntent the processor holds.
    pub async fn intents(&self) -> Vec<Value> {
        self.get("/v1/payment_intents?limit=100000").await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// How many times money was taken for each order (succeeded charges
    /// of its intents, by the intents' `metadata[order_id]`).
    pub async fn charges_per_order(&self) -> std::collections::BTreeMap<String, u32> {
        let mut out = std::collections::BTreeMap::new();
        for pi in self.intents().await {
            let order = pi["metadata"]["order_id"].as_str().unwrap_or("").to_owned();
            if pi["status"] == "succeeded" {
                *out.entry(order).or_insert(0) += 1;
            } else {
                out.entry(order).or_insert(0);
            }
        }
        out
    }

    /// The refunds of an intent.
    pub async fn refunds_of(&self, intent: &str) -> Vec<Value> {
        self.get(&format!("/v1/refunds?payment_intent={intent}"))
            .await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
