//! How the core reaches a third-party siteverify API without an HTTP
//! stack of its own: the binary gives it a [`SiteVerifier`].

/// Posts a siteverify form and returns the answer: the HTTP client of the
/// binary behind a trait, so the core needs no HTTP stack.
#[async_trait::async_trait]
pub trait SiteVerifier: Send + Sync + std::fmt::Debug {
    /// POSTs `form` (`application/x-www-form-urlencoded`) to `url` and
    /// returns the status and at most `max_body` bytes of the body; a
    /// larger body, a timeout or a connection failure is an `Err` whose
    /// text names the kind of failure (never the URL or the form).
    async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        max_body: usize,
    ) -> Result<(u16, Vec<u8>), String>;
}

/// The verifier of a core that has no HTTP client (command line, jobs):
/// every third-party token is unverifiable, so it fails closed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSiteVerifier;

#[async_trait::async_trait]
impl SiteVerifier for NoSiteVerifier {
    async fn post_form(
        &self,
        _url: &url::Url,
        _form: &[(&str, &str)],
        _max_body: usize,
    ) -> Result<(u16, Vec<u8>), String> {
        Err("no siteverify client in this process".to_owned())
    }
}
