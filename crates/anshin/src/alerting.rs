//! What the core's alert job (C29, `anshin_core::monitoring`) cannot read
//! or do by itself: the WAF's refusals and the certificate's expiry
//! ([`ServerProbe`]), and the HTTP POST of a signed alert to the security
//! team's webhook ([`WebhookSender`]).

use std::sync::Arc;
use std::time::Duration;

use anshin_core::monitoring::{AlertHook, Probe};
use anshin_domain::Timestamp;

use crate::tls::{CertInfo, CertResolver};

/// The WAF's counters and the serving certificate of this instance.
#[derive(Debug)]
pub struct ServerProbe {
    pub waf: Arc<anshin_waf::Waf>,
    pub certs: Arc<CertResolver>,
}

impl Probe for ServerProbe {
    fn waf_blocked(&self) -> u64 {
        self.waf.counters().snapshot().blocked
    }

    fn certificate_not_after(&self) -> Option<Timestamp> {
        match CertInfo::of_file(&self.certs.files().cert) {
            Ok(info) => Some(info.not_after),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the certificate's expiry");
                None
            }
        }
    }
}

/// POSTs alerts to `alerts.webhook_url`: JSON, signed in the
/// `Anshin-Signature` header; no redirects followed (the signature goes
/// to the configured receiver only), short timeouts.
#[derive(Debug)]
pub struct WebhookSender {
    client: reqwest::Client,
    url: String,
}

impl WebhookSender {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("alert webhook HTTP client: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
        })
    }
}

#[async_trait::async_trait]
impl AlertHook for WebhookSender {
    async fn deliver(&self, body: String, signature: String) -> anyhow::Result<()> {
        let res = self
            .client
            .post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("Anshin-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("alert webhook: {}", e.without_url()))?;
        if !res.status().is_success() {
            anyhow::bail!("alert webhook answered {}", res.status());
        }
        Ok(())
    }
}
