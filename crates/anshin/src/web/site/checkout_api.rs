//! The JSON API of the cart, checkout, card payments and orders (issue
//! 13): the same core use cases as the pages. No request carries a price
//! or a total (bodies with unknown fields are refused), quantities are 1
//! to 99, and payments take only the processor's reference to a card
//! tokenised in the browser (C15).

use anshin_core::checkout::{self, CartGroup};
use anshin_core::orders::{self, PayOutcome, RefundOutcome};
use anshin_core::shipping;
use anshin_domain::{AddressId, ItemId, OrderId, Quantity, ShopId, Yen};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::web::AppState;
use crate::web::common::errors::{ApiError, WebError};
use crate::web::common::flash::{self, Flash};
use crate::web::common::json::ApiJson;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cart", get(cart))
        .route(
            "/api/v1/cart/items/{item}",
            put(put_item).delete(delete_item),
        )
        .route("/api/v1/orders", get(list_orders).post(place_order))
        .route("/api/v1/orders/{id}", get(order))
        .route("/api/v1/orders/{id}/payment", post(pay))
        .route("/api/v1/orders/{id}/payment/refresh", post(refresh))
        .route("/api/v1/orders/{id}/received", post(received))
        .route("/api/v1/orders/{id}/complete", post(complete))
        .route("/api/v1/sales", get(list_sales))
        .route("/api/v1/sales/{id}", get(sale))
        .route("/api/v1/sales/{id}/shipment", post(ship))
        .route("/api/v1/sales/{id}/refunds", post(refund))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartItemView {
    pub item_id: Uuid,
    pub title: String,
    /// Yen, as the item costs now.
    pub price: i64,
    pub quantity: u32,
    /// On sale in an open shop.
    pub available: bool,
    /// Enough in stock for the quantity.
    pub enough: bool,
    pub line_total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartShopView {
    pub shop_id: Uuid,
    pub shop_name: String,
    pub items: Vec<CartItemView>,
    /// Yen; what one order of these lines would cost.
    pub total: i64,
    /// Every line can be ordered as it is.
    pub ready: bool,
}

impl From<CartGroup> for CartShopView {
    fn from(g: CartGroup) -> Self {
        CartShopView {
            shop_id: g.shop_id.as_uuid(),
            shop_name: g.shop_name,
            total: g.total.amount(),
            ready: g.ready,
            items: g
                .items
                .into_iter()
                .map(|i| CartItemView {
                    item_id: i.line.item_id.as_uuid(),
                    title: i.line.title.as_str().to_owned(),
                    price: i.line.price.yen().amount(),
                    quantity: i.line.quantity.get(),
                    available: i.available,
                    enough: i.enough,
                    line_total: i.line_total.amount(),
                })
                .collect(),
        }
    }
}

/// The session's cart, by shop (one order per shop).
#[utoipa::path(get, path = "/api/v1/cart",
    responses((status = 200, body = [CartShopView]), (status = 401, body = ApiError)), tag = "checkout")]
pub async fn cart(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<Vec<CartShopView>>, WebError> {
    let groups = checkout::cart(&state.core, me.session.id).await?;
    Ok(Json(groups.into_iter().map(CartShopView::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartItemRequest {
    /// 1 to 99.
    pub quantity: i64,
}

/// Puts an item in the cart with this quantity (replacing the line's).
#[utoipa::path(put, path = "/api/v1/cart/items/{item}", params(("item" = Uuid, Path)),
    request_body = CartItemRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 409, body = ApiError)), tag = "checkout")]
pub async fn put_item(
    State(state): State<AppState>,
    me: SignedIn,
    Path(item): Path<Uuid>,
    ApiJson(req): ApiJson<CartItemRequest>,
) -> Result<StatusCode, WebError> {
    let q = u32::try_from(req.quantity)
        .ok()
        .and_then(Quantity::new)
        .ok_or_else(|| {
            WebError::InvalidFields(vec![anshin_core::member_data::FieldError {
                field: "quantity",
                code: "invalid",
            }])
        })?;
    checkout::add_to_cart(&state.core, &me.session, ItemId::from_uuid(item), q).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes an item out of the cart.
#[utoipa::path(delete, path = "/api/v1/cart/items/{item}", params(("item" = Uuid, Path)),
    responses((status = 204)), tag = "checkout")]
