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

/// Where a login returns to: the page a signed-out visitor asked for (set
/// when that page sent them to the login form; read and deleted by the
/// login). Only a path of this site ([`return_path`]), never a host.
pub const RETURN_TO: &str = "__Host-anshin_return";
/// How long a return path waits for the login (15 minutes).
pub const RETURN_TO_SECS: u64 = 15 * 60;

/// A path of this site a login may return to, or `None`: `/` then at most
/// 511 visible ASCII characters without `\`, `;`, `,` or `"`; not `//…`
/// (a browser reads that as another host, an open redirect); not the
/// login, sign-up, logout or API paths (nothing to return to there).
pub fn return_path(raw: &str) -> Option<&str> {
    let ok = raw.len() <= 512
        && raw.starts_with('/')
        && !raw.starts_with("//")
        && raw
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'\\' | b';' | b',' | b'"'))
        && !["/login", "/signup", "/logout", "/api/"]
            .iter()
            .any(|p| raw.starts_with(p));
    ok.then_some(raw)
}

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

#[cfg(test)]
mod tests {
    use super::return_path;

    /// Only a path of this site comes back from a login: never another
    /// host, a scheme, a backslash trick or a header break.
    #[test]
    fn a_login_returns_only_to_a_path_of_this_site() {
        for ok in [
            "/cart/add?item=0190d8e0-0000-7000-8000-000000000001",
            "/items/x",
            "/",
        ] {
            assert_eq!(return_path(ok), Some(ok), "{ok}");
        }
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil.example",
            "",
            "/a b",
            "/a;b",
            "/a\r\nSet-Cookie: x=y",
            "/login",
            "/login/verify",
            "/signup",
            "/api/v1/me",
            "/logout",
            "/ページ",
        ] {
            assert_eq!(return_path(bad), None, "{bad:?}");
        }
        assert_eq!(return_path(&format!("/{}", "a".repeat(600))), None);
    }
}
