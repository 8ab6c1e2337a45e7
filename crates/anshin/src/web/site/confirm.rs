//! The second step of every destructive action (delete an address,
//! remove the password, end a session): a page that says what will
//! happen and asks, with the danger button and a way back. A plain page
//! and a plain form, so it works without script and the CSP stays strict;
//! the button's POST is the action itself, CSRF-checked like any form.

use askama::Template;
use askama_web::WebTemplate;
use axum::response::{IntoResponse, Response};

use crate::web::AppState;
use crate::web::common::forms::no_store;
use crate::web::common::layout::Layout;
use crate::web::common::member::SignedIn;

/// What the confirmation page asks.
pub struct Confirm<'a> {
    /// What will happen, and that it cannot be undone.
    pub lead: &'a str,
    /// What it happens to (the address, the session's device), if the lead
    /// does not say.
    pub detail: Option<&'a str>,
    /// Where the button posts.
    pub action: &'a str,
    /// The button's words (the action's own, "Delete").
    pub submit: &'a str,
    /// The page to go back to.
    pub cancel: &'a str,
}

/// The detail may be personal (an address): never in a log line.
impl std::fmt::Debug for Confirm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirm")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    layout: Layout<'a>,
    csrf_token: &'a str,
    ask: &'a Confirm<'a>,
}

impl Confirm<'_> {
    /// The page, for the signed-in member (never cached: the detail may be
    /// personal).
    pub fn page(&self, state: &AppState, me: &SignedIn) -> Response {
        let t = state.catalogs.get(me.lang);
        no_store(
            ConfirmPage {
                layout: Layout::new(state, me.lang, &t.confirm_title),
                csrf_token: &me.csrf,
                ask: self,
            }
            .into_response(),
        )
    }
}
