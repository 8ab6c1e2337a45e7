//! The member-data API (C13): phone, shipping addresses, payout bank
//! account. Handlers parse the request into the `member_data` newtypes
//! (all field errors at once: 400 `invalid_fields` with a `fields` list)
//! and call `member_data::sealed`, which encrypts before the store sees
//! anything. Responses show the phone and bank account only masked; the
//! owner sees their own addresses in full.

use anshin_store::SessionRecord;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts;
use crate::mail::compose::Letter;
use crate::member_data::sealed::{self, MemberDataError, StoredAddress};
use crate::member_data::{BankAccount, PhoneNumber, RawAddress, RawBankAccount, ShippingAddress};
use crate::web::AppState;
use crate::web::account::AuthSession;
use crate::web::api::ApiJson;
use crate::web::errors::WebError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/phone", put(set_phone))
        .route(
            "/api/v1/me/addresses",
            get(list_addresses).post(add_address),
        )
        .route(
            "/api/v1/me/addresses/{id}",
            put(update_address).delete(delete_address),
        )
        .route("/api/v1/me/bank-account", put(set_bank_account))
}

impl From<MemberDataError> for WebError {
    fn from(e: MemberDataError) -> Self {
        match e {
            MemberDataError::Invalid(fields) => WebError::InvalidFields(fields),
            MemberDataError::NotFound => WebError::NotFound,
            e @ (MemberDataError::Unreadable { .. } | MemberDataError::Malformed { .. }) => {
                WebError::Unreadable(e.into())
            }
            MemberDataError::Store(e) => WebError::Internal(e.into()),
        }
    }
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

/// Sets the member's phone number (stored encrypted).
#[utoipa::path(put, path = "/api/v1/me/phone", request_body = PhoneRequest,
    responses((status = 204), (status = 400, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn set_phone(
    State(state): State<AppState>,
    auth: AuthSession,
    ApiJson(req): ApiJson<PhoneRequest>,
) -> Result<StatusCode, WebError> {
    let req = zeroize::Zeroizing::new(req.phone);
    let phone = PhoneNumber::parse(&req).map_err(|e| WebError::InvalidFields(vec![e]))?;
    sealed::set_phone(
        state.store.as_ref(),
        &state.keys,
        auth.member_id,
        &phone,
        state.clock.now(),
    )
    .await?;
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
            id: s.id,
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
    responses((status = 200, body = [AddressView]), (status = 401, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn list_addresses(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Json<Vec<AddressView>>, WebError> {
    let list = sealed::list_addresses(state.store.as_ref(), &state.keys, auth.member_id).await?;
    Ok(Json(list.iter().map(AddressView::from).collect()))
}

/// Adds a shipping address.
#[utoipa::path(post, path = "/api/v1/me/addresses", request_body = AddressRequest,
    responses((status = 201, body = AddressCreated), (status = 400, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn add_address(
    State(state): State<AppState>,
    auth: AuthSession,
    ApiJson(req): ApiJson<AddressRequest>,
) -> Result<(StatusCode, Json<AddressCreated>), WebError> {
    let (address, make_default) = req.parse()?;
    let id = sealed::add_address(
        state.store.as_ref(),
        &state.keys,
        auth.member_id,
        &address,
        make_default,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(AddressCreated { id })))
}

/// Replaces one of the member's addresses.
#[utoipa::path(put, path = "/api/v1/me/addresses/{id}", params(("id" = Uuid, Path)), request_body = AddressRequest,
    responses((status = 204), (status = 400, body = crate::web::errors::ApiError), (status = 404, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn update_address(
    State(state): State<AppState>,
    auth: AuthSession,
    Path(id): Path<Uuid>,
    ApiJson(req): ApiJson<AddressRequest>,
) -> Result<StatusCode, WebError> {
    let (address, make_default) = req.parse()?;
    sealed::update_address(
        state.store.as_ref(),
        &state.keys,
        auth.member_id,
        id,
        &address,
        make_default,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one of the member's addresses.
#[utoipa::path(delete, path = "/api/v1/me/addresses/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn delete_address(
    State(state): State<AppState>,
    auth: AuthSession,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, WebError> {
    sealed::delete_address(state.store.as_ref(), auth.member_id, id).await?;
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
/// `reauthentication_required` otherwise); mails a notice.
#[utoipa::path(put, path = "/api/v1/me/bank-account", request_body = BankAccountRequest,
    responses((status = 204), (status = 400, body = crate::web::errors::ApiError), (status = 403, body = crate::web::errors::ApiError)), tag = "me")]
pub async fn set_bank_account(
    State(state): State<AppState>,
    auth: AuthSession,
    ApiJson(req): ApiJson<BankAccountRequest>,
) -> Result<StatusCode, WebError> {
    let raw = RawBankAccount {
        bank_code: req.bank_code,
        branch_code: req.branch_code,
        account_type: req.account_type,
        account_number: req.account_number,
        holder_kana: req.holder_kana,
    };
    change_bank_account(&state, &auth.session, auth.member_id, raw).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Why a payout account change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BankAccountChangeError {
    /// The session's last login is not recent enough; confirm with a code.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The form has errors; each names its field.
    #[error("invalid fields")]
    Invalid(Vec<crate::member_data::FieldError>),
    #[error(transparent)]
    Failed(#[from] WebError),
}

impl From<BankAccountChangeError> for WebError {
    fn from(e: BankAccountChangeError) -> Self {
        match e {
            BankAccountChangeError::ReauthenticationRequired => {
                WebError::Forbidden("reauthentication_required")
            }
            BankAccountChangeError::Invalid(fields) => WebError::InvalidFields(fields),
            BankAccountChangeError::Failed(e) => e,
        }
    }
}

/// Changes the payout account, for the API and the bank account page
/// alike: a recent login first, then the parsed fields, then the sealed
/// account and its notice mail to the member, queued in one transaction.
pub async fn change_bank_account(
    state: &AppState,
    session: &SessionRecord,
    member_id: Uuid,
    raw: RawBankAccount,
) -> Result<(), BankAccountChangeError> {
    if !accounts::recently_authenticated(state, session) {
        return Err(BankAccountChangeError::ReauthenticationRequired);
    }
    let account = BankAccount::parse(raw).map_err(BankAccountChangeError::Invalid)?;
    let member = state
        .store
        .accounts()
        .find_member(member_id)
        .await
        .map_err(|e| WebError::Internal(e.into()))?
        .ok_or(WebError::Unauthorized("not_authenticated"))?;
    let now = state.clock.now();
    let mail = accounts::seal_letter(
        state,
        accounts::lang_of(&member),
        &member.email,
        &Letter::BankAccountChanged,
        now,
    )
    .map_err(WebError::from)?;
    sealed::set_bank_account(
        state.store.as_ref(),
        &state.keys,
        member_id,
        &account,
        now,
        &mail,
    )
    .await
    .map_err(WebError::from)?;
    Ok(())
}

/// What `/api/v1/me` shows of the bank account.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankAccountMasked {
    pub bank_code: String,
    pub account_type: String,
    /// `****321`
    pub account_number: String,
}

/// The masked phone and bank account for `/api/v1/me`.
pub async fn masked(
    state: &AppState,
    member_id: Uuid,
) -> Result<(Option<String>, Option<BankAccountMasked>), WebError> {
    let phone = sealed::phone(state.store.as_ref(), &state.keys, member_id).await?;
    let bank = sealed::bank_account(state.store.as_ref(), &state.keys, member_id).await?;
    Ok((
        phone.map(|p| p.masked()),
        bank.as_ref().map(BankAccountMasked::from),
    ))
}

impl From<&BankAccount> for BankAccountMasked {
    fn from(b: &BankAccount) -> Self {
        BankAccountMasked {
            bank_code: b.bank_code().as_str().to_owned(),
            account_type: b.account_type().as_str().to_owned(),
            account_number: b.masked_number(),
        }
    }
}
