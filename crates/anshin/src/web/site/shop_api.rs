//! The catalog's JSON API: the member's own shop and items
//! (`/api/v1/me/shop…`), and what anyone may read: shops, items, search
//! (`/api/v1/shops/{id}`, `/api/v1/items/{id}`, `/api/v1/search`).
//! Handlers parse into the core's types and call the `shops` use cases,
//! the same ones the pages call; another member's shop, item or image
//! answers 404 exactly like a missing one.
//!
//! Images are uploaded as the request body itself, with its type
//! (`Content-Type: image/jpeg`, `image/png` or `image/webp`; no base64,
//! no multipart). Those types are not ones a cross-origin form can send,
//! so the CSRF rule of the API holds for them as for JSON (`csrf.rs`);
//! the server decides what the file is by its bytes, not by that header.

use anshin_core::shops::{
    self, ImageRecord, ItemInput, ItemPage, ItemSummary, ItemView, RawItem, RawShop, SearchRequest,
    ShopInput, ShopRecord, ShopView,
};
use anshin_domain::{ImageId, ItemId, ItemStatus, ShopId, ShopStatus};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::web::AppState;
use crate::web::common::errors::{ApiError, ErrorCode, WebError};
use crate::web::common::json::ApiJson;
use crate::web::common::member::{SignedIn, Viewer};

pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/me/shop",
            get(my_shop).post(open_shop).put(edit_shop),
        )
        .route("/api/v1/me/shop/status", put(set_shop_status))
        .route(
            "/api/v1/me/shop/icon",
            put(set_icon).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/me/shop/items", get(my_items).post(add_item))
        .route("/api/v1/me/shop/items/{id}", get(my_item).put(edit_item))
        .route("/api/v1/me/shop/items/{id}/status", put(set_item_status))
        .route(
            "/api/v1/me/shop/items/{id}/images",
            post(add_image).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/api/v1/me/shop/items/{id}/images/{image}",
            delete(remove_image),
        )
        .route("/api/v1/shops/{id}", get(shop))
        .route("/api/v1/items/{id}", get(item))
        .route("/api/v1/search", get(search))
}

/// The URL a stored file is served from.
pub fn media_url(key: &anshin_domain::MediaKey) -> String {
    format!("/media/{key}")
}

// ---- views ----

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopJson {
    pub id: Uuid,
    pub name: String,
    /// Markdown source.
    pub description: String,
    /// The description rendered and sanitised.
    pub description_html: String,
    pub icon_url: Option<String>,
    /// `open` or `closed`.
    pub status: &'static str,
    pub url: String,
}

