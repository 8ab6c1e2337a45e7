//! The addresses page (C13): the member's shipping addresses in full (only
//! the owner sees this page), a form to add one, and a delete button each.
//! The same rules and storage as the API (`web::member_data`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use http::{HeaderMap, header};
use serde::Deserialize;
use uuid::Uuid;

use crate::accounts;
use crate::i18n::Lang;
use crate::member_data::sealed;
use crate::member_data::{RawAddress, ShippingAddress};
use crate::web::AppState;
use crate::web::errors::WebError;
use crate::web::language::request_lang;
use crate::web::member_data::AddressView;
use crate::web::pages::Layout;
use crate::web::sessions::{self, CurrentSession};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/addresses", get(page).post(add))
        .route("/account/addresses/{id}/delete", post(remove))
}

#[derive(Template, WebTemplate)]
#[template(path = "addresses.html")]
struct AddressesPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    addresses: Vec<AddressView>,
    errors: Vec<String>,
}

/// The member and the session's CSRF token, or a redirect to the login.
async fn member(
    state: &AppState,
    session: Option<Extension<CurrentSession>>,
) -> Result<Result<(Uuid, String), Response>, WebError> {
    let Some(Extension(current)) = session else {
        return Ok(Err(Redirect::to("/login").into_response()));
    };
    let Some(member_id) = accounts::member_of(&current.record) else {
        return Ok(Err(Redirect::to("/login").into_response()));
    };
    let (token, _) = sessions::ensure(state, Some(current)).await?;
    Ok(Ok((member_id, token.csrf_token().as_str().to_owned())))
}

async fn render(
    state: &AppState,
    lang: Lang,
    member_id: Uuid,
    csrf: &str,
    errors: Vec<String>,
) -> Result<Response, WebError> {
    let list = sealed::list_addresses(state.store.as_ref(), &state.keys, member_id).await?;
    let t = state.catalogs.get(lang);
    let page = AddressesPage {
        layout: Layout::new(state, lang, &t.addresses_title),
        csrf_token: csrf,
        addresses: list.iter().map(AddressView::from).collect(),
        errors,
    };
    let mut res = page.into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    match member(&state, session).await? {
        Ok((id, csrf)) => render(&state, lang, id, &csrf, Vec::new()).await,
        Err(r) => Ok(r),
    }
}

#[derive(Deserialize)]
struct AddressForm {
    recipient_name: String,
    postal_code: String,
    prefecture: String,
    city: String,
    line1: String,
    #[serde(default)]
    line2: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    is_default: Option<String>,
}

async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    Form(f): Form<AddressForm>,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let (id, csrf) = match member(&state, session).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let make_default = f.is_default.is_some();
    let raw = RawAddress {
        recipient_name: f.recipient_name,
        postal_code: f.postal_code,
        prefecture: f.prefecture,
        city: f.city,
        line1: f.line1,
        line2: f.line2,
        phone: f.phone,
    };
    match ShippingAddress::parse(raw) {
        Ok(address) => {
            sealed::add_address(
                state.store.as_ref(),
                &state.keys,
                id,
                &address,
                make_default,
                state.clock.now(),
            )
            .await?;
            Ok(Redirect::to("/account/addresses").into_response())
        }
        Err(errors) => {
            let texts = errors
                .iter()
                .map(|e| match lang {
                    Lang::Ja => e.message_ja.to_owned(),
                    Lang::En => e.message_en.to_owned(),
                })
                .collect();
            // 200 with the errors on the form (error statuses get the
            // generic error page).
            render(&state, lang, id, &csrf, texts).await
        }
    }
}

async fn remove(
    State(state): State<AppState>,
    session: Option<Extension<CurrentSession>>,
    Path(address_id): Path<Uuid>,
) -> Result<Response, WebError> {
    let (id, _) = match member(&state, session).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    sealed::delete_address(state.store.as_ref(), id, address_id).await?;
    Ok(Redirect::to("/account/addresses").into_response())
}