pub async fn delete_item(
    State(state): State<AppState>,
    me: SignedIn,
    Path(item): Path<Uuid>,
) -> Result<StatusCode, WebError> {
    checkout::remove_from_cart(&state.core, &me.session, ItemId::from_uuid(item)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// Whose items in the cart to order.
    pub shop_id: Uuid,
    /// One of the member's shipping addresses.
    pub address_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCreated {
    pub order_id: Uuid,
    pub number: String,
    /// Yen, computed from the database's prices.
    pub total: i64,
    /// The page where the buyer types the card.
    pub pay_url: String,
}

/// Places the order of one shop's cart lines: stock reserved, totals from
/// the database's prices (409 `sold_out` when someone else was faster).
#[utoipa::path(post, path = "/api/v1/orders", request_body = PlaceOrderRequest,
    responses((status = 201, body = OrderCreated), (status = 400, body = ApiError),
        (status = 409, body = ApiError), (status = 503, body = ApiError)), tag = "checkout")]
pub async fn place_order(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<PlaceOrderRequest>,
) -> Result<(StatusCode, Json<OrderCreated>), WebError> {
    let id = checkout::place_order(
        &state.core,
        &me.session,
        ShopId::from_uuid(req.shop_id),
        AddressId::from_uuid(req.address_id),
    )
    .await?;
    let b = orders::for_buyer(&state.core, me.member, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(OrderCreated {
            order_id: id.as_uuid(),
            number: b.view.number,
            total: b.view.order.total.amount(),
            pay_url: format!("/orders/{id}/pay"),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// The processor's reference to the card its element tokenised
    /// (`card_…`, `pm_…`). Never a card number: that is refused (400
    /// `invalid_payment_method`).
    pub payment_method: String,
}

/// Redacts the reference (and whatever a client put in its place: if it
/// ever were a card number, it must not reach a log).
impl std::fmt::Debug for PayRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayRequest([redacted])")
    }
}

#[derive(Serialize, ToSchema)]
pub struct PaymentView {
    /// `paid`, `requires_action` (3-D Secure: finish it with the
    /// processor's script and `client_secret`, then call `…/refresh`),
    /// `declined`, `pending` or `abandoned`.
    pub status: &'static str,
    /// For `requires_action` only; for the buyer's browser only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The processor's decline code, for `declined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// What to tell the buyer, in their language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for PaymentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentView")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn payment_response(state: &AppState, me: &SignedIn, outcome: PayOutcome) -> Response {
    let t = state.catalogs.get(me.lang);
    let view = match outcome {
        PayOutcome::Paid => PaymentView {
            status: "paid",
            client_secret: None,
            decline_code: None,
            message: None,
        },
        PayOutcome::NeedsAction(secret) => PaymentView {
            status: "requires_action",
            client_secret: secret.map(|s| s.expose().to_owned()),
            decline_code: None,
            message: None,
        },
        PayOutcome::Declined(code) => PaymentView {
            status: "declined",
            message: Some(t.decline_message(&code).to_owned()),
            decline_code: Some(code),
            client_secret: None,
        },
        PayOutcome::Pending => PaymentView {
            status: "pending",
            message: Some(t.checkout.pay_pending.clone()),
            client_secret: None,
            decline_code: None,
        },
        PayOutcome::Abandoned => PaymentView {
            status: "abandoned",
            message: Some(t.checkout.pay_expired.clone()),
            client_secret: None,
            decline_code: None,
        },
    };
    let paid = view.status == "paid";
    let mut res = Json(view).into_response();
    // The order page the script opens next says so.
    if paid && let Ok(c) = flash::cookie(Flash::OrderPaid) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Pays the buyer's order with a card tokenised by the processor's
/// element. Declines are answers (`status: declined`), not errors.
#[utoipa::path(post, path = "/api/v1/orders/{id}/payment", params(("id" = Uuid, Path)),
    request_body = PayRequest,
    responses((status = 200, body = PaymentView), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)), tag = "checkout")]
pub async fn pay(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    ApiJson(req): ApiJson<PayRequest>,
) -> Result<Response, WebError> {
    let outcome = checkout::pay(
        &state.core,
        me.member,
        OrderId::from_uuid(id),
        &req.payment_method,
    )
    .await?;
    Ok(payment_response(&state, &me, outcome))
}

/// Asks the processor how the latest payment attempt stands (after 3-D
/// Secure in the browser).
#[utoipa::path(post, path = "/api/v1/orders/{id}/payment/refresh", params(("id" = Uuid, Path)),
    responses((status = 200, body = PaymentView), (status = 404, body = ApiError)), tag = "checkout")]
