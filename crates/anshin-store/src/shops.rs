//! The catalog (issue 13): shops, items, item images, and the search that
//! finds public items.
//!
//! Reads are [`ShopRepo`] methods; every write is a [`crate::Write`]
//! (`OpenShop`, `AddItem`, …) in a [`crate::Changes`] bundle. Each write
//! of an owner's row names the owner, and its statement checks it (the
//! shop's `owner_id`, or the item's shop's), so a member who sends another
//! member's shop, item or image id changes nothing and gets the same
//! "not found" guard as for an id that does not exist (no IDOR, and no
//! oracle telling which ids exist).
//!
//! Search matches *substrings* of the core's normalised `search_text`
//! (NFKC, lower-case), with the same results on both databases: SQLite
//! uses an FTS5 trigram index for terms of 3 or more characters and LIKE
//! for shorter ones; PostgreSQL uses ILIKE with a pg_trgm GIN index. The
//! terms are always bound parameters, LIKE wildcards (`%`, `_`) and the
//! escape character are escaped, and an FTS5 term is one quoted phrase,
//! so no input can change the query's meaning or make it fail.

use anshin_domain::{
    ImageFormat, ImageId, ItemDescription, ItemId, ItemStatus, ItemTitle, MediaKey, MemberId,
    Price, ShopDescription, ShopId, ShopName, ShopStatus, Stock, Timestamp, Yen,
};

use crate::StoreError;

/// A shop as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopRecord {
    pub id: ShopId,
    pub owner_id: MemberId,
    pub name: ShopName,
    pub description: ShopDescription,
    pub icon_key: Option<MediaKey>,
    pub status: ShopStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An item as stored (without its search text, which only the search
/// reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRecord {
    pub id: ItemId,
    pub shop_id: ShopId,
    pub title: ItemTitle,
    pub description: ItemDescription,
    pub price: Price,
    pub stock: Stock,
    pub status: ItemStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new item (the `search_text` is the core's normalised title and
/// description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub id: ItemId,
    pub shop_id: ShopId,
    pub title: ItemTitle,
    pub description: ItemDescription,
    pub price: Price,
    pub stock: Stock,
    pub status: ItemStatus,
    pub search_text: String,
    pub created_at: Timestamp,
}

/// The editable fields of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemEdit {
    pub title: ItemTitle,
    pub description: ItemDescription,
    pub price: Price,
    pub stock: Stock,
    pub search_text: String,
}

/// One line of a list of items (a shop page, search results): what a
/// card shows, with the shop's name and the main image's thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSummary {
    pub id: ItemId,
    pub shop_id: ShopId,
    pub shop_name: ShopName,
    pub title: ItemTitle,
    pub price: Price,
    pub stock: Stock,
    pub status: ItemStatus,
    /// The first image's thumbnail, if the item has an image.
    pub thumb_key: Option<MediaKey>,
    pub created_at: Timestamp,
}

/// An item's image as stored: the re-encoded file and its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: ImageId,
    pub item_id: ItemId,
    /// Display order; the store assigns it (after the last one).
    pub position: i64,
    pub media_key: MediaKey,
    pub thumb_key: MediaKey,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub created_at: Timestamp,
}

/// Who may fetch a stored file: its shop's owner always; anyone if
/// `public` (the item is on sale or sold out in an open shop, or the file
/// is an open shop's icon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaAccess {
    pub owner_id: MemberId,
    pub public: bool,
}

/// The order of a list of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchSort {
    /// Newest first.
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
}

/// A search of public items: every term must occur in the item's search
/// text (AND), the price within `min..=max`; one page of results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// Normalised (NFKC, lower-case), non-empty, without whitespace; at
    /// most [`SearchQuery::MAX_TERMS`] (more are ignored).
    pub terms: Vec<String>,
    pub min: Option<Yen>,
    pub max: Option<Yen>,
    pub sort: SearchSort,
    /// Only this shop's items (a shop page); `None`: every open shop.
    pub shop: Option<ShopId>,
    pub offset: u32,
    pub limit: u32,
}

impl SearchQuery {
    pub const MAX_TERMS: usize = 5;
}

#[async_trait::async_trait]
pub trait ShopRepo: Send + Sync {
    /// The member's shop, whatever its status.
    async fn shop_of_owner(&self, owner: MemberId) -> Result<Option<ShopRecord>, StoreError>;

    async fn shop(&self, id: ShopId) -> Result<Option<ShopRecord>, StoreError>;

    /// An item, whatever its status (the core decides who may see it).
    async fn item(&self, id: ItemId) -> Result<Option<ItemRecord>, StoreError>;

    /// How many items the shop has, in any status.
    async fn count_items(&self, shop: ShopId) -> Result<i64, StoreError>;

    /// One page of a shop's items in every status, newest first (the
    /// owner's list).
    async fn shop_items(
        &self,
        shop: ShopId,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<ItemSummary>, StoreError>;

    /// The item's images in display order.
    async fn item_images(&self, item: ItemId) -> Result<Vec<ImageRecord>, StoreError>;

    /// Who may fetch the file named `key` (an item image, a thumbnail or
    /// a shop icon); `None` if no row names it.
    async fn media_access(&self, key: &MediaKey) -> Result<Option<MediaAccess>, StoreError>;

    /// Public items (on sale or sold out, in an open shop) that match.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<ItemSummary>, StoreError>;
}
