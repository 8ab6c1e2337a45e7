//! The public site and its JSON API: home, language, accounts (pages and
//! API), members' personal data (pages and API), the bot challenge, the
//! legal and help pages, the contact form, the catalog (shops, items,
//! images, search; pages and API) and the media it serves, the cart,
//! checkout, card payment and order pages and their API (issue 13), and
//! the OpenAPI document.

pub mod account_pages;
pub mod accounts_api;
pub mod challenge;
pub mod checkout_api;
pub mod checkout_pages;
pub mod confirm;
pub mod contact;
pub mod home;
pub mod language;
pub mod legal;
pub mod lookup_api;
pub mod media;
pub mod member_data_api;
pub mod member_pages;
pub mod openapi;
pub mod orders_pages;
pub mod payouts_pages;
pub mod profile_api;
pub mod profile_pages;
pub mod shipping_pages;
pub mod shop_api;
pub mod shop_pages;
pub mod vdp;

use anshin_waf::ProseField;
use axum::Router;

use crate::web::AppState;

/// Every route of the public site (the middleware is added by
/// [`crate::web::router`]).
pub fn router(upload_limit: usize) -> Router<AppState> {
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
        .merge(vdp::router())
        .merge(shop_api::router(upload_limit))
        .merge(shop_pages::router(upload_limit))
        .merge(media::router())
        .merge(checkout_pages::router())
        .merge(orders_pages::router())
        .merge(shipping_pages::router())
        .merge(payouts_pages::router())
        .merge(checkout_api::router())
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
    // A vulnerability report's text (`vdp.rs`).
    ("POST", "/security", "message"),
    // The catalog: searching, and an item's title and description as the
    // creator writes them (`shop_pages.rs`, `shop_api.rs`).
    ("GET", "/search", "q"),
    ("GET", "/api/v1/search", "q"),
    ("POST", "/shop/manage/items/new", "title"),
    ("POST", "/shop/manage/items/new", "description"),
    ("POST", "/shop/manage/items/{id}", "title"),
    ("POST", "/shop/manage/items/{id}", "description"),
    ("POST", "/api/v1/me/shop/items", "title"),
    ("POST", "/api/v1/me/shop/items", "description"),
    ("PUT", "/api/v1/me/shop/items/{id}", "title"),
    ("PUT", "/api/v1/me/shop/items/{id}", "description"),
    // A shop's description.
    ("POST", "/shop/manage", "description"),
    ("POST", "/shop/manage/edit", "description"),
    ("POST", "/api/v1/me/shop", "description"),
    ("PUT", "/api/v1/me/shop", "description"),
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
