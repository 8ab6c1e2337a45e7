//! The member-data API (C13): phone, shipping addresses, payout bank
//! account. Handlers parse the request into the `member_data` newtypes
//! (all field errors at once: 400 `invalid_fields` with a `fields` list)
//! and call the core's `member_data` use cases, which encrypt before the
//! store sees anything. Responses show the phone and bank account only
//! masked; the owner sees their own addresses in full.

use anshin_core::member_data::{
    self, BankAccount, PhoneNumber, RawAddress, RawBankAccount, ShippingAddress, StoredAddress,
};
use anshin_domain::AddressId;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::web::AppState;
use crate::web::common::errors::{ApiError, WebError};
use crate::web::common::json::ApiJson;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/phone", put(set_phone).delete(remove_phone))
        .route(
            "/api/v1/me/addresses",
            get(list_addresses).post(add_address),
        )
        .route(
            "/api/v1/me/addresses/{id}",
            put(update_address).delete(delete_address),
        )
        .route(
            "/api/v1/me/bank-account",
            put(set_bank_account).delete(remove_bank_account),
        )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    /// `090-1234-5678`, `０９０１２３４５６７８`, `+81 90 1234 5678`, ...
    pub phone: String,
}

impl std::fmt::Debug for PhoneRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneRequest([redacted])")
    }
}

/// Sets the member's phone number (stored encrypted). Counts as a
/// personal data change (429 `too_many_changes` beyond
/// `limits.max_personal_data_changes` per window, with Retry-After).
#[utoipa::path(put, path = "/api/v1/me/phone", request_body = PhoneRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 429, body = ApiError)), tag = "me")]
pub async fn set_phone(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<PhoneRequest>,
) -> Result<StatusCode, WebError> {
    let req = zeroize::Zeroizing::new(req.phone);
    let phone = PhoneNumber::parse(&req).map_err(|e| WebError::InvalidFields(vec![e]))?;
    member_data::set_phone(&state.core, me.member, &phone).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the member's phone. Needs a recent login (403
/// `reauthentication_required` otherwise); fine when there is none.
#[utoipa::path(delete, path = "/api/v1/me/phone",
    responses((status = 204), (status = 403, body = ApiError)), tag = "me")]
