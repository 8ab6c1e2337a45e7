//! What a page says after an action: one flash message, carried across the
//! redirect that follows every form post (POST → 303 → GET) in a short
//! cookie that holds only its code, and cleared by the page that shows
//! it. The text comes from the catalogs (`[flash]`), in the reader's
//! language.
//!
//! Why a cookie and not the session: it costs no database write, works for
//! a visitor who just logged out (no session any more), and holds nothing
//! personal — a code from a closed list. A forged cookie can only make a
//! page show one of these sentences; it changes nothing.

use axum::response::{IntoResponse, Redirect, Response};
use http::header;

use super::cookies;
use super::errors::WebError;

/// The flash cookie (`__Host-`, HttpOnly, SameSite=Lax like every cookie).
pub const COOKIE: &str = "__Host-anshin_flash";

/// How long a flash waits for the page that shows it.
const TTL_SECS: u64 = 120;

macro_rules! flashes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal),* $(,)?) => {
        /// Every message a page can show after an action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Flash {
            $($(#[$doc])* $variant),*
        }

        impl Flash {
            pub const ALL: &'static [Flash] = &[$(Flash::$variant),*];

            /// The cookie value and the catalog key.
            pub fn code(self) -> &'static str {
                match self {
                    $(Flash::$variant => $code),*
                }
            }

            pub fn parse(code: &str) -> Option<Flash> {
                match code {
                    $($code => Some(Flash::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

flashes! {
    LoggedIn => "logged_in",
    LoggedOut => "logged_out",
    /// The session cookie named a session that no longer lives.
    SignedOutElsewhere => "signed_out_elsewhere",
    SessionEnded => "session_ended",
    OtherSessionsEnded => "other_sessions_ended",
    AddressAdded => "address_added",
    AddressSaved => "address_saved",
    AddressDeleted => "address_deleted",
    AddressDefaultChanged => "address_default_changed",
    PhoneSaved => "phone_saved",
    PhoneRemoved => "phone_removed",
    /// The member left; their account is deleted (C18).
    Withdrawn => "withdrawn",
    BankAccountRemoved => "bank_account_removed",
    LanguageSaved => "language_saved",
    PasswordSet => "password_set",
    PasswordRemoved => "password_removed",
    Reauthenticated => "reauthenticated",
    DisplayNameSaved => "display_name_saved",
    /// The e-mail address changed; every other session was ended.
    EmailChanged => "email_changed",
    /// The WAF refused a form post; the form page shows it again.
    RequestBlocked => "request_blocked",
    /// The contact form's message is on its way to support.
    ContactSent => "contact_sent",
    /// A member accepted the terms of use in force.
    TermsAccepted => "terms_accepted",
    /// A personal data change refused: changed too often in the window.
    TooManyChanges => "too_many_changes",
    ShopOpened => "shop_opened",
    ShopSaved => "shop_saved",
    ShopClosed => "shop_closed",
    ShopReopened => "shop_reopened",
    ShopIconSaved => "shop_icon_saved",
    ItemAdded => "item_added",
    ItemSaved => "item_saved",
    ItemStatusChanged => "item_status_changed",
    ImageAdded => "image_added",
    ImageDeleted => "image_deleted",
    CartAdded => "cart_added",
    CartUpdated => "cart_updated",
    CartRemoved => "cart_removed",
    /// Checkout found too few left (someone else was faster).
    OrderSoldOut => "order_sold_out",
    /// Checkout found an item changed or no longer for sale.
    OrderChanged => "order_changed",
    OrderPaid => "order_paid",
    OrderShipped => "order_shipped",
    /// The shop's shipping choices were saved (C19).
    ShippingSaved => "shipping_saved",
    /// The seller chose the address a parcel is sent from.
    SenderChosen => "sender_chosen",
    OrderReceived => "order_received",
    OrderCompleted => "order_completed",
    OrderRefunded => "order_refunded",
    RefundPending => "refund_pending",
    /// A creator asked for a payout (C16).
    PayoutRequested => "payout_requested",
}

/// The `Set-Cookie` that carries `flash` to the next page.
pub fn cookie(flash: Flash) -> Result<http::HeaderValue, WebError> {
    Ok(cookies::secure(COOKIE, flash.code(), TTL_SECS)?)
}

/// The `Set-Cookie` that clears a shown flash.
pub fn cleared() -> Result<http::HeaderValue, WebError> {
    Ok(cookies::secure(COOKIE, "", 0)?)
}

/// 303 See Other to `to`, with `flash` for the page there.
pub fn redirect(to: &str, flash: Flash) -> Result<Response, WebError> {
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie(flash)?);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use anshin_core::i18n::{Catalogs, Lang};

    use super::*;

    #[test]
    fn every_flash_has_a_sentence_in_both_languages_and_parses_back() {
        let c = Catalogs::load().unwrap();
        for f in Flash::ALL {
            assert_eq!(Flash::parse(f.code()), Some(*f));
            for lang in [Lang::Ja, Lang::En] {
                assert!(c.get(lang).flash.contains_key(f.code()), "{lang:?} {f:?}");
            }
        }
        assert_eq!(Flash::parse("<script>"), None);
    }
}
