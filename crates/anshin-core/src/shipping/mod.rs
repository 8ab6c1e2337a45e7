//! Anonymous shipping, the data and the members' side (issue 15 part A,
//! C19; ADR 0015): neither the buyer nor the seller ever learns the
//! other's name or address. The parcel goes through the shipping centre,
//! which alone prints the label.
//!
//! - **A shipment on payment**: when an order is paid and its shop ships
//!   anonymously (the default; [`save_settings`]), [`shipment_for_payment`]
//!   builds the [`Write::CreateShipment`] that rides in the payment's own
//!   bundle. Both addresses (recipient: the buyer's order address as it
//!   was; sender: the seller's chosen or default address) are sealed
//!   under a fresh data key of the shipment, wrapped by the key ring, so a
//!   retention purge that deletes the key destroys both.
//! - **A drop-off code** ([`anshin_vault::dropoff`]): 11 symbols, a MAC
//!   inside, no personal data; the seller sees it as a QR code
//!   ([`qr_png`]) and as text. The store keeps only its keyed hash.
//! - **The centre's calls** (the console of part B builds on them):
//!   [`resolve_code`] (refusing forged, altered, used, voided and unknown
//!   codes, each with its own [`DropoffRefusal`]), [`accept_changes`]
//!   (single use, and the order's "shipped" step in the same bundle),
//!   [`void_write`] (the write a manager's approval commits) and
//!   [`label`] (the sealed label data, opened; `Debug` redacts).
//! - **Parcel events** ([`record_event`]): in transit, delivered; a
//!   delivery moves the order to `delivered`, so the buyer (or the
//!   completion job) can complete it.
//! - **What members see** ([`seller_view`], [`buyer_view`]): status and
//!   timeline, the other side by display name only; the seller also their
//!   code. No view type has a field that could hold the other side's
//!   name, address, phone, postcode or prefecture.
//!
//! # What an attacker tries (each has a test; see ADR 0015)
//! - a made-up code: the MAC refuses it before the database is asked
//!   (`c19_a_made_up_code_with_a_right_check_symbol_is_forged`, and
//!   `shipping::c19_dropoff_tokens_*` through the store);
//! - a real code with one symbol changed: the check symbol
//!   (`c19_a_changed_symbol_is_refused_as_altered`);
//! - a code used twice, or after it was voided: the code's row says so,
//!   and accepting is a guarded `UPDATE … WHERE status = 'live'`;
//! - another seller's code or order: every member read is scoped to the
//!   order's party; another's order is a 404 like a missing one;
//! - reading the other side's address off a page, an API or a mail: the
//!   crawl test `c19_crawl_*` fetches everything both members can reach
//!   and looks for every field of the other's address.

use anshin_domain::{
    AddressId, DropoffCodeStatus, MemberId, OrderId, OrderStatus, ParcelEventKind, ShipmentId,
    ShipmentStatus, Timestamp,
};
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_store::{
    Changes, NewShipment, OrderParty, OrderRecord, ParcelEventRecord, ShipmentRecord, StoreError,
    Write, guards,
};
use anshin_vault::{DataKey, DropoffCode, DropoffError, FieldContext, fields};

use crate::Services;
use crate::mail::compose::OrderEvent;
use crate::member_data::{MemberDataError, ShippingAddress};

/// The table whose rows the label fields are sealed for.
const LABEL_TABLE: &str = "shipment_labels";