pub async fn refresh(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let outcome = checkout::refresh(&state.core, me.member, OrderId::from_uuid(id)).await?;
    Ok(payment_response(&state, &me, outcome))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineView {
    pub item_id: Uuid,
    pub title: String,
    pub unit_price: i64,
    pub quantity: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    pub id: Uuid,
    pub number: String,
    /// `awaiting_payment`, `paid`, `shipped`, `delivered`, `completed`,
    /// `cancelled` or `refunded`.
    pub status: String,
    pub total: i64,
    pub refunded: i64,
    /// Unix seconds.
    pub created_at: i64,
}

fn summary(o: &orders::OrderRecord, number: &str) -> OrderSummary {
    OrderSummary {
        id: o.id.as_uuid(),
        number: number.to_owned(),
        status: o.status.as_str().to_owned(),
        total: o.total.amount(),
        refunded: o.refunded.amount(),
        created_at: o.created_at.secs(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BuyerOrderView {
    #[serde(flatten)]
    pub summary: OrderSummary,
    pub lines: Vec<OrderLineView>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// Where it goes (the buyer's own view only).
    pub ship_to: Option<ShipToView>,
    /// Unix seconds: an unpaid order is cancelled after this.
    pub reserved_until: i64,
    /// The seller's display name (nothing else of the seller, C19).
    pub seller_name: Option<String>,
    /// The parcel, if the order ships anonymously through the centre.
    pub parcel: Option<ParcelView>,
}

/// An anonymously shipped parcel as both sides see it (C19): status and
/// timeline, no place and no person.
#[derive(Serialize, ToSchema)]
pub struct ParcelView {
    /// `awaiting_dropoff`, `accepted`, `in_transit` or `delivered`.
    pub status: String,
    pub timeline: Vec<ParcelEventView>,
    /// The seller's drop-off code (`XXXX-XXXX-XXX`) while the parcel
    /// awaits the drop-off; never in the buyer's view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropoff_code: Option<String>,
    /// Where the seller's page gets the code's QR image (PNG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropoff_qr: Option<String>,
}

/// Debug leaves out the secret fields (one-time codes, tokens, the
/// processor's client secret; semgrep `anshin-secret-field-in-debug-derive`).
impl std::fmt::Debug for ParcelView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParcelView")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParcelEventView {
    /// `accepted`, `in_transit` or `delivered`.
    pub kind: String,
    /// Unix seconds.
    pub at: i64,
}

fn timeline_view(t: &[anshin_core::shipping::TimelineLine]) -> Vec<ParcelEventView> {
    t.iter()
        .map(|l| ParcelEventView {
            kind: l.kind.as_str().to_owned(),
            at: l.at.secs(),
        })
        .collect()
}

/// The address an order was placed with, as it was then.
#[derive(Serialize, ToSchema)]
pub struct ShipToView {
    pub recipient_name: String,
    pub postal_code: String,
    pub prefecture: String,
    pub city: String,
    pub line1: String,
    pub line2: Option<String>,
    pub phone: Option<String>,
}

impl std::fmt::Debug for ShipToView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShipToView([redacted])")
    }
}

impl From<&anshin_core::member_data::ShippingAddress> for ShipToView {
    fn from(a: &anshin_core::member_data::ShippingAddress) -> Self {
        ShipToView {
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
pub struct SellerOrderView {
    #[serde(flatten)]
    pub summary: OrderSummary,
    pub lines: Vec<OrderLineView>,
    /// The platform fee kept (after refunds), yen.
    pub fee: i64,
    /// What the shop receives, yen.
    pub seller_receives: i64,
    /// What can still be refunded, yen.
    pub refundable: i64,
    /// The buyer's display name (nothing else of the buyer, C19).
    pub buyer_name: Option<String>,
    /// The parcel, if the order ships anonymously through the centre.
    pub parcel: Option<ParcelView>,
}

fn line_views(v: &orders::OrderView) -> Vec<OrderLineView> {
    v.lines
        .iter()
        .map(|l| OrderLineView {
            item_id: l.item_id.as_uuid(),
            title: l.title.clone(),
            unit_price: l.unit_price.amount(),
            quantity: l.quantity.get(),
        })
        .collect()
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct ListQuery {
    /// 1-based.
    #[serde(default)]
    pub page: Option<u32>,
}

/// The member's orders as a buyer, newest first.
#[utoipa::path(get, path = "/api/v1/orders", params(("page" = Option<u32>, Query)),
    responses((status = 200, body = [OrderSummary])), tag = "orders")]
pub async fn list_orders(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<OrderSummary>>, WebError> {
    let list = orders::buyer_orders(&state.core, me.member, q.page.unwrap_or(1)).await?;
    Ok(Json(
        list.orders.iter().map(|(o, n)| summary(o, n)).collect(),
    ))
}

/// One of the member's orders as its buyer sees it (404 for anyone
/// else's).
#[utoipa::path(get, path = "/api/v1/orders/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = BuyerOrderView), (status = 404, body = ApiError)), tag = "orders")]
pub async fn order(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<BuyerOrderView>, WebError> {
    let id = OrderId::from_uuid(id);
    let b = orders::for_buyer(&state.core, me.member, id).await?;
    let o = &b.view.order;
    let parcel = shipping::buyer_view(&state.core, me.member, id)
        .await?
        .map(|p| ParcelView {
            status: p.status.as_str().to_owned(),
            timeline: timeline_view(&p.timeline),
            dropoff_code: None,
            dropoff_qr: None,
        });
    Ok(Json(BuyerOrderView {
        seller_name: shipping::counterpart_name(&state.core, o.seller_id).await?,
        parcel,
        summary: summary(o, &b.view.number),
        lines: line_views(&b.view),
        card_brand: o.card_brand.clone(),
        card_last4: o.card_last4.clone(),
        ship_to: b.ship_to.as_ref().map(ShipToView::from),
        reserved_until: o.reserved_until.secs(),
    }))
}

/// The buyer received it (`shipped → delivered`).
#[utoipa::path(post, path = "/api/v1/orders/{id}/received", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)), tag = "orders")]
pub async fn received(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, WebError> {
    orders::mark_received(&state.core, me.member, OrderId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The buyer closes a delivered order (`delivered → completed`).
#[utoipa::path(post, path = "/api/v1/orders/{id}/complete", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)), tag = "orders")]
pub async fn complete(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, WebError> {
    orders::complete(&state.core, Some(me.member), OrderId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesView {
    /// What the platform owes the member's shop (from the ledger), yen.
    pub balance: Option<i64>,
    pub orders: Vec<OrderSummary>,
}

/// The member's paid orders as a seller, and the shop's balance.
#[utoipa::path(get, path = "/api/v1/sales", params(("page" = Option<u32>, Query)),
    responses((status = 200, body = SalesView)), tag = "orders")]
pub async fn list_sales(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Json<SalesView>, WebError> {
    let (list, balance) =
        orders::seller_orders(&state.core, me.member, q.page.unwrap_or(1)).await?;
    Ok(Json(SalesView {
        balance: balance.map(Yen::amount),
        orders: list.orders.iter().map(|(o, n)| summary(o, n)).collect(),
    }))
}

/// One paid order of the member's shop (never the buyer's name or
/// address).
#[utoipa::path(get, path = "/api/v1/sales/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = SellerOrderView), (status = 404, body = ApiError)), tag = "orders")]
pub async fn sale(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<SellerOrderView>, WebError> {
    let id = OrderId::from_uuid(id);
    let s = orders::for_seller(&state.core, me.member, id).await?;
    let parcel = shipping::seller_view(&state.core, me.member, id)
        .await?
        .map(|p| ParcelView {
            status: p.status.as_str().to_owned(),
            timeline: timeline_view(&p.timeline),
            dropoff_qr: p.code.as_ref().map(|_| format!("/sales/{id}/dropoff.png")),
            dropoff_code: p.code.as_ref().map(|c| c.display()),
        });
    Ok(Json(SellerOrderView {
        buyer_name: shipping::counterpart_name(&state.core, s.view.order.buyer_id).await?,
        parcel,
        summary: summary(&s.view.order, &s.view.number),
        lines: line_views(&s.view),
        fee: s.fee.amount(),
        seller_receives: s.seller_receives.amount(),
        refundable: s.refundable.amount(),
    }))
}

/// The seller sent it (`paid → shipped`).
#[utoipa::path(post, path = "/api/v1/sales/{id}/shipment", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)), tag = "orders")]
pub async fn ship(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, WebError> {
    orders::ship(&state.core, me.member, OrderId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Yen, 1 to what is left to refund.
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    /// `refunded`, or `pending` (the processor could not be reached; the
    /// same refund is asked for again, never a second one).
    pub status: &'static str,
}

/// The seller refunds part or all of a paid order to the buyer's card.
#[utoipa::path(post, path = "/api/v1/sales/{id}/refunds", params(("id" = Uuid, Path)),
    request_body = RefundRequest,
    responses((status = 200, body = RefundView), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)), tag = "orders")]
pub async fn refund(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    ApiJson(req): ApiJson<RefundRequest>,
) -> Result<Json<RefundView>, WebError> {
    let outcome = orders::refund(
        &state.core,
        me.member,
        OrderId::from_uuid(id),
        Yen::new(req.amount),
    )
    .await?;
    Ok(Json(RefundView {
        status: match outcome {
            RefundOutcome::Refunded => "refunded",
            RefundOutcome::Pending => "pending",
        },
    }))
}
