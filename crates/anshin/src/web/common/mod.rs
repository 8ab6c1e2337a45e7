//! What every door of HTTP shares: one error type and its pages
//! ([`errors`]), the request head's limits ([`head`]), security headers, request ids, CSRF, cookies, the session
//! layer and the one extractor for the logged-in member ([`member`]), who
//! the client is ([`client`]), the language, the page layout, form
//! errors, JSON bodies, assets and the WAF layer.

pub mod assets;
pub mod captcha;
pub mod client;
pub mod cookies;
pub mod csrf;
pub mod errors;
pub mod flash;
pub mod forms;
pub mod head;
pub mod headers;
pub mod http_metrics;
pub mod json;
pub mod language;
pub mod layout;
pub mod member;
pub mod page;
pub mod request_id;
pub mod session;
pub mod uploads;
pub mod waf;
