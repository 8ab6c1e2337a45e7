//! The card processor over Stripe's REST API (`payments.api_base`;
//! localstripe's in tests): PaymentIntents created, confirmed, read and
//! cancelled, and refunds, each change with its idempotency key. The
//! contract and what anshin does with the answers are the core's
//! (`anshin_core::payments`).
//!
//! Why reqwest and not async-stripe: anshin needs five form-encoded calls
//! and a handful of fields from the answers. reqwest is already in the
//! tree (one rustls provider, aws-lc-rs); async-stripe 1.0.0-rc.10 adds its
//! generated types, ~30 s of build on two cores and a release candidate's
//! API, for no behaviour we need. The calls and fields used here are
//! those of Stripe's API reference, and the tests run them against
//! localstripe.
//!
//! The secret key goes only to `api_base` (no redirects are followed), as
//! a bearer token; errors and logs carry the processor's message and the
//! HTTP status, never our request (which names the buyer's card
//! reference and the order).

use std::time::Duration;

use anshin_core::payments::{
    CardSummary, ClientSecret, Intent, IntentRequest, IntentStatus, PaymentProcessor,
    PaymentsSettings, ProcessorError, ProcessorRefund,
};
use anshin_domain::{OrderId, Yen};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// The largest answer read from the processor.
const MAX_ANSWER: usize = 1024 * 1024;

#[derive(Debug)]
pub struct StripeProcessor {
    client: reqwest::Client,
    base: url::Url,
    secret: SecretString,
}

impl StripeProcessor {
    /// `None` when no secret key is configured (checkout closed).
    pub fn from_settings(settings: &PaymentsSettings) -> anyhow::Result<Option<Self>> {
        let Some(secret) = settings.secret_key.clone() else {
            return Ok(None);
        };
        let timeout = Duration::from_secs(settings.request_timeout_secs);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // The secret key goes to the configured API only.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("payments HTTP client: {e}"))?;
        Ok(Some(Self {
            client,
            base: settings.api_base.clone(),
            secret,
        }))
    }

    fn url(&self, path: &str) -> Result<url::Url, ProcessorError> {
        self.base
            .join(path)
            .map_err(|_| ProcessorError::Malformed("API path".into()))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, ProcessorError> {
        let mut url = self.url(path)?;
        if method == reqwest::Method::GET && !form.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut req = self
            .client
            .request(method.clone(), url)
            // Justified: the processor authenticates us by this key.
            .bearer_auth(self.secret.expose_secret());
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if method != reqwest::Method::GET {
            req = req.form(form);
        }
        let mut res = req.send().await.map_err(|e| {
            ProcessorError::Unavailable(
                if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                }
                .into(),
            )
        })?;
        let status = res.status().as_u16();
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_ANSWER {
                        return Err(ProcessorError::Malformed("answer too large".into()));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => return Err(ProcessorError::Unavailable("answer cut off".into())),
            }
        }
        if status >= 500 || status == 429 {
            return Err(ProcessorError::Unavailable(format!("HTTP {status}")));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|_| ProcessorError::Malformed(format!("HTTP {status}, not JSON")))?;
        if (200..300).contains(&status) {
            return Ok(v);
        }
        let err = at(&v, "/error");
        let code = at(err, "/decline_code")
            .as_str()
            .or_else(|| at(err, "/code").as_str())
            .map(short);
        match (status, code) {
            (402, Some(code)) => Err(ProcessorError::Declined { code }),
            (402, None) => Err(ProcessorError::Declined {
                code: "card_declined".into(),
            }),
            _ => Err(ProcessorError::Refused {
                status,
                message: short(at(err, "/message").as_str().unwrap_or("refused")),
            }),
        }
    }
}

/// The value at a JSON pointer, or `null` (never a panic).
fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

