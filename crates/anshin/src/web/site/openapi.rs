//! The OpenAPI document of the JSON API, at `/api/openapi.json`. Routes
//! live with their feature modules; this module only lists them.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::web::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "anshin API",
        description = "JSON API of the anshin marketplace. Every request that changes \
            something (POST, PUT, PATCH, DELETE) must carry `Content-Type: application/json`, \
            with a body or without one (a logout, a DELETE): anything else is 415 \
            `unsupported_media_type`. Cross-origin requests are refused. Errors are \
            `{error, message, request_id}` with a stable `error` code. \
            Card payments (C15): the card is typed into the processor's own element and \
            tokenised in the browser; `POST /api/v1/orders/{id}/payment` takes only the \
            processor's reference (`card_…`, `pm_…`), never a card number. Payment results \
            also arrive from the processor by signed webhooks at `POST /hooks/payments` \
            (not part of this API: authenticated by `Stripe-Signature`, not by session).",
        version = "1"
    ),
    paths(
        crate::web::site::member_data_api::set_phone,
        crate::web::site::member_data_api::list_addresses,
        crate::web::site::member_data_api::add_address,
        crate::web::site::member_data_api::update_address,
        crate::web::site::member_data_api::delete_address,
        crate::web::site::member_data_api::set_bank_account,
        crate::web::site::language::save_api,
        crate::web::site::accounts_api::signup,
        crate::web::site::accounts_api::signup_verify,
        crate::web::site::accounts_api::login_code,
        crate::web::site::accounts_api::login_code_verify,
        crate::web::site::accounts_api::login_password,
        crate::web::site::accounts_api::login_unlock,
        crate::web::site::accounts_api::me,
        crate::web::site::accounts_api::set_password,
        crate::web::site::accounts_api::remove_password,
        crate::web::site::accounts_api::reauth_code,
        crate::web::site::accounts_api::reauth_verify,
        crate::web::site::accounts_api::list_sessions,
        crate::web::site::accounts_api::end_session,
        crate::web::site::accounts_api::end_other_sessions,
        crate::web::site::accounts_api::logins,
        crate::web::site::accounts_api::logout,
        crate::web::site::profile_api::update_profile,
        crate::web::site::profile_api::start_email_change,
        crate::web::site::profile_api::confirm_email_change,
        crate::web::site::profile_api::resend_email_change,
        crate::web::site::challenge::issue,
        crate::web::site::lookup_api::search_banks,
        crate::web::site::lookup_api::search_branches,
        crate::web::site::lookup_api::postcode,
        crate::web::site::member_data_api::remove_phone,
        crate::web::site::member_data_api::remove_bank_account,
        crate::web::site::shop_api::my_shop,
        crate::web::site::shop_api::open_shop,
        crate::web::site::shop_api::edit_shop,
        crate::web::site::shop_api::set_shop_status,
        crate::web::site::shop_api::set_icon,
        crate::web::site::shop_api::my_items,
        crate::web::site::shop_api::add_item,
        crate::web::site::shop_api::my_item,
        crate::web::site::shop_api::edit_item,
        crate::web::site::shop_api::set_item_status,
        crate::web::site::shop_api::add_image,
        crate::web::site::shop_api::remove_image,
        crate::web::site::shop_api::shop,
        crate::web::site::shop_api::item,
        crate::web::site::shop_api::search,
        crate::web::site::checkout_api::cart,
        crate::web::site::checkout_api::put_item,
        crate::web::site::checkout_api::delete_item,
        crate::web::site::checkout_api::place_order,
        crate::web::site::checkout_api::pay,
        crate::web::site::checkout_api::refresh,
        crate::web::site::checkout_api::list_orders,
        crate::web::site::checkout_api::order,
        crate::web::site::checkout_api::received,
        crate::web::site::checkout_api::complete,
        crate::web::site::checkout_api::list_sales,
        crate::web::site::checkout_api::sale,
        crate::web::site::checkout_api::ship,
        crate::web::site::checkout_api::refund,
    ),
    components(schemas(
        crate::web::common::errors::ApiError,
        crate::web::site::language::LanguagePreference,
        crate::web::site::challenge::ChallengeView
    ))
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
