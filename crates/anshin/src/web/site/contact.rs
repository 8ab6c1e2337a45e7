//! The contact form (`/contact`): a topic, a message and a reply address
//! (the member's own, prefilled, when signed in). The POST needs the
//! bot challenge (C7) and the CSRF token like every form, and is limited
//! by `[contact]`; it calls `anshin_core::contact::send`, which mails the
//! message to `operator.support_email` through the outbox. Success is a
//! 303 back here with "we received your message"; a wrong field, a missing
//! challenge or too many messages show the form again with what was typed
//! (a `no-store` page: the text is the person's own). The message is
//! never logged, and never goes into a URL.

use anshin_core::accounts;
use anshin_core::contact::{self, Contact, ContactError, RawContact, Support, Topic};
use anshin_core::member_data::FieldError;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::web::AppState;
use crate::web::common::captcha::CaptchaFields;
use crate::web::common::client::ClientOf;
use crate::web::common::errors::{WebError, form_message};
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::{FieldMessages, no_store};
use crate::web::common::layout::Layout;
use crate::web::common::page::Visitor;

pub fn router() -> Router<AppState> {
    Router::new().route("/contact", get(contact_page).post(contact_submit))
}

struct TopicOption<'a> {
    value: &'static str,
    label: &'a str,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "contact.html")]
struct ContactPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    /// A refusal that is not about one field (challenge, limit).
    error: Option<String>,
    errors: FieldMessages,
    topics: Vec<TopicOption<'a>>,
    message: &'a str,
    reply_email: &'a str,
    max_chars: usize,
}

/// What the form shows: typed values (or the member's address), errors.
struct Shown<'a> {
    topic: &'a str,
    message: &'a str,
    reply_email: &'a str,
    error: Option<String>,
    errors: &'a [FieldError],
}

fn page(state: &AppState, v: &Visitor, shown: Shown<'_>) -> Response {
    let t = state.catalogs.get(v.lang);
    let page = ContactPage {
        layout: Layout::new(state, v.lang, &t.contact_title),
        csrf_token: &v.csrf,
        error: shown.error,
        errors: FieldMessages::new(t, shown.errors),
        topics: Topic::ALL
            .iter()
            .map(|topic| TopicOption {
                value: topic.as_str(),
                label: t.contact_topic(*topic),
                selected: topic.as_str() == shown.topic,
            })
            .collect(),
        message: shown.message,
        reply_email: shown.reply_email,
        max_chars: contact::MAX_MESSAGE_CHARS,
    };
    // The form may hold the person's own words and address.
    no_store(v.finish(page.into_response()))
}

async fn contact_page(State(state): State<AppState>, v: Visitor) -> Result<Response, WebError> {
    let reply = match v.session.as_ref().and_then(|s| s.record.member()) {
        Some(member) => accounts::summary(&state.core, member)
            .await?
            .email
            .as_str()
            .to_owned(),
        None => String::new(),
    };
    Ok(page(
        &state,
        &v,
        Shown {
            topic: "",
            message: "",
            reply_email: &reply,
            error: None,
            errors: &[],
        },
    ))
}

#[derive(Deserialize)]
struct ContactForm {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    reply_email: String,
    #[serde(flatten)]
    captcha: CaptchaFields,
}

async fn contact_submit(
    State(state): State<AppState>,
    ClientOf(client): ClientOf,
    v: Visitor,
    Form(f): Form<ContactForm>,
) -> Result<Response, WebError> {
    let raw = RawContact {
        topic: f.topic,
        message: f.message,
        reply_email: f.reply_email,
    };
    let again = |error: Option<String>, errors: &[FieldError]| {
        page(
            &state,
            &v,
            Shown {
                topic: &raw.topic,
                message: &raw.message,
                reply_email: &raw.reply_email,
                error,
                errors,
            },
        )
    };
    let parsed = match Contact::parse(&raw) {
        Ok(c) => c,
        Err(errors) => return Ok(again(None, &errors)),
    };
    let support = Support {
        address: state
            .settings
            .operator
            .support_address()
            .ok_or_else(|| anyhow::anyhow!("operator.support_email does not parse"))?,
        lang: state.settings.site.default_language,
    };
    let sender = contact::Sender {
        member: v.session.as_ref().and_then(|s| s.record.member()),
        lang: v.lang,
    };
    let presented = f.captcha.presented(state.settings.captcha.provider);
    match contact::send(&state.core, &parsed, sender, &support, presented, &client).await {
        Ok(()) => flash::redirect("/contact", Flash::ContactSent),
        Err(ContactError::Invalid(errors)) => Ok(again(None, &errors)),
        Err(e) => {
            let message = form_message(&state, v.lang, e)?;
            Ok(again(Some(message), &[]))
        }
    }
}
