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
use anshin_core::{banks, postcodes};

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
        .route(
            "/account/phone/remove",
            get(phone_remove_confirm).post(phone_remove),
        )
        .route("/account/bank-account", get(bank_page).post(bank_submit))
        .route("/account/bank-account/reauth", post(bank_reauth))
        .route(
            "/account/bank-account/remove",
            get(bank_remove_confirm).post(bank_remove),
        )
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
    lookup: Option<LookupNote>,
    postcode_note: String,
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
    lookup: Option<LookupNote>,
    postcode_note: String,
    notice: Option<String>,
}

/// What an address form says above itself after a post: what the
/// postcode lookup found, or why the change was not made.
#[derive(Debug, Default)]
struct Said {
    lookup: Option<LookupNote>,
    notice: Option<String>,
}

impl Said {
    fn lookup(note: Option<LookupNote>) -> Self {
        Said {
            lookup: note,
            notice: None,
        }
    }

    fn notice(notice: String) -> Self {
        Said {
            lookup: None,
            notice: Some(notice),
        }
    }
}

/// What the "look up address" button found, said above the form.
#[derive(Debug)]
struct LookupNote {
    /// Not found: an alert, not a status.
    problem: bool,
    text: String,
}

/// The add and edit forms as submitted. Personal data: no `Debug`, and
/// the fields are wiped on drop (`RawAddress`).
#[derive(Deserialize)]
struct AddressForm {
    #[serde(flatten)]
    address: RawAddress,
    #[serde(default)]
    is_default: Option<String>,
    /// The "look up address" button: fill prefecture, city and town from
    /// the postcode and show the form again, saving nothing.
    #[serde(default)]
    lookup: Option<String>,
}

impl AddressForm {
    fn make_default(&self) -> bool {
        self.is_default.is_some()
    }

    /// Fills prefecture, city and (when one town) the start of the street
    /// line from the typed postcode. Only empty or postcode-derived fields
    /// change: a typed street line is kept.
    fn look_up(&mut self, t: &anshin_core::i18n::Catalog) -> Result<LookupNote, FieldError> {
        let problem = |text: &str| LookupNote {
            problem: true,
            text: text.to_owned(),
        };
        let areas = match postcodes::lookup(&self.address.postal_code)? {
            postcodes::Lookup::Found(areas) => areas,
            postcodes::Lookup::Unknown => return Ok(problem(&t.address_lookup_unknown)),
        };
        let Some(first) = areas.first() else {
            return Ok(problem(&t.address_lookup_unknown));
        };
        let a = &mut self.address;
        if let Ok(code) = anshin_core::member_data::PostalCode::parse(&a.postal_code) {
            a.postal_code = code.as_str().to_owned();
        }
        let one_city = areas
            .iter()
            .all(|x| x.prefecture == first.prefecture && x.city == first.city);
        if one_city {
            a.prefecture = first.prefecture.to_owned();
            a.city = first.city.to_owned();
        }
        if areas.len() == 1 {
            if a.line1.trim().is_empty() {
                a.line1 = first.town.to_owned();
            }
            return Ok(LookupNote {
                problem: false,
                text: t.address_lookup_found.clone(),
            });
        }
        // Several areas: name them (at most 8), fill what they share.
        let mut names: Vec<String> = areas
            .iter()
            .take(8)
            .map(|x| {
                if one_city {
                    x.town.to_owned()
                } else {
                    format!("{}{}{}", x.prefecture, x.city, x.town)
                }
            })
            .collect();
        if areas.len() > 8 {
            names.push("…".into());
        }
        Ok(LookupNote {
            problem: false,
            text: t
                .address_lookup_several
                .replace("{areas}", &names.join("、")),
        })
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

/// "Postal code data from Japan Post, as of …".
fn postcode_note(t: &anshin_core::i18n::Catalog) -> String {
    t.address_lookup_note
        .replace("{date}", &postcodes::source().date)
}

async fn render_addresses(
    state: &AppState,
    m: &Member,
    form: &RawAddress,
    make_default: bool,
    errors: FieldMessages,
    said: Said,
) -> Result<Response, WebError> {
    let Said { lookup, notice } = said;
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
        lookup,
        postcode_note: postcode_note(t),
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
    said: Said,
) -> Response {
    let Said { lookup, notice } = said;
    let t = state.catalogs.get(m.lang);
    let page = AddressEditPage {
        layout: Layout::new(state, m.lang, &t.address_edit_title),
        csrf_token: &m.csrf,
        id: stored.id.as_uuid(),
        is_default: stored.is_default,
        form,
        make_default,
        errors,
        lookup,
        postcode_note: postcode_note(t),
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
        Said::default(),
    )
    .await
}

/// The "look up address" button: the form again, filled from the postcode
/// (or with the postcode's own error), nothing saved.
fn lookup_view(
    state: &AppState,
    m: &Member,
    f: &mut AddressForm,
) -> (FieldMessages, Option<LookupNote>) {
    let t = state.catalogs.get(m.lang);
    match f.look_up(t) {
        Ok(note) => (FieldMessages::default(), Some(note)),
        Err(e) => (FieldMessages::new(t, &[e]), None),
    }
}

async fn address_add(
    State(state): State<AppState>,
    m: Member,
    Form(mut f): Form<AddressForm>,
) -> Result<Response, WebError> {
    if f.lookup.is_some() {
        let (errors, note) = lookup_view(&state, &m, &mut f);
        return render_addresses(
            &state,
            &m,
            &f.address,
            f.make_default(),
            errors,
            Said::lookup(note),
        )
        .await;
    }
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
                        Said::notice(notice),
                    )
                    .await
                }
            }
        }
        // 200 with the errors on the form (error statuses get the generic
        // error page).
        Err(errors) => {
            let errors = FieldMessages::new(state.catalogs.get(m.lang), &errors);
            render_addresses(
                &state,
                &m,
                &f.address,
                f.make_default(),
                errors,
                Said::default(),
            )
            .await
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
        Said::default(),
    ))
}

