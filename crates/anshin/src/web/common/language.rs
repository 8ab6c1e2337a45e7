//! The language of a request: the cookie, then `Accept-Language`, then
//! the configured default.

use anshin_core::i18n::Lang;
use http::{HeaderMap, HeaderValue, header};

use super::cookies;

/// The language of a request: cookie, then `Accept-Language`, then default.
pub fn request_lang(headers: &HeaderMap, default: Lang) -> Lang {
    cookies::value(headers, cookies::LANGUAGE)
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(default)
}

/// The cookie that keeps a chosen language for a year.
pub fn cookie(lang: Lang) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    cookies::secure(cookies::LANGUAGE, lang.code(), 365 * 24 * 60 * 60)
}
