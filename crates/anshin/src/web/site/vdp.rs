//! The vulnerability disclosure programme (C5): `/security`, the policy
//! (scope, safe harbour, what not to do, response times) and the report
//! form, and `/.well-known/security.txt` (RFC 9116) pointing to it.
//!
//! The form's POST needs the bot challenge (C7) and the CSRF token like
//! every form, and is limited by `[contact]`; it calls
//! `anshin_core::vdp::submit`, which seals the report, mails the reporter
//! a tracking id through the outbox and audits the arrival. Success
//! answers the page with the tracking id (no redirect: nothing of the
//! report goes into a URL); a wrong field, a missing challenge or too many
//! reports show the form again with what was typed (a `no-store` page).
//!
//! security.txt's `Expires` is computed from the clock on every request
//! (`vdp.expires_days` ahead) unless `vdp.expires` fixes it, which the
//! self-scan then watches; `Canonical` and `Policy` name the site's
//! origin, `Contact` is `vdp.contact` (else `mailto:security@<host>`) and
//! the form.

use anshin_core::member_data::FieldError;
use anshin_core::vdp::{self, RawReport, Report, VdpError};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use http::header;
use serde::Deserialize;

use crate::web::AppState;
use crate::web::common::captcha::CaptchaFields;
use crate::web::common::client::ClientOf;
use crate::web::common::errors::{WebError, form_message};
use crate::web::common::forms::{FieldMessages, no_store};
use crate::web::common::layout::Layout;
use crate::web::common::page::Visitor;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/security", get(security_page).post(security_submit))
        .route("/.well-known/security.txt", get(security_txt))
}

/// The site's host, for the default `Contact` address.
fn site_host(state: &AppState) -> String {
    url::Url::parse(&state.origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
}

async fn security_txt(State(state): State<AppState>) -> Response {
    let body = vdp::security_txt(
        &state.settings.vdp,
        &state.origin,
        &site_host(&state),
        state.core.now(),
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        body,
    )
        .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    /// A refusal that is not about one field (challenge, limit).
    error: Option<String>,
    errors: FieldMessages,
    reply_email: &'a str,
    message: &'a str,
    message_hint: String,
    max_chars: usize,
    /// After a report was taken: "your tracking id is …".
    sent: Option<String>,
}

struct Shown<'a> {
    reply_email: &'a str,
    message: &'a str,
    error: Option<String>,
    errors: &'a [FieldError],
    sent: Option<String>,
}

/// Always 200: the site's error layer answers 4xx with its own page, and
/// the form must come back with what was typed and the reason.
fn page(state: &AppState, v: &Visitor, shown: Shown<'_>) -> Response {
    let t = state.catalogs.get(v.lang);
    let max = anshin_core::contact::MAX_MESSAGE_CHARS;
    let page = SecurityPage {
        layout: Layout::new(state, v.lang, &t.vdp.title),
        csrf_token: &v.csrf,
        error: shown.error,
        errors: FieldMessages::new(t, shown.errors),
        reply_email: shown.reply_email,
        message: shown.message,
        message_hint: t.vdp.message_hint.replace("{max}", &max.to_string()),
        max_chars: max,
        sent: shown.sent,
    };
    // The form may hold the person's own words and address.
    no_store(v.finish(page.into_response()))
}

async fn security_page(State(state): State<AppState>, v: Visitor) -> Response {
    page(
        &state,
        &v,
        Shown {
            reply_email: "",
            message: "",
            error: None,
            errors: &[],
            sent: None,
        },
    )
}

#[derive(Deserialize)]
struct ReportForm {
    #[serde(default)]
    reply_email: String,
    #[serde(default)]
    message: String,
    #[serde(flatten)]
    captcha: CaptchaFields,
}

async fn security_submit(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    Form(f): Form<ReportForm>,
) -> Result<Response, WebError> {
    let raw = RawReport {
        reply_email: f.reply_email,
        message: f.message,
    };
    let again = |error: Option<String>, errors: &[FieldError]| {
        page(
            &state,
            &v,
            Shown {
                reply_email: &raw.reply_email,
                message: &raw.message,
                error,
                errors,
                sent: None,
            },
        )
    };
    let parsed = match Report::parse(&raw) {
        Ok(r) => r,
        Err(errors) => return Ok(again(None, &errors)),
    };
    let presented = f.captcha.presented(state.settings.captcha.provider);
    match vdp::submit(&state.core, &parsed, v.lang, presented, &client).await {
        Ok(tracking) => {
            let t = state.catalogs.get(v.lang);
            Ok(page(
                &state,
                &v,
                Shown {
                    reply_email: "",
                    message: "",
                    error: None,
                    errors: &[],
                    sent: Some(t.vdp.sent_body.replace("{tracking}", &tracking)),
                },
            ))
        }
        Err(VdpError::Invalid(errors)) => Ok(again(None, &errors)),
        Err(e) => {
            let message = form_message(&state, v.lang, e)?;
            Ok(again(Some(message), &[]))
        }
    }
}
