//! The pages every Japanese marketplace must have, and help: the terms of
//! use (`/terms`, with the version in force and, for a signed-in member,
//! their recorded consent and a button to accept revised terms), the
//! privacy policy (`/privacy`), 特定商取引法に基づく表記
//! (`/legal/tokushoho`, the operator's details from `[operator]`) and help
//! (`/help`). The texts live in `locales/legal.*.toml`; the numbers they
//! state (code and session lifetimes, the lock threshold) are filled in
//! here from the configuration, so the pages say what the site does.

use anshin_core::accounts;
use anshin_core::i18n::{Catalog, DocSection, Document, Lang};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use crate::web::AppState;
use crate::web::common::cookies::DEVICE_SECS;
use crate::web::common::errors::WebError;
use crate::web::common::flash::{self, Flash};
use crate::web::common::forms::no_store;
use crate::web::common::language::request_lang;
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;
use crate::web::common::session::CurrentSession;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/terms", get(terms).post(accept_terms))
        .route("/privacy", get(privacy))
        .route("/legal/tokushoho", get(tokushoho))
        .route("/help", get(help))
}

/// The values the legal texts' `{placeholders}` stand for.
pub(crate) struct Vars(Vec<(&'static str, String)>);

impl Vars {
    pub(crate) fn new(state: &AppState, t: &Catalog) -> Self {
        let s = &state.settings;
        let o = &s.operator;
        let hours = |secs: u64| (secs / 3600).max(1).to_string();
        Self(vec![
            ("site_name", t.site_name.clone()),
            ("operator_name", o.name.clone()),
            ("operator_representative", o.representative.clone()),
            ("operator_address", o.address.clone()),
            ("operator_phone", o.phone.clone()),
            ("operator_email", o.email.clone()),
            ("support_email", o.support_email.clone()),
            (
                "business_hours",
                o.business_hours.clone().unwrap_or_default(),
            ),
            ("terms_version", accounts::TERMS_VERSION.to_owned()),
            ("code_minutes", (s.auth.code_ttl_secs / 60).to_string()),
            ("code_digits", s.auth.code_digits.to_string()),
            ("code_attempts", s.auth.code_max_attempts.to_string()),
            ("reauth_minutes", (s.auth.recent_auth_secs / 60).to_string()),
            ("min_password", s.auth.password_min_chars.to_string()),
            ("lock_threshold", s.limits.lock_threshold.to_string()),
            ("idle_hours", hours(s.sessions.idle_timeout_secs)),
            (
                "lifetime_days",
                (s.sessions.absolute_lifetime_secs / 86_400)
                    .max(1)
                    .to_string(),
            ),
            ("device_days", (DEVICE_SECS / 86_400).to_string()),
        ])
    }

    /// `text` with every `{name}` replaced by its value.
    pub(crate) fn fill(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.0 {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    fn fill_all(&self, texts: &[String]) -> Vec<String> {
        texts.iter().map(|t| self.fill(t)).collect()
    }
}

/// A section as the page shows it: placeholders filled.
struct SectionView<'a> {
    id: &'a str,
    heading: String,
    paragraphs: Vec<String>,
    items: Vec<String>,
    after: Vec<String>,
    links: Vec<(&'a str, &'a str)>,
}

impl<'a> SectionView<'a> {
    fn new(s: &'a DocSection, vars: &Vars) -> Self {
        Self {
            id: &s.id,
            heading: vars.fill(&s.heading),
            paragraphs: vars.fill_all(&s.paragraphs),
            items: vars.fill_all(&s.items),
            after: vars.fill_all(&s.after),
            links: s
                .links
                .iter()
                .map(|l| (l.label.as_str(), l.href.as_str()))
                .collect(),
        }
    }
}

/// What the terms page tells a signed-in member about their consent.
enum Consent {
    /// They accepted the terms in force (at this time).
    Current(String),
    /// They accepted an older version (this one).
    Outdated(String),
    /// No consent recorded (an account older than the record).
    Missing,
}

impl Consent {
    /// The page asks for consent to the terms in force.
    fn asks(&self) -> bool {
        !matches!(self, Consent::Current(_))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "legal_document.html")]
struct DocumentPage<'a> {
    layout: Layout<'a>,
    lead: Vec<String>,
    sections: Vec<SectionView<'a>>,
    /// Show a table of contents (long pages).
    toc: bool,
    /// The terms page for a signed-in member.
    consent: Option<Consent>,
    csrf_token: String,
    terms_version: &'static str,
}

fn document_page<'a>(
    state: &'a AppState,
    lang: Lang,
    doc: &'a Document,
    toc: bool,
    consent: Option<Consent>,
    csrf_token: String,
) -> DocumentPage<'a> {
    let t = state.catalogs.get(lang);
    let vars = Vars::new(state, t);
    DocumentPage {
        layout: Layout::new(state, lang, &doc.title),
        lead: vars.fill_all(&doc.lead),
        sections: doc
            .sections
            .iter()
            .map(|s| SectionView::new(s, &vars))
            .collect(),
        toc,
        consent,
        csrf_token,
        terms_version: accounts::TERMS_VERSION,
    }
}