#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    /// No such order or shipment of this member (another member's looks
    /// exactly like a missing one).
    #[error("no such shipment")]
    NotFound,
    /// The member has no shop.
    #[error("no shop")]
    NoShop,
    /// The sender address is not one of the member's.
    #[error("no such address")]
    NoSuchAddress,
    /// The shipment is not in a state that allows this (accepted already,
    /// delivered, an event out of order).
    #[error("the shipment does not allow this now")]
    WrongState,
    /// The shipment's key was purged, or a sealed value does not open.
    #[error("the shipment's label data is gone or unreadable")]
    Unreadable,
    #[error(transparent)]
    MemberData(#[from] MemberDataError),
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::compose::SealError),
    #[error(transparent)]
    Order(Box<crate::orders::OrderError>),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ShippingError {
    fn from(e: StoreError) -> Self {
        if e.is_precondition(guards::SHIPMENT_STATE)
            || e.is_precondition(guards::DROPOFF_NOT_LIVE)
            || e.is_precondition(guards::ORDER_STATE)
        {
            ShippingError::WrongState
        } else if e.is_precondition(guards::SHOP_NOT_FOUND) {
            ShippingError::NoShop
        } else if e.is_precondition(guards::ADDRESS_NOT_FOUND) {
            ShippingError::NoSuchAddress
        } else {
            ShippingError::Store(e)
        }
    }
}

impl From<crate::orders::OrderError> for ShippingError {
    fn from(e: crate::orders::OrderError) -> Self {
        ShippingError::Order(Box::new(e))
    }
}

// ---- the shop's choice ----

/// A shop's shipping choices as its settings page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopShipping {
    /// Ship through the centre (default on).
    pub anonymous: bool,
    /// The owner's address to send from; `None`: their default address.
    pub sender_address_id: Option<AddressId>,
}

/// The member's shop's shipping choices (the defaults if never saved).
pub async fn settings(svc: &Services, owner: MemberId) -> Result<ShopShipping, ShippingError> {
    let shop = svc
        .store
        .shops()
        .shop_of_owner(owner)
        .await?
        .ok_or(ShippingError::NoShop)?;
    Ok(match svc.store.shipping().shop_shipping(shop.id).await? {
        Some(r) => ShopShipping {
            anonymous: r.anonymous,
            sender_address_id: r.sender_address_id,
        },
        None => ShopShipping {
            anonymous: true,
            sender_address_id: None,
        },
    })
}

/// Saves the member's shop's shipping choices; the sender address must
/// be one of theirs ([`ShippingError::NoSuchAddress`]).
pub async fn save_settings(
    svc: &Services,
    owner: MemberId,
    choice: &ShopShipping,
) -> Result<(), ShippingError> {
    let shop = svc
        .store
        .shops()
        .shop_of_owner(owner)
        .await?
        .ok_or(ShippingError::NoShop)?;
    let write = Write::SetShopShipping {
        owner,
        shop: shop.id,
        anonymous: choice.anonymous,
        sender: choice.sender_address_id,
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(write)).await?;
    tracing::info!(shop = %shop.id, anonymous = choice.anonymous, "shop shipping saved");
    Ok(())
}

// ---- the shipment's key and sealed fields ----

/// What the shipment's wrapped key is bound to: a label and the id, so a
/// shipment key can never pass for a member's (whose id is 16 bytes).
fn key_binding(id: ShipmentId) -> Vec<u8> {
    let mut b = b"shipment/".to_vec();
    b.extend_from_slice(id.as_bytes());
    b
}

fn seal_field(
    svc: &Services,
    key: &DataKey,
    column: &str,
    id: ShipmentId,
    address: &ShippingAddress,
) -> Result<Vec<u8>, ShippingError> {
    let bytes = crate::member_data::sealed::address_bytes(address)?;
    fields::encrypt(
        key,
        &FieldContext::new(LABEL_TABLE, column, id.as_bytes()),
        &bytes,
        &mut svc.random.rng(),
    )
    .map_err(|_| ShippingError::Unreadable)
}

fn open_field(
    key: &DataKey,
    column: &str,
    id: ShipmentId,
    ciphertext: &[u8],
) -> Result<ShippingAddress, ShippingError> {
    let plain = fields::decrypt(
        key,
        &FieldContext::new(LABEL_TABLE, column, id.as_bytes()),
        ciphertext,
    )
    .map_err(|_| ShippingError::Unreadable)?;
    crate::member_data::sealed::parse_address(&plain).map_err(|_| ShippingError::Unreadable)
}