async fn address_edit(
    State(state): State<AppState>,
    m: Member,
    Path(address_id): Path<Uuid>,
    Form(mut f): Form<AddressForm>,
) -> Result<Response, WebError> {
    // Ownership first: someone else's id is a 404 whatever the form holds.
    let address_id = AddressId::from_uuid(address_id);
    let stored = member_data::address(&state.core, m.member, address_id).await?;
    if f.lookup.is_some() {
        let (errors, note) = lookup_view(&state, &m, &mut f);
        let make_default = f.make_default();
        return Ok(render_edit(
            &state,
            &m,
            &stored,
            &f.address,
            make_default,
            errors,
            Said::lookup(note),
        ));
    }
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
                        Said::notice(notice),
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
                Said::default(),
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

/// "Remove the phone number?" — or, without a recent login, the offer of
/// a confirmation code that comes back here.
async fn phone_remove_confirm(
    State(state): State<AppState>,
    m: Member,
) -> Result<Response, WebError> {
    let Some(current) = member_data::phone(&state.core, m.member).await? else {
        return Ok(axum::response::Redirect::to("/account/phone").into_response());
    };
    let t = state.catalogs.get(m.lang);
    if !anshin_core::sessions::recently_authenticated(&state.core, &m.session) {
        return Ok(reauth_first(
            &state,
            &m,
            AfterReauth::RemovePhone,
            "/account/phone",
        ));
    }
    let detail = current.masked();
    Ok(Confirm {
        lead: &t.confirm_remove_phone_lead,
        detail: Some(&detail),
        action: "/account/phone/remove",
        submit: &t.phone_remove,
        cancel: "/account/phone",
    }
    .page(&state, &m))
}

async fn phone_remove(State(state): State<AppState>, m: Member) -> Result<Response, WebError> {
    match member_data::remove_phone(&state.core, &m.session).await {
        Ok(()) => flash::redirect("/account/phone", Flash::PhoneRemoved),
        // The login went stale between the question and the answer: ask
        // again, with the code offer.
        Err(MemberDataError::ReauthRequired) => {
            Ok(axum::response::Redirect::to("/account/phone/remove").into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reauth_first.html")]
struct ReauthFirstPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    lead: String,
    next: &'static str,
    cancel: &'static str,
}

/// A removal that needs a fresh login: say so and offer the code, whose
/// page returns to the question.
fn reauth_first(state: &AppState, m: &Member, next: AfterReauth, cancel: &'static str) -> Response {
    let t = state.catalogs.get(m.lang);
    let layout = Layout::new(state, m.lang, &t.account_reauth_title);
    let lead = t
        .remove_reauth_lead
        .replace("{minutes}", &layout.reauth_minutes);
    no_store(
        ReauthFirstPage {
            layout,
            csrf_token: &m.csrf,
            lead,
            next: next.field().unwrap_or_default(),
            cancel,
        }
        .into_response(),
    )
}

// ---- bank account ----

#[derive(Template, WebTemplate)]
#[template(path = "bank_account.html")]
struct BankPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    current: Option<CurrentBank>,
    /// Whether the session may change the account now; if not, the page
    /// offers a confirmation code instead of the form.
    recent: bool,
    form: &'a RawBankAccount,
    errors: FieldMessages,
    /// A message that is not about one field (re-authentication needed,
    /// too many code requests).
    notice: Option<String>,
    /// Good news above the form (the typed form is back).
    status: Option<String>,
    saved: bool,
    search: BankSearch,
    data_note: String,
}

/// The registered account as the page shows it: names from the bundled
/// list, the number masked.
#[derive(Debug)]
struct CurrentBank {
    bank: String,
    branch: String,
    account_type: String,
    account_number: String,
}

/// The search steps of the bank form: what was searched for and found,
/// and which bank and branch the codes name.
#[derive(Debug, Default)]
struct BankSearch {
    bank_q: String,
    branch_q: String,
    /// `None`: no bank search yet; `Some(empty)`: nothing found.
    banks: Option<Vec<Hit>>,
    branches: Option<Vec<Hit>>,
    /// The bank the bank code names, if the list holds it: the branch
    /// search searches in it.
    chosen_bank: Option<String>,
    chosen_branch: Option<String>,
    /// More matches than shown.
    more: bool,
}

// nosemgrep: anshin-secret-field-in-debug-derive -- `code` is a bank's or branch's public Zengin code
#[derive(Debug)]
struct Hit {
    code: String,
    label: String,
}

/// `みずほ銀行（0001）`.
fn labelled(name: &str, code: &str) -> String {
    format!("{name}（{code}）")
}

impl BankSearch {
    /// What the codes in `form` name, with the searches of `f` run.
    fn new(form: &RawBankAccount, bank_q: &str, branch_q: &str, run: Step) -> Self {
        let bank = banks::bank(form.bank_code.trim());
        let mut s = BankSearch {
            bank_q: bank_q.to_owned(),
            branch_q: branch_q.to_owned(),
            chosen_bank: bank.map(|b| labelled(&b.name, &b.code)),
            chosen_branch: bank
                .and_then(|b| b.branch(form.branch_code.trim()))
                .map(|r| labelled(&r.name, &r.code)),
            ..BankSearch::default()
        };
        match run {
            Step::FindBank => {
                let found = banks::search(bank_q);
                s.more = found.len() >= banks::MAX_RESULTS;
                s.banks = Some(
                    found
                        .into_iter()
                        .map(|b| Hit {
                            code: b.code.clone(),
                            label: labelled(&b.name, &b.code),
                        })
                        .collect(),
                );
            }
            Step::FindBranch => {
                if let Some(bank) = bank {
                    let found = banks::search_branches(bank, branch_q);
                    s.more = found.len() >= banks::MAX_RESULTS;
                    s.branches = Some(
                        found
                            .into_iter()
                            .map(|b| Hit {
                                code: b.code.clone(),
                                label: labelled(&b.name, &b.code),
                            })
                            .collect(),
                    );
                }
            }
            Step::Save | Step::Pick => {}
        }
        s
    }
}

/// What the bank form's button asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Save,
    FindBank,
    FindBranch,
    /// A bank or branch chosen from the results.
    Pick,
}

/// The bank form as submitted: the account fields, the search fields, and
/// which button was pressed (every button is in one form, so nothing
/// typed is lost between steps, and no code or name goes into a URL).
#[derive(Deserialize)]
struct BankForm {
    #[serde(flatten)]
    raw: RawBankAccount,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    bank_q: String,
    #[serde(default)]
    branch_q: String,
    #[serde(default)]
    pick_bank: Option<String>,
    #[serde(default)]
    pick_branch: Option<String>,
}

impl BankForm {
    fn step(&self) -> Step {
        if self.pick_bank.is_some() || self.pick_branch.is_some() {
            return Step::Pick;
        }
        match self.step.as_deref() {
            Some("find_bank") => Step::FindBank,
            Some("find_branch") => Step::FindBranch,
            _ => Step::Save,
        }
    }
}

/// What the bank page shows besides the stored account.
#[derive(Default)]
struct BankView<'a> {
    form: Option<&'a RawBankAccount>,
    errors: FieldMessages,
    notice: Option<String>,
    status: Option<String>,
    saved: bool,
    search: Option<BankSearch>,
}

async fn render_bank(
    state: &AppState,
    m: &Member,
    view: BankView<'_>,
) -> Result<Response, WebError> {
    let stored = member_data::bank_account(&state.core, m.member).await?;
    let empty = RawBankAccount::default();
    let t = state.catalogs.get(m.lang);
    let form = view.form.unwrap_or(&empty);
    let current = stored.as_ref().map(|b| {
        let v = BankAccountMasked::from(b);
        CurrentBank {
            bank: labelled(v.bank_name.as_deref().unwrap_or("—"), &v.bank_code),
            branch: labelled(v.branch_name.as_deref().unwrap_or("—"), &v.branch_code),
            account_type: match v.account_type.as_str() {
                "checking" => t.bank_type_checking.clone(),
                "savings" => t.bank_type_savings.clone(),
                _ => t.bank_type_ordinary.clone(),
            },
            account_number: v.account_number,
        }
    });
    let page = BankPage {
        layout: Layout::new(state, m.lang, &t.bank_title),
        csrf_token: &m.csrf,
        current,
        recent: anshin_core::sessions::recently_authenticated(&state.core, &m.session),
        form,
        errors: view.errors,
        notice: view.notice,
        status: view.status,
        saved: view.saved,
        search: view
            .search
            .unwrap_or_else(|| BankSearch::new(form, "", "", Step::Save)),
        data_note: t.bank_data_note.replace("{date}", &banks::source().date),
    };
    Ok(no_store(page.into_response()))
}

/// The bank page; right after a re-authentication, with the form as the
/// member typed it before (kept server-side, taken once).
async fn bank_page(State(state): State<AppState>, m: Member) -> Result<Response, WebError> {
    if anshin_core::sessions::recently_authenticated(&state.core, &m.session)
        && let Some(draft) = member_data::take_bank_account_draft(&state.core, &m.session).await?
    {
        let t = state.catalogs.get(m.lang);
        let view = BankView {
            form: Some(&draft),
            status: Some(t.bank_draft_restored.clone()),
            ..BankView::default()
        };
        return render_bank(&state, &m, view).await;
    }
    render_bank(&state, &m, BankView::default()).await
}

async fn bank_submit(
    State(state): State<AppState>,
    m: Member,
    Form(mut f): Form<BankForm>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(m.lang);
    let step = f.step();
    if step != Step::Save {
        // A search step: the same form again, nothing saved.
        if let Some(code) = f.pick_bank.take() {
            if code != f.raw.bank_code {
                f.raw.branch_code.clear();
            }
            f.raw.bank_code = code;
        }
        if let Some(code) = f.pick_branch.take() {
            f.raw.branch_code = code;
        }
        let search = BankSearch::new(&f.raw, &f.bank_q, &f.branch_q, step);
        let view = BankView {
            form: Some(&f.raw),
            search: Some(search),
            ..BankView::default()
        };
        return render_bank(&state, &m, view).await;
    }
    let typed = f.raw.clone();
    let view = match member_data::change_bank_account(&state.core, &m.session, f.raw.clone()).await
    {
        Ok(()) => BankView {
            saved: true,
            ..BankView::default()
        },
        Err(MemberDataError::ReauthRequired) => {
            // Keep what was typed for this session only, sealed, for a
            // few minutes: after the code, the form comes back filled.
            member_data::keep_bank_account_draft(&state.core, &m.session, &typed).await?;
            let minutes = (member_data::DRAFT_TTL_SECS / 60).to_string();
            BankView {
                notice: Some(format!(
                    "{} {}",
                    t.err_reauthentication_required,
                    t.bank_draft_kept.replace("{minutes}", &minutes)
                )),
                ..BankView::default()
            }
        }
        Err(e @ MemberDataError::TooManyChanges(_)) => BankView {
            form: Some(&typed),
            notice: Some(form_message(&state, m.lang, e)?),
            search: Some(BankSearch::new(&typed, &f.bank_q, &f.branch_q, Step::Save)),
            ..BankView::default()
        },
        Err(MemberDataError::Invalid(errors)) => BankView {
            form: Some(&typed),
            errors: FieldMessages::new(t, &errors),
            search: Some(BankSearch::new(&typed, &f.bank_q, &f.branch_q, Step::Save)),
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

/// "Remove the bank account?" — or, without a recent login, the offer of
/// a confirmation code that comes back here.
async fn bank_remove_confirm(
    State(state): State<AppState>,
    m: Member,
) -> Result<Response, WebError> {
    let Some(current) = member_data::bank_account(&state.core, m.member).await? else {
        return Ok(axum::response::Redirect::to("/account/bank-account").into_response());
    };
    if !anshin_core::sessions::recently_authenticated(&state.core, &m.session) {
        return Ok(reauth_first(
            &state,
            &m,
            AfterReauth::RemoveBankAccount,
            "/account/bank-account",
        ));
    }
    let t = state.catalogs.get(m.lang);
    let v = BankAccountMasked::from(&current);
    let detail = format!(
        "{} {} {}",
        labelled(v.bank_name.as_deref().unwrap_or("—"), &v.bank_code),
        labelled(v.branch_name.as_deref().unwrap_or("—"), &v.branch_code),
        v.account_number
    );
    Ok(Confirm {
        lead: &t.confirm_remove_bank_lead,
        detail: Some(&detail),
        action: "/account/bank-account/remove",
        submit: &t.bank_remove,
        cancel: "/account/bank-account",
    }
    .page(&state, &m))
}

async fn bank_remove(State(state): State<AppState>, m: Member) -> Result<Response, WebError> {
    match member_data::remove_bank_account(&state.core, &m.session).await {
        Ok(()) => flash::redirect("/account/bank-account", Flash::BankAccountRemoved),
        Err(MemberDataError::ReauthRequired) => {
            Ok(axum::response::Redirect::to("/account/bank-account/remove").into_response())
        }
        Err(e) => Err(e.into()),
    }
}
