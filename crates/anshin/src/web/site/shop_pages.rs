//! The catalog as HTML pages: the creator's own shop (`/shop/manage…`:
//! open it, edit it, its icon, close or reopen it, list, add and edit
//! items, upload and delete images, change an item's status) and what
//! everyone sees: a shop (`/shops/{id}`), an item (`/items/{id}`) and the
//! search (`/search?q=&min=&max=&sort=&page=`).
//!
//! The same `shops` use cases as the JSON API (`shop_api`), so the same
//! rules: another member's item answers 404, drafts and hidden items and
//! closed shops are seen only by their owner. Forms post and redirect
//! with a flash (POST → 303 → GET); a form with errors comes back with
//! each field's message; an upload the server refuses comes back with a
//! sentence saying why and what to do. Upload forms are multipart and
//! carry the CSRF token like every other form (`csrf.rs`).

use anshin_core::i18n::Catalog;
use anshin_core::shops::images::ImageError;
use anshin_core::shops::search::sort_name;
use anshin_core::shops::{
    self, ItemInput, ItemPage, ItemSummary, ItemView, RawItem, RawShop, SearchRequest, SearchSort,
    ShopError, ShopInput,
};
use anshin_domain::{ImageId, ItemId, ItemStatus, ShopId, ShopStatus, Stock};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::confirm::Confirm;
use super::shop_api::media_url;
use crate::web::AppState;
use crate::web::common::errors::{ErrorCode, WebError};
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::{FieldMessages, no_store};
use crate::web::common::layout::Layout;
use crate::web::common::member::{SignedIn, Viewer};

pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/shop/manage", get(manage_page).post(open_shop))
        .route("/shop/manage/edit", post(edit_shop))
        .route(
            "/shop/manage/icon",
            post(upload_icon).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/shop/manage/close", get(close_confirm).post(close_shop))
        .route("/shop/manage/reopen", post(reopen_shop))
        .route(
            "/shop/manage/items/new",
            get(new_item_page).post(create_item),
        )
        .route(
            "/shop/manage/items/{id}",
            get(edit_item_page).post(save_item),
        )
        .route("/shop/manage/items/{id}/status", post(change_status))
        .route(
            "/shop/manage/items/{id}/images",
            post(upload_image).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/shop/manage/items/{id}/images/{image}/delete",
            get(delete_image_confirm).post(delete_image),
        )
        .route("/shops/{id}", get(shop_page))
        .route("/items/{id}", get(item_page))
        .route("/search", get(search_page))
}

// ---- what the templates show ----

/// An item as a card of a grid (search results, a shop page).
#[derive(Debug)]
pub struct CardView {
    pub url: String,
    pub thumb_url: Option<String>,
    pub title: String,
    pub price: String,
    pub shop_name: String,
    pub sold_out: bool,
}

fn sold_out(status: ItemStatus, stock: Stock) -> bool {
    status == ItemStatus::SoldOut || stock.count() == Some(0)
}

impl From<&ItemSummary> for CardView {
    fn from(s: &ItemSummary) -> Self {
        Self {
            url: format!("/items/{}", s.id),
            thumb_url: s.thumb_key.as_ref().map(media_url),
            title: s.title.as_str().to_owned(),
            price: s.price.to_string(),
            shop_name: s.shop_name.as_str().to_owned(),
            sold_out: sold_out(s.status, s.stock),
        }
    }
}

fn status_label(t: &Catalog, status: ItemStatus) -> String {
    t.item_statuses
        .get(status.as_str())
        .cloned()
        .unwrap_or_default()
}

/// `(value, label, selected)` of the status select.
fn status_options(t: &Catalog, current: ItemStatus) -> Vec<(&'static str, String, bool)> {
    ItemStatus::ALL
        .iter()
        .map(|s| (s.as_str(), status_label(t, *s), *s == current))
        .collect()
}

fn image_message(t: &Catalog, e: ImageError) -> String {
    t.image_errors.get(e.code()).cloned().unwrap_or_default()
}

/// The previous and next pages' links of a list at `page`.
fn pager(
    page: u32,
    has_next: bool,
    href: impl Fn(u32) -> String,
) -> (Option<String>, Option<String>) {
    (
        (page > 1).then(|| href(page - 1)),
        has_next.then(|| href(page + 1)),
    )
}

