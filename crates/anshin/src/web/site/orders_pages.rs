//! Order pages: the buyer's (`/orders`) and the seller's (`/sales`), each
//! scoped to its party by the core (another member's order is a 404). The
//! buyer sees where the order goes; the seller sees amounts, the fee and
//! the shop's share, never the buyer's name or address (C19). Steps that
//! change something are forms (POST → 303 with a flash); shipping and
//! refunds ask first (confirm pages).

use anshin_core::accounts::local_time;
use anshin_core::orders::{self, OrderError, RefundOutcome};
use anshin_domain::{OrderId, OrderStatus, Yen};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::confirm::Confirm;
use crate::web::AppState;
use crate::web::common::errors::WebError;
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::no_store;
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(buyer_list))
        .route("/orders/{id}", get(buyer_page))
        .route(
            "/orders/{id}/received",
            get(received_confirm).post(received),
        )
        .route("/orders/{id}/complete", post(complete))
        .route("/sales", get(seller_list))
        .route("/sales/{id}", get(seller_page))
        .route("/sales/{id}/ship", get(ship_confirm).post(ship))
        .route("/sales/{id}/refund", get(refund_confirm).post(refund))
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    page: Option<u32>,
}

struct Row {
    number: String,
    date: String,
    total: String,
    status: String,
    href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "orders.html")]
struct ListPage<'a> {
    layout: Layout<'a>,
    heading: &'a str,
    empty: &'a str,
    base: &'a str,
    rows: Vec<Row>,
    balance: Option<String>,
    newer: Option<u32>,
    older: Option<u32>,
}

fn rows(
    me: &SignedIn,
    t: &anshin_core::i18n::Catalog,
    list: &orders::OrderList,
    base: &str,
) -> Vec<Row> {
    list.orders
        .iter()
        .map(|(o, n)| Row {
            number: n.clone(),
            date: local_time(me.lang, o.created_at),
            total: o.total.to_string(),
            status: t.order_status(o.status).to_owned(),
            href: format!("{base}/{}", o.id),
        })
        .collect()
}

async fn buyer_list(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    let list = orders::buyer_orders(&state.core, me.member, q.page.unwrap_or(1)).await?;
    Ok(no_store(
        ListPage {
            layout: Layout::new(&state, me.lang, &t.checkout.orders_title),
            heading: &t.checkout.orders_title,
            empty: &t.checkout.orders_none,
            base: "/orders",
            rows: rows(&me, t, &list, "/orders"),
            balance: None,
            newer: (list.page > 1).then(|| list.page - 1),
            older: list.has_next.then(|| list.page + 1),
        }
        .into_response(),
    ))
}

async fn seller_list(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    let (list, balance) =
        orders::seller_orders(&state.core, me.member, q.page.unwrap_or(1)).await?;
    Ok(no_store(
        ListPage {
            layout: Layout::new(&state, me.lang, &t.checkout.sales_title),
            heading: &t.checkout.sales_title,
            empty: &t.checkout.sales_none,
            base: "/sales",
            rows: rows(&me, t, &list, "/sales"),
            balance: balance.map(|b| b.to_string()),
            newer: (list.page > 1).then(|| list.page - 1),
            older: list.has_next.then(|| list.page + 1),
        }
        .into_response(),
    ))
}

struct Action {
    label: String,
    href: String,
    post: bool,
}

/// The buyer's address as the page shows it.
struct ShipTo {
    recipient_name: String,
    postal_code: String,
    prefecture: String,
    city: String,
    line1: String,
    line2: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "order.html")]
