//! The public site and its JSON API: home, language, accounts (pages and
//! API), members' personal data (pages and API), the bot challenge, and
//! the OpenAPI document, the catalog (shops, items, images, search; pages
//! and API) and the media it serves. Later: checkout.

pub mod account_pages;
pub mod accounts_api;
pub mod challenge;
pub mod confirm;
pub mod home;
pub mod language;
pub mod media;
pub mod member_data_api;
pub mod member_pages;
pub mod openapi;
pub mod shop_api;
pub mod shop_pages;

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
        .merge(challenge::router())
        .merge(shop_api::router(upload_limit))
        .merge(shop_pages::router(upload_limit))
        .merge(media::router())
}