// ---- the creator's shop ----

struct ManagedShop {
    url: String,
    status_label: String,
    open: bool,
    icon_url: Option<String>,
}

struct ItemRow {
    id: Uuid,
    title: String,
    price: String,
    status_label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "shop_manage.html")]
struct ManagePage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    shop: Option<ManagedShop>,
    notice: Option<String>,
    count_text: String,
    items: Vec<ItemRow>,
    page: String,
    prev: Option<String>,
    next: Option<String>,
    form: RawShop,
    errors: FieldMessages,
    /// Anonymous shipping and the sender address (C19).
    shipping: Option<super::shipping_pages::SettingsBlock>,
}

#[derive(Debug, Deserialize)]
struct PageParam {
    #[serde(default)]
    page: Option<u32>,
}

/// What the manage page shows besides the shop: a notice, and the shop
/// form as typed when it had errors.
#[derive(Default)]
struct ManageView {
    notice: Option<String>,
    form: Option<RawShop>,
    errors: FieldMessages,
    page: u32,
}

async fn render_manage(
    state: &AppState,
    m: &SignedIn,
    view: ManageView,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(m.lang);
    let shop = shops::my_shop(&state.core, m.member).await?;
    let mut page = ManagePage {
        layout: Layout::new(state, m.lang, &t.shop_manage_title),
        csrf_token: &m.csrf,
        shop: None,
        notice: view.notice,
        count_text: String::new(),
        items: Vec::new(),
        page: "1".into(),
        prev: None,
        next: None,
        form: view.form.clone().unwrap_or_default(),
        errors: view.errors,
        shipping: None,
    };
    if let Some(shop) = shop {
        page.shipping = Some(super::shipping_pages::settings_block(state, m).await?);
        let (_, list) = shops::my_items(&state.core, m.member, view.page.max(1)).await?;
        let (count, max) = shops::my_item_count(&state.core, m.member).await?;
        page.count_text = t
            .shop_items_count
            .replace("{count}", &count.to_string())
            .replace("{max}", &max.to_string());
        page.items = list
            .items
            .iter()
            .map(|i| ItemRow {
                id: i.id.as_uuid(),
                title: i.title.as_str().to_owned(),
                price: i.price.to_string(),
                status_label: status_label(t, i.status),
            })
            .collect();
        (page.prev, page.next) = pager(list.page, list.has_next, |p| {
            format!("/shop/manage?page={p}")
        });
        page.page = list.page.to_string();
        if view.form.is_none() {
            page.form = RawShop {
                name: shop.name.as_str().to_owned(),
                description: shop.description.as_str().to_owned(),
            };
        }
        page.shop = Some(ManagedShop {
            url: format!("/shops/{}", shop.id),
            status_label: match shop.status {
                ShopStatus::Open => t.shop_status_open.clone(),
                ShopStatus::Closed => t.shop_status_closed.clone(),
            },
            open: shop.status == ShopStatus::Open,
            icon_url: shop.icon_key.as_ref().map(media_url),
        });
    }
    Ok(no_store(page.into_response()))
}

async fn manage_page(
    State(state): State<AppState>,
    m: SignedIn,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let view = ManageView {
        page: p.page.unwrap_or(1),
        ..ManageView::default()
    };
    render_manage(&state, &m, view).await
}

async fn open_shop(
    State(state): State<AppState>,
    m: SignedIn,
    Form(f): Form<RawShop>,
) -> Result<Response, WebError> {
    match ShopInput::parse(&f) {
        Ok(input) => match shops::open_shop(&state.core, m.member, &input).await {
            Ok(_) | Err(ShopError::AlreadyOpen) => {
                flash::redirect("/shop/manage", Flash::ShopOpened)
            }
            Err(e) => Err(e.into()),
        },
        Err(errors) => {
            let errors = FieldMessages::new(state.catalogs.get(m.lang), &errors);
            render_manage(
                &state,
                &m,
                ManageView {
                    form: Some(f),
                    errors,
                    ..ManageView::default()
                },
            )
            .await
        }
    }
}

