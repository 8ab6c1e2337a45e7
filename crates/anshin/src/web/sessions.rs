//! Loads the browser session named by the `__Host-anshin_session` cookie
//! and makes sure one exists when a page needs a CSRF token.
//!
//! The cookie carries a 256-bit token; the database only its hash
//! (`anshin_vault::token`). Sessions live in the database, so every app
//! instance sees the same ones and an ended session is gone everywhere.
//! Cookie flags (RFC 6265bis): the `__Host-` prefix pins it to this host
//! and path `/` with `Secure`; `HttpOnly` keeps scripts away from it;
//! `SameSite=Lax` keeps it off cross-site sub-requests and posts.

use anshin_store::{NewSession, SessionRecord};
use anshin_vault::SessionToken;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header};

use crate::clock::{SECOND, secs};
use crate::web::AppState;
use crate::web::errors::WebError;

pub const COOKIE: &str = "__Host-anshin_session";

/// Only write `last_seen_at` when it is older than this, so that browsing
/// does not turn every page view into a database write.
const TOUCH_EVERY: i64 = 60 * SECOND;

/// The session of the current request, if its cookie named a live one.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub token: SessionToken,
    pub record: SessionRecord,
}

/// Reads a cookie's value from the request headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub async fn load(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = cookie_value(req.headers(), COOKIE).and_then(|v| SessionToken::parse(v).ok());
    if let Some(token) = token {
        let now = state.clock.now();
        match state
            .store
            .sessions()
            .find_live(token.hash().as_bytes(), now)
            .await
        {
            Ok(Some(record)) => {
                if now - record.last_seen_at >= TOUCH_EVERY {
                    let idle = now.saturating_add(secs(state.settings.sessions.idle_timeout_secs));
                    if let Err(e) = state.store.sessions().touch(record.id, now, idle).await {
                        tracing::warn!(error = %e, "could not record session activity");
                    }
                }
                req.extensions_mut()
                    .insert(CurrentSession { token, record });
            }
            Ok(None) => {}
            Err(e) => return WebError::Internal(e.into()).into_response(),
        }
    }
    next.run(req).await
}

/// The current session, creating one when the visitor has none. Returns
/// the `Set-Cookie` value to send when a session was created.
pub async fn ensure(
    state: &AppState,
    current: Option<CurrentSession>,
) -> Result<(SessionToken, Option<HeaderValue>), WebError> {
    if let Some(s) = current {
        return Ok((s.token, None));
    }
    let token = SessionToken::generate(&mut rand::rng());
    let now = state.clock.now();
    let cfg = &state.settings.sessions;
    let new = NewSession {
        id: uuid::Uuid::now_v7(),
        token_hash: *token.hash().as_bytes(),
        created_at: now,
        absolute_expires_at: now.saturating_add(secs(cfg.absolute_lifetime_secs)),
        idle_expires_at: now.saturating_add(secs(cfg.idle_timeout_secs)),
        login: None,
    };
    state
        .store
        .sessions()
        .create(&new)
        .await
        .map_err(|e| WebError::Internal(e.into()))?;
    let value = secure_cookie(COOKIE, &token.expose(), cfg.absolute_lifetime_secs)?;
    Ok((token, Some(value)))
}

/// A `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain.
/// `max_age_secs` 0 deletes it.
pub fn secure_cookie(name: &str, value: &str, max_age_secs: u64) -> Result<HeaderValue, WebError> {
    let cookie = Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age_secs).unwrap_or(i64::MAX),
        ))
        .build();
    HeaderValue::from_str(&cookie.to_string())
        .map_err(|e| WebError::Internal(anyhow::anyhow!("cookie header: {e}")))
}
