//! The layout every page shares: the catalog of the page's language, the
//! title, and the content-hashed asset URLs.

use anshin_core::i18n::{Catalog, Lang};

use crate::web::AppState;

/// What the base template needs: the catalog, the language and the
/// content-hashed asset URLs.
#[derive(Debug)]
pub struct Layout<'a> {
    pub t: &'a Catalog,
    pub lang: &'static str,
    pub title: &'a str,
    pub css: &'a str,
    pub icon: &'a str,
    /// The self-hosted bot challenge widget (C7), when it is the
    /// configured provider: its script and its worker's hashed URLs.
    pub altcha: bool,
    pub altcha_js: &'a str,
    pub altcha_worker: &'a str,
    /// The address forms' postcode lookup without a reload.
    pub postcode_js: &'a str,
    /// `auth.recent_auth_secs` and `auth.code_ttl_secs` in minutes, for
    /// the `{minutes}` in the texts that state them.
    pub reauth_minutes: String,
    pub code_minutes: String,
    /// A member is signed in: the menu shows the account and a logout
    /// button instead of login and sign-up.
    pub signed_in: bool,
    /// The CSRF token of the menu's logout form.
    pub nav_csrf: String,
    /// What the page says about the last action, in the page's language.
    pub flash: Option<&'a str>,
}

impl<'a> Layout<'a> {
    pub fn new(state: &'a AppState, lang: Lang, title: &'a str) -> Self {
        let page = super::page::current();
        let t = state.catalogs.get(lang);
        Self {
            flash: page
                .flash
                .and_then(|f| t.flash.get(f.code()))
                .map(String::as_str),
            signed_in: page.signed_in,
            nav_csrf: page.csrf.unwrap_or_default(),
            t,
            lang: lang.code(),
            title,
            css: state.assets.url("app.css"),
            icon: state.assets.url("icon.svg"),
            altcha: state.settings.captcha.provider == anshin_core::challenge::Provider::Altcha,
            altcha_js: state.assets.url("altcha.js"),
            altcha_worker: state.assets.url("altcha-worker.js"),
            postcode_js: state.assets.url("postcode.js"),
            reauth_minutes: (state.settings.auth.recent_auth_secs / 60).to_string(),
            code_minutes: (state.settings.auth.code_ttl_secs / 60).to_string(),
        }
    }
}
