//! The creator's payout page (issue 16, C16): the available balance, what
//! a payout of it sends (less the transfer fee) and to which account
//! (`****567`), the request button, and the payouts so far with their
//! state.
//!
//! The form carries a payout id made when the page was shown: sending it
//! twice (a double click, a retry after a lost answer, two tabs of the same
//! page) is the same payout (`payouts::request_payout` answers with it).

use anshin_core::accounts::local_time;
use anshin_core::payouts::{self, PayoutError};
use anshin_domain::{PayoutId, PayoutStatus};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::web::AppState;
use crate::web::common::errors::WebError;
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::no_store;
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new().route("/account/payouts", get(page).post(request))
}

/// One payout as the list shows it.
#[derive(Debug)]
struct Row {
    date: String,
    amount: String,
    fee: String,
    net: String,
    status: String,
    status_code: &'static str,
    completed: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "payouts.html")]
struct Page<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    /// The id the request will carry.
    payout_id: String,
    has_shop: bool,
    balance: String,
    fee: String,
    net: String,
    minimum: String,
    /// `****567`, if the member set an account.
    account: Option<String>,
    can_request: bool,
    /// What pressing the button will do.
    request_hint: String,
    /// Why a payout cannot be asked for now, or what went wrong.
    notice: Option<String>,
    rows: Vec<Row>,
}

fn status_text(t: &anshin_core::i18n::Catalog, s: PayoutStatus) -> &str {
    match s {
        PayoutStatus::Requested => &t.payouts_status_requested,
        PayoutStatus::Batched => &t.payouts_status_batched,
        PayoutStatus::Paid => &t.payouts_status_paid,
        PayoutStatus::Failed => &t.payouts_status_failed,
    }
}

async fn render(
    state: &AppState,
    me: &SignedIn,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    let core = &state.core;
    let id: PayoutId = core.new_id();
    let mut page = Page {
        layout: Layout::new(state, me.lang, &t.payouts_title),
        csrf_token: &me.csrf,
        payout_id: id.to_string(),
        has_shop: false,
        balance: String::new(),
        fee: String::new(),
        net: String::new(),
        minimum: String::new(),
        account: None,
        can_request: false,
        request_hint: String::new(),
        notice,
        rows: Vec::new(),
    };
    let quote = match payouts::quote(core, me.member).await {
        Ok(q) => q,
        Err(PayoutError::NoShop) => return Ok(no_store(page.into_response())),
        Err(e) => return Err(payout_error(e)),
    };
    page.has_shop = true;
    page.balance = quote.balance.to_string();
    page.fee = quote.fee.to_string();
    page.net = quote.net.to_string();
    page.minimum = quote.minimum.to_string();
    page.can_request = quote.can_request();
    page.account = quote.account.clone();
    page.request_hint = t
        .payouts_request_hint
        .replace("{net}", &page.net)
        .replace("{account}", page.account.as_deref().unwrap_or(""));
    if page.notice.is_none() && !quote.has_bank_account {
        page.notice = Some(t.payouts_no_bank.clone());
    } else if page.notice.is_none() && !quote.can_request() {
        page.notice = Some(t.payouts_below_minimum.replace("{minimum}", &page.minimum));
    }
    page.rows = payouts::payouts_of(core, me.member, 50)
        .await
        .map_err(payout_error)?
        .iter()
        .map(|p| Row {
            date: local_time(me.lang, p.created_at),
            amount: p.amount.to_string(),
            fee: p.fee.to_string(),
            net: p.net().to_string(),
            status: status_text(t, p.status).to_owned(),
            status_code: p.status.as_str(),
            completed: p
                .completed_at
                .map(|at| local_time(me.lang, at))
                .unwrap_or_default(),
        })
        .collect();
    Ok(no_store(page.into_response()))
}

fn payout_error(e: PayoutError) -> WebError {
    match e {
        PayoutError::Store(s) => WebError::from(s),
        PayoutError::MemberData(m) => WebError::from(m),
        other => WebError::Internal(anyhow::anyhow!("payouts: {other}")),
    }
}

async fn page(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    render(&state, &me, None).await
}

#[derive(Deserialize)]
struct RequestForm {
    #[serde(default)]
    payout_id: String,
}

async fn request(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<RequestForm>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    let Some(id) = PayoutId::parse(f.payout_id.trim()) else {
        return render(&state, &me, Some(t.payouts_try_again.clone())).await;
    };
    let from = anshin_core::audit::session_origin(&me.session);
    match payouts::request_payout(&state.core, me.member, id, from).await {
        Ok(_) => flash::redirect("/account/payouts", Flash::PayoutRequested),
        Err(PayoutError::NoBankAccount) => {
            render(&state, &me, Some(t.payouts_no_bank.clone())).await
        }
        Err(PayoutError::BelowMinimum { minimum, .. }) => {
            let text = t
                .payouts_below_minimum
                .replace("{minimum}", &minimum.to_string());
            render(&state, &me, Some(text)).await
        }
        Err(PayoutError::BalanceChanged | PayoutError::NotFound) => {
            render(&state, &me, Some(t.payouts_try_again.clone())).await
        }
        Err(PayoutError::NoShop) => render(&state, &me, None).await,
        Err(e) => Err(payout_error(e)),
    }
}
