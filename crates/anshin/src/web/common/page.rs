//! What every page knows about the request besides its own content:
//!
//! - [`PageScope`], set by the [`scope`] middleware for the rest of the
//!   request: whether a member is signed in (the menu shows the account
//!   and a logout button, or login and sign-up), the CSRF token for the
//!   menu's logout form, and the flash message the request carried
//!   (cleared by the page that shows it). [`super::layout::Layout`] reads
//!   it, so no handler passes it around.
//! - [`Visitor`]: what a form page needs from any visitor: the language, a
//!   CSRF token (starting a visitor session if there is none), and the
//!   cookie to set when one was started.

use anshin_core::i18n::Lang;
use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, header};

use super::cookies;
use super::errors::WebError;
use super::flash::{self, Flash};
use super::language::request_lang;
use super::session::{self, CurrentSession};
use crate::web::AppState;

/// What the page layout knows about the request.
#[derive(Debug, Clone, Default)]
pub struct PageScope {
    pub signed_in: bool,
    /// The session's CSRF token, for the menu's logout form.
    pub csrf: Option<String>,
    pub flash: Option<Flash>,
}

tokio::task_local! {
    static PAGE: PageScope;
}

/// The scope of the request being handled (the default outside one).
pub fn current() -> PageScope {
    PAGE.try_with(Clone::clone).unwrap_or_default()
}

/// Sets the [`PageScope`] for the handler, and clears a flash that an
/// HTML page has now shown (unless the handler set a new one).
pub async fn scope(req: Request, next: Next) -> Response {
    let current = req.extensions().get::<CurrentSession>();
    let carried = cookies::value(req.headers(), flash::COOKIE).and_then(Flash::parse);
    let page = PageScope {
        signed_in: current.is_some_and(|s| s.record.member().is_some()),
        csrf: current.map(|s| s.token.csrf_token().as_str().to_owned()),
        flash: carried,
    };
    let mut res = PAGE.scope(page, next.run(req)).await;
    if carried.is_some()
        && res.status().is_success()
        && is_html(&res)
        && !sets_flash(&res)
        && let Ok(clear) = flash::cleared()
    {
        res.headers_mut().append(header::SET_COOKIE, clear);
    }
    res
}

fn is_html(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn sets_flash(res: &Response) -> bool {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{}=", flash::COOKIE)))
}

#[derive(Debug)]
pub struct Visitor {
    pub lang: Lang,
    pub csrf: String,
    /// The session cookie, when this request started the session.
    pub set_cookie: Option<HeaderValue>,
    pub session: Option<CurrentSession>,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let current = parts.extensions.get::<CurrentSession>().cloned();
        let (token, set_cookie) = session::ensure(state, current.as_ref()).await?;
        Ok(Visitor {
            lang: request_lang(&parts.headers, state.settings.site.default_language),
            csrf: token.csrf_token().as_str().to_owned(),
            set_cookie,
            session: current,
        })
    }
}

impl Visitor {
    /// `res` with the session cookie if this request started the session.
    pub fn finish(&self, mut res: Response) -> Response {
        if let Some(c) = &self.set_cookie {
            res.headers_mut().append(header::SET_COOKIE, c.clone());
        }
        res
    }
}
