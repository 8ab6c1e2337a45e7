//! Anonymous shipping (issue 15, C19): the shop's shipping setting, the
//! shipment made when an order is paid, its drop-off codes and its parcel
//! events.
//!
//! A shipment's two addresses (the buyer's as recipient, the seller's as
//! sender) are sealed by the core under a data key of the shipment's own,
//! stored wrapped in `shipment_keys`; the sealed label row hangs off that
//! key (`ON DELETE CASCADE`), so a purge that deletes the key destroys
//! both addresses and every copy of their ciphertext becomes unreadable.
//! Nothing here holds an address in clear, and a drop-off code is stored
//! only as a keyed hash.
//!
//! Reads are [`ShippingRepo`] methods; every write is a [`crate::Write`]
//! (`CreateShipment`, `AcceptDropoff`, `VoidDropoffCode`,
//! `AddParcelEvent`, `SetShopShipping`, `SetShipmentSender`) whose guards
//! are single statements: a code is accepted once (`status = 'live'`), a
//! void moves the generation it read and no other, an event moves the
//! shipment only from the states it may follow.

use anshin_domain::{
    AddressId, DropoffCodeStatus, MemberId, OrderId, ParcelEventId, ParcelEventKind, ShipmentId,
    ShipmentStatus, ShopId, Timestamp,
};

use crate::StoreError;

/// A shop's shipping choices. A shop without a row ships anonymously
/// with the owner's default address as sender (the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopShippingRecord {
    pub shop_id: ShopId,
    /// Anonymous shipping through the centre (default on).
    pub anonymous: bool,
    /// The owner's saved address to send from; `None`: the default one.
    pub sender_address_id: Option<AddressId>,
    pub updated_at: Timestamp,
}

/// A shipment to create in the payment's bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct NewShipment {
    pub id: ShipmentId,
    pub order_id: OrderId,
    pub shop_id: ShopId,
    pub seller_id: MemberId,
    pub buyer_id: MemberId,
    /// The shipment's data key, wrapped by the key ring.
    pub wrapped_key: Vec<u8>,
    pub kek_version: i64,
    /// The buyer's address, sealed under the shipment's key.
    pub recipient: Vec<u8>,
    /// The seller's address, sealed likewise (`None`: the seller has no
    /// address yet; they choose one before the drop-off).
    pub sender: Option<Vec<u8>>,
    /// The keyed hash of the first drop-off code (generation 0).
    pub code_hash: [u8; 32],
    pub created_at: Timestamp,
}

impl std::fmt::Debug for NewShipment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewShipment")
            .field("id", &self.id)
            .field("order_id", &self.order_id)
            .finish_non_exhaustive()
    }
}

/// A shipment as stored (without its sealed addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRecord {
    pub id: ShipmentId,
    pub order_id: OrderId,
    pub shop_id: ShopId,
    pub seller_id: MemberId,
    pub buyer_id: MemberId,
    pub status: ShipmentStatus,
    /// The generation of the current drop-off code (0, then one more per
    /// void).
    pub generation: u32,
    /// Whether the sender's address is sealed in (and its key still
    /// exists: a purged shipment has neither).
    pub has_sender: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A shipment's sealed label data and its wrapped key: what the shipping
/// centre's label renderer opens. `Debug` shows nothing of the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedLabel {
    pub shipment_id: ShipmentId,
    pub wrapped_key: Vec<u8>,
    pub recipient: Vec<u8>,
    pub sender: Option<Vec<u8>>,
}

impl std::fmt::Debug for SealedLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedLabel")
            .field("shipment_id", &self.shipment_id)
            .finish_non_exhaustive()
    }
}

/// One drop-off code of a shipment (by its keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropoffCodeRecord {
    pub code_hash: [u8; 32],
    pub shipment_id: ShipmentId,
    pub generation: u32,
    pub status: DropoffCodeStatus,
    pub created_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

/// A line of a parcel's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelEventRecord {
    pub id: ParcelEventId,
    pub shipment_id: ShipmentId,
    pub kind: ParcelEventKind,
    pub at: Timestamp,
}

#[async_trait::async_trait]
pub trait ShippingRepo: Send + Sync {
    /// The shop's shipping choices, if it saved any.
    async fn shop_shipping(&self, shop: ShopId) -> Result<Option<ShopShippingRecord>, StoreError>;

    async fn shipment(&self, id: ShipmentId) -> Result<Option<ShipmentRecord>, StoreError>;

    /// The order's shipment, if it ships anonymously.
    async fn shipment_of_order(&self, order: OrderId)
    -> Result<Option<ShipmentRecord>, StoreError>;

    /// The sealed label data; `None` if there is no such shipment or its
    /// key was purged.
    async fn sealed_label(&self, id: ShipmentId) -> Result<Option<SealedLabel>, StoreError>;

    /// A drop-off code by its keyed hash.
    async fn dropoff_code(&self, hash: &[u8; 32]) -> Result<Option<DropoffCodeRecord>, StoreError>;

    /// The shipment's timeline, oldest first.
    async fn parcel_events(&self, id: ShipmentId) -> Result<Vec<ParcelEventRecord>, StoreError>;

    /// Delivered shipments whose history is not purged yet, delivered at
    /// or before `delivered_not_after`, oldest delivery first, after the
    /// `after` (delivery time, id) position; at most `limit` of them
    /// (the retention purge's batches, C17).
    async fn delivered_unpurged(
        &self,
        delivered_not_after: Timestamp,
        after: Option<(Timestamp, ShipmentId)>,
        limit: u32,
    ) -> Result<Vec<(ShipmentId, Timestamp)>, StoreError>;
}
