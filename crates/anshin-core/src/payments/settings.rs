//! The `[payments]` section: the processor's API and browser script, its
//! keys (secrets, redacted by `config show`), the webhook tolerance, the
//! platform fee and the timings of reservations, reconciliation and
//! completion.

use anshin_domain::{Duration, Yen};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::fees::FeeSchedule;
use crate::settings::{Invalid, Section, invalid, within};

/// `[payments]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsSettings {
    /// The processor's REST API (Stripe's, or localstripe's in tests).
    /// HTTPS, or plain HTTP to a loopback host.
    pub api_base: url::Url,
    /// The processor's browser script that shows the card element
    /// (stripe.js). Its origin, and the API's, are the only ones the
    /// checkout page's CSP adds.
    pub js_url: url::Url,
    /// Origins the checkout page may load frames from and connect to,
    /// besides those of `js_url` and `api_base` (Stripe's 3-D Secure
    /// frames come from `https://hooks.stripe.com`). Empty by default.
    #[serde(default)]
    pub extra_origins: Vec<url::Url>,
    /// The secret API key (`sk_…`). Unset: checkout is closed (the pages
    /// say so) and nothing is sent to any processor.
    #[serde(
        serialize_with = "crate::settings::redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_key: Option<SecretString>,
    /// The publishable key (`pk_…`) the card element uses; public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publishable_key: Option<String>,
    /// The webhook signing secret (`whsec_…`). Unset: every webhook is
    /// refused (401), and reconciliation alone learns about payments.
    #[serde(
        serialize_with = "crate::settings::redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_secret: Option<SecretString>,
    /// A webhook signed more than this long before (or after) now is
    /// refused as a replay. Stripe's libraries use 300.
    pub webhook_tolerance_secs: u64,
    /// Platform fee: basis points of the order total (560 = 5.6 %)…
    pub fee_basis_points: u32,
    /// …plus this many yen per order. The sum is rounded down to the yen
    /// and never more than the total.
    pub fee_fixed_yen: i64,
    /// The smallest order total that can be paid (Stripe's minimum for
    /// JPY is ¥50).
    pub minimum_total_yen: i64,
    /// How long an unpaid order holds its stock (a declined card, an
    /// abandoned 3-D Secure window) before it is cancelled.
    pub reservation_secs: u64,
    /// A payment attempt that has not settled after this long is asked
    /// about at the processor (a lost webhook, a server killed mid-way).
    pub reconcile_after_secs: u64,
    /// How often the reconciliation job runs.
    pub reconcile_every_secs: u64,
    /// A delivered order completes by itself after this many days.
    pub complete_after_days: u64,
    /// Time allowed for one request to the processor.
    pub request_timeout_secs: u64,
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            api_base: literal_url("https://api.stripe.com/"),
            js_url: literal_url("https://js.stripe.com/v3/"),
            extra_origins: Vec::new(),
            secret_key: None,
            publishable_key: None,
            webhook_secret: None,
            webhook_tolerance_secs: 300,
            fee_basis_points: 560,
            fee_fixed_yen: 22,
            minimum_total_yen: 50,
            reservation_secs: 1800,
            reconcile_after_secs: 300,
            reconcile_every_secs: 60,
            complete_after_days: 14,
            request_timeout_secs: 20,
        }
    }
}

/// A URL written in this file.
#[allow(clippy::expect_used)] // only ever given the literals above, which parse (tested)
fn literal_url(text: &str) -> url::Url {
    url::Url::parse(text).expect("a literal URL")
}

fn https_or_loopback(key: &'static str, url: &url::Url) -> Result<(), Invalid> {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => invalid(key, "must be https://, or http:// to a loopback host"),
    }
}

