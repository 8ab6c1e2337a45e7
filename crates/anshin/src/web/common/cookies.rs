//! Cookie flags in one place (RFC 6265bis): every cookie anshin sets is a
//! `__Host-` cookie, which pins it to this host and path `/` with
//! `Secure`; `HttpOnly` keeps scripts away from it; `SameSite=Lax` keeps
//! it off cross-site sub-requests and posts.

use cookie::{Cookie, SameSite};
use http::header::InvalidHeaderValue;
use http::{HeaderMap, HeaderValue, header};

/// The session cookie: a 256-bit token; the database holds only its hash.
pub const SESSION: &str = "__Host-anshin_session";
/// The device cookie: marks a browser that has logged in to an account
/// before (C8's exemption from the client ceilings, C9's "new device").
pub const DEVICE: &str = "__Host-anshin_device";
/// The chosen language (kept in a cookie, so it survives logout and
/// costs no database write).
pub const LANGUAGE: &str = "__Host-anshin_lang";

/// How long the device cookie lives (400 days, the RFC 6265bis maximum).
pub const DEVICE_SECS: u64 = 400 * 24 * 60 * 60;

/// Reads a cookie's value from the request headers.
pub fn value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain.
/// `max_age_secs` 0 deletes it.
pub fn secure(
    name: &str,
    value: &str,
    max_age_secs: u64,
) -> Result<HeaderValue, InvalidHeaderValue> {
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
}
