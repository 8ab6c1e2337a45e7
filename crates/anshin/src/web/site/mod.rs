//! The public site and its JSON API: home, language, accounts (pages and
//! API), members' personal data (pages and API), the bot challenge, the
//! legal and help pages, the contact form, and the OpenAPI document.
//! Later: shop and checkout.

pub mod account_pages;
pub mod accounts_api;
pub mod challenge;
pub mod confirm;
pub mod contact;
pub mod home;
pub mod language;
pub mod legal;
pub mod lookup_api;
pub mod member_data_api;
pub mod member_pages;
pub mod openapi;
pub mod profile_api;
pub mod profile_pages;

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
        .merge(profile_pages::router())
        .merge(profile_api::router())
        .merge(challenge::router())
        .merge(lookup_api::router())
        .merge(legal::router())
        .merge(contact::router())
}

/// The arguments that take prose (sentences members write), as (method,
/// route, field), declared here next to the routes. On exactly these, the
/// WAF's tuning profile takes off the few CRS rules that ordinary
/// sentences trip (`crates/anshin-waf/profiles/anshin-prose.conf`); the
/// same name anywhere else meets the whole CRS.
///
/// Names, addresses and bank details are not prose. A route that takes
/// prose adds one line in the change that adds the route, for example
/// `("GET", "/search", "q")` or `("POST", "/api/v1/items/{id}", "description")`.
pub const PROSE_FIELDS: &[(&str, &str, &str)] = &[
    // The contact form's message to support (`contact.rs`).
    ("POST", "/contact", "message"),
];

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