impl ShopJson {
    fn new(s: &ShopRecord, description_html: String) -> Self {
        Self {
            id: s.id.as_uuid(),
            name: s.name.as_str().to_owned(),
            description: s.description.as_str().to_owned(),
            description_html,
            icon_url: s.icon_key.as_ref().map(media_url),
            status: s.status.as_str(),
            url: format!("/shops/{}", s.id),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemCardJson {
    pub id: Uuid,
    pub shop_id: Uuid,
    pub shop_name: String,
    pub title: String,
    pub price_yen: i64,
    /// `null`: unlimited.
    pub stock: Option<u32>,
    /// `draft`, `on_sale`, `sold_out` or `hidden`.
    pub status: &'static str,
    pub thumb_url: Option<String>,
    pub url: String,
}

impl From<&ItemSummary> for ItemCardJson {
    fn from(s: &ItemSummary) -> Self {
        Self {
            id: s.id.as_uuid(),
            shop_id: s.shop_id.as_uuid(),
            shop_name: s.shop_name.as_str().to_owned(),
            title: s.title.as_str().to_owned(),
            price_yen: s.price.yen().amount(),
            stock: s.stock.count(),
            status: s.status.as_str(),
            thumb_url: s.thumb_key.as_ref().map(media_url),
            url: format!("/items/{}", s.id),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemPageJson {
    pub items: Vec<ItemCardJson>,
    pub page: u32,
    pub has_next: bool,
}

impl From<&ItemPage> for ItemPageJson {
    fn from(p: &ItemPage) -> Self {
        Self {
            items: p.items.iter().map(ItemCardJson::from).collect(),
            page: p.page,
            has_next: p.has_next,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageJson {
    pub id: Uuid,
    pub url: String,
    pub thumb_url: String,
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
}

impl From<&ImageRecord> for ImageJson {
    fn from(i: &ImageRecord) -> Self {
        Self {
            id: i.id.as_uuid(),
            url: media_url(&i.media_key),
            thumb_url: media_url(&i.thumb_key),
            width: i.width,
            height: i.height,
            content_type: i.format.content_type(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemJson {
    pub id: Uuid,
    pub shop: ShopRefJson,
    pub title: String,
    /// Markdown source.
    pub description: String,
    pub description_html: String,
    pub price_yen: i64,
    pub stock: Option<u32>,
    pub status: &'static str,
    pub images: Vec<ImageJson>,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopRefJson {
    pub id: Uuid,
    pub name: String,
}

impl From<&ItemView> for ItemJson {
    fn from(v: &ItemView) -> Self {
        Self {
            id: v.item.id.as_uuid(),
            shop: ShopRefJson {
                id: v.shop.id.as_uuid(),
                name: v.shop.name.as_str().to_owned(),
            },
            title: v.item.title.as_str().to_owned(),
            description: v.item.description.as_str().to_owned(),
            description_html: v.description_html.clone(),
            price_yen: v.item.price.yen().amount(),
            stock: v.item.stock.count(),
            status: v.item.status.as_str(),
            images: v.images.iter().map(ImageJson::from).collect(),
            url: format!("/items/{}", v.item.id),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopPageJson {
    pub shop: ShopJson,
    pub items: ItemPageJson,
}

impl From<&ShopView> for ShopPageJson {
    fn from(v: &ShopView) -> Self {
        Self {
            shop: ShopJson::new(&v.shop, v.description_html.clone()),
            items: ItemPageJson::from(&v.items),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: Uuid,
}

// ---- requests ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopRequest {
    /// 1 to 40 characters.
    pub name: String,
    /// Markdown, up to 2,000 characters.
    #[serde(default)]
    pub description: String,
}

impl ShopRequest {
    fn parse(self) -> Result<ShopInput, WebError> {
        ShopInput::parse(&RawShop {
            name: self.name,
            description: self.description,
        })
        .map_err(WebError::InvalidFields)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopStatusRequest {
    /// `open` or `closed`.
    #[schema(value_type = String)]
    pub status: ShopStatus,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// 1 to 80 characters.
    pub title: String,
    /// Markdown, up to 10,000 characters.
    #[serde(default)]
    pub description: String,
    /// Whole yen, 0 to 9,999,999.
    pub price_yen: i64,
    /// 0 to 99,999; `null` or absent: unlimited.
    #[serde(default)]
    pub stock: Option<i64>,
    /// For a new item: `draft` (default), `on_sale`, `sold_out` or
    /// `hidden`. Ignored by an edit (use the status endpoint).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: Option<ItemStatus>,
}

impl ItemRequest {
    /// Through the same parser as the form, so the same rules and the
    /// same field errors (a negative price is `price: invalid`).
    fn parse(&self) -> Result<ItemInput, WebError> {
        ItemInput::parse(&RawItem {
            title: self.title.clone(),
            description: self.description.clone(),
            price: if self.price_yen < 0 {
                format!("-{}", self.price_yen.unsigned_abs())
            } else {
                self.price_yen.to_string()
            },
            stock: match self.stock {
                None => String::new(),
                Some(n) if n < 0 => format!("-{}", n.unsigned_abs()),
                Some(n) => n.to_string(),
            },
        })
        .map_err(WebError::InvalidFields)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemStatusRequest {
    /// `draft`, `on_sale`, `sold_out` or `hidden`.
    #[schema(value_type = String)]
    pub status: ItemStatus,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1-based.
    #[serde(default)]
    pub page: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQueryParams {
    /// Keywords (Japanese or other); every word must occur.
    #[serde(default)]
    pub q: String,
    /// Lowest price in yen.
    #[serde(default)]
    pub min: String,
    /// Highest price in yen.
    #[serde(default)]
    pub max: String,
    /// `newest` (default), `price_asc`, `price_desc`.
    #[serde(default)]
    pub sort: String,
    /// 1 to 50.
    #[serde(default)]
    pub page: String,
}

impl From<SearchQueryParams> for SearchRequest {
    fn from(p: SearchQueryParams) -> Self {
        SearchRequest {
            q: p.q,
            min: p.min,
            max: p.max,
            sort: p.sort,
            page: p.page,
        }
    }
}

fn item_id(id: Uuid) -> ItemId {
    ItemId::from_uuid(id)
}

// ---- the member's own shop ----

/// The member's shop.
#[utoipa::path(get, path = "/api/v1/me/shop",
    responses((status = 200, body = ShopJson), (status = 404, body = ApiError, description = "`no_shop`")), tag = "shop")]
pub async fn my_shop(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<ShopJson>, WebError> {
    let shop = shops::my_shop(&state.core, me.member)
        .await?
        .ok_or(WebError::NotFound(ErrorCode::NoShop))?;
    let html = shops::markdown::render(shop.description.as_str());
    Ok(Json(ShopJson::new(&shop, html)))
}

/// Opens the member's shop (one per member: 409 `shop_exists`).
#[utoipa::path(post, path = "/api/v1/me/shop", request_body = ShopRequest,
    responses((status = 201, body = Created), (status = 400, body = ApiError), (status = 409, body = ApiError)), tag = "shop")]
pub async fn open_shop(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<ShopRequest>,
) -> Result<(StatusCode, Json<Created>), WebError> {
    let input = req.parse()?;
    let id = shops::open_shop(&state.core, me.member, &input).await?;
    Ok((StatusCode::CREATED, Json(Created { id: id.as_uuid() })))
}

/// Renames or redescribes the member's shop.
#[utoipa::path(put, path = "/api/v1/me/shop", request_body = ShopRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError)), tag = "shop")]
pub async fn edit_shop(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<ShopRequest>,
) -> Result<StatusCode, WebError> {
    let input = req.parse()?;
    shops::edit_shop(&state.core, me.member, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens or closes the member's shop (a closed shop is seen by nobody else).
#[utoipa::path(put, path = "/api/v1/me/shop/status", request_body = ShopStatusRequest,
    responses((status = 204), (status = 404, body = ApiError)), tag = "shop")]
pub async fn set_shop_status(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<ShopStatusRequest>,
) -> Result<StatusCode, WebError> {
    shops::set_shop_status(&state.core, me.member, req.status).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the shop's icon: the body is the image (`Content-Type: image/jpeg`,
/// `image/png` or `image/webp`), checked by its bytes and re-encoded.
#[utoipa::path(put, path = "/api/v1/me/shop/icon", request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 204), (status = 413, body = ApiError), (status = 422, body = ApiError)), tag = "shop")]
pub async fn set_icon(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<StatusCode, WebError> {
    shops::set_shop_icon(&state.core, me.member, body.to_vec()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One page of the member's items, every status, newest first.
#[utoipa::path(get, path = "/api/v1/me/shop/items", params(PageQuery),
    responses((status = 200, body = ItemPageJson), (status = 404, body = ApiError)), tag = "shop")]
pub async fn my_items(
    State(state): State<AppState>,
    me: SignedIn,
    Query(q): Query<PageQuery>,
) -> Result<Json<ItemPageJson>, WebError> {
    let (_, page) = shops::my_items(&state.core, me.member, q.page.unwrap_or(1)).await?;
    Ok(Json(ItemPageJson::from(&page)))
}

/// Adds an item (a draft unless `status` says otherwise).
#[utoipa::path(post, path = "/api/v1/me/shop/items", request_body = ItemRequest,
    responses((status = 201, body = Created), (status = 400, body = ApiError), (status = 409, body = ApiError, description = "`item_limit`")), tag = "shop")]
pub async fn add_item(
    State(state): State<AppState>,
    me: SignedIn,
    ApiJson(req): ApiJson<ItemRequest>,
) -> Result<(StatusCode, Json<Created>), WebError> {
    let input = req.parse()?;
    let status = req.status.unwrap_or(ItemStatus::Draft);
    let id = shops::add_item(&state.core, me.member, &input, status).await?;
    Ok((StatusCode::CREATED, Json(Created { id: id.as_uuid() })))
}

/// One of the member's items, whatever its status.
#[utoipa::path(get, path = "/api/v1/me/shop/items/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = ItemJson), (status = 404, body = ApiError)), tag = "shop")]
pub async fn my_item(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Json<ItemJson>, WebError> {
    let view = shops::item_for(&state.core, Some(me.member), item_id(id)).await?;
    if !view.is_owner {
        return Err(WebError::NotFound(ErrorCode::NotFound));
    }
    Ok(Json(ItemJson::from(&view)))
}

/// Replaces an item's title, description, price and stock.
#[utoipa::path(put, path = "/api/v1/me/shop/items/{id}", params(("id" = Uuid, Path)), request_body = ItemRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError)), tag = "shop")]
pub async fn edit_item(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    ApiJson(req): ApiJson<ItemRequest>,
) -> Result<StatusCode, WebError> {
    let input = req.parse()?;
    shops::edit_item(&state.core, me.member, item_id(id), &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes an item's status.
#[utoipa::path(put, path = "/api/v1/me/shop/items/{id}/status", params(("id" = Uuid, Path)), request_body = ItemStatusRequest,
    responses((status = 204), (status = 404, body = ApiError)), tag = "shop")]
pub async fn set_item_status(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    ApiJson(req): ApiJson<ItemStatusRequest>,
) -> Result<StatusCode, WebError> {
    shops::change_item_status(&state.core, me.member, item_id(id), req.status).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds an image to an item: the body is the image (`Content-Type:
/// image/jpeg`, `image/png` or `image/webp`). Refused with 422 and a
/// precise code when it is not a safe image (`not_an_image`,
/// `image_too_many_pixels`, `image_polyglot`, `image_damaged`,
/// `image_size`).
#[utoipa::path(post, path = "/api/v1/me/shop/items/{id}/images", params(("id" = Uuid, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = Created), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 413, body = ApiError), (status = 422, body = ApiError)), tag = "shop")]
pub async fn add_image(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), WebError> {
    let image = shops::add_item_image(&state.core, me.member, item_id(id), body.to_vec()).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: image.as_uuid(),
        }),
    ))
}

/// Removes one of an item's images.
#[utoipa::path(delete, path = "/api/v1/me/shop/items/{id}/images/{image}",
    params(("id" = Uuid, Path), ("image" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ApiError)), tag = "shop")]
pub async fn remove_image(
    State(state): State<AppState>,
    me: SignedIn,
    Path((id, image)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, WebError> {
    shops::remove_item_image(
        &state.core,
        me.member,
        item_id(id),
        ImageId::from_uuid(image),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- public ----

/// A shop and one page of its public items (404 for a closed shop,
/// except to its owner).
#[utoipa::path(get, path = "/api/v1/shops/{id}", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = ShopPageJson), (status = 404, body = ApiError)), tag = "catalog")]
pub async fn shop(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> Result<Json<ShopPageJson>, WebError> {
    let request = SearchRequest {
        page: q.page.map(|p| p.to_string()).unwrap_or_default(),
        ..SearchRequest::default()
    };
    let view = shops::shop_for(&state.core, viewer.member, ShopId::from_uuid(id), &request).await?;
    Ok(Json(ShopPageJson::from(&view)))
}

/// An item: public ones to anyone; drafts and hidden items only to their
/// owner (404 to everyone else).
#[utoipa::path(get, path = "/api/v1/items/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = ItemJson), (status = 404, body = ApiError)), tag = "catalog")]
pub async fn item(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Json<ItemJson>, WebError> {
    let view = shops::item_for(&state.core, viewer.member, item_id(id)).await?;
    Ok(Json(ItemJson::from(&view)))
}

/// Searches public items by keywords (Japanese works: any 1 or more
/// characters of a title or description) and price.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQueryParams),
    responses((status = 200, body = ItemPageJson), (status = 400, body = ApiError)), tag = "catalog")]
pub async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQueryParams>,
) -> Result<Json<ItemPageJson>, WebError> {
    let page = shops::search(&state.core, &SearchRequest::from(q), None).await?;
    Ok(Json(ItemPageJson::from(&page)))
}