pub async fn remove_phone(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<StatusCode, WebError> {
    member_data::remove_phone(&state.core, &me.session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct AddressRequest {
    pub recipient_name: String,
    pub postal_code: String,
    /// `東京都`, `Tokyo`, ...
    pub prefecture: String,
    pub city: String,
    pub line1: String,
    pub line2: Option<String>,
    pub phone: Option<String>,
    /// Make this the default address (the first address always is).
    #[serde(default)]
    pub is_default: bool,
}

impl std::fmt::Debug for AddressRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddressRequest([redacted])")
    }
}

impl AddressRequest {
    fn parse(self) -> Result<(ShippingAddress, bool), WebError> {
        let raw = RawAddress {
            recipient_name: self.recipient_name,
            postal_code: self.postal_code,
            prefecture: self.prefecture,
            city: self.city,
            line1: self.line1,
            line2: self.line2,
            phone: self.phone,
        };
        ShippingAddress::parse(raw)
            .map(|a| (a, self.is_default))
            .map_err(WebError::InvalidFields)
    }
}

#[derive(Serialize, ToSchema)]
pub struct AddressView {
    pub id: Uuid,
    pub is_default: bool,
    pub recipient_name: String,
    /// `123-4567`
    pub postal_code: String,
    pub prefecture: String,
    pub city: String,
    pub line1: String,
    pub line2: Option<String>,
    /// National form, `090-1234-5678`.
    pub phone: Option<String>,
}

impl std::fmt::Debug for AddressView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressView")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl From<&StoredAddress> for AddressView {
    fn from(s: &StoredAddress) -> Self {
        let a = &s.address;
        AddressView {
            id: s.id.as_uuid(),
            is_default: s.is_default,
            recipient_name: a.recipient_name().as_str().to_owned(),
            postal_code: a.postal_code().as_str().to_owned(),
            prefecture: a.prefecture().as_str().to_owned(),
            city: a.city().as_str().to_owned(),
            line1: a.line1().as_str().to_owned(),
            line2: a.line2().map(|l| l.as_str().to_owned()),
            phone: a.phone().map(|p| p.national_display().to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressCreated {
    pub id: Uuid,
}

/// The member's shipping addresses, in full (only the owner sees them).
#[utoipa::path(get, path = "/api/v1/me/addresses",
    responses((status = 200, body = [AddressView]), (status = 401, body = ApiError)), tag = "me")]
pub async fn list_addresses(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<Vec<AddressView>>, WebError> {
    let list = member_data::list_addresses(&state.core, me.member).await?;
    Ok(Json(list.iter().map(AddressView::from).collect()))
}

/// Adds a shipping address. 409 `too_many_addresses` when the member
/// keeps `limits.max_addresses` already; 429 `too_many_changes` (with
/// Retry-After) beyond the personal data change budget.
#[utoipa::path(post, path = "/api/v1/me/addresses", request_body = AddressRequest,
    responses((status = 201, body = AddressCreated), (status = 400, body = ApiError),
        (status = 409, body = ApiError), (status = 429, body = ApiError)), tag = "me")]
pub async fn add_address(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<AddressRequest>,
) -> Result<(StatusCode, Json<AddressCreated>), WebError> {
    let (address, make_default) = req.parse()?;
    let id = member_data::add_address(&state.core, me.member, &address, make_default).await?;
    Ok((
        StatusCode::CREATED,
        Json(AddressCreated { id: id.as_uuid() }),
    ))
}

/// Replaces one of the member's addresses (a personal data change: 429
/// `too_many_changes` beyond the budget).
#[utoipa::path(put, path = "/api/v1/me/addresses/{id}", params(("id" = Uuid, Path)), request_body = AddressRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 429, body = ApiError)), tag = "me")]
pub async fn update_address(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    ApiJson(req): ApiJson<AddressRequest>,
) -> Result<StatusCode, WebError> {
    let (address, make_default) = req.parse()?;
    member_data::update_address(
        &state.core,
        me.member,
        AddressId::from_uuid(id),
        &address,
        make_default,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one of the member's addresses (a personal data change: 429
/// `too_many_changes` beyond the budget).
#[utoipa::path(delete, path = "/api/v1/me/addresses/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ApiError), (status = 429, body = ApiError)), tag = "me")]
pub async fn delete_address(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, WebError> {
    member_data::delete_address(&state.core, me.member, AddressId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankAccountRequest {
    /// 4 digits.
    pub bank_code: String,
    /// 3 digits.
    pub branch_code: String,
    /// `ordinary`, `checking` or `savings`.
    pub account_type: String,
    /// Up to 7 digits.
    pub account_number: String,
    /// Holder name in katakana, as on the passbook.
    pub holder_kana: String,
}

impl std::fmt::Debug for BankAccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BankAccountRequest([redacted])")
    }
}

/// Sets the payout bank account. Needs a recent login (403
/// `reauthentication_required` otherwise); mails a notice; a personal
/// data change (429 `too_many_changes` beyond the budget).
#[utoipa::path(put, path = "/api/v1/me/bank-account", request_body = BankAccountRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 429, body = ApiError)), tag = "me")]
pub async fn set_bank_account(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<BankAccountRequest>,
) -> Result<StatusCode, WebError> {
    let raw = RawBankAccount {
        bank_code: req.bank_code,
        branch_code: req.branch_code,
        account_type: req.account_type,
        account_number: req.account_number,
        holder_kana: req.holder_kana,
    };
    member_data::change_bank_account(&state.core, &me.session, raw).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the payout bank account. Needs a recent login (403
/// `reauthentication_required` otherwise); fine when there is none.
#[utoipa::path(delete, path = "/api/v1/me/bank-account",
    responses((status = 204), (status = 403, body = ApiError)), tag = "me")]
pub async fn remove_bank_account(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<StatusCode, WebError> {
    member_data::remove_bank_account(&state.core, &me.session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `/api/v1/me` shows of the bank account.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankAccountMasked {
    pub bank_code: String,
    /// From the bundled Zengin list (`みずほ銀行`); absent for a code the
    /// list does not hold.
    pub bank_name: Option<String>,
    pub branch_code: String,
    /// `渋谷`; absent when the list does not hold the branch.
    pub branch_name: Option<String>,
    pub account_type: String,
    /// `****321`
    pub account_number: String,
}

impl From<&BankAccount> for BankAccountMasked {
    fn from(b: &BankAccount) -> Self {
        let bank = anshin_core::banks::bank(b.bank_code().as_str());
        let branch = bank.and_then(|k| k.branch(b.branch_code().as_str()));
        BankAccountMasked {
            bank_code: b.bank_code().as_str().to_owned(),
            bank_name: bank.map(|k| k.name.clone()),
            branch_code: b.branch_code().as_str().to_owned(),
            branch_name: branch.map(|r| r.name.clone()),
            account_type: b.account_type().as_str().to_owned(),
            account_number: b.masked_number(),
        }
    }
}
