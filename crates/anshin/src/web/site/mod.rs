//! The public site and its JSON API: home, language, accounts (pages and
//! API), members' personal data (pages and API), the bot challenge, and
//! the OpenAPI document; the cart, checkout, card payment and order pages
//! and their API (issue 13).

pub mod account_pages;
pub mod accounts_api;
pub mod challenge;
pub mod checkout_api;
pub mod checkout_pages;
pub mod confirm;
pub mod home;
pub mod language;
pub mod member_data_api;
pub mod member_pages;
pub mod openapi;
pub mod orders_pages;

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
        .merge(checkout_pages::router())
        .merge(orders_pages::router())
        .merge(checkout_api::router())
}