/// A processor word kept for our records: at most 100 plain characters.
fn short(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Reads a PaymentIntent (with its payment method expanded, if it is).
pub fn parse_intent(v: &Value) -> Result<Intent, ProcessorError> {
    let id = at(v, "/id")
        .as_str()
        .ok_or_else(|| ProcessorError::Malformed("intent without id".into()))?;
    let status = at(v, "/status")
        .as_str()
        .and_then(IntentStatus::parse)
        .ok_or_else(|| ProcessorError::Malformed("intent status".into()))?;
    let amount = at(v, "/amount")
        .as_i64()
        .ok_or_else(|| ProcessorError::Malformed("intent amount".into()))?;
    let pm = at(v, "/payment_method");
    // A PaymentMethod has `card: {brand, last4}`; a legacy Card object
    // (`card_…`) has them at its top level.
    let card = [at(pm, "/card"), pm]
        .into_iter()
        .find_map(|c| CardSummary::new(at(c, "/brand").as_str()?, at(c, "/last4").as_str()?));
    let err = at(v, "/last_payment_error");
    let decline_code = at(err, "/decline_code")
        .as_str()
        .or_else(|| at(err, "/code").as_str())
        .map(short);
    Ok(Intent {
        id: id.to_owned(),
        status,
        amount: Yen::new(amount),
        currency: at(v, "/currency")
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase(),
        order: at(v, "/metadata/order_id")
            .as_str()
            .and_then(OrderId::parse),
        card,
        decline_code,
        client_secret: (status == IntentStatus::RequiresAction)
            .then(|| at(v, "/client_secret").as_str())
            .flatten()
            .map(|s| ClientSecret::new(s.to_owned())),
    })
}

fn expand() -> (&'static str, String) {
    ("expand[]", "payment_method".into())
}

#[async_trait::async_trait]
impl PaymentProcessor for StripeProcessor {
    async fn create_intent(
        &self,
        req: &IntentRequest<'_>,
        key: &str,
    ) -> Result<Intent, ProcessorError> {
        let form = [
            ("amount", req.amount.amount().to_string()),
            ("currency", "jpy".into()),
            ("payment_method", req.payment_method.as_str().to_owned()),
            ("payment_method_types[]", "card".into()),
            ("metadata[order_id]", req.order.to_string()),
            expand(),
        ];
        let v = self
            .call(
                reqwest::Method::POST,
                "v1/payment_intents",
                &form,
                Some(key),
            )
            .await?;
        parse_intent(&v)
    }

    async fn confirm_intent(&self, id: &str, key: &str) -> Result<Intent, ProcessorError> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("v1/payment_intents/{}/confirm", path_id(id)?),
                &[expand()],
                Some(key),
            )
            .await?;
        parse_intent(&v)
    }

    async fn intent(&self, id: &str) -> Result<Intent, ProcessorError> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("v1/payment_intents/{}", path_id(id)?),
                &[expand()],
                None,
            )
            .await?;
        parse_intent(&v)
    }

    async fn cancel_intent(&self, id: &str, key: &str) -> Result<Intent, ProcessorError> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("v1/payment_intents/{}/cancel", path_id(id)?),
                &[expand()],
                Some(key),
            )
            .await?;
        parse_intent(&v)
    }

    async fn refund(
        &self,
        intent_id: &str,
        amount: Yen,
        key: &str,
    ) -> Result<ProcessorRefund, ProcessorError> {
        let form = [
            ("payment_intent", path_id(intent_id)?.to_owned()),
            ("amount", amount.amount().to_string()),
        ];
        let v = self
            .call(reqwest::Method::POST, "v1/refunds", &form, Some(key))
            .await?;
        let status = at(&v, "/status").as_str().unwrap_or_default();
        Ok(ProcessorRefund {
            id: at(&v, "/id")
                .as_str()
                .map(short)
                .ok_or_else(|| ProcessorError::Malformed("refund without id".into()))?,
            succeeded: matches!(status, "succeeded" | "pending"),
            failed: matches!(status, "failed" | "canceled"),
        })
    }
}

/// An intent id as a path segment: only `pi_` and letters and digits, so
/// no id can change the path it is put into.
fn path_id(id: &str) -> Result<&str, ProcessorError> {
    let ok = id.strip_prefix("pi_").is_some_and(|r| {
        !r.is_empty() && r.len() <= 100 && r.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if ok {
        Ok(id)
    } else {
        Err(ProcessorError::Malformed("intent id".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_read_card_details_from_either_shape_and_hide_the_secret() {
        let v = serde_json::json!({
            "id": "pi_1", "status": "requires_action", "amount": 1200, "currency": "jpy",
            "client_secret": "pi_1_secret_x", "metadata": {"order_id": "0190d8e0-0000-7000-8000-000000000001"},
            "payment_method": {"id": "card_1", "object": "card", "brand": "Visa", "last4": "3184"}
        });
        let i = parse_intent(&v).unwrap();
        assert_eq!(i.status, IntentStatus::RequiresAction);
        assert_eq!(i.card.unwrap().last4, "3184");
        assert_eq!(i.client_secret.unwrap().expose(), "pi_1_secret_x");
        assert!(i.order.is_some());
        let v = serde_json::json!({
            "id": "pi_2", "status": "succeeded", "amount": 500, "currency": "JPY",
            "client_secret": "pi_2_secret_y",
            "payment_method": {"id": "pm_1", "card": {"brand": "mastercard", "last4": "4444"}}
        });
        let i = parse_intent(&v).unwrap();
        assert_eq!(i.card.unwrap().brand, "mastercard");
        assert_eq!(i.currency, "jpy");
        assert!(i.client_secret.is_none(), "only needed for 3-D Secure");
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert!(path_id("pi_abc123").is_ok());
        for bad in ["pi_../refunds", "pi_", "ch_1", "pi_a/b", "pi_a?x=1"] {
            assert!(path_id(bad).is_err(), "{bad}");
        }
    }
}