async fn shipment_key(
    svc: &Services,
    id: ShipmentId,
) -> Result<(DataKey, anshin_store::SealedLabel), ShippingError> {
    let sealed = svc
        .store
        .shipping()
        .sealed_label(id)
        .await?
        .ok_or(ShippingError::Unreadable)?;
    let key = svc
        .keys
        .unwrap_member_key(&sealed.wrapped_key, &key_binding(id))
        .map_err(|_| ShippingError::Unreadable)?;
    Ok((key, sealed))
}

/// The address the seller sends from: the shop's choice, else their
/// default address, else none (they choose one before the drop-off).
async fn sender_address(
    svc: &Services,
    seller: MemberId,
    chosen: Option<AddressId>,
) -> Result<Option<ShippingAddress>, ShippingError> {
    let list = crate::member_data::list_addresses(svc, seller).await?;
    let pick = chosen
        .and_then(|id| list.iter().find(|a| a.id == id))
        .or_else(|| list.iter().find(|a| a.is_default))
        .or_else(|| list.first());
    Ok(pick.map(|a| a.address.clone()))
}

/// The drop-off code of a shipment's generation.
pub fn code_of(svc: &Services, shipment: ShipmentId, generation: u32) -> DropoffCode {
    DropoffCode::derive(svc.keys.dropoff_key(), shipment.as_bytes(), generation)
}

/// The shipment to create with the payment of `order`, if its shop ships
/// anonymously: put it in the payment's bundle after `MarkPaid`.
/// `None` if the shop ships itself, or the order has no address.
pub async fn shipment_for_payment(
    svc: &Services,
    order: &OrderRecord,
) -> Result<Option<Write>, ShippingError> {
    let choice = svc.store.shipping().shop_shipping(order.shop_id).await?;
    if choice.as_ref().is_some_and(|c| !c.anonymous) {
        return Ok(None);
    }
    let Some((buyer, ct)) = svc.store.orders().order_shipping(order.id).await? else {
        return Ok(None);
    };
    let recipient =
        crate::member_data::sealed::open_order_shipping(svc, buyer, order.id, &ct).await?;
    let sender = sender_address(
        svc,
        order.seller_id,
        choice.and_then(|c| c.sender_address_id),
    )
    .await?;
    let id: ShipmentId = svc.new_id();
    let key = DataKey::generate(&mut svc.random.rng());
    let wrapped = svc
        .keys
        .wrap_member_key(&key, &key_binding(id), &svc.random)
        .map_err(|_| ShippingError::Unreadable)?;
    let recipient = seal_field(svc, &key, "recipient", id, &recipient)?;
    let sender = match &sender {
        Some(a) => Some(seal_field(svc, &key, "sender", id, a)?),
        None => None,
    };
    Ok(Some(Write::CreateShipment(NewShipment {
        id,
        order_id: order.id,
        shop_id: order.shop_id,
        seller_id: order.seller_id,
        buyer_id: order.buyer_id,
        kek_version: i64::from(wrapped.kek_version()),
        wrapped_key: wrapped.into_bytes(),
        recipient,
        sender,
        code_hash: code_of(svc, id, 0).lookup_hash(svc.keys.dropoff_key()),
        created_at: svc.now(),
    })))
}

/// The seller chooses (or changes) the address their parcel is sent
/// from, while it awaits the drop-off.
pub async fn set_sender(
    svc: &Services,
    seller: MemberId,
    order: OrderId,
    address: AddressId,
) -> Result<(), ShippingError> {
    let s = seller_shipment(svc, seller, order).await?;
    let a = crate::member_data::address(svc, seller, address)
        .await
        .map_err(|e| match e {
            MemberDataError::NotFound => ShippingError::NoSuchAddress,
            e => e.into(),
        })?;
    let (key, _) = shipment_key(svc, s.id).await?;
    let sealed = seal_field(svc, &key, "sender", s.id, &a.address)?;
    let write = Write::SetShipmentSender {
        shipment: s.id,
        seller,
        sender: sealed,
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(write)).await?;
    tracing::info!(shipment = %s.id, "sender address chosen");
    Ok(())
}

