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
