//! The member's personal data as HTML pages (C13): shipping addresses in
//! full (list, add, edit, make default, delete), the phone number and the
//! payout bank account, both shown only masked. Only the owner sees these
//! pages. The same rules, storage and side effects as the API
//! (`member_data_api`): the same parsers and the same `member_data` use
//! cases, so the same recent-login rule and notice mail for the bank
//! account.
//!
//! Values travel in POST bodies only (URLs carry nothing but address ids),
//! are never logged, and come back only in the member's own `no-store`
//! pages, so a wrong form can be corrected without retyping it.

use anshin_core::member_data::{
    self, FieldError, MemberDataError, PhoneNumber, RawAddress, RawBankAccount, ShippingAddress,
    StoredAddress,
};
use anshin_domain::AddressId;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::account_pages::{AfterReauth, reauth_code_page};
use super::confirm::Confirm;
use super::member_data_api::{AddressView, BankAccountMasked};
use crate::web::AppState;
use crate::web::common::errors::{WebError, form_message};
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::{FieldMessages, no_store};
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/addresses", get(addresses_page).post(address_add))
        .route(
            "/account/addresses/{id}/edit",
            get(address_edit_page).post(address_edit),
        )
        .route(
            "/account/addresses/{id}/default",
            post(address_make_default),
        )
        .route(
            "/account/addresses/{id}/delete",
            get(address_remove_confirm).post(address_remove),
        )
        .route("/account/phone", get(phone_page).post(phone_submit))
        .route("/account/bank-account", get(bank_page).post(bank_submit))
        .route("/account/bank-account/reauth", post(bank_reauth))
}

/// The member of a page (see [`SignedIn`]).
type Member = SignedIn;

// ---- addresses ----

#[derive(Template, WebTemplate)]
#[template(path = "addresses.html")]
struct AddressesPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    addresses: Vec<AddressView>,
    /// The add form: empty, or as typed when it had errors.
    form: &'a RawAddress,
    make_default: bool,
    errors: FieldMessages,
    /// "3 of 20 addresses."
    count_line: String,
    /// Shown instead of the add form when the member keeps
    /// `limits.max_addresses` already.
    full: Option<String>,
    /// Why the last change was not made (changed too often).
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "address_edit.html")]
struct AddressEditPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    id: Uuid,
    is_default: bool,
    form: &'a RawAddress,
    make_default: bool,
    errors: FieldMessages,
    notice: Option<String>,
}

/// The add and edit forms as submitted. Personal data: no `Debug`, and
/// the fields are wiped on drop (`RawAddress`).
#[derive(Deserialize)]
struct AddressForm {
    #[serde(flatten)]
    address: RawAddress,
    #[serde(default)]
    is_default: Option<String>,
}

impl AddressForm {
    fn make_default(&self) -> bool {
        self.is_default.is_some()
    }

    /// The parsed address, or every field error (the form stays as typed).
    fn parse(&self) -> Result<ShippingAddress, Vec<FieldError>> {
        ShippingAddress::parse(self.address.clone())
    }
}

/// What the edit form starts with: the stored address, as the list shows it.
fn raw_from_stored(s: &StoredAddress) -> RawAddress {
    let v = AddressView::from(s);
    RawAddress {
        recipient_name: v.recipient_name,
        postal_code: v.postal_code,
        prefecture: v.prefecture,
        city: v.city,
        line1: v.line1,
        line2: v.line2,
        phone: v.phone,
    }
}

async fn render_addresses(
    state: &AppState,
    m: &Member,
    form: &RawAddress,
    make_default: bool,
    errors: FieldMessages,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let list = member_data::list_addresses(&state.core, m.member).await?;
    let t = state.catalogs.get(m.lang);
    let max = state.settings.limits.max_addresses;
    let full = (list.len() >= max as usize)
        .then(|| t.err_too_many_addresses.replace("{max}", &max.to_string()));
    let page = AddressesPage {
        layout: Layout::new(state, m.lang, &t.addresses_title),
        csrf_token: &m.csrf,
        addresses: list.iter().map(AddressView::from).collect(),
        form,
        make_default,
        errors,
        count_line: t
            .addresses_count
            .replace("{count}", &list.len().to_string())
            .replace("{max}", &max.to_string()),
        full,
        notice,
    };
    Ok(no_store(page.into_response()))
}

/// The sentence for a limit the member ran into (a full collection, too
/// many changes), shown on the form; any other error stays an error.
fn limit_notice(state: &AppState, m: &Member, e: MemberDataError) -> Result<String, WebError> {
    match e {
        e @ (MemberDataError::LimitReached { .. } | MemberDataError::TooManyChanges(_)) => {
            form_message(state, m.lang, e)
        }
        e => Err(e.into()),
    }
}

fn render_edit(
    state: &AppState,
    m: &Member,
    stored: &StoredAddress,
    form: &RawAddress,
    make_default: bool,
    errors: FieldMessages,
    notice: Option<String>,
) -> Response {
    let t = state.catalogs.get(m.lang);
    let page = AddressEditPage {
        layout: Layout::new(state, m.lang, &t.address_edit_title),
        csrf_token: &m.csrf,
        id: stored.id.as_uuid(),
        is_default: stored.is_default,
        form,
        make_default,
        errors,
        notice,
    };
    no_store(page.into_response())
}