// ---- the shipping centre's calls ----

/// Why the centre cannot take a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropoffRefusal {
    #[error("this is not a drop-off code")]
    Malformed,
    #[error("the code was mistyped or altered (its check symbol does not match)")]
    Altered,
    #[error("the code is forged (its MAC does not match)")]
    Forged,
    #[error("no parcel has this code")]
    Unknown,
    #[error("this code was used already: the parcel was accepted")]
    AlreadyAccepted,
    #[error("this code was voided; the seller has a newer one")]
    Voided,
    #[error("the parcel has no sender address yet; the seller must choose one")]
    NoSender,
}

impl From<DropoffError> for DropoffRefusal {
    fn from(e: DropoffError) -> Self {
        match e {
            DropoffError::Malformed => DropoffRefusal::Malformed,
            DropoffError::Altered => DropoffRefusal::Altered,
            DropoffError::Forged => DropoffRefusal::Forged,
        }
    }
}

/// A code the centre may accept, and its shipment.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub shipment: ShipmentRecord,
    pub code_hash: [u8; 32],
    pub generation: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] DropoffRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a worker scanned or typed, checked: its form, its check symbol,
/// its MAC, then its row (live, used, voided) and its shipment.
pub async fn resolve_code(svc: &Services, presented: &str) -> Result<Resolved, ResolveError> {
    let code =
        DropoffCode::parse(svc.keys.dropoff_key(), presented).map_err(DropoffRefusal::from)?;
    let hash = code.lookup_hash(svc.keys.dropoff_key());
    let row = svc
        .store
        .shipping()
        .dropoff_code(&hash)
        .await?
        .ok_or(DropoffRefusal::Unknown)?;
    match row.status {
        DropoffCodeStatus::Accepted => return Err(DropoffRefusal::AlreadyAccepted.into()),
        DropoffCodeStatus::Voided => return Err(DropoffRefusal::Voided.into()),
        DropoffCodeStatus::Live => {}
    }
    let shipment = svc
        .store
        .shipping()
        .shipment(row.shipment_id)
        .await?
        .ok_or(DropoffRefusal::Unknown)?;
    if shipment.status != ShipmentStatus::AwaitingDropoff {
        return Err(DropoffRefusal::AlreadyAccepted.into());
    }
    if !shipment.has_sender {
        return Err(DropoffRefusal::NoSender.into());
    }
    Ok(Resolved {
        generation: row.generation,
        code_hash: hash,
        shipment,
    })
}

/// The bundle that accepts a resolved parcel: the code used up (single
/// use), the first timeline line, the order's `paid → shipped` step and
/// its letters. The console adds its audit entry (worker, terminal,
/// shift) and commits; a second acceptance fails
/// [`guards::DROPOFF_NOT_LIVE`].
pub async fn accept_changes(svc: &Services, r: &Resolved) -> Result<Changes, ShippingError> {
    let now = svc.now();
    let order = svc
        .store
        .orders()
        .order(r.shipment.order_id)
        .await?
        .ok_or(ShippingError::NotFound)?;
    let mut changes = Changes::new().with(Write::AcceptDropoff {
        code_hash: r.code_hash,
        shipment: r.shipment.id,
        event: svc.new_id(),
        at: now,
    });
    if order.status == OrderStatus::Paid {
        changes.push(Write::AdvanceOrder {
            order: order.id,
            party: None,
            from: OrderStatus::Paid,
            to: OrderStatus::Shipped,
            at: now,
        });
        let lines = svc.store.orders().order_lines(order.id).await?;
        for m in
            crate::orders::notices::letters(svc, &order, &lines, OrderEvent::Shipped, None).await?
        {
            changes.push_mail(m);
        }
    }
    Ok(changes)
}