async fn edit_shop(
    State(state): State<AppState>,
    m: SignedIn,
    Form(f): Form<RawShop>,
) -> Result<Response, WebError> {
    match ShopInput::parse(&f) {
        Ok(input) => {
            shops::edit_shop(&state.core, m.member, &input).await?;
            flash::redirect("/shop/manage", Flash::ShopSaved)
        }
        Err(errors) => {
            let errors = FieldMessages::new(state.catalogs.get(m.lang), &errors);
            render_manage(
                &state,
                &m,
                ManageView {
                    form: Some(f),
                    errors,
                    ..ManageView::default()
                },
            )
            .await
        }
    }
}

async fn close_confirm(State(state): State<AppState>, m: SignedIn) -> Result<Response, WebError> {
    let t = state.catalogs.get(m.lang);
    Ok(Confirm {
        lead: &t.confirm_close_shop_lead,
        detail: None,
        action: "/shop/manage/close",
        submit: &t.shop_close,
        cancel: "/shop/manage",
    }
    .page(&state, &m))
}

async fn close_shop(State(state): State<AppState>, m: SignedIn) -> Result<Response, WebError> {
    shops::set_shop_status(&state.core, m.member, ShopStatus::Closed).await?;
    flash::redirect("/shop/manage", Flash::ShopClosed)
}

async fn reopen_shop(State(state): State<AppState>, m: SignedIn) -> Result<Response, WebError> {
    shops::set_shop_status(&state.core, m.member, ShopStatus::Open).await?;
    flash::redirect("/shop/manage", Flash::ShopReopened)
}

/// The `image` field of an upload form (the CSRF token was checked by
/// the layer). A missing or empty file is an empty upload.
async fn uploaded_file(mut form: Multipart) -> Result<Vec<u8>, WebError> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            WebError::PayloadTooLarge
        } else {
            WebError::BadRequest(ErrorCode::MalformedForm)
        }
    };
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.name() == Some("image") {
            return Ok(field.bytes().await.map_err(malformed)?.to_vec());
        }
    }
    Ok(Vec::new())
}