async fn addresses_page(State(state): State<AppState>, m: Member) -> Result<Response, WebError> {
    render_addresses(
        &state,
        &m,
        &RawAddress::default(),
        false,
        FieldMessages::default(),
        None,
    )
    .await
}

async fn address_add(
    State(state): State<AppState>,
    m: Member,
    Form(f): Form<AddressForm>,
) -> Result<Response, WebError> {
    match f.parse() {
        Ok(address) => {
            match member_data::add_address(&state.core, m.member, &address, f.make_default()).await
            {
                Ok(_) => flash::redirect("/account/addresses", Flash::AddressAdded),
                // The form stays as typed, with why it was not added.
                Err(e) => {
                    let notice = limit_notice(&state, &m, e)?;
                    render_addresses(
                        &state,
                        &m,
                        &f.address,
                        f.make_default(),
                        FieldMessages::default(),
                        Some(notice),
                    )
                    .await
                }
            }
        }
        // 200 with the errors on the form (error statuses get the generic
        // error page).
        Err(errors) => {
            let errors = FieldMessages::new(state.catalogs.get(m.lang), &errors);
            render_addresses(&state, &m, &f.address, f.make_default(), errors, None).await
        }
    }
}

async fn address_edit_page(
    State(state): State<AppState>,
    m: Member,
    Path(address_id): Path<Uuid>,
) -> Result<Response, WebError> {
    // Another member's address is NotFound, like a missing one.
    let stored =
        member_data::address(&state.core, m.member, AddressId::from_uuid(address_id)).await?;
    let form = raw_from_stored(&stored);
    Ok(render_edit(
        &state,
        &m,
        &stored,
        &form,
        false,
        FieldMessages::default(),
        None,
    ))
}

async fn address_edit(
    State(state): State<AppState>,
    m: Member,
    Path(address_id): Path<Uuid>,
    Form(f): Form<AddressForm>,
) -> Result<Response, WebError> {
    // Ownership first: someone else's id is a 404 whatever the form holds.
    let address_id = AddressId::from_uuid(address_id);
    let stored = member_data::address(&state.core, m.member, address_id).await?;
    match f.parse() {
        Ok(address) => {
            match member_data::update_address(
                &state.core,
                m.member,
                address_id,
                &address,
                f.make_default(),
            )
            .await
            {
                Ok(()) => flash::redirect("/account/addresses", Flash::AddressSaved),
                Err(e) => {
                    let notice = limit_notice(&state, &m, e)?;
                    Ok(render_edit(
                        &state,
                        &m,
                        &stored,
                        &f.address,
                        f.make_default(),
                        FieldMessages::default(),
                        Some(notice),
                    ))
                }
            }
        }
        Err(errors) => {
            let errors = FieldMessages::new(state.catalogs.get(m.lang), &errors);
            Ok(render_edit(
                &state,
                &m,
                &stored,
                &f.address,
                f.make_default(),
                errors,
                None,
            ))
        }
    }
}

async fn address_make_default(
    State(state): State<AppState>,
    m: Member,
    Path(address_id): Path<Uuid>,
) -> Result<Response, WebError> {
    member_data::make_default_address(&state.core, m.member, AddressId::from_uuid(address_id))
        .await?;
    flash::redirect("/account/addresses", Flash::AddressDefaultChanged)
}

/// "Delete this address?", with the address in full (the member's own
/// page, not cached).
async fn address_remove_confirm(
    State(state): State<AppState>,
    m: Member,
    Path(address_id): Path<Uuid>,
) -> Result<Response, WebError> {
    let stored =
        member_data::address(&state.core, m.member, AddressId::from_uuid(address_id)).await?;
    let v = AddressView::from(&stored);
    let detail = Zeroizing::new(format!(
        "〒{} {}{}{}{} — {}",
        v.postal_code,
        v.prefecture,
        v.city,
        v.line1,
        v.line2
            .as_deref()
            .map(|l| format!(" {l}"))
            .unwrap_or_default(),
        v.recipient_name
    ));
    let t = state.catalogs.get(m.lang);
    let action = format!("/account/addresses/{address_id}/delete");
    Ok(Confirm {
        lead: &t.confirm_delete_address_lead,
        detail: Some(&detail),
        action: &action,
        submit: &t.address_delete,
        cancel: "/account/addresses",
    }
    .page(&state, &m))
}