impl Section for PaymentsSettings {
    fn check(&self) -> Result<(), Invalid> {
        https_or_loopback("payments.api_base", &self.api_base)?;
        https_or_loopback("payments.js_url", &self.js_url)?;
        for o in &self.extra_origins {
            https_or_loopback("payments.extra_origins", o)?;
        }
        within(
            "payments.webhook_tolerance_secs",
            self.webhook_tolerance_secs,
            10,
            3600,
            " seconds",
        )?;
        within(
            "payments.fee_basis_points",
            self.fee_basis_points,
            0,
            5000,
            "",
        )?;
        within(
            "payments.fee_fixed_yen",
            self.fee_fixed_yen,
            0,
            10_000,
            " yen",
        )?;
        within(
            "payments.minimum_total_yen",
            self.minimum_total_yen,
            1,
            1_000_000,
            " yen",
        )?;
        if self.fee_fixed_yen >= self.minimum_total_yen {
            return invalid(
                "payments.fee_fixed_yen",
                "must be below payments.minimum_total_yen (a seller must receive something)",
            );
        }
        // 10 s is far too short for a person; it is the floor because the
        // crash tests wait for reservations to end.
        within(
            "payments.reservation_secs",
            self.reservation_secs,
            10,
            7 * 86_400,
            " seconds",
        )?;
        within(
            "payments.reconcile_after_secs",
            self.reconcile_after_secs,
            1,
            86_400,
            " seconds",
        )?;
        within(
            "payments.reconcile_every_secs",
            self.reconcile_every_secs,
            1,
            3600,
            " seconds",
        )?;
        within(
            "payments.complete_after_days",
            self.complete_after_days,
            1,
            365,
            " days",
        )?;
        within(
            "payments.request_timeout_secs",
            self.request_timeout_secs,
            1,
            120,
            " seconds",
        )?;
        if let Some(k) = &self.publishable_key
            && !(k.starts_with("pk_")
                && k.len() <= 200
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return invalid("payments.publishable_key", "must look like pk_…");
        }
        Ok(())
    }
}

impl PaymentsSettings {
    pub fn fees(&self) -> FeeSchedule {
        FeeSchedule {
            basis_points: self.fee_basis_points,
            fixed: Yen::new(self.fee_fixed_yen),
        }
    }

    pub fn reservation(&self) -> Duration {
        Duration::from_secs(self.reservation_secs)
    }

    pub fn reconcile_after(&self) -> Duration {
        Duration::from_secs(self.reconcile_after_secs)
    }

    pub fn complete_after(&self) -> Duration {
        Duration::from_secs(self.complete_after_days.saturating_mul(86_400))
    }

    pub fn webhook_tolerance(&self) -> Duration {
        Duration::from_secs(self.webhook_tolerance_secs)
    }

    /// Whether checkout is open: a secret and a publishable key are set.
    pub fn configured(&self) -> bool {
        self.secret_key.is_some() && self.publishable_key.is_some()
    }

    /// The origins the checkout page's CSP adds for script, frame and
    /// connect (`scheme://host[:port]`, deduplicated).
    pub fn browser_origins(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for u in [&self.js_url, &self.api_base]
            .into_iter()
            .chain(&self.extra_origins)
        {
            let o = u.origin().ascii_serialization();
            if o != "null" && !out.contains(&o) {
                out.push(o);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_the_fee_is_five_point_six_percent_plus_22_yen() {
        let s = PaymentsSettings::default();
        s.check().unwrap();
        assert!(!s.configured());
        assert_eq!(s.fees().fee(Yen::new(1000)), Yen::new(56 + 22));
        assert_eq!(
            s.browser_origins(),
            ["https://js.stripe.com", "https://api.stripe.com"]
        );
    }

    #[test]
    fn plain_http_only_to_loopback_and_keys_are_checked() {
        let mut s = PaymentsSettings {
            api_base: url::Url::parse("http://127.0.0.1:8420/").unwrap(),
            js_url: url::Url::parse("http://127.0.0.1:8420/js.stripe.com/v3/").unwrap(),
            ..PaymentsSettings::default()
        };
        s.check().unwrap();
        assert_eq!(s.browser_origins(), ["http://127.0.0.1:8420"]);
        s.api_base = url::Url::parse("http://payments.example/").unwrap();
        assert!(
            s.check()
                .unwrap_err()
                .to_string()
                .contains("payments.api_base")
        );
        let s = PaymentsSettings {
            publishable_key: Some("pk_test'\"><script>".into()),
            ..PaymentsSettings::default()
        };
        assert!(s.check().is_err());
        let s = PaymentsSettings {
            fee_fixed_yen: 50,
            ..PaymentsSettings::default()
        };
        assert!(s.check().is_err());
    }
}
