//! The session layer: loads the session the cookie names (through the
//! core's `sessions::current`, which also records activity) before any
//! handler runs, and makes sure a visitor has one when a page needs a CSRF
//! token.

use anshin_core::sessions;
use anshin_core::sessions::SessionRecord;
use anshin_vault::SessionToken;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

use super::cookies;
use super::errors::WebError;
use crate::web::AppState;

/// The session of the current request, if its cookie named a live one.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub token: SessionToken,
    pub record: SessionRecord,
}

pub async fn load(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let token =
        cookies::value(req.headers(), cookies::SESSION).and_then(|v| SessionToken::parse(v).ok());
    if let Some(token) = token {
        match sessions::current(&state.core, &token).await {
            Ok(Some(record)) => {
                req.extensions_mut()
                    .insert(CurrentSession { token, record });
            }
            Ok(None) => {}
            Err(e) => return WebError::from(e).into_response(),
        }
    }
    next.run(req).await
}

/// The current session's token, starting a visitor session when there is
/// none. Returns the `Set-Cookie` value to send when one was started.
pub async fn ensure(
    state: &AppState,
    current: Option<&CurrentSession>,
) -> Result<(SessionToken, Option<HeaderValue>), WebError> {
    if let Some(s) = current {
        return Ok((s.token.clone(), None));
    }
    let token = sessions::start_visitor(&state.core).await?;
    let value = cookies::secure(
        cookies::SESSION,
        &token.expose(),
        state.settings.sessions.absolute_lifetime_secs,
    )?;
    Ok((token, Some(value)))
}

/// The cookies of a new login: the session, and the device cookie for a
/// browser that had none.
pub fn login_cookies(
    state: &AppState,
    login: &anshin_core::accounts::LoggedIn,
) -> Result<Vec<HeaderValue>, WebError> {
    let mut out = vec![cookies::secure(
        cookies::SESSION,
        &login.token.expose(),
        state.settings.sessions.absolute_lifetime_secs,
    )?];
    if let Some(d) = &login.new_device_token {
        out.push(cookies::secure(
            cookies::DEVICE,
            &d.expose(),
            cookies::DEVICE_SECS,
        )?);
    }
    Ok(out)
}

/// The `Set-Cookie` that ends the session cookie (logout).
pub fn cleared() -> Result<HeaderValue, WebError> {
    Ok(cookies::secure(cookies::SESSION, "", 0)?)
}
