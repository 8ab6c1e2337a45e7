//! The catalog (issue 13): a member opens one shop, lists items (title,
//! Markdown description, price in whole yen, stock or unlimited, status,
//! images), and buyers browse and search what is public. Every door (the
//! pages, the JSON API, later the staff console) calls these functions.
//!
//! Who sees what: an item is public when it is on sale or sold out *and*
//! its shop is open; drafts, hidden items and closed shops are seen only
//! by their owner, and answer [`ShopError::NotFound`] to everyone else,
//! exactly like an id that does not exist.
//!
//! # What an attacker tries, and what stops it (each has a test)
//! - **Editing another member's shop, item or image (IDOR)** by sending
//!   its id: every write names the member, and the store's statement is
//!   scoped to the member's own shop; a foreign id fails the same guard as
//!   a missing one ([`ShopError::NotFound`], 404), changes nothing, and
//!   tells nothing about which ids exist. Conformance check
//!   `shops_writes_to_another_members_shop_item_or_image_change_nothing`;
//!   API test `shops::idor_*`.
//! - **Seeing a draft or a hidden item** by guessing its URL or its
//!   image's: 404 for items ([`item_for`]), and the media route asks
//!   `media_access` (owner, or public) before serving a file.
//! - **A negative, fractional or absurd price; a huge or negative
//!   stock**: [`anshin_domain::Price`] (0 to ¥9,999,999) and
//!   [`anshin_domain::Stock`] (0 to 99,999) parse or refuse, and the
//!   database's `CHECK (price_yen >= 0)` / `CHECK (stock >= 0)` refuse
//!   again if any code path ever skipped the parser.
//! - **Filling the database**: at most `limits.max_items_per_shop` items
//!   per shop and `limits.max_images_per_item` images per item, counted
//!   under the shop's row lock so parallel requests cannot overshoot
//!   (`shops_item_cap_holds_under_parallel_adds`); texts are bounded
//!   (title 80, description 10,000 characters).
//! - **XSS in Markdown** (`<script>`, `onerror=`, `javascript:` links,
//!   remote images): rendered by pulldown-cmark, then sanitised by ammonia
//!   with a short allow list ([`markdown`]); titles are plain text that
//!   askama escapes; bidi overrides are refused in every text (a title
//!   that reads other than it is).
//! - **A script in an SVG, a decompression bomb, a polyglot
//!   (GIF/JS, JPEG+ZIP, HTML behind a PNG signature), a non-image**: the
//!   upload is identified by its bytes (only JPEG, PNG and WebP), its
//!   pixel count checked from the header *before* decoding, trailing
//!   bytes and embedded markup refused, and the picture re-encoded, so
//!   what is stored and served is only pixels (no EXIF, no GPS)
//!   ([`images`]). Served with its own content type, `nosniff` and
//!   `Content-Security-Policy: default-src 'none'`.
//! - **Path traversal in a media key** (`/media/../../etc/passwd`,
//!   `%2e%2e%2f`, `\`, NUL): [`anshin_domain::MediaKey::parse`] accepts
//!   only `{kind}/{uuid}.{ext}` as the server makes it, before any
//!   storage call; the local store also refuses to follow a key outside
//!   its directory.
//! - **Search injection**: LIKE wildcards (`%`, `_`, `\`), FTS5 syntax
//!   (`"`, `NEAR(`, `*`, `AND`), SQL: the terms are bound parameters,
//!   escaped for LIKE and quoted as one FTS5 phrase, so they neither fail
//!   nor widen the search; the query, the number of terms and the page are
//!   capped ([`search`]).

pub mod images;
pub mod input;
pub mod markdown;
pub mod search;

use anshin_domain::{
    ImageId, ItemId, ItemStatus, MediaKey, MediaKind, MemberId, ShopId, ShopStatus,
};
use anshin_store::{Changes, ItemEdit, NewItem, StoreError, Write, guards};

pub use anshin_store::{ImageRecord, ItemRecord, ItemSummary, SearchSort, ShopRecord};
pub use input::{ItemInput, RawItem, RawShop, ShopInput};
pub use search::{ParsedSearch, SearchRequest};

