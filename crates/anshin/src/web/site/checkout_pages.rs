//! The cart, checkout and card payment pages (issue 13, C15): HTML forms
//! (POST → 303 with a flash) that call the core's `checkout` use cases,
//! the same ones the JSON API calls.
//!
//! The payment page is the only page of the site whose CSP admits another
//! origin: the card processor's, for its script, its frames and its
//! connections (`common::headers::ProcessorOrigins`). The card is typed
//! into the processor's element and tokenised by its script in the
//! browser; our own script (`static/checkout.js`, no inline code) sends
//! only the processor's reference to `/api/v1/orders/{id}/payment`.

use anshin_core::accounts::format_time;
use anshin_core::checkout::{self, CartGroup, CheckoutError};
use anshin_core::orders;
use anshin_domain::{AddressId, ItemId, OrderId, OrderStatus, Quantity, ShopId};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::member_data_api::AddressView;
use crate::web::AppState;
use crate::web::common::errors::{ErrorCode, WebError};
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::no_store;
use crate::web::common::headers::ProcessorOrigins;
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(cart_page).post(cart_add))
        .route("/cart/add", get(add_page))
        .route("/cart/{item}/quantity", post(cart_quantity))
        .route("/cart/{item}/remove", post(cart_remove))
        .route("/checkout/{shop}", get(checkout_page).post(checkout_place))
        .route("/orders/{id}/pay", get(pay_page))
}

/// One cart line as the page shows it.
struct LineRow {
    item_id: ItemId,
    title: String,
    price: String,
    quantity: u32,
    /// Why it cannot be ordered as it is.
    warning: Option<String>,
}

struct GroupRow {
    shop_id: ShopId,
    shop_name: String,
    items: Vec<LineRow>,
    total: String,
    ready: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "cart.html")]
struct CartPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    groups: Vec<GroupRow>,
}

fn group_rows(t: &anshin_core::i18n::Catalog, groups: Vec<CartGroup>) -> Vec<GroupRow> {
    groups
        .into_iter()
        .map(|g| GroupRow {
            shop_id: g.shop_id,
            shop_name: g.shop_name,
            total: g.total.to_string(),
            ready: g.ready,
            items: g
                .items
                .into_iter()
                .map(|i| LineRow {
                    item_id: i.line.item_id,
                    title: i.line.title.as_str().to_owned(),
                    price: i.line.price.yen().to_string(),
                    quantity: i.line.quantity.get(),
                    warning: if !i.available {
                        Some(t.checkout.cart_unavailable.clone())
                    } else if !i.enough {
                        Some(
                            t.checkout
                                .cart_not_enough
                                .replace("{n}", &i.line.stock.count().unwrap_or(0).to_string()),
                        )
                    } else {
                        None
                    },
                })
                .collect(),
        })
        .collect()
}

async fn cart_page(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    let groups = checkout::cart(&state.core, me.session.id).await?;
    Ok(no_store(
        CartPage {
            layout: Layout::new(&state, me.lang, &t.checkout.cart_title),
            csrf_token: &me.csrf,
            groups: group_rows(t, groups),
        }
        .into_response(),
    ))
}

#[derive(Deserialize)]
struct AddQuery {
    item: Uuid,
}

#[derive(Template, WebTemplate)]
#[template(path = "cart_add.html")]
struct AddPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    item_id: ItemId,
    title: &'a str,
    shop_name: &'a str,
    price: String,
    stock_text: String,
    max: u32,
    refused: Option<&'a str>,
}

/// "Add to cart": the item's title, price and stock, and how many.
async fn add_page(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<AddQuery>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    let view =
        anshin_core::shops::item_for(&state.core, Some(me.member), ItemId::from_uuid(q.item))
            .await
            .map_err(WebError::from)?;
    let for_sale = view.item.status == anshin_domain::ItemStatus::OnSale
        && view.shop.status == anshin_domain::ShopStatus::Open
        && view.item.stock.count() != Some(0);
    let refused = if view.is_owner {
        Some(t.checkout.add_own_item.as_str())
    } else if !for_sale {
        Some(t.checkout.add_unavailable.as_str())
    } else {
        None
    };
    let stock_text = match view.item.stock.count() {
        None => t.checkout.stock_unlimited.clone(),
        Some(0) => t.checkout.sold_out.clone(),
        Some(n) => t.checkout.stock_left.replace("{n}", &n.to_string()),
    };
    Ok(no_store(
        AddPage {
            layout: Layout::new(&state, me.lang, &t.checkout.add_title),
            csrf_token: &me.csrf,
            item_id: view.item.id,
            title: view.item.title.as_str(),
            shop_name: view.shop.name.as_str(),
            price: view.item.price.yen().to_string(),
            max: view
                .item
                .stock
                .count()
                .map_or(Quantity::MAX, |n| n.min(Quantity::MAX)),
            stock_text,
            refused,
        }
        .into_response(),
    ))
}

#[derive(Deserialize)]
struct AddForm {
    item_id: Uuid,
    quantity: String,
}

fn quantity(text: &str) -> Result<Quantity, WebError> {
    Quantity::parse(text).ok_or_else(|| {
        WebError::InvalidFields(vec![anshin_core::member_data::FieldError {
            field: "quantity",
            code: "invalid",
        }])
    })
}

async fn cart_add(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<AddForm>,
) -> Result<Response, WebError> {
    let q = quantity(&f.quantity)?;
    checkout::add_to_cart(&state.core, &me.session, ItemId::from_uuid(f.item_id), q).await?;
    flash::redirect("/cart", Flash::CartAdded)
}

#[derive(Deserialize)]
struct QuantityForm {
    quantity: String,
}

