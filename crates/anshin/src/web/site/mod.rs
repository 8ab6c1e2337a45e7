//! The public site and its JSON API: home, language, accounts (pages and
//! API), members' personal data (pages and API), the bot challenge, and
//! the OpenAPI document. Later: shop and checkout.

pub mod account_pages;
pub mod accounts_api;
pub mod challenge;
pub mod confirm;
pub mod home;
pub mod language;
pub mod member_data_api;
pub mod member_pages;
pub mod openapi;

use anshin_waf::ProseField;
use axum::Router;

use crate::web::AppState;

/// Every route of the public site (the middleware is added by
/// [`crate::web::router`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(home::router())
        .merge(language::router())
        .merge(openapi::router())
        .merge(accounts_api::router())
        .merge(account_pages::router())
        .merge(member_data_api::router())
        .merge(member_pages::router())
        .merge(challenge::router())
}

/// The arguments that take prose (sentences members write), as (method,
/// route, field), declared here next to the routes. On exactly these, the
/// WAF's tuning profile takes off the few CRS rules that ordinary
/// sentences trip (`crates/anshin-waf/profiles/anshin-prose.conf`); the
/// same name anywhere else meets the whole CRS.
///
/// No route of the site takes prose yet (names, addresses and bank
/// details are not prose). A route that does adds one line in the change
/// that adds the route, for example:
///
/// ```text
/// ("GET", "/search", "q"),
/// ("POST", "/contact", "message"),
/// ("POST", "/api/v1/items/{id}", "description"),
/// ```
pub const PROSE_FIELDS: &[(&str, &str, &str)] = &[];

/// [`PROSE_FIELDS`] as the WAF takes them.
pub fn prose_fields() -> Vec<ProseField> {
    PROSE_FIELDS
        .iter()
        .map(|(method, route, field)| ProseField::new(method, route, field))
        .collect()
}

#[cfg(test)]
mod tests {
    /// Every declaration is one the WAF accepts (a typo stops the build's
    /// tests, not the server's start).
    #[test]
    fn c06_declared_prose_fields_are_valid() {
        anshin_waf::prose_field_rules(&super::prose_fields()).unwrap();
    }
}
