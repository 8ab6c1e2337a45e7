//! Anonymous shipping on the members' pages (issue 15 part A, C19): the
//! shop's shipping settings, the seller's drop-off code (QR image and
//! text), the sender address choice, and the blocks the order pages show
//! (status, timeline, the other side by display name).
//!
//! Nothing here can show the other side's name, address, phone, postcode
//! or prefecture: the core's views have no field for them. The seller's
//! own addresses appear only on the seller's own pages (the sender
//! choice).

use anshin_core::accounts::local_time;
use anshin_core::i18n::Catalog;
use anshin_core::shipping::{self, BuyerShipment, SellerShipment, ShopShipping};
use anshin_domain::{AddressId, Lang, OrderId, ShipmentStatus};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::web::AppState;
use crate::web::common::errors::WebError;
use crate::web::common::flash::{self, Flash};
use crate::web::common::member::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/shop/manage/shipping", post(save_settings))
        .route("/sales/{id}/dropoff.png", get(dropoff_qr))
        .route("/sales/{id}/sender", post(choose_sender))
}

/// One of the member's own addresses, as a choice.
pub struct AddressChoice {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

impl std::fmt::Debug for AddressChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressChoice")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

async fn own_addresses(
    state: &AppState,
    me: &SignedIn,
    selected: Option<AddressId>,
) -> Result<Vec<AddressChoice>, WebError> {
    let list = anshin_core::member_data::list_addresses(&state.core, me.member).await?;
    Ok(list
        .iter()
        .map(|a| AddressChoice {
            id: a.id.to_string(),
            label: format!(
                "〒{} {}{}{} ({})",
                a.address.postal_code().as_str(),
                a.address.prefecture().as_str(),
                a.address.city().as_str(),
                a.address.line1().as_str(),
                a.address.recipient_name().as_str()
            ),
            selected: Some(a.id) == selected,
        })
        .collect())
}

/// The shop settings page's shipping block.
#[derive(Debug)]
pub struct SettingsBlock {
    pub anonymous: bool,
    pub default_selected: bool,
    pub addresses: Vec<AddressChoice>,
}

pub async fn settings_block(state: &AppState, me: &SignedIn) -> Result<SettingsBlock, WebError> {
    let s = shipping::settings(&state.core, me.member).await?;
    Ok(SettingsBlock {
        anonymous: s.anonymous,
        default_selected: s.sender_address_id.is_none(),
        addresses: own_addresses(state, me, s.sender_address_id).await?,
    })
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    anonymous: Option<String>,
    #[serde(default)]
    sender: String,
}

async fn save_settings(
    State(state): State<AppState>,
    me: SignedIn,
    Form(f): Form<SettingsForm>,
) -> Result<Response, WebError> {
    let sender = if f.sender.is_empty() {
        None
    } else {
        Some(AddressId::parse(&f.sender).ok_or(WebError::NotFound(
            crate::web::common::errors::ErrorCode::NotFound,
        ))?)
    };
    let choice = ShopShipping {
        anonymous: f.anonymous.is_some(),
        sender_address_id: sender,
    };
    shipping::save_settings(&state.core, me.member, &choice).await?;
    flash::redirect("/shop/manage", Flash::ShippingSaved)
}

/// The seller's drop-off code as a PNG (never cached: it is a bearer
/// credential for the parcel).
async fn dropoff_qr(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let png = shipping::seller_qr(&state.core, me.member, OrderId::from_uuid(id)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

/// Missing fields parse as empty, so a malformed post about someone
/// else's sale gets the unknown sale's 404 (C27), not a form rejection.
#[derive(Deserialize)]
struct SenderForm {
    #[serde(default)]
    address: String,
}

async fn choose_sender(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    Form(f): Form<SenderForm>,
) -> Result<Response, WebError> {
    let id = OrderId::from_uuid(id);
    let address = AddressId::parse(&f.address).ok_or(WebError::NotFound(
        crate::web::common::errors::ErrorCode::NotFound,
    ))?;
    shipping::set_sender(&state.core, me.member, id, address).await?;
    flash::redirect(&format!("/sales/{id}"), Flash::SenderChosen)
}

/// One timeline line as the page shows it.
#[derive(Debug)]
pub struct Line {
    pub label: String,
    pub at: String,
}

/// The shipment block of an order page.
pub struct ShipmentBlock {
    pub status: String,
    pub status_code: &'static str,
    pub timeline: Vec<Line>,
    pub is_seller: bool,
    /// The seller's code (`XXXX-XXXX-XXX`) while the parcel awaits the
    /// drop-off.
    pub code: Option<String>,
    pub qr_src: Option<String>,
    /// The sender choice, while the parcel awaits the drop-off.
    pub sender_choices: Option<Vec<AddressChoice>>,
    pub has_sender: bool,
}

impl std::fmt::Debug for ShipmentBlock {
    /// Without the code (a bearer credential for the parcel).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShipmentBlock")
            .field("status", &self.status_code)
            .finish_non_exhaustive()
    }
}

fn lines(t: &Catalog, lang: Lang, timeline: &[shipping::TimelineLine]) -> Vec<Line> {
    timeline
        .iter()
        .map(|l| Line {
            label: t.shipping.event(l.kind).to_owned(),
            at: local_time(lang, l.at),
        })
        .collect()
}

pub async fn seller_block(
    state: &AppState,
    me: &SignedIn,
    order: OrderId,
    s: &SellerShipment,
) -> Result<ShipmentBlock, WebError> {
    let t = state.catalogs.get(me.lang);
    let awaiting = s.status == ShipmentStatus::AwaitingDropoff;
    Ok(ShipmentBlock {
        status: t.shipping.status(s.status).to_owned(),
        status_code: s.status.as_str(),
        timeline: lines(t, me.lang, &s.timeline),
        is_seller: true,
        code: s.code.as_ref().map(|c| c.display()),
        qr_src: s
            .code
            .as_ref()
            .map(|_| format!("/sales/{order}/dropoff.png")),
        sender_choices: if awaiting {
            Some(own_addresses(state, me, None).await?)
        } else {
            None
        },
        has_sender: s.has_sender,
    })
}

pub fn buyer_block(state: &AppState, me: &SignedIn, s: &BuyerShipment) -> ShipmentBlock {
    let t = state.catalogs.get(me.lang);
    ShipmentBlock {
        status: t.shipping.status(s.status).to_owned(),
        status_code: s.status.as_str(),
        timeline: lines(t, me.lang, &s.timeline),
        is_seller: false,
        code: None,
        qr_src: None,
        sender_choices: None,
        has_sender: true,
    }
}