/// The audit entry of an act at the shell (`anshin shipping …`): the
/// system as the actor, reason `command_line`, like `anshin staff add`;
/// the shipment as the target, never personal data.
fn shell_entry(
    svc: &Services,
    action: AuditAction,
    shipment: ShipmentId,
    why: &str,
) -> anshin_store::AuditEntry {
    crate::audit::entry(
        svc,
        Actor::System,
        action,
        Some(AuditTarget::shipment(shipment)),
        None,
        "command_line",
        serde_json::json!({ "why": why }),
    )
}

/// Resolves and accepts a code in one go (the staff CLI, recorded as the
/// system in the same commit; the console commits [`accept_changes`] with
/// its own audit entry naming the worker, terminal and shift instead:
/// `crate::counter`).
pub async fn accept(svc: &Services, presented: &str) -> Result<ShipmentRecord, AcceptError> {
    let r = resolve_code(svc, presented).await?;
    let changes = accept_changes(svc, &r).await?.audited(shell_entry(
        svc,
        AuditAction::ParcelAccepted,
        r.shipment.id,
        "accept",
    ));
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(e) if e.is_precondition(guards::DROPOFF_NOT_LIVE) => {
            return Err(DropoffRefusal::AlreadyAccepted.into());
        }
        Err(e) => return Err(ShippingError::from(e).into()),
    }
    tracing::info!(shipment = %r.shipment.id, "parcel accepted at the centre");
    Ok(r.shipment)
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error(transparent)]
    Refused(#[from] DropoffRefusal),
    #[error(transparent)]
    Shipping(#[from] ShippingError),
}

impl From<ResolveError> for AcceptError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Refused(r) => AcceptError::Refused(r),
            ResolveError::Store(s) => AcceptError::Shipping(s.into()),
        }
    }
}

/// The write that voids `shipment`'s current code and issues the next
/// one; the centre's approval step (C25: a manager confirms) commits it
/// with its audit entries. Fails [`guards::DROPOFF_NOT_LIVE`] if the code
/// moved on meanwhile (a second approval counts once).
pub fn void_write(svc: &Services, shipment: &ShipmentRecord) -> Write {
    let next = shipment.generation.saturating_add(1);
    Write::VoidDropoffCode {
        shipment: shipment.id,
        generation: shipment.generation,
        new_code_hash: code_of(svc, shipment.id, next).lookup_hash(svc.keys.dropoff_key()),
        at: svc.now(),
    }
}

/// A shipment's label data, opened: only for the shipping centre's label
/// renderer, which records every view (C22). `Debug` redacts.
#[derive(Clone)]
pub struct LabelData {
    pub shipment: ShipmentId,
    pub recipient: ShippingAddress,
    pub sender: Option<ShippingAddress>,
}

impl std::fmt::Debug for LabelData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelData")
            .field("shipment", &self.shipment)
            .field("recipient", &"[redacted]")
            .field("sender", &"[redacted]")
            .finish()
    }
}

/// Opens a shipment's sealed label data ([`ShippingError::Unreadable`]
/// once its key was purged).
pub async fn label(svc: &Services, shipment: ShipmentId) -> Result<LabelData, ShippingError> {
    let (key, sealed) = shipment_key(svc, shipment).await?;
    Ok(LabelData {
        shipment,
        recipient: open_field(&key, "recipient", shipment, &sealed.recipient)?,
        sender: match &sealed.sender {
            Some(ct) => Some(open_field(&key, "sender", shipment, ct)?),
            None => None,
        },
    })
}

// ---- parcel events ----