async fn cart_quantity(
    State(state): State<AppState>,
    me: SignedIn,
    Path(item): Path<Uuid>,
    Form(f): Form<QuantityForm>,
) -> Result<Response, WebError> {
    let q = quantity(&f.quantity)?;
    checkout::add_to_cart(&state.core, &me.session, ItemId::from_uuid(item), q).await?;
    flash::redirect("/cart", Flash::CartUpdated)
}

async fn cart_remove(
    State(state): State<AppState>,
    me: SignedIn,
    Path(item): Path<Uuid>,
) -> Result<Response, WebError> {
    checkout::remove_from_cart(&state.core, &me.session, ItemId::from_uuid(item)).await?;
    flash::redirect("/cart", Flash::CartRemoved)
}

#[derive(Template, WebTemplate)]
#[template(path = "checkout.html")]
struct CheckoutPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    shop_id: ShopId,
    shop_name: String,
    lines: Vec<(String, u32, String)>,
    total: String,
    addresses: Vec<AddressView>,
    open: bool,
    error: Option<String>,
}

async fn render_checkout(
    state: &AppState,
    me: &SignedIn,
    shop: ShopId,
    error: Option<String>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(me.lang);
    let view = match checkout::checkout_view(&state.core, &me.session, shop).await {
        Ok(v) => v,
        Err(CheckoutError::EmptyCart) => return Ok(Redirect::to("/cart").into_response()),
        Err(e) => return Err(e.into()),
    };
    let error = error.or_else(|| {
        (view.group.total < view.minimum).then(|| t.checkout.err_total_too_small.clone())
    });
    Ok(no_store(
        CheckoutPage {
            layout: Layout::new(state, me.lang, &t.checkout.checkout_title),
            csrf_token: &me.csrf,
            shop_id: shop,
            shop_name: view.group.shop_name.clone(),
            lines: view
                .group
                .items
                .iter()
                .map(|i| {
                    (
                        i.line.title.as_str().to_owned(),
                        i.line.quantity.get(),
                        i.line_total.to_string(),
                    )
                })
                .collect(),
            total: view.group.total.to_string(),
            addresses: view.addresses.iter().map(AddressView::from).collect(),
            open: view.open,
            error,
        }
        .into_response(),
    ))
}

async fn checkout_page(
    State(state): State<AppState>,
    me: SignedIn,
    Path(shop): Path<Uuid>,
) -> Result<Response, WebError> {
    render_checkout(&state, &me, ShopId::from_uuid(shop), None).await
}

#[derive(Deserialize)]
struct PlaceForm {
    #[serde(default)]
    address_id: Option<Uuid>,
}

async fn checkout_place(
    State(state): State<AppState>,
    me: SignedIn,
    Path(shop): Path<Uuid>,
    Form(f): Form<PlaceForm>,
) -> Result<Response, WebError> {
    let shop = ShopId::from_uuid(shop);
    let t = state.catalogs.get(me.lang);
    let address_error = || t.field_error("address", "required").to_owned();
    let Some(address) = f.address_id else {
        return render_checkout(&state, &me, shop, Some(address_error())).await;
    };
    match checkout::place_order(
        &state.core,
        &me.session,
        shop,
        AddressId::from_uuid(address),
    )
    .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/orders/{id}/pay")).into_response()),
        Err(CheckoutError::SoldOut) => flash::redirect("/cart", Flash::OrderSoldOut),
        Err(CheckoutError::Changed) => flash::redirect("/cart", Flash::OrderChanged),
        Err(CheckoutError::AddressNotFound) => {
            render_checkout(&state, &me, shop, Some(address_error())).await
        }
        Err(CheckoutError::TooSmall { .. }) => {
            render_checkout(
                &state,
                &me,
                shop,
                Some(t.checkout.err_total_too_small.clone()),
            )
            .await
        }
        Err(CheckoutError::Closed) => {
            render_checkout(&state, &me, shop, Some(t.checkout.checkout_closed.clone())).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pay.html")]
struct PayPage<'a> {
    layout: Layout<'a>,
    order_id: OrderId,
    number: String,
    total: String,
    reserved: String,
    submit: String,
    decline: Option<&'a str>,
    publishable_key: &'a str,
    processor_js: &'a str,
    checkout_js: &'a str,
}

/// The card form: the processor's element, mounted by our script.
async fn pay_page(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    let order = orders::for_buyer(&state.core, me.member, id).await?;
    let o = &order.view.order;
    if o.status != OrderStatus::AwaitingPayment || o.reserved_until <= state.core.now() {
        return Ok(Redirect::to(&format!("/orders/{id}")).into_response());
    }
    let payments = &state.settings.payments;
    let Some(publishable_key) = payments.publishable_key.as_deref() else {
        return Err(WebError::Unavailable(ErrorCode::CheckoutClosed));
    };
    let t = state.catalogs.get(me.lang);
    let mut res = PayPage {
        layout: Layout::new(&state, me.lang, &t.checkout.pay_title),
        order_id: id,
        number: order.view.number.clone(),
        total: o.total.to_string(),
        reserved: t
            .checkout
            .pay_reserved_until
            .replace("{time}", &format_time(o.reserved_until, 9 * 3600, "JST")),
        submit: t
            .checkout
            .pay_submit
            .replace("{amount}", &o.total.to_string()),
        decline: order.last_decline.as_deref().map(|c| t.decline_message(c)),
        publishable_key,
        processor_js: payments.js_url.as_str(),
        checkout_js: state.assets.url("checkout.js"),
    }
    .into_response();
    // The one page whose CSP admits the processor (see the module doc).
    res.extensions_mut()
        .insert(ProcessorOrigins(payments.browser_origins()));
    Ok(no_store(res))
}
