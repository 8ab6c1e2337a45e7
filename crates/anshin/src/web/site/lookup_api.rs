//! Looking things up for a form (issue 12): banks and branches by name
//! from the bundled Zengin list, and prefecture, city and town from a
//! postcode from the bundled Japan Post list (`anshin_core::banks`,
//! `anshin_core::postcodes`). Public data, answered from memory: no login,
//! no database, nothing logged about what was asked. The pages use the
//! same core functions without script; these are for clients and the
//! address form's small script.

use anshin_core::{banks, postcodes};
use axum::extract::{Path, Query};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::web::AppState;
use crate::web::common::errors::{ApiError, ErrorCode, WebError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/banks", get(search_banks))
        .route("/api/v1/banks/{code}/branches", get(search_branches))
        .route("/api/v1/postcodes/{code}", get(postcode))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NameQuery {
    /// Part of a name, in kanji, hiragana, katakana (full or half width)
    /// or romaji; or the start of a code.
    #[serde(default)]
    pub q: String,
}

/// A bank of the bundled Zengin list.
// nosemgrep: anshin-secret-field-in-debug-derive -- `code` is a bank's public Zengin code
#[derive(Debug, Serialize, ToSchema)]
pub struct BankView {
    /// 4 digits.
    pub code: String,
    /// `みずほ銀行`.
    pub name: String,
    /// The list's short form, `みずほ`.
    pub short_name: String,
    /// Hiragana, as bank-transfer kana is written (no small kana).
    pub reading: String,
}

/// A branch of a bank.
// nosemgrep: anshin-secret-field-in-debug-derive -- `code` is a branch's public Zengin code
#[derive(Debug, Serialize, ToSchema)]
pub struct BranchView {
    /// 3 digits.
    pub code: String,
    pub name: String,
    pub reading: String,
}

/// Banks matching `q`: exact names first, then names starting with it,
/// then names containing it; at most 30. An empty `q` finds nothing.
#[utoipa::path(get, path = "/api/v1/banks", params(NameQuery),
    responses((status = 200, body = [BankView])), tag = "lookup")]
pub async fn search_banks(Query(q): Query<NameQuery>) -> Json<Vec<BankView>> {
    Json(
        banks::search(&q.q)
            .into_iter()
            .map(|b| BankView {
                code: b.code.clone(),
                name: b.name.clone(),
                short_name: b.short_name.clone(),
                reading: b.reading.clone(),
            })
            .collect(),
    )
}

/// Branches of bank `code` matching `q` (ranked like banks); 404
/// `bank_not_found` for a code the list does not hold.
#[utoipa::path(get, path = "/api/v1/banks/{code}/branches",
    params(("code" = String, Path, description = "4-digit bank code"), NameQuery),
    responses((status = 200, body = [BranchView]), (status = 404, body = ApiError)), tag = "lookup")]
pub async fn search_branches(
    Path(code): Path<String>,
    Query(q): Query<NameQuery>,
) -> Result<Json<Vec<BranchView>>, WebError> {
    let bank = banks::bank(&code).ok_or(WebError::NotFound(ErrorCode::BankNotFound))?;
    Ok(Json(
        banks::search_branches(bank, &q.q)
            .into_iter()
            .map(|b| BranchView {
                code: b.code.clone(),
                name: b.name.clone(),
                reading: b.reading.clone(),
            })
            .collect(),
    ))
}

/// One area of a postcode.
#[derive(Debug, Serialize, ToSchema)]
pub struct AreaView {
    /// `東京都`.
    pub prefecture: String,
    /// `渋谷区`.
    pub city: String,
    /// `神宮前`; empty when the postcode covers the whole city.
    pub town: String,
}

/// What a postcode covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostcodeView {
    /// Canonical, `150-0001`.
    pub postcode: String,
    /// Japan Post's areas for it, the first one first (most postcodes
    /// have one).
    pub areas: Vec<AreaView>,
}

/// Prefecture, city and town of a postcode (`150-0001`, `1500001`, full
/// width too). 400 `invalid_fields` for a malformed one, 404
/// `postcode_not_found` for one the list does not hold.
#[utoipa::path(get, path = "/api/v1/postcodes/{code}",
    params(("code" = String, Path, description = "7-digit postcode")),
    responses((status = 200, body = PostcodeView), (status = 400, body = ApiError),
        (status = 404, body = ApiError)), tag = "lookup")]
pub async fn postcode(Path(code): Path<String>) -> Result<Json<PostcodeView>, WebError> {
    let parsed = anshin_core::member_data::PostalCode::parse(&code)
        .map_err(|e| WebError::InvalidFields(vec![e]))?;
    match postcodes::lookup_code(&parsed) {
        postcodes::Lookup::Found(areas) => Ok(Json(PostcodeView {
            postcode: parsed.as_str().to_owned(),
            areas: areas
                .into_iter()
                .map(|a| AreaView {
                    prefecture: a.prefecture.to_owned(),
                    city: a.city.to_owned(),
                    town: a.town.to_owned(),
                })
                .collect(),
        })),
        postcodes::Lookup::Unknown => Err(WebError::NotFound(ErrorCode::PostcodeNotFound)),
    }
}