async fn address_remove(
    State(state): State<AppState>,
    m: Member,
    Path(address_id): Path<Uuid>,
) -> Result<Response, WebError> {
    match member_data::delete_address(&state.core, m.member, AddressId::from_uuid(address_id)).await
    {
        Ok(()) => flash::redirect("/account/addresses", Flash::AddressDeleted),
        Err(MemberDataError::TooManyChanges(_)) => {
            flash::redirect("/account/addresses", Flash::TooManyChanges)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- phone ----

#[derive(Template, WebTemplate)]
#[template(path = "phone.html")]
struct PhonePage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    /// Masked, `090-****-5678`.
    current: Option<String>,
    /// The form field: empty, or as typed when it had an error.
    value: &'a str,
    errors: FieldMessages,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct PhoneForm {
    #[serde(default)]
    phone: String,
}

async fn render_phone(
    state: &AppState,
    m: &Member,
    value: &str,
    errors: FieldMessages,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let current = member_data::phone(&state.core, m.member).await?;
    let t = state.catalogs.get(m.lang);
    let page = PhonePage {
        layout: Layout::new(state, m.lang, &t.phone_title),
        csrf_token: &m.csrf,
        current: current.map(|p| p.masked()),
        value,
        errors,
        notice,
    };
    Ok(no_store(page.into_response()))
}

async fn phone_page(State(state): State<AppState>, m: Member) -> Result<Response, WebError> {
    render_phone(&state, &m, "", FieldMessages::default(), None).await
}

async fn phone_submit(
    State(state): State<AppState>,
    m: Member,
    Form(f): Form<PhoneForm>,
) -> Result<Response, WebError> {
    let typed = Zeroizing::new(f.phone);
    match PhoneNumber::parse(&typed) {
        Ok(phone) => match member_data::set_phone(&state.core, m.member, &phone).await {
            Ok(()) => flash::redirect("/account/phone", Flash::PhoneSaved),
            Err(e) => {
                let notice = limit_notice(&state, &m, e)?;
                render_phone(&state, &m, &typed, FieldMessages::default(), Some(notice)).await
            }
        },
        Err(e) => {
            let errors = FieldMessages::new(state.catalogs.get(m.lang), &[e]);
            render_phone(&state, &m, &typed, errors, None).await
        }
    }
}

// ---- bank account ----

#[derive(Template, WebTemplate)]
#[template(path = "bank_account.html")]
struct BankPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    current: Option<BankAccountMasked>,
    /// Whether the session may change the account now; if not, the page
    /// offers a confirmation code instead of the form.
    recent: bool,
    form: &'a RawBankAccount,
    errors: FieldMessages,
    /// A message that is not about one field (re-authentication needed,
    /// too many code requests).
    notice: Option<String>,
    saved: bool,
}

/// What the bank page shows besides the stored account.
#[derive(Default)]
struct BankView<'a> {
    form: Option<&'a RawBankAccount>,
    errors: FieldMessages,
    notice: Option<String>,
    saved: bool,
}

async fn render_bank(
    state: &AppState,
    m: &Member,
    view: BankView<'_>,
) -> Result<Response, WebError> {
    let current = member_data::bank_account(&state.core, m.member).await?;
    let empty = RawBankAccount::default();
    let t = state.catalogs.get(m.lang);
    let page = BankPage {
        layout: Layout::new(state, m.lang, &t.bank_title),
        csrf_token: &m.csrf,
        current: current.as_ref().map(BankAccountMasked::from),
        recent: anshin_core::sessions::recently_authenticated(&state.core, &m.session),
        form: view.form.unwrap_or(&empty),
        errors: view.errors,
        notice: view.notice,
        saved: view.saved,
    };
    Ok(no_store(page.into_response()))
}

async fn bank_page(State(state): State<AppState>, m: Member) -> Result<Response, WebError> {
    render_bank(&state, &m, BankView::default()).await
}

async fn bank_submit(
    State(state): State<AppState>,
    m: Member,
    Form(raw): Form<RawBankAccount>,
) -> Result<Response, WebError> {
    let typed = raw.clone();
    let view = match member_data::change_bank_account(&state.core, &m.session, raw).await {
        Ok(()) => BankView {
            saved: true,
            ..BankView::default()
        },
        Err(MemberDataError::ReauthRequired) => BankView {
            notice: Some(
                state
                    .catalogs
                    .get(m.lang)
                    .err_reauthentication_required
                    .clone(),
            ),
            ..BankView::default()
        },
        Err(e @ MemberDataError::TooManyChanges(_)) => BankView {
            form: Some(&typed),
            notice: Some(form_message(&state, m.lang, e)?),
            ..BankView::default()
        },
        Err(MemberDataError::Invalid(errors)) => BankView {
            form: Some(&typed),
            errors: FieldMessages::new(state.catalogs.get(m.lang), &errors),
            ..BankView::default()
        },
        Err(e) => return Err(e.into()),
    };
    render_bank(&state, &m, view).await
}

/// Mails a confirmation code; the code page returns to this page.
async fn bank_reauth(State(state): State<AppState>, m: Member) -> Result<Response, WebError> {
    match anshin_core::accounts::request_reauth(&state.core, m.member).await {
        Ok(flow_id) => Ok(reauth_code_page(
            &state,
            m.lang,
            &m.csrf,
            flow_id,
            None,
            AfterReauth::BankAccount,
        )),
        Err(e) => {
            let notice = Some(form_message(&state, m.lang, e)?);
            render_bank(
                &state,
                &m,
                BankView {
                    notice,
                    ..BankView::default()
                },
            )
            .await
        }
    }
}