async fn upload_icon(
    State(state): State<AppState>,
    m: SignedIn,
    form: Multipart,
) -> Result<Response, WebError> {
    let bytes = uploaded_file(form).await?;
    match shops::set_shop_icon(&state.core, m.member, bytes).await {
        Ok(()) => flash::redirect("/shop/manage", Flash::ShopIconSaved),
        Err(ShopError::Image(e)) => {
            let notice = Some(image_message(state.catalogs.get(m.lang), e));
            render_manage(
                &state,
                &m,
                ManageView {
                    notice,
                    ..ManageView::default()
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- items ----

#[derive(Template, WebTemplate)]
#[template(path = "item_edit.html")]
struct ItemEditPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    heading: &'a str,
    submit: &'a str,
    action: String,
    item_id: Option<Uuid>,
    notice: Option<String>,
    form: RawItem,
    errors: FieldMessages,
    statuses: Vec<(&'static str, String, bool)>,
    images: Vec<ImageRow>,
    can_add_image: bool,
}

struct ImageRow {
    id: Uuid,
    thumb_url: String,
}

#[derive(Debug, Deserialize)]
struct ItemForm {
    #[serde(flatten)]
    raw: RawItem,
    #[serde(default)]
    status: Option<String>,
}

fn raw_from(view: &ItemView) -> RawItem {
    RawItem {
        title: view.item.title.as_str().to_owned(),
        description: view.item.description.as_str().to_owned(),
        price: view.item.price.yen().amount().to_string(),
        stock: view
            .item
            .stock
            .count()
            .map(|n| n.to_string())
            .unwrap_or_default(),
    }
}

/// One of the member's items (any status), or 404.
async fn own_item(state: &AppState, m: &SignedIn, id: ItemId) -> Result<ItemView, WebError> {
    let view = shops::item_for(&state.core, Some(m.member), id).await?;
    if !view.is_owner {
        return Err(WebError::NotFound(ErrorCode::NotFound));
    }
    Ok(view)
}

fn render_new(
    state: &AppState,
    m: &SignedIn,
    form: RawItem,
    status: ItemStatus,
    errors: FieldMessages,
    notice: Option<String>,
) -> Response {
    let t = state.catalogs.get(m.lang);
    no_store(
        ItemEditPage {
            layout: Layout::new(state, m.lang, &t.item_new_title),
            csrf_token: &m.csrf,
            heading: &t.item_new_title,
            submit: &t.item_create,
            action: "/shop/manage/items/new".into(),
            item_id: None,
            notice,
            form,
            errors,
            statuses: status_options(t, status),
            images: Vec::new(),
            can_add_image: false,
        }
        .into_response(),
    )
}

fn render_edit(
    state: &AppState,
    m: &SignedIn,
    view: &ItemView,
    form: RawItem,
    errors: FieldMessages,
    notice: Option<String>,
) -> Response {
    let t = state.catalogs.get(m.lang);
    let max = state.core.settings.limits.max_images_per_item;
    no_store(
        ItemEditPage {
            layout: Layout::new(state, m.lang, &t.item_edit_title),
            csrf_token: &m.csrf,
            heading: &t.item_edit_title,
            submit: &t.item_save,
            action: format!("/shop/manage/items/{}", view.item.id),
            item_id: Some(view.item.id.as_uuid()),
            notice,
            form,
            errors,
            statuses: status_options(t, view.item.status),
            images: view
                .images
                .iter()
                .map(|i| ImageRow {
                    id: i.id.as_uuid(),
                    thumb_url: media_url(&i.thumb_key),
                })
                .collect(),
            can_add_image: i64::try_from(view.images.len()).unwrap_or(i64::MAX) < max,
        }
        .into_response(),
    )
}

async fn new_item_page(State(state): State<AppState>, m: SignedIn) -> Result<Response, WebError> {
    // No shop yet: the manage page offers to open one.
    if shops::my_shop(&state.core, m.member).await?.is_none() {
        return Ok(axum::response::Redirect::to("/shop/manage").into_response());
    }
    Ok(render_new(
        &state,
        &m,
        RawItem::default(),
        ItemStatus::Draft,
        FieldMessages::default(),
        None,
    ))
}

async fn create_item(
    State(state): State<AppState>,
    m: SignedIn,
    Form(f): Form<ItemForm>,
) -> Result<Response, WebError> {
    let status = f
        .status
        .as_deref()
        .and_then(|s| ItemStatus::parse(s).ok())
        .unwrap_or(ItemStatus::Draft);
    let t = state.catalogs.get(m.lang);
    match ItemInput::parse(&f.raw) {
        Ok(input) => match shops::add_item(&state.core, m.member, &input, status).await {
            Ok(id) => flash::redirect(&format!("/shop/manage/items/{id}"), Flash::ItemAdded),
            Err(ShopError::ItemLimit { .. }) => Ok(render_new(
                &state,
                &m,
                f.raw,
                status,
                FieldMessages::default(),
                Some(t.err_item_limit.clone()),
            )),
            Err(e) => Err(e.into()),
        },
        Err(errors) => {
            let errors = FieldMessages::new(t, &errors);
            Ok(render_new(&state, &m, f.raw, status, errors, None))
        }
    }
}

async fn edit_item_page(
    State(state): State<AppState>,
    m: SignedIn,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let view = own_item(&state, &m, ItemId::from_uuid(id)).await?;
    let form = raw_from(&view);
    Ok(render_edit(
        &state,
        &m,
        &view,
        form,
        FieldMessages::default(),
        None,
    ))
}

async fn save_item(
    State(state): State<AppState>,
    m: SignedIn,
    Path(id): Path<Uuid>,
    Form(f): Form<ItemForm>,
) -> Result<Response, WebError> {
    let id = ItemId::from_uuid(id);
    // Ownership first: someone else's id is a 404 whatever the form holds.
    let view = own_item(&state, &m, id).await?;
    match ItemInput::parse(&f.raw) {
        Ok(input) => {
            shops::edit_item(&state.core, m.member, id, &input).await?;
            flash::redirect(&format!("/shop/manage/items/{id}"), Flash::ItemSaved)
        }
        Err(errors) => {
            let errors = FieldMessages::new(state.catalogs.get(m.lang), &errors);
            Ok(render_edit(&state, &m, &view, f.raw, errors, None))
        }
    }
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn change_status(
    State(state): State<AppState>,
    m: SignedIn,
    Path(id): Path<Uuid>,
    Form(f): Form<StatusForm>,
) -> Result<Response, WebError> {
    let status =
        ItemStatus::parse(&f.status).map_err(|_| WebError::BadRequest(ErrorCode::MalformedForm))?;
    shops::change_item_status(&state.core, m.member, ItemId::from_uuid(id), status).await?;
    flash::redirect(
        &format!("/shop/manage/items/{id}"),
        Flash::ItemStatusChanged,
    )
}

async fn upload_image(
    State(state): State<AppState>,
    m: SignedIn,
    Path(id): Path<Uuid>,
    form: Multipart,
) -> Result<Response, WebError> {
    let id = ItemId::from_uuid(id);
    let bytes = uploaded_file(form).await?;
    let t = state.catalogs.get(m.lang);
    let notice = match shops::add_item_image(&state.core, m.member, id, bytes).await {
        Ok(_) => return flash::redirect(&format!("/shop/manage/items/{id}"), Flash::ImageAdded),
        Err(ShopError::Image(e)) => image_message(t, e),
        Err(ShopError::ImageLimit { .. }) => t.err_image_limit.clone(),
        Err(e) => return Err(e.into()),
    };
    let view = own_item(&state, &m, id).await?;
    let form = raw_from(&view);
    Ok(render_edit(
        &state,
        &m,
        &view,
        form,
        FieldMessages::default(),
        Some(notice),
    ))
}

async fn delete_image_confirm(
    State(state): State<AppState>,
    m: SignedIn,
    Path((id, image)): Path<(Uuid, Uuid)>,
) -> Result<Response, WebError> {
    let view = own_item(&state, &m, ItemId::from_uuid(id)).await?;
    if !view.images.iter().any(|i| i.id.as_uuid() == image) {
        return Err(WebError::NotFound(ErrorCode::NotFound));
    }
    let t = state.catalogs.get(m.lang);
    let action = format!("/shop/manage/items/{id}/images/{image}/delete");
    let cancel = format!("/shop/manage/items/{id}");
    Ok(Confirm {
        lead: &t.confirm_delete_image_lead,
        detail: Some(view.item.title.as_str()),
        action: &action,
        submit: &t.item_image_delete,
        cancel: &cancel,
    }
    .page(&state, &m))
}

async fn delete_image(
    State(state): State<AppState>,
    m: SignedIn,
    Path((id, image)): Path<(Uuid, Uuid)>,
) -> Result<Response, WebError> {
    shops::remove_item_image(
        &state.core,
        m.member,
        ItemId::from_uuid(id),
        ImageId::from_uuid(image),
    )
    .await?;
    flash::redirect(&format!("/shop/manage/items/{id}"), Flash::ImageDeleted)
}

// ---- what everyone sees ----

#[derive(Template, WebTemplate)]
#[template(path = "shop_public.html")]
struct ShopPage<'a> {
    layout: Layout<'a>,
    name: String,
    icon_url: Option<String>,
    description_html: String,
    is_owner: bool,
    open: bool,
    cards: Vec<CardView>,
    page: String,
    prev: Option<String>,
    next: Option<String>,
}

async fn shop_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let request = SearchRequest {
        page: p.page.map(|n| n.to_string()).unwrap_or_default(),
        ..SearchRequest::default()
    };
    let view = shops::shop_for(&state.core, viewer.member, ShopId::from_uuid(id), &request).await?;
    let (prev, next) = pager(view.items.page, view.items.has_next, |n| {
        format!("/shops/{id}?page={n}")
    });
    let name = view.shop.name.as_str().to_owned();
    Ok(ShopPage {
        layout: Layout::new(&state, viewer.lang, &name),
        icon_url: view.shop.icon_key.as_ref().map(media_url),
        description_html: view.description_html,
        is_owner: view.is_owner,
        open: view.shop.status == ShopStatus::Open,
        cards: view.items.items.iter().map(CardView::from).collect(),
        page: view.items.page.to_string(),
        prev,
        next,
        name: name.clone(),
    }
    .into_response())
}

struct ImageView {
    url: String,
    width: u32,
    height: u32,
}

#[derive(Template, WebTemplate)]
#[template(path = "item_public.html")]
struct ItemPageTemplate<'a> {
    layout: Layout<'a>,
    id: Uuid,
    title: String,
    price: String,
    sold_out: bool,
    stock_text: String,
    shop_id: Uuid,
    shop_name: String,
    images: Vec<ImageView>,
    description_html: String,
    is_owner: bool,
    /// For the owner of an item nobody else sees: why.
    preview_notice: Option<String>,
    /// On sale, in stock, someone else's: the "add to cart" button (a
    /// link to `/cart/add`, which asks for the quantity after login, so
    /// this public, cacheable page holds no session's token).
    can_buy: bool,
}

async fn item_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let view = shops::item_for(&state.core, viewer.member, ItemId::from_uuid(id)).await?;
    let t = state.catalogs.get(viewer.lang);
    let public = view.item.status.is_public() && view.shop.status == ShopStatus::Open;
    let preview_notice = (!public).then(|| {
        let why = if view.shop.status == ShopStatus::Closed {
            t.shop_status_closed.clone()
        } else {
            status_label(t, view.item.status)
        };
        t.item_preview_notice.replace("{status}", &why)
    });
    let title = view.item.title.as_str().to_owned();
    let stock_text = match view.item.stock.count() {
        Some(n) => t.item_stock_left.replace("{count}", &n.to_string()),
        None => t.item_stock_unlimited.clone(),
    };
    let is_sold_out = sold_out(view.item.status, view.item.stock);
    let page = ItemPageTemplate {
        layout: Layout::new(&state, viewer.lang, &title),
        id,
        price: view.item.price.to_string(),
        sold_out: is_sold_out,
        can_buy: public && !is_sold_out && !view.is_owner,
        stock_text,
        shop_id: view.shop.id.as_uuid(),
        shop_name: view.shop.name.as_str().to_owned(),
        images: view
            .images
            .iter()
            .map(|i| ImageView {
                url: media_url(&i.media_key),
                width: i.width,
                height: i.height,
            })
            .collect(),
        description_html: view.description_html.clone(),
        is_owner: view.is_owner,
        preview_notice,
        title: title.clone(),
    };
    // A preview is the owner's alone: never cached.
    Ok(if public {
        page.into_response()
    } else {
        no_store(page.into_response())
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    layout: Layout<'a>,
    q: String,
    min: String,
    max: String,
    sorts: Vec<(&'static str, String, bool)>,
    errors: FieldMessages,
    cards: Vec<CardView>,
    page: String,
    prev: Option<String>,
    next: Option<String>,
}

fn search_href(r: &SearchRequest, page: u32) -> String {
    let pairs: Vec<(&str, String)> = [
        ("q", r.q.clone()),
        ("min", r.min.clone()),
        ("max", r.max.clone()),
        ("sort", r.sort.clone()),
        ("page", page.to_string()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    format!(
        "/search?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

async fn search_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(r): Query<SearchRequest>,
) -> Result<Response, WebError> {
    let t = state.catalogs.get(viewer.lang);
    let current = match r.sort.as_str() {
        "price_asc" => SearchSort::PriceAsc,
        "price_desc" => SearchSort::PriceDesc,
        _ => SearchSort::Newest,
    };
    let sorts = [
        (SearchSort::Newest, &t.search_sort_newest),
        (SearchSort::PriceAsc, &t.search_sort_price_asc),
        (SearchSort::PriceDesc, &t.search_sort_price_desc),
    ]
    .into_iter()
    .map(|(s, label)| (sort_name(s), label.clone(), s == current))
    .collect();
    let (page, errors) = match shops::search(&state.core, &r, None).await {
        Ok(page) => (page, FieldMessages::default()),
        // A wrong price or page is shown on the form, not as an error page.
        Err(ShopError::Invalid(errors)) => (
            ItemPage {
                items: Vec::new(),
                page: 1,
                has_next: false,
            },
            FieldMessages::new(t, &errors),
        ),
        Err(e) => return Err(e.into()),
    };
    let (prev, next) = pager(page.page, page.has_next, |n| search_href(&r, n));
    let title = if r.q.trim().is_empty() {
        t.search_title.clone()
    } else {
        format!("{} – {}", r.q.trim(), t.search_title)
    };
    Ok(SearchPage {
        layout: Layout::new(&state, viewer.lang, &title),
        q: r.q.clone(),
        min: r.min.clone(),
        max: r.max.clone(),
        sorts,
        errors,
        cards: page.items.iter().map(CardView::from).collect(),
        page: page.page.to_string(),
        prev,
        next,
    }
    .into_response())
}