/// The terms. A visitor gets the text alone (no session is started for
/// them); a signed-in member also sees what they accepted, and a button to
/// accept the terms in force if they have not.
async fn terms(
    State(state): State<AppState>,
    headers: http::HeaderMap,
    session: Option<Extension<CurrentSession>>,
) -> Result<Response, WebError> {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let t = state.catalogs.get(lang);
    let signed_in = session
        .as_ref()
        .and_then(|s| s.record.member().map(|m| (m, s.token.csrf_token())));
    let (consent, csrf) = match signed_in {
        Some((id, csrf)) => {
            let summary = accounts::summary(&state.core, id).await?;
            let consent = match summary.terms {
                Some(c) if accounts::terms_current(Some(&c)) => {
                    Consent::Current(accounts::local_time(lang, c.accepted_at))
                }
                Some(c) => Consent::Outdated(c.version),
                None => Consent::Missing,
            };
            (Some(consent), csrf.as_str().to_owned())
        }
        None => (None, String::new()),
    };
    let page = document_page(&state, lang, &t.legal.terms, true, consent, csrf);
    // The member's consent is theirs: not for a shared cache.
    Ok(no_store(page.into_response()))
}

/// Records the signed-in member's consent to the terms in force.
async fn accept_terms(State(state): State<AppState>, me: SignedIn) -> Result<Response, WebError> {
    accounts::accept_terms(&state.core, me.member).await?;
    flash::redirect("/terms", Flash::TermsAccepted)
}

async fn privacy(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let t = state.catalogs.get(lang);
    document_page(&state, lang, &t.legal.privacy, true, None, String::new()).into_response()
}

async fn help(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let t = state.catalogs.get(lang);
    document_page(&state, lang, &t.legal.help, true, None, String::new()).into_response()
}

/// One row of the legal notice.
struct Row {
    label: String,
    value: String,
    note: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "tokushoho.html")]
struct TokushohoPage<'a> {
    layout: Layout<'a>,
    lead: Vec<String>,
    rows: Vec<Row>,
}

async fn tokushoho(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    let lang = request_lang(&headers, state.settings.site.default_language);
    let t = state.catalogs.get(lang);
    let doc = &t.legal.tokushoho;
    let vars = Vars::new(&state, t);
    let rows = doc
        .rows
        .iter()
        .filter(|r| match r.when.as_deref() {
            Some("business_hours") => state.settings.operator.business_hours.is_some(),
            Some(_) => false,
            None => true,
        })
        .map(|r| Row {
            label: vars.fill(&r.label),
            value: vars.fill(&r.value),
            note: r.note.as_deref().map(|n| vars.fill(n)),
        })
        .collect();
    TokushohoPage {
        layout: Layout::new(&state, lang, &doc.title),
        lead: vars.fill_all(&doc.lead),
        rows,
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use anshin_core::i18n::Catalogs;

    /// Every `{placeholder}` the legal texts use is one the pages fill
    /// (the names below are those of [`super::Vars::new`]).
    #[test]
    fn every_placeholder_in_the_legal_texts_is_filled() {
        const KNOWN: &[&str] = &[
            "site_name",
            "operator_name",
            "operator_representative",
            "operator_address",
            "operator_phone",
            "operator_email",
            "support_email",
            "business_hours",
            "terms_version",
            "code_minutes",
            "code_digits",
            "code_attempts",
            "reauth_minutes",
            "min_password",
            "lock_threshold",
            "idle_hours",
            "lifetime_days",
            "device_days",
        ];
        let c = Catalogs::load().unwrap();
        for lang in [anshin_core::i18n::Lang::Ja, anshin_core::i18n::Lang::En] {
            let l = &c.get(lang).legal;
            let mut texts: Vec<&str> = Vec::new();
            for d in [&l.terms, &l.privacy, &l.help] {
                texts.push(&d.title);
                texts.extend(d.lead.iter().map(String::as_str));
                for s in &d.sections {
                    texts.push(&s.heading);
                    texts.extend(s.paragraphs.iter().map(String::as_str));
                    texts.extend(s.items.iter().map(String::as_str));
                    texts.extend(s.after.iter().map(String::as_str));
                    texts.extend(s.links.iter().map(|l| l.label.as_str()));
                }
            }
            texts.extend(l.tokushoho.lead.iter().map(String::as_str));
            for r in &l.tokushoho.rows {
                texts.extend([r.label.as_str(), r.value.as_str()]);
                texts.extend(r.note.as_deref());
            }
            for text in texts {
                let mut rest = text;
                while let Some(start) = rest.find('{') {
                    let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
                    let name = &rest[start + 1..end];
                    assert!(
                        KNOWN.contains(&name),
                        "{lang:?}: unknown {{{name}}} in {text}"
                    );
                    rest = &rest[end..];
                }
            }
        }
    }
}