use crate::Services;
use crate::member_data::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// The form has errors; each names its field.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// The member has a shop already (one per member).
    #[error("the member has a shop already")]
    AlreadyOpen,
    /// The member has no shop yet.
    #[error("the member has no shop")]
    NoShop,
    /// No such shop, item or image, or not one this member may see or
    /// change (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The shop has `limits.max_items_per_shop` items.
    #[error("the shop has the most items allowed ({max})")]
    ItemLimit { max: i64 },
    /// The item has `limits.max_images_per_item` images.
    #[error("the item has the most images allowed ({max})")]
    ImageLimit { max: i64 },
    /// The upload is not an image we take, or is unsafe to keep.
    #[error("image refused: {0}")]
    Image(#[from] images::ImageError),
    /// The media store failed (disk, object storage).
    #[error("media store: {0}")]
    Media(#[from] crate::media::MediaError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ShopError {
    fn from(e: StoreError) -> Self {
        if e.is_precondition(guards::SHOP_NOT_FOUND)
            || e.is_precondition(guards::ITEM_NOT_FOUND)
            || e.is_precondition(guards::IMAGE_NOT_FOUND)
        {
            ShopError::NotFound
        } else {
            ShopError::Store(e)
        }
    }
}

/// An item with everything its page shows: its shop, its images in
/// order, and the description as sanitised HTML.
#[derive(Debug, Clone)]
pub struct ItemView {
    pub item: ItemRecord,
    pub shop: ShopRecord,
    pub images: Vec<ImageRecord>,
    pub description_html: String,
    /// The viewer owns the shop (the page offers the edit link, and may
    /// show a draft).
    pub is_owner: bool,
}

/// A page of items, and whether another follows.
#[derive(Debug, Clone)]
pub struct ItemPage {
    pub items: Vec<ItemSummary>,
    pub page: u32,
    pub has_next: bool,
}

/// A shop's public page: the shop, its description as HTML, one page of
/// its public items.
#[derive(Debug, Clone)]
pub struct ShopView {
    pub shop: ShopRecord,
    pub description_html: String,
    pub items: ItemPage,
    pub is_owner: bool,
}

// ---- shops ----

/// Opens the member's shop; [`ShopError::AlreadyOpen`] if they have one
/// (one per member, decided by the database's unique owner).
pub async fn open_shop(
    svc: &Services,
    owner: MemberId,
    input: &ShopInput,
) -> Result<ShopId, ShopError> {
    let now = svc.now();
    let id: ShopId = svc.new_id();
    let shop = ShopRecord {
        id,
        owner_id: owner,
        name: input.name.clone(),
        description: input.description.clone(),
        icon_key: None,
        status: ShopStatus::Open,
        created_at: now,
        updated_at: now,
    };
    match svc
        .store
        .commit(&Changes::new().with(Write::OpenShop(shop)))
        .await
    {
        Ok(()) => {
            tracing::info!(member = %owner, shop = %id, "shop opened");
            Ok(id)
        }
        Err(StoreError::Conflict(_)) => Err(ShopError::AlreadyOpen),
        Err(e) => Err(e.into()),
    }
}

/// The member's shop, if they opened one.
pub async fn my_shop(svc: &Services, owner: MemberId) -> Result<Option<ShopRecord>, ShopError> {
    Ok(svc.store.shops().shop_of_owner(owner).await?)
}

async fn own_shop(svc: &Services, owner: MemberId) -> Result<ShopRecord, ShopError> {
    my_shop(svc, owner).await?.ok_or(ShopError::NoShop)
}

/// Renames or redescribes the member's shop.
pub async fn edit_shop(
    svc: &Services,
    owner: MemberId,
    input: &ShopInput,
) -> Result<(), ShopError> {
    let shop = own_shop(svc, owner).await?;
    let write = Write::EditShop {
        owner,
        shop: shop.id,
        name: input.name.clone(),
        description: input.description.clone(),
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(write)).await?;
    Ok(())
}

/// Opens or closes the member's shop (a closed shop and its items are
/// seen by nobody else).
pub async fn set_shop_status(
    svc: &Services,
    owner: MemberId,
    status: ShopStatus,
) -> Result<(), ShopError> {
    let shop = own_shop(svc, owner).await?;
    let write = Write::SetShopStatus {
        owner,
        shop: shop.id,
        status,
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(write)).await?;
    Ok(())
}

// ---- items ----

/// Adds an item to the member's shop (a draft unless `status` says
/// otherwise), within `limits.max_items_per_shop`.
pub async fn add_item(
    svc: &Services,
    owner: MemberId,
    input: &ItemInput,
    status: ItemStatus,
) -> Result<ItemId, ShopError> {
    let shop = own_shop(svc, owner).await?;
    let id: ItemId = svc.new_id();
    let max = svc.settings.limits.max_items_per_shop;
    let item = NewItem {
        id,
        shop_id: shop.id,
        title: input.title.clone(),
        description: input.description.clone(),
        price: input.price,
        stock: input.stock,
        status,
        search_text: search::search_text(&input.title, &input.description),
        created_at: svc.now(),
    };
    let write = Write::AddItem {
        owner,
        item,
        max_items: max,
    };
    match svc.store.commit(&Changes::new().with(write)).await {
        Ok(()) => Ok(id),
        Err(e) if e.is_precondition(guards::ITEM_LIMIT) => Err(ShopError::ItemLimit { max }),
        Err(e) => Err(e.into()),
    }
}

/// Replaces an item's fields; [`ShopError::NotFound`] unless it is the
/// member's.
pub async fn edit_item(
    svc: &Services,
    owner: MemberId,
    item: ItemId,
    input: &ItemInput,
) -> Result<(), ShopError> {
    let write = Write::EditItem {
        owner,
        item,
        edit: ItemEdit {
            title: input.title.clone(),
            description: input.description.clone(),
            price: input.price,
            stock: input.stock,
            search_text: search::search_text(&input.title, &input.description),
        },
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(write)).await?;
    Ok(())
}

/// Changes an item's status (draft, on sale, sold out, hidden);
/// [`ShopError::NotFound`] unless it is the member's.
pub async fn change_item_status(
    svc: &Services,
    owner: MemberId,
    item: ItemId,
    status: ItemStatus,
) -> Result<(), ShopError> {
    let write = Write::SetItemStatus {
        owner,
        item,
        status,
        at: svc.now(),
    };
    svc.store.commit(&Changes::new().with(write)).await?;
    Ok(())
}

/// One page (1-based) of the member's items, every status, newest first.
pub async fn my_items(
    svc: &Services,
    owner: MemberId,
    page: u32,
) -> Result<(ShopRecord, ItemPage), ShopError> {
    let shop = own_shop(svc, owner).await?;
    let page = page.clamp(1, u32::MAX / search::PAGE_SIZE);
    let mut items = svc
        .store
        .shops()
        .shop_items(
            shop.id,
            (page - 1) * search::PAGE_SIZE,
            search::PAGE_SIZE + 1,
        )
        .await?;
    let has_next = items.len() > search::PAGE_SIZE as usize;
    items.truncate(search::PAGE_SIZE as usize);
    Ok((
        shop,
        ItemPage {
            items,
            page,
            has_next,
        },
    ))
}

/// How many items the member's shop has, and the cap.
pub async fn my_item_count(svc: &Services, owner: MemberId) -> Result<(i64, i64), ShopError> {
    let shop = own_shop(svc, owner).await?;
    let n = svc.store.shops().count_items(shop.id).await?;
    Ok((n, svc.settings.limits.max_items_per_shop))
}

/// An item as `viewer` may see it: public items to anyone; drafts,
/// hidden items and items of a closed shop only to the shop's owner;
/// [`ShopError::NotFound`] otherwise.
pub async fn item_for(
    svc: &Services,
    viewer: Option<MemberId>,
    id: ItemId,
) -> Result<ItemView, ShopError> {
    let repo = svc.store.shops();
    let item = repo.item(id).await?.ok_or(ShopError::NotFound)?;
    let shop = repo.shop(item.shop_id).await?.ok_or(ShopError::NotFound)?;
    let is_owner = viewer == Some(shop.owner_id);
    let public = item.status.is_public() && shop.status == ShopStatus::Open;
    if !public && !is_owner {
        return Err(ShopError::NotFound);
    }
    let images = repo.item_images(id).await?;
    Ok(ItemView {
        description_html: markdown::render(item.description.as_str()),
        item,
        shop,
        images,
        is_owner,
    })
}

/// A shop's page as `viewer` may see it: an open shop's public items to
/// anyone; a closed shop only to its owner.
pub async fn shop_for(
    svc: &Services,
    viewer: Option<MemberId>,
    id: ShopId,
    request: &SearchRequest,
) -> Result<ShopView, ShopError> {
    let shop = svc
        .store
        .shops()
        .shop(id)
        .await?
        .ok_or(ShopError::NotFound)?;
    let is_owner = viewer == Some(shop.owner_id);
    if shop.status != ShopStatus::Open && !is_owner {
        return Err(ShopError::NotFound);
    }
    let items = search(svc, request, Some(id)).await?;
    Ok(ShopView {
        description_html: markdown::render(shop.description.as_str()),
        shop,
        items,
        is_owner,
    })
}

/// Public items that match the request (every open shop, or one shop).
pub async fn search(
    svc: &Services,
    request: &SearchRequest,
    shop: Option<ShopId>,
) -> Result<ItemPage, ShopError> {
    let parsed = request.parse(shop).map_err(ShopError::Invalid)?;
    let mut items = svc.store.shops().search(&parsed.query).await?;
    let has_next = items.len() > search::PAGE_SIZE as usize;
    items.truncate(search::PAGE_SIZE as usize);
    Ok(ItemPage {
        items,
        page: parsed.page,
        has_next,
    })
}

// ---- images ----

/// Adds an uploaded image to one of the member's items (after its last
/// image): ownership and the cap are checked before the upload is
/// decoded (a stranger's request costs no CPU), the upload is processed
/// ([`images::process`]), both files are stored, then the row is
/// committed; if the commit fails, the files are deleted again.
pub async fn add_item_image(
    svc: &Services,
    owner: MemberId,
    item: ItemId,
    upload: Vec<u8>,
) -> Result<ImageId, ShopError> {
    let max = svc.settings.limits.max_images_per_item;
    let repo = svc.store.shops();
    let found = repo.item(item).await?.ok_or(ShopError::NotFound)?;
    let shop = repo.shop(found.shop_id).await?.ok_or(ShopError::NotFound)?;
    if shop.owner_id != owner {
        return Err(ShopError::NotFound);
    }
    if i64::try_from(repo.item_images(item).await?.len()).unwrap_or(i64::MAX) >= max {
        return Err(ShopError::ImageLimit { max });
    }
    let processed = images::process_upload(upload, &svc.settings.media).await?;
    let id: ImageId = svc.new_id();
    let media_key = MediaKey::new(MediaKind::Image, id.as_uuid(), processed.image.format);
    let thumb_key = MediaKey::new(MediaKind::Thumb, id.as_uuid(), processed.thumb.format);
    let record = ImageRecord {
        id,
        item_id: item,
        position: 0,
        media_key: media_key.clone(),
        thumb_key: thumb_key.clone(),
        width: processed.image.width,
        height: processed.image.height,
        format: processed.image.format,
        created_at: svc.now(),
    };
    svc.media.put(&media_key, processed.image.bytes).await?;
    if let Err(e) = svc.media.put(&thumb_key, processed.thumb.bytes).await {
        forget_files(svc, &[&media_key]).await;
        return Err(e.into());
    }
    let write = Write::AddItemImage {
        owner,
        image: record,
        max_images: max,
    };
    match svc.store.commit(&Changes::new().with(write)).await {
        Ok(()) => {
            tracing::info!(member = %owner, item = %item, image = %id, "item image added");
            Ok(id)
        }
        Err(e) => {
            forget_files(svc, &[&media_key, &thumb_key]).await;
            if e.is_precondition(guards::IMAGE_LIMIT) {
                Err(ShopError::ImageLimit { max })
            } else {
                Err(e.into())
            }
        }
    }
}

/// Removes one of the images of one of the member's items, then its
/// files.
pub async fn remove_item_image(
    svc: &Services,
    owner: MemberId,
    item: ItemId,
    image: ImageId,
) -> Result<(), ShopError> {
    let record = svc
        .store
        .shops()
        .item_images(item)
        .await?
        .into_iter()
        .find(|i| i.id == image)
        .ok_or(ShopError::NotFound)?;
    svc.store
        .commit(&Changes::new().with(Write::RemoveItemImage { owner, image }))
        .await?;
    forget_files(svc, &[&record.media_key, &record.thumb_key]).await;
    Ok(())
}

/// Sets the shop's icon from an upload (processed like an item image;
/// the thumbnail is kept), deleting the old icon's file.
pub async fn set_shop_icon(
    svc: &Services,
    owner: MemberId,
    upload: Vec<u8>,
) -> Result<(), ShopError> {
    let shop = own_shop(svc, owner).await?;
    let processed = images::process_upload(upload, &svc.settings.media).await?;
    let id: ImageId = svc.new_id();
    let key = MediaKey::new(MediaKind::Icon, id.as_uuid(), processed.thumb.format);
    svc.media.put(&key, processed.thumb.bytes).await?;
    let write = Write::SetShopIcon {
        owner,
        shop: shop.id,
        icon: Some(key.clone()),
        at: svc.now(),
    };
    if let Err(e) = svc.store.commit(&Changes::new().with(write)).await {
        forget_files(svc, &[&key]).await;
        return Err(e.into());
    }
    if let Some(old) = &shop.icon_key {
        forget_files(svc, &[old]).await;
    }
    Ok(())
}

/// Deletes files no row names any more. A failure is logged, not
/// returned: the row is already gone, and an orphan file is only disk
/// space (never served: serving asks the database first).
async fn forget_files(svc: &Services, keys: &[&MediaKey]) {
    for key in keys {
        if let Err(e) = svc.media.delete(key).await {
            tracing::warn!(key = %key, error = %e, "could not delete a media file");
        }
    }
}

/// A stored file as `viewer` may fetch it: the bytes and their format,
/// and whether anyone may (so caches may keep it).
#[derive(Debug, Clone)]
pub struct MediaFile {
    pub bytes: Vec<u8>,
    pub format: anshin_domain::ImageFormat,
    pub public: bool,
}

/// The file named `key`, if its item is public or `viewer` owns it;
/// [`ShopError::NotFound`] otherwise (a draft's image is as secret as the
/// draft).
pub async fn media_file(
    svc: &Services,
    viewer: Option<MemberId>,
    key: &MediaKey,
) -> Result<MediaFile, ShopError> {
    let access = svc
        .store
        .shops()
        .media_access(key)
        .await?
        .ok_or(ShopError::NotFound)?;
    if !access.public && viewer != Some(access.owner_id) {
        return Err(ShopError::NotFound);
    }
    let bytes = svc.media.get(key).await?.ok_or(ShopError::NotFound)?;
    Ok(MediaFile {
        bytes,
        format: key.format(),
        public: access.public,
    })
}

#[cfg(test)]
mod catalog_tests {
    use proptest::prelude::*;

    use super::*;
    use crate::i18n::{Catalogs, Lang};

    proptest! {
        /// Whatever a creator or a buyer types, every field error of the
        /// shop, item and search forms has a sentence in both catalogs.
        #[test]
        fn every_catalog_field_error_has_a_message_in_both_languages(
            s in "\\PC{0,90}",
            n in "[-0-9０-９¥,.a-z ]{0,12}",
        ) {
            let c = Catalogs::load().unwrap();
            let mut errors = Vec::new();
            errors.extend(ShopInput::parse(&RawShop { name: s.clone(), description: s.repeat(30) }).err().unwrap_or_default());
            errors.extend(ItemInput::parse(&RawItem { title: s.clone(), description: s.repeat(200), price: n.clone(), stock: n.clone() }).err().unwrap_or_default());
            let r = SearchRequest { q: s, min: n.clone(), max: "0".into(), sort: n.clone(), page: n };
            errors.extend(r.parse(None).err().unwrap_or_default());
            for e in errors {
                for lang in [Lang::Ja, Lang::En] {
                    let t = c.get(lang);
                    prop_assert_ne!(e.message(t), t.error_400_body.as_str(), "{} has no {:?} message", e, lang);
                }
            }
        }
    }
}