/// A parcel event after the drop-off, for staff (the carrier-events CLI):
/// `target` is an order id or a drop-off code of the shipment (used or
/// not). A delivery also moves the order `shipped → delivered` and mails
/// both sides.
pub async fn record_event(
    svc: &Services,
    target: &str,
    kind: ParcelEventKind,
) -> Result<ShipmentRecord, ShippingError> {
    if kind == ParcelEventKind::Accepted {
        // Acceptance uses the code up: only through `accept`.
        return Err(ShippingError::WrongState);
    }
    let repo = svc.store.shipping();
    let shipment = match OrderId::parse(target.trim()) {
        Some(order) => repo.shipment_of_order(order).await?,
        None => {
            let code = DropoffCode::parse(svc.keys.dropoff_key(), target)
                .map_err(|_| ShippingError::NotFound)?;
            match repo
                .dropoff_code(&code.lookup_hash(svc.keys.dropoff_key()))
                .await?
            {
                Some(row) => repo.shipment(row.shipment_id).await?,
                None => None,
            }
        }
    }
    .ok_or(ShippingError::NotFound)?;
    let changes = event_changes(svc, &shipment, kind)
        .await?
        .audited(shell_entry(
            svc,
            AuditAction::ParcelEventRecorded,
            shipment.id,
            kind.as_str(),
        ));
    svc.store.commit(&changes).await?;
    tracing::info!(shipment = %shipment.id, event = kind.as_str(), "parcel event recorded");
    Ok(shipment)
}

/// The bundle of a parcel event (in transit, delivered) for `shipment`:
/// the timeline line and the shipment's state (guarded,
/// [`guards::SHIPMENT_STATE`]), and for a delivery the order's
/// `shipped → delivered` step and both letters. The console adds its
/// audit entry (worker, terminal, shift) and commits.
pub async fn event_changes(
    svc: &Services,
    shipment: &ShipmentRecord,
    kind: ParcelEventKind,
) -> Result<Changes, ShippingError> {
    if kind == ParcelEventKind::Accepted {
        // Acceptance uses the code up: only through `accept`.
        return Err(ShippingError::WrongState);
    }
    let now = svc.now();
    let mut changes = Changes::new().with(Write::AddParcelEvent {
        event: svc.new_id(),
        shipment: shipment.id,
        kind,
        at: now,
    });
    if kind == ParcelEventKind::Delivered {
        let order = svc
            .store
            .orders()
            .order(shipment.order_id)
            .await?
            .ok_or(ShippingError::NotFound)?;
        if order.status == OrderStatus::Shipped {
            changes.push(Write::AdvanceOrder {
                order: order.id,
                party: None,
                from: OrderStatus::Shipped,
                to: OrderStatus::Delivered,
                at: now,
            });
            let lines = svc.store.orders().order_lines(order.id).await?;
            for m in
                crate::orders::notices::letters(svc, &order, &lines, OrderEvent::Delivered, None)
                    .await?
            {
                changes.push_mail(m);
            }
        }
    }
    Ok(changes)
}

// ---- what members see ----

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineLine {
    pub kind: ParcelEventKind,
    pub at: Timestamp,
}

fn timeline(events: Vec<ParcelEventRecord>) -> Vec<TimelineLine> {
    events
        .into_iter()
        .map(|e| TimelineLine {
            kind: e.kind,
            at: e.at,
        })
        .collect()
}

/// The seller's side of an anonymous shipment: the code while the parcel
/// awaits its drop-off, the status and the timeline. Nothing of the
/// buyer.
#[derive(Debug, Clone)]
pub struct SellerShipment {
    pub id: ShipmentId,
    pub status: ShipmentStatus,
    /// Only while the parcel awaits the drop-off.
    pub code: Option<DropoffCode>,
    /// Whether a sender address is sealed in (without one the centre
    /// cannot accept the parcel).
    pub has_sender: bool,
    pub timeline: Vec<TimelineLine>,
}

/// The buyer's side: status and timeline. Nothing of the seller.
#[derive(Debug, Clone)]
pub struct BuyerShipment {
    pub status: ShipmentStatus,
    pub timeline: Vec<TimelineLine>,
}

async fn seller_shipment(
    svc: &Services,
    seller: MemberId,
    order: OrderId,
) -> Result<ShipmentRecord, ShippingError> {
    svc.store
        .orders()
        .order_for(order, OrderParty::Seller(seller))
        .await?
        .filter(|o| o.status.was_paid())
        .ok_or(ShippingError::NotFound)?;
    svc.store
        .shipping()
        .shipment_of_order(order)
        .await?
        .filter(|s| s.seller_id == seller)
        .ok_or(ShippingError::NotFound)
}