struct OrderPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    heading: String,
    order_id: OrderId,
    status: &'a str,
    status_code: &'static str,
    date: String,
    total: String,
    refunded: Option<String>,
    card: Option<String>,
    seller_facts: Vec<(&'a str, String)>,
    lines: Vec<(String, u32, String)>,
    ship_to: Option<ShipTo>,
    is_seller: bool,
    decline: Option<&'a str>,
    actions: Vec<Action>,
    refundable: Option<String>,
    refund_default: String,
    refund_error: Option<&'a str>,
    back_href: &'a str,
    back_label: &'a str,
    /// The other side, by display name only (C19): (label, name).
    counterpart: Option<(&'a str, String)>,
    /// The anonymous shipment, if the order ships through the centre.
    shipment: Option<super::shipping_pages::ShipmentBlock>,
}

fn lines(view: &orders::OrderView) -> Vec<(String, u32, String)> {
    view.lines
        .iter()
        .map(|l| (l.title.clone(), l.quantity.get(), l.unit_price.to_string()))
        .collect()
}

async fn buyer_page(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    let b = orders::for_buyer(&state.core, me.member, id).await?;
    let t = state.catalogs.get(me.lang);
    let o = &b.view.order;
    let mut actions = Vec::new();
    match o.status {
        OrderStatus::AwaitingPayment if o.reserved_until > state.core.now() => {
            actions.push(Action {
                label: t.checkout.order_pay_now.clone(),
                href: format!("/orders/{id}/pay"),
                post: false,
            })
        }
        OrderStatus::Shipped => actions.push(Action {
            label: t.checkout.order_received.clone(),
            href: format!("/orders/{id}/received"),
            post: false,
        }),
        OrderStatus::Delivered => actions.push(Action {
            label: t.checkout.order_complete.clone(),
            href: format!("/orders/{id}/complete"),
            post: true,
        }),
        _ => {}
    }
    let heading = t.checkout.order_title.replace("{number}", &b.view.number);
    let shipment = anshin_core::shipping::buyer_view(&state.core, me.member, id)
        .await?
        .map(|s| super::shipping_pages::buyer_block(&state, &me, &s));
    let seller_name = anshin_core::shipping::counterpart_name(&state.core, o.seller_id)
        .await?
        .unwrap_or_else(|| t.shipping.someone.clone());
    let page = OrderPage {
        layout: Layout::new(&state, me.lang, &heading),
        csrf_token: &me.csrf,
        order_id: id,
        status: t.order_status(o.status),
        status_code: o.status.as_str(),
        date: local_time(me.lang, o.created_at),
        total: o.total.to_string(),
        refunded: (o.refunded > Yen::ZERO).then(|| o.refunded.to_string()),
        card: card_of(o),
        seller_facts: Vec::new(),
        lines: lines(&b.view),
        ship_to: b.ship_to.as_ref().map(|a| ShipTo {
            recipient_name: a.recipient_name().as_str().to_owned(),
            postal_code: a.postal_code().as_str().to_owned(),
            prefecture: a.prefecture().as_str().to_owned(),
            city: a.city().as_str().to_owned(),
            line1: a.line1().as_str().to_owned(),
            line2: a.line2().map(|l| l.as_str().to_owned()),
        }),
        is_seller: false,
        decline: b.last_decline.as_deref().map(|c| t.decline_message(c)),
        actions,
        refundable: None,
        refund_default: String::new(),
        refund_error: None,
        back_href: "/orders",
        back_label: &t.checkout.order_back_orders,
        heading: heading.clone(),
        counterpart: Some((t.shipping.seller.as_str(), seller_name)),
        shipment,
    };
    Ok(no_store(page.into_response()))
}

fn card_of(o: &orders::OrderRecord) -> Option<String> {
    match (&o.card_brand, &o.card_last4) {
        (Some(b), Some(l)) => Some(format!("{} •••• {l}", b.to_uppercase())),
        _ => None,
    }
}

async fn render_seller(
    state: &AppState,
    me: &SignedIn,
    id: OrderId,
    refund_error: Option<&str>,
) -> Result<Response, WebError> {
    let s = orders::for_seller(&state.core, me.member, id).await?;
    let t = state.catalogs.get(me.lang);
    let o = &s.view.order;
    let anonymous = anshin_core::shipping::seller_view(&state.core, me.member, id).await?;
    let shipment = match &anonymous {
        Some(a) => Some(super::shipping_pages::seller_block(state, me, id, a).await?),
        None => None,
    };
    let buyer_name = anshin_core::shipping::counterpart_name(&state.core, o.buyer_id)
        .await?
        .unwrap_or_else(|| t.shipping.someone.clone());
    let mut actions = Vec::new();
    if o.status == OrderStatus::Paid && anonymous.is_none() {
        actions.push(Action {
            label: t.checkout.order_ship.clone(),
            href: format!("/sales/{id}/ship"),
            post: false,
        });
    }
    let heading = t.checkout.order_title.replace("{number}", &s.view.number);
    let refundable = (s.refundable > Yen::ZERO).then(|| {
        t.checkout
            .order_refund_left
            .replace("{amount}", &s.refundable.to_string())
    });
    let page = OrderPage {
        layout: Layout::new(state, me.lang, &heading),
        csrf_token: &me.csrf,
        order_id: id,
        status: t.order_status(o.status),
        status_code: o.status.as_str(),
        date: local_time(me.lang, o.created_at),
        total: o.total.to_string(),
        refunded: (o.refunded > Yen::ZERO).then(|| o.refunded.to_string()),
        card: None,
        seller_facts: vec![
            (t.checkout.order_fee.as_str(), s.fee.to_string()),
            (
                t.checkout.order_seller_receives.as_str(),
                s.seller_receives.to_string(),
            ),
        ],
        lines: lines(&s.view),
        ship_to: None,
        is_seller: true,
        decline: None,
        actions,
        refundable,
        refund_default: s.refundable.amount().to_string(),
        refund_error,
        back_href: "/sales",
        back_label: &t.checkout.order_back_sales,
        heading: heading.clone(),
        counterpart: Some((t.shipping.buyer.as_str(), buyer_name)),
        shipment,
    };
    Ok(no_store(page.into_response()))
}

async fn seller_page(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    render_seller(&state, &me, OrderId::from_uuid(id), None).await
}

async fn received_confirm(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    orders::for_buyer(&state.core, me.member, id).await?;
    let t = state.catalogs.get(me.lang);
    let action = format!("/orders/{id}/received");
    let cancel = format!("/orders/{id}");
    Ok(Confirm {
        lead: &t.checkout.confirm_received_lead,
        detail: None,
        action: &action,
        submit: &t.checkout.order_received,
        cancel: &cancel,
    }
    .page(&state, &me))
}

async fn received(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    orders::mark_received(&state.core, me.member, id).await?;
    flash::redirect(&format!("/orders/{id}"), Flash::OrderReceived)
}

async fn complete(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    orders::complete(&state.core, Some(me.member), id).await?;
    flash::redirect(&format!("/orders/{id}"), Flash::OrderCompleted)
}

async fn ship_confirm(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    orders::for_seller(&state.core, me.member, id).await?;
    let t = state.catalogs.get(me.lang);
    let action = format!("/sales/{id}/ship");
    let cancel = format!("/sales/{id}");
    Ok(Confirm {
        lead: &t.checkout.confirm_ship_lead,
        detail: None,
        action: &action,
        submit: &t.checkout.order_ship,
        cancel: &cancel,
    }
    .page(&state, &me))
}

async fn ship(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    orders::ship(&state.core, me.member, id).await?;
    flash::redirect(&format!("/sales/{id}"), Flash::OrderShipped)
}

#[derive(Deserialize)]
struct AmountForm {
    amount: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm_amount.html")]
struct RefundConfirmPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    lead: String,
    action: String,
    amount: i64,
    submit: &'a str,
    cancel: String,
}

/// "Refund ¥n?": the amount typed on the sale page, checked first.
async fn refund_confirm(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    Query(f): Query<AmountForm>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    let s = orders::for_seller(&state.core, me.member, id).await?;
    let t = state.catalogs.get(me.lang);
    let amount = match Yen::parse(&f.amount) {
        Some(a) if a > Yen::ZERO && a <= s.refundable => a,
        Some(a) if a > s.refundable => {
            return render_seller(&state, &me, id, Some(t.field_error("amount", "too_large")))
                .await;
        }
        _ => return render_seller(&state, &me, id, Some(t.field_error("amount", "invalid"))).await,
    };
    Ok(no_store(
        RefundConfirmPage {
            layout: Layout::new(&state, me.lang, &t.confirm_title),
            csrf_token: &me.csrf,
            lead: t
                .checkout
                .confirm_refund_lead
                .replace("{amount}", &amount.to_string()),
            action: format!("/sales/{id}/refund"),
            amount: amount.amount(),
            submit: &t.checkout.order_refund_submit,
            cancel: format!("/sales/{id}"),
        }
        .into_response(),
    ))
}

async fn refund(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    Form(f): Form<AmountForm>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    let t = state.catalogs.get(me.lang);
    let Some(amount) = Yen::parse(&f.amount) else {
        return render_seller(&state, &me, id, Some(t.field_error("amount", "invalid"))).await;
    };
    match orders::refund(&state.core, me.member, id, amount).await {
        Ok(RefundOutcome::Refunded) => {
            flash::redirect(&format!("/sales/{id}"), Flash::OrderRefunded)
        }
        Ok(RefundOutcome::Pending) => {
            flash::redirect(&format!("/sales/{id}"), Flash::RefundPending)
        }
        Err(OrderError::RefundTooLarge) => {
            render_seller(&state, &me, id, Some(t.field_error("amount", "too_large"))).await
        }
        Err(OrderError::InvalidAmount) => {
            render_seller(&state, &me, id, Some(t.field_error("amount", "invalid"))).await
        }
        Err(e) => Err(e.into()),
    }
}
