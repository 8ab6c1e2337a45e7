//! The one way to find the logged-in member of a request: the [`SignedIn`]
//! extractor. Pages answer a visitor with a redirect to the login page;
//! the JSON API (`/api/…`) with 401 `not_authenticated`. A handler that
//! takes a `SignedIn` cannot run for anyone else.

use anshin_core::i18n::Lang;
use anshin_core::sessions::SessionRecord;
use anshin_domain::MemberId;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;

use super::errors::{ErrorCode, WebError};
use super::language::request_lang;
use super::session::CurrentSession;
use crate::web::AppState;

/// A member's session, required by every `/account` page and `/api/v1/me`
/// route.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub member: MemberId,
    pub session: SessionRecord,
    /// The page language (cookie, `Accept-Language`, default).
    pub lang: Lang,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // A page asked by a browser whose session cookie names a session
        // that is gone (ended elsewhere, expired) says so on the login page.
        let had_cookie = super::cookies::value(&parts.headers, super::cookies::SESSION).is_some();
        let refuse = || {
            if parts.uri.path().starts_with("/api/") {
                return WebError::Unauthorized(ErrorCode::NotAuthenticated).into_response();
            }
            let mut res = if had_cookie && parts.extensions.get::<CurrentSession>().is_none() {
                super::flash::redirect("/login", super::flash::Flash::SignedOutElsewhere)
                    .unwrap_or_else(IntoResponse::into_response)
            } else {
                Redirect::to("/login").into_response()
            };
            // A page someone wanted to see (not a form post): the login
            // comes back to it.
            let wanted = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            if parts.method == http::Method::GET
                && let Some(path) = super::cookies::return_path(wanted)
                && let Ok(c) = super::cookies::secure(
                    super::cookies::RETURN_TO,
                    path,
                    super::cookies::RETURN_TO_SECS,
                )
            {
                res.headers_mut().append(http::header::SET_COOKIE, c);
            }
            res
        };
        let Some(current) = parts.extensions.get::<CurrentSession>() else {
            return Err(refuse());
        };
        let Some(member) = current.record.member() else {
            return Err(refuse());
        };
        Ok(SignedIn {
            member,
            session: current.record.clone(),
            lang: request_lang(&parts.headers, state.settings.site.default_language),
            csrf: current.token.csrf_token().as_str().to_owned(),
        })
    }
}

/// Whoever asks, signed in or not: public pages (a shop, an item, the
/// search) show more to the owner of what they show (a draft, the edit
/// link) and the same to everyone else. Never refuses.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub member: Option<MemberId>,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Viewer {
            member: parts
                .extensions
                .get::<CurrentSession>()
                .and_then(|c| c.record.member()),
            lang: request_lang(&parts.headers, state.settings.site.default_language),
        })
    }
}
