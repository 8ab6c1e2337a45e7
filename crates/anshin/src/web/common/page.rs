//! What a form page needs from any visitor: the language, a CSRF token
//! (starting a visitor session if there is none), and the cookie to set
//! when one was started.

use anshin_core::i18n::Lang;
use axum::extract::FromRequestParts;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, header};

use super::errors::WebError;
use super::language::request_lang;
use super::session::{self, CurrentSession};
use crate::web::AppState;

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