/// The seller's view of their order's shipment; `None` if the order ships
/// without the centre; [`ShippingError::NotFound`] if the order is not
/// theirs (or not paid).
pub async fn seller_view(
    svc: &Services,
    seller: MemberId,
    order: OrderId,
) -> Result<Option<SellerShipment>, ShippingError> {
    let s = match seller_shipment(svc, seller, order).await {
        Ok(s) => s,
        Err(ShippingError::NotFound) => {
            // A paid order of theirs without a shipment ships itself.
            svc.store
                .orders()
                .order_for(order, OrderParty::Seller(seller))
                .await?
                .filter(|o| o.status.was_paid())
                .ok_or(ShippingError::NotFound)?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let events = svc.store.shipping().parcel_events(s.id).await?;
    Ok(Some(SellerShipment {
        id: s.id,
        status: s.status,
        code: (s.status == ShipmentStatus::AwaitingDropoff)
            .then(|| code_of(svc, s.id, s.generation)),
        has_sender: s.has_sender,
        timeline: timeline(events),
    }))
}

/// The buyer's view of their order's shipment; `None` without one;
/// [`ShippingError::NotFound`] if the order is not theirs.
pub async fn buyer_view(
    svc: &Services,
    buyer: MemberId,
    order: OrderId,
) -> Result<Option<BuyerShipment>, ShippingError> {
    svc.store
        .orders()
        .order_for(order, OrderParty::Buyer(buyer))
        .await?
        .ok_or(ShippingError::NotFound)?;
    let Some(s) = svc
        .store
        .shipping()
        .shipment_of_order(order)
        .await?
        .filter(|s| s.buyer_id == buyer)
    else {
        return Ok(None);
    };
    let events = svc.store.shipping().parcel_events(s.id).await?;
    Ok(Some(BuyerShipment {
        status: s.status,
        timeline: timeline(events),
    }))
}

/// The other side of an order as a member may see them: their display
/// name (which they chose to show), nothing else. `None` if they left.
pub async fn counterpart_name(
    svc: &Services,
    member: MemberId,
) -> Result<Option<String>, ShippingError> {
    Ok(svc
        .store
        .accounts()
        .find_member(member)
        .await?
        .map(|m| m.display_name.as_str().to_owned()))
}

/// The seller's drop-off code as a QR code (PNG), for their order page;
/// [`ShippingError::NotFound`] unless the order is theirs and its parcel
/// awaits the drop-off.
pub async fn seller_qr(
    svc: &Services,
    seller: MemberId,
    order: OrderId,
) -> Result<Vec<u8>, ShippingError> {
    let s = seller_view(svc, seller, order)
        .await?
        .ok_or(ShippingError::NotFound)?;
    let code = s.code.ok_or(ShippingError::NotFound)?;
    qr_png(&code).ok_or(ShippingError::Unreadable)
}

/// The QR code of `code` (its [`DropoffCode::qr_text`], nothing else) as
/// a PNG: black modules on white, 8 pixels each, with the standard
/// 4-module quiet zone. `None` only if encoding fails (it cannot for 26
/// characters).
pub fn qr_png(code: &DropoffCode) -> Option<Vec<u8>> {
    let qr =
        qrcode::QrCode::with_error_correction_level(code.qr_text().as_bytes(), qrcode::EcLevel::M)
            .ok()?;
    let img = qr
        .render::<image::Luma<u8>>()
        .module_dimensions(8, 8)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn c19_the_qr_holds_the_code_and_nothing_else() {
        let key = anshin_vault::DropoffKey::from_bytes([3; 32]);
        let code = DropoffCode::derive(&key, &[5; 16], 0);
        let png = qr_png(&code).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, text) = grids[0].decode().unwrap();
        assert_eq!(text, code.qr_text());
        assert_eq!(text.len(), "anshin-dropoff:".len() + 11);
    }
}
