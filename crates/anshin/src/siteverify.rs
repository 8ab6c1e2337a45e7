//! The HTTP side of third-party bot challenges (C7): posts the siteverify
//! form for the core's `challenge::provider` over reqwest (rustls), with
//! the configured timeout, no redirects (so the secret cannot be forwarded)
//! and a cap on the answer's size. The policy (what answer passes) is the
//! core's.

use std::time::Duration;

use anshin_core::challenge::{CaptchaSettings, SiteVerifier};

#[derive(Debug)]
pub struct HttpSiteVerifier {
    client: reqwest::Client,
}

impl HttpSiteVerifier {
    pub fn new(settings: &CaptchaSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .connect_timeout(Duration::from_secs(settings.timeout_secs))
            // The secret goes to the configured endpoint only.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("captcha HTTP client: {e}"))?;
        Ok(Self { client })
    }
}

/// What kind of transport failure, for the log; reqwest's own message
/// would repeat the URL.
fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    }
}

#[async_trait::async_trait]
impl SiteVerifier for HttpSiteVerifier {
    async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        max_body: usize,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut res = self
            .client
            .post(url.as_str())
            .form(form)
            .send()
            .await
            .map_err(|e| kind(&e).to_owned())?;
        let status = res.status().as_u16();
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max_body {
                        return Err("answer too large".to_owned());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok((status, body)),
                Err(e) => return Err(format!("answer cut off ({})", kind(&e))),
            }
        }
    }
}
