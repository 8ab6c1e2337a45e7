//! Japanese and English, from the first page. Every user-visible string
//! lives in a message catalog (`locales/*.toml`); the catalog is a typed
//! struct, so a template cannot use a key that a language lacks, and a
//! catalog missing a key fails the build's tests (and startup), not a page.
//!
//! Mails, pages and field errors all read the same catalogs, so the core
//! (which composes mails and names field errors) holds them and the web
//! layer borrows them. The language of a page comes from the `lang`
//! cookie, else `Accept-Language`, else the configured default; a mail's
//! from the member's stored choice.

use std::collections::BTreeMap;

pub use anshin_domain::Lang;
use serde::Deserialize;

/// Why a catalog did not load: the file and the dotted key, never a
/// page at run time (startup and the tests stop here).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: {source}")]
    Syntax {
        file: &'static str,
        source: toml::de::Error,
    },
    #[error("{file}: missing key `{key}`")]
    Missing { file: &'static str, key: String },
    #[error("{file}: unknown key `{key}`")]
    Unknown { file: &'static str, key: String },
    #[error("{file}: `{key}` must be {expected}")]
    Type {
        file: &'static str,
        key: String,
        expected: &'static str,
    },
}

/// Where a value sits while a catalog is read: the file and the dotted
/// key, for [`CatalogError`].
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'static str,
    table: &'a str,
}

impl At<'_> {
    fn key(&self, key: &str) -> String {
        if self.table.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.table)
        }
    }
}

/// A catalog field read from its TOML value; `None` when the key is
/// absent.
trait FromValue: Sized {
    fn from_value(v: Option<toml::Value>, at: At<'_>, key: &str) -> Result<Self, CatalogError>;
}

impl FromValue for String {
    fn from_value(v: Option<toml::Value>, at: At<'_>, key: &str) -> Result<Self, CatalogError> {
        match v {
            Some(toml::Value::String(s)) => Ok(s),
            Some(_) => Err(wrong_type(at, key, "text")),
            None => Err(missing(at, key)),
        }
    }
}

impl FromValue for BTreeMap<String, String> {
    fn from_value(v: Option<toml::Value>, at: At<'_>, key: &str) -> Result<Self, CatalogError> {
        let Some(toml::Value::Table(t)) = v else {
            return Err(match v {
                None => missing(at, key),
                Some(_) => wrong_type(at, key, "a table of texts"),
            });
        };
        let mut map = BTreeMap::new();
        for (k, v) in t {
            match v {
                toml::Value::String(s) => {
                    map.insert(k, s);
                }
                _ => return Err(wrong_type(at, &format!("{key}.{k}"), "text")),
            }
        }
        Ok(map)
    }
}

impl FromValue for Vec<String> {
    fn from_value(v: Option<toml::Value>, at: At<'_>, key: &str) -> Result<Self, CatalogError> {
        let Some(toml::Value::Array(items)) = v else {
            return Err(match v {
                None => missing(at, key),
                Some(_) => wrong_type(at, key, "a list of texts"),
            });
        };
        items
            .into_iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s),
                _ => Err(wrong_type(at, key, "a list of texts")),
            })
            .collect()
    }
}

/// The legal pages come from their own file
/// ([`Catalogs::load`]); in a page catalog the key is refused.
impl FromValue for Legal {
    fn from_value(v: Option<toml::Value>, at: At<'_>, key: &str) -> Result<Self, CatalogError> {
        match v {
            None => Ok(Legal::default()),
            Some(_) => Err(CatalogError::Unknown {
                file: at.file,
                key: at.key(key),
            }),
        }
    }
}

fn missing(at: At<'_>, key: &str) -> CatalogError {
    CatalogError::Missing {
        file: at.file,
        key: at.key(key),
    }
}

fn wrong_type(at: At<'_>, key: &str, expected: &'static str) -> CatalogError {
    CatalogError::Type {
        file: at.file,
        key: at.key(key),
        expected,
    }
}

/// Reads `key` out of `t`. On a problem it notes the first error in
/// `err` and gives a default, so that a catalog reader is one straight
/// line of calls without a branch per field.
fn read<T: FromValue + Default>(
    t: &mut toml::Table,
    at: At<'_>,
    key: &str,
    err: &mut Option<CatalogError>,
) -> T {
    match T::from_value(t.remove(key), at, key) {
        Ok(v) => v,
        Err(e) => {
            err.get_or_insert(e);
            T::default()
        }
    }
}

/// A catalog struct and its reader. Not `#[derive(Deserialize)]`: for a
/// struct of hundreds of fields serde generates a `visit_map` of ~100,000
/// LLVM instructions per TOML map type, which took LLVM over ten CPU
/// minutes at opt-level 3 (bench/README) and overflowed a 2 MiB stack in
/// debug builds. Here each field is one call to a small generic reader;
/// a missing, unknown or mistyped key is still an error naming it.
macro_rules! catalog {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl FromValue for $name {
            fn from_value(
                v: Option<toml::Value>,
                at: At<'_>,
                key: &str,
            ) -> Result<Self, CatalogError> {
                match v {
                    Some(toml::Value::Table(t)) => {
                        let table = at.key(key);
                        Self::from_table(t, At { file: at.file, table: &table })
                    }
                    Some(_) => Err(wrong_type(at, key, "a table")),
                    None => Err(missing(at, key)),
                }
            }
        }

        impl $name {
            fn from_table(mut t: toml::Table, at: At<'_>) -> Result<Self, CatalogError> {
                let mut err = None;
                let read = Self {
                    $( $field: read(&mut t, at, stringify!($field), &mut err), )*
                };
                if let Some(e) = err {
                    return Err(e);
                }
                match t.keys().next() {
                    Some(k) => Err(CatalogError::Unknown { file: at.file, key: at.key(k) }),
                    None => Ok(read),
                }
            }
        }
    };
}

catalog! {
/// All strings of one language. Field names are the message keys.
pub struct Catalog {
    pub lang_name: String,
    pub site_name: String,
    pub site_tagline: String,
    pub nav_home: String,
    pub nav_language: String,
    pub skip_to_content: String,
    pub home_title: String,
    pub home_lead: String,
    pub home_promises_title: String,
    pub home_promise_tls: String,
    pub home_promise_privacy: String,
    pub home_promise_sessions: String,
    pub language_title: String,
    pub language_lead: String,
    pub language_submit: String,
    pub error_request_id: String,
    pub error_back_home: String,
    pub error_400_title: String,
    pub error_400_body: String,
    pub error_403_title: String,
    pub error_403_body: String,
    pub error_403_csrf_body: String,
    pub error_404_title: String,
    pub error_404_body: String,
    pub error_405_title: String,
    pub error_405_body: String,
    pub error_408_title: String,
    pub error_408_body: String,
    pub error_413_title: String,
    pub error_413_body: String,
    pub error_415_title: String,
    pub error_415_body: String,
    pub error_421_title: String,
    pub error_421_body: String,
    pub error_429_title: String,
    pub error_429_body: String,
    pub error_431_title: String,
    pub error_431_body: String,
    pub error_500_title: String,
    pub error_500_body: String,
    pub error_503_title: String,
    pub error_503_body: String,
    pub footer_security: String,
    pub mail_greeting: String,
    pub mail_footer: String,
    pub mail_code_intro: String,
    pub mail_code_validity: String,
    pub mail_signup_subject: String,
    pub mail_signup_body: String,
    pub mail_signup_existing_subject: String,
    pub mail_signup_existing_body: String,
    pub mail_login_subject: String,
    pub mail_login_body: String,
    pub mail_no_account_subject: String,
    pub mail_no_account_body: String,
    pub mail_reauth_subject: String,
    pub mail_reauth_body: String,
    pub mail_welcome_subject: String,
    pub mail_welcome_body: String,
    pub mail_login_notice_subject: String,
    pub mail_login_notice_body: String,
    pub mail_login_time: String,
    pub mail_login_ip: String,
    pub mail_login_device: String,
    pub mail_login_method: String,
    pub mail_login_seen_before: String,
    pub mail_login_new_device: String,
    pub mail_login_review: String,
    pub mail_login_not_me: String,
    pub mail_password_set_subject: String,
    pub mail_password_set_body: String,
    pub mail_bank_account_changed_subject: String,
    pub payouts_title: String,
    pub payouts_lead: String,
    pub payouts_balance: String,
    pub payouts_fee: String,
    pub payouts_net: String,
    pub payouts_minimum: String,
    pub payouts_account: String,
    pub payouts_account_change: String,
    pub payouts_request_hint: String,
    pub payouts_request: String,
    pub payouts_history: String,
    pub payouts_none: String,
    pub payouts_date: String,
    pub payouts_amount: String,
    pub payouts_status: String,
    pub payouts_completed: String,
    pub payouts_status_requested: String,
    pub payouts_status_batched: String,
    pub payouts_status_paid: String,
    pub payouts_status_failed: String,
    pub payouts_no_bank: String,
    pub payouts_below_minimum: String,
    pub payouts_try_again: String,
    pub payouts_no_shop: String,
    pub mail_payout_requested_subject: String,
    pub mail_payout_requested_body: String,
    pub mail_payout_paid_subject: String,
    pub mail_payout_paid_body: String,
    pub mail_payout_failed_subject: String,
    pub mail_payout_failed_body: String,
    pub mail_payout_amount: String,
    pub mail_payout_fee: String,
    pub mail_payout_net: String,
    pub mail_payout_account: String,
    pub mail_payout_link: String,
    pub mail_audit_checkpoint_subject: String,
    pub mail_audit_checkpoint_body: String,
    /// A security alert went on / cleared, to the security team (C29).
    pub mail_alert_fired_subject: String,
    pub mail_alert_fired_body: String,
    pub mail_alert_resolved_subject: String,
    pub mail_alert_resolved_body: String,
    pub mail_alert_rule: String,
    pub mail_alert_subject: String,
    pub mail_alert_value: String,
    pub mail_alert_threshold: String,
    pub mail_alert_window: String,
    pub mail_alert_when: String,
    /// What the security team does about a staff sign-in from a new
    /// network (the `staff_new_network` alert going on).
    pub mail_alert_staff_new_network: String,
    /// The weekly self-scan's report, to the security team (C30).
    pub mail_selfscan_subject: String,
    pub mail_selfscan_body_findings: String,
    pub mail_selfscan_body_clean: String,
    pub mail_selfscan_findings: String,
    pub mail_bank_account_changed_body: String,
    pub mail_password_removed_subject: String,
    pub mail_password_removed_body: String,
    pub mail_withdrawn_subject: String,
    pub mail_withdrawn_by_you: String,
    pub mail_withdrawn_by_support: String,
    pub mail_withdrawn_body: String,
    pub mail_withdrawn_not_me: String,
    pub mail_withdrawn_contact: String,
    pub mail_incident_sessions_ended_subject: String,
    pub mail_incident_sessions_ended_body: String,
    pub mail_incident_password_reset_subject: String,
    pub mail_incident_password_reset_body: String,
    pub mail_incident_data_exposure_subject: String,
    pub mail_incident_data_exposure_body: String,
    pub mail_email_change_subject: String,
    pub mail_email_change_body: String,
    pub mail_email_change_taken_subject: String,
    pub mail_email_change_taken_body: String,
    pub mail_email_changed_subject: String,
    pub mail_email_changed_body: String,
    pub mail_email_changed_not_me: String,
    pub mail_email_changed_new: String,
    pub mail_link_login: String,
    pub mail_link_signup: String,
    pub err_invalid_email: String,
    pub err_invalid_display_name: String,
    pub err_display_name_required: String,
    /// `{max}` and `{count}`: the limit and what was typed.
    pub err_display_name_too_long: String,
    pub err_display_name_invalid_character: String,
    pub err_email_unchanged: String,
    pub err_invalid_code: String,
    pub err_invalid_credentials: String,
    pub err_password_too_short: String,
    pub err_password_too_long: String,
    pub err_password_too_common: String,
    pub err_not_authenticated: String,
    pub err_reauthentication_required: String,
    pub err_current_password_wrong: String,
    pub err_rate_limited: String,
    pub err_session_not_found: String,
    pub err_malformed_json: String,
    pub err_invalid_fields: String,
    pub err_data_unreadable: String,
    /// `{max}`: `limits.max_addresses`.
    pub err_too_many_addresses: String,
    pub err_too_many_changes: String,
    pub err_limit_reached: String,
    /// `{count}` of `{max}` addresses, under the list.
    pub addresses_count: String,
    pub addresses_title: String,
    pub address_recipient_name: String,
    pub address_postal_code: String,
    pub address_prefecture: String,
    pub address_city: String,
    pub address_line1: String,
    pub address_line2: String,
    pub address_phone: String,
    pub address_default: String,
    pub address_add: String,
    pub address_delete: String,
    pub address_edit: String,
    pub address_edit_title: String,
    pub address_make_default: String,
    pub address_save: String,
    pub address_back: String,
    pub phone_title: String,
    pub phone_current: String,
    pub phone_none: String,
    pub phone_new: String,
    pub phone_save: String,
    pub bank_title: String,
    pub bank_current: String,
    pub bank_none: String,
    pub bank_code: String,
    pub bank_branch_code: String,
    pub bank_account_type: String,
    pub bank_type_choose: String,
    pub bank_type_ordinary: String,
    pub bank_type_checking: String,
    pub bank_type_savings: String,
    pub bank_account_number: String,
    pub bank_holder_kana: String,
    pub bank_save: String,
    pub bank_saved: String,
    pub bank_notice_lead: String,
    pub bank_reauth_lead: String,
    pub account_personal_title: String,
    pub account_personal_lead: String,
    pub err_email_taken: String,
    pub nav_signup: String,
    pub nav_login: String,
    pub nav_account: String,
    pub nav_logout: String,
    pub form_email: String,
    pub form_display_name: String,
    pub form_code: String,
    pub form_password: String,
    pub form_new_password: String,
    pub form_current_password: String,
    pub signup_title: String,
    pub signup_lead: String,
    pub signup_submit: String,
    pub verify_title: String,
    pub verify_lead: String,
    pub verify_submit: String,
    pub login_title: String,
    pub login_code_lead: String,
    pub login_code_submit: String,
    pub login_password_lead: String,
    pub login_password_submit: String,
    /// The bot challenge widget (C7).
    pub captcha_label: String,
    pub captcha_working: String,
    pub captcha_done: String,
    pub captcha_error: String,
    pub account_title: String,
    pub account_profile_link: String,
    pub profile_title: String,
    pub profile_lead: String,
    /// `{max}`: the most characters a display name may have.
    pub profile_name_hint: String,
    pub profile_save_name: String,
    pub profile_email_title: String,
    pub profile_email_change: String,
    pub email_change_title: String,
    pub email_change_lead: String,
    pub email_change_current: String,
    pub email_change_new: String,
    pub email_change_submit: String,
    /// `{minutes}`: how recent the login must be.
    pub email_change_reauth_lead: String,
    pub email_change_code_note: String,
    pub account_password_title: String,
    pub account_has_password: String,
    pub account_no_password: String,
    pub account_set_password: String,
    pub account_remove_password: String,
    pub account_reauth_submit: String,
    pub sessions_title: String,
    pub sessions_live: String,
    pub sessions_current: String,
    pub sessions_end: String,
    pub sessions_end_others: String,
    pub sessions_history: String,
    pub sessions_started: String,
    pub sessions_last_seen: String,
    pub history_time: String,
    pub history_outcome: String,
    pub not_me_title: String,
    pub not_me_lead: String,
    pub not_me_submit: String,
    pub mail_locked_subject: String,
    pub mail_locked_body: String,
    pub mail_locked_link_validity: String,
    pub mail_locked_link: String,
    pub unlock_title: String,
    pub unlock_lead: String,
    pub unlock_submit: String,
    pub err_challenge_required: String,
    pub err_challenge_failed: String,
    pub nav_menu_label: String,
    pub home_cta_lead: String,
    pub home_cta_signup: String,
    pub home_cta_login: String,
    pub home_cta_account: String,
    pub confirm_title: String,
    pub confirm_cancel: String,
    pub confirm_delete_address_lead: String,
    pub confirm_remove_password_lead: String,
    pub confirm_end_session_lead: String,
    pub confirm_end_others_lead: String,
    pub history_page_newer: String,
    pub history_page_older: String,
    pub history_page_of: String,
    pub verify_resend_lead: String,
    pub verify_resend: String,
    pub verify_resent: String,
    pub verify_other_address: String,
    pub err_code_wrong_here: String,
    pub err_invalid_page: String,
    pub err_locked_known_device: String,
    pub account_reauth_title: String,
    pub account_reauth_needed: String,
    pub account_reauth_fresh: String,
    // Bank search, postcode lookup, removals, the kept bank form.
    pub bank_label: String,
    pub bank_number_label: String,
    pub branch_label: String,
    pub bank_search_title: String,
    pub bank_search_lead: String,
    pub bank_search_label: String,
    pub bank_search_submit: String,
    pub branch_search_label: String,
    pub branch_search_submit: String,
    pub bank_search_results: String,
    pub branch_search_results: String,
    pub bank_search_none: String,
    pub bank_chosen: String,
    pub branch_chosen: String,
    pub bank_search_more: String,
    pub bank_data_note: String,
    pub bank_draft_kept: String,
    pub bank_draft_restored: String,
    pub bank_remove: String,
    pub phone_remove: String,
    pub confirm_remove_phone_lead: String,
    pub confirm_remove_bank_lead: String,
    pub remove_reauth_lead: String,
    // Withdrawal (issue 16, C18).
    pub account_withdraw_title: String,
    pub account_withdraw_link: String,
    pub withdraw_lead: String,
    pub withdraw_deleted: String,
    pub withdraw_kept: String,
    pub withdraw_email_free: String,
    pub withdraw_waits_title: String,
    pub withdraw_waits_lead: String,
    pub withdraw_wait_purchases: String,
    pub withdraw_wait_sales: String,
    pub withdraw_wait_payouts: String,
    pub withdraw_wait_balance: String,
    pub withdraw_waits_after: String,
    pub withdraw_confirm_label: String,
    pub withdraw_submit: String,
    pub withdraw_reauth_lead: String,
    pub err_withdraw_unconfirmed: String,
    pub address_lookup: String,
    pub address_lookup_found: String,
    pub address_lookup_several: String,
    pub address_lookup_unknown: String,
    pub address_lookup_note: String,
    pub err_bank_not_found: String,
    pub err_postcode_not_found: String,
    /// The table of contents of a long legal or help page.
    pub legal_contents: String,
    /// The footer's links to the legal and help pages.
    pub footer_nav_label: String,
    pub footer_terms: String,
    pub footer_privacy: String,
    pub footer_tokushoho: String,
    pub footer_help: String,
    pub footer_contact: String,
    /// The sign-up form's consent box: before, the link to the terms, after
    /// (`{version}` is the version in force).
    pub signup_terms_before: String,
    pub signup_terms_link: String,
    pub signup_terms_after: String,
    pub err_terms_not_accepted: String,
    /// The terms page, for a signed-in member (`{version}`, `{time}`).
    pub terms_status_current: String,
    pub terms_status_outdated: String,
    pub terms_status_none: String,
    pub terms_accept_submit: String,
    /// The contact form.
    pub contact_title: String,
    pub contact_lead: String,
    pub contact_topic: String,
    pub contact_topic_choose: String,
    pub contact_message: String,
    pub contact_message_hint: String,
    pub contact_reply_email: String,
    pub contact_reply_hint_member: String,
    pub contact_reply_hint_visitor: String,
    pub contact_privacy_note: String,
    pub contact_submit: String,
    /// The contact message as support receives it.
    pub mail_contact_subject: String,
    pub mail_contact_body: String,
    pub mail_contact_topic: String,
    pub mail_contact_reply_to: String,
    pub mail_contact_member: String,
    pub mail_contact_not_member: String,
    pub mail_contact_language: String,
    pub mail_contact_lang_ja: String,
    pub mail_contact_lang_en: String,
    pub nav_search: String,
    pub nav_shop: String,
    pub home_browse_title: String,
    pub home_browse_lead: String,
    pub home_search_cta: String,
    pub home_shop_cta: String,
    pub confirm_close_shop_lead: String,
    pub confirm_delete_image_lead: String,
    pub err_image_limit: String,
    pub err_item_limit: String,
    pub err_no_shop: String,
    pub err_shop_exists: String,
    pub image_hint: String,
    pub item_add: String,
    pub item_by: String,
    pub item_create: String,
    pub item_description_label: String,
    pub item_edit: String,
    pub item_edit_title: String,
    pub item_image_delete: String,
    pub item_image_file_label: String,
    pub item_image_upload: String,
    pub item_images_title: String,
    pub item_new_title: String,
    pub item_no_images: String,
    pub item_preview_notice: String,
    pub item_price_hint: String,
    pub item_price_label: String,
    pub item_save: String,
    pub item_sold_out: String,
    pub item_status_change: String,
    pub item_status_label: String,
    pub item_stock_hint: String,
    pub item_stock_label: String,
    pub item_stock_left: String,
    pub item_stock_unlimited: String,
    pub item_title_label: String,
    pub item_view: String,
    pub markdown_hint: String,
    pub page_nav_label: String,
    pub page_next: String,
    pub page_number: String,
    pub page_prev: String,
    pub search_max_label: String,
    pub search_min_label: String,
    pub search_no_results: String,
    pub search_q_label: String,
    pub search_results: String,
    pub search_sort_label: String,
    pub search_sort_newest: String,
    pub search_sort_price_asc: String,
    pub search_sort_price_desc: String,
    pub search_submit: String,
    pub search_title: String,
    pub shop_close: String,
    pub shop_close_lead: String,
    pub shop_closed_notice: String,
    pub shop_description_label: String,
    pub shop_icon_label: String,
    pub shop_items_count: String,
    pub shop_items_title: String,
    pub shop_manage_title: String,
    pub shop_name_label: String,
    pub shop_no_items: String,
    pub shop_open_lead: String,
    pub shop_open_submit: String,
    pub shop_page_empty: String,
    pub shop_reopen: String,
    pub shop_save: String,
    pub shop_settings_title: String,
    pub shop_status_closed: String,
    pub shop_status_open: String,
    pub shop_status_title: String,
    pub shop_view_public: String,
    pub table_actions: String,
    pub table_item: String,
    pub table_price: String,
    pub table_status: String,
    /// What is wrong with one form field, keyed `field.code`
    /// (`postal_code.invalid_format`); see `member_data::FieldError`.
    pub field_errors: BTreeMap<String, String>,
    /// What the page says after an action (the flash), keyed by its code.
    pub flash: BTreeMap<String, String>,
    /// How a member proved who they are, as the history and the login
    /// mail show it, keyed by `LoginMethod::as_str`.
    pub login_methods: BTreeMap<String, String>,
    /// How an attempt ended, keyed by `LoginOutcome::as_str`.
    pub login_outcomes: BTreeMap<String, String>,
    /// What a contact message is about, keyed by `contact::Topic::as_str`.
    pub contact_topics: BTreeMap<String, String>,
    /// Why an uploaded image was refused, keyed by
    /// `shops::images::ImageError::code`.
    pub image_errors: BTreeMap<String, String>,
    /// An item's status as a person reads it, keyed by
    /// `ItemStatus::as_str`.
    pub item_statuses: BTreeMap<String, String>,
    /// What each alert rule watches, keyed by
    /// `monitoring::RuleName::as_str` (a test checks each exists).
    pub alert_rules: BTreeMap<String, String>,
    /// Cart, checkout, payment and order pages (issue 13).
    pub checkout: CheckoutCatalog,
    /// The vulnerability disclosure page and its report form (C5).
    pub vdp: VdpCatalog,
    /// The staff console's pages (issue 14).
    pub staff: StaffCatalog,
    /// Anonymous shipping, the members' side (issue 15, C19).
    pub shipping: ShippingCatalog,
    /// Order letters: `<kind>_subject` and `<kind>_body` for every
    /// `mail::compose::OrderNotice::KINDS` (a test checks each exists).
    pub order_mail: BTreeMap<String, String>,
    /// The long texts of the legal and help pages, from
    /// `locales/legal.<lang>.toml`.
    pub legal: Legal,
}
}

catalog! {
/// The words of the staff console (`[staff]`); roles and actions keyed
/// by `StaffRole::as_str` and `access::Action::as_str`.
pub struct StaffCatalog {
    pub title: String,
    pub nav_home: String,
    pub nav_staff: String,
    pub nav_logout: String,
    pub login_title: String,
    pub login_lead: String,
    pub email: String,
    pub code: String,
    pub code_hint: String,
    pub login_submit: String,
    pub login_failed: String,
    pub throttled: String,
    pub enrol_title: String,
    pub enrol_lead: String,
    pub enrol_uri: String,
    pub enrol_secret: String,
    pub enrol_submit: String,
    pub enrol_invalid: String,
    pub enrol_wrong_code: String,
    pub home_title: String,
    pub home_lead: String,
    pub signed_in_as: String,
    pub may_do: String,
    pub stepup_title: String,
    pub stepup_lead: String,
    pub stepup_submit: String,
    pub staff_title: String,
    pub staff_add_title: String,
    pub staff_role: String,
    /// The role list's first entry: nothing chosen (no default role, so
    /// nobody becomes an administrator by not looking).
    pub staff_role_choose: String,
    pub staff_role_required: String,
    pub staff_cannot_disable_self: String,
    pub staff_add_submit: String,
    pub staff_added: String,
    pub staff_link_once: String,
    pub staff_status: String,
    pub staff_status_active: String,
    pub staff_status_disabled: String,
    pub staff_enrolled: String,
    pub staff_not_enrolled: String,
    pub staff_disable: String,
    pub disable_title: String,
    pub disable_lead: String,
    pub disable_submit: String,
    pub cancel: String,
    pub email_taken: String,
    pub invalid_email: String,
    pub not_found: String,
    pub forbidden_title: String,
    pub forbidden_body: String,
    pub flash_logged_in: String,
    pub flash_logged_out: String,
    pub flash_enrolled: String,
    pub flash_disabled: String,
    pub flash_stepped_up: String,
    pub staff_change_role: String,
    pub role_title: String,
    pub role_lead: String,
    pub role_new: String,
    pub role_next: String,
    pub role_confirm_lead: String,
    pub role_sessions_note: String,
    pub role_submit: String,
    pub role_back: String,
    pub staff_cannot_change_own_role: String,
    pub staff_last_admin: String,
    pub staff_role_disabled: String,
    pub staff_role_same: String,
    pub staff_role_changed_meanwhile: String,
    pub flash_role_changed: String,
    pub nav_members: String,
    pub nav_audit: String,
    pub members_title: String,
    pub members_lead: String,
    pub member_lookup: String,
    pub member_lookup_submit: String,
    pub member_not_found: String,
    pub member_refused_title: String,
    pub member_refused_body: String,
    pub member_withdraw_title: String,
    pub member_withdraw_lead: String,
    pub member_withdraw_confirm: String,
    pub member_withdraw_submit: String,
    pub member_withdraw_unconfirmed: String,
    pub member_withdrawn: String,
    pub member_withdraw_waits: String,
    pub member_withdraw_gone: String,
    pub member_recorded: String,
    pub member_account: String,
    pub member_id: String,
    pub member_email: String,
    pub member_display_name: String,
    pub member_created: String,
    pub member_password: String,
    pub member_password_set: String,
    pub member_password_none: String,
    pub member_phone: String,
    pub member_none: String,
    pub member_addresses: String,
    pub member_default_address: String,
    pub audit_title: String,
    pub audit_lead: String,
    pub audit_person: String,
    pub audit_record: String,
    pub audit_since: String,
    pub audit_until: String,
    pub audit_filter_submit: String,
    pub audit_clear: String,
    pub audit_invalid_filter: String,
    pub audit_none: String,
    pub audit_next: String,
    pub audit_index: String,
    pub audit_at: String,
    pub audit_actor: String,
    pub audit_action: String,
    pub audit_target: String,
    pub audit_origin: String,
    pub audit_reason: String,
    pub audit_details: String,
    pub audit_details_kept: String,
    pub audit_details_purged: String,
    pub audit_times: String,
    pub roles: BTreeMap<String, String>,
    pub actions: BTreeMap<String, String>,
    /// The passkey parts of the login and security pages.
    pub passkeys: StaffPasskeyCatalog,
    /// The incident pages (C28).
    pub incidents: StaffIncidentCatalog,
    /// The shipping centre's pages: shifts, terminals, voids (C24, C25).
    pub centre: StaffCentreCatalog,
    /// The alerts page (C29).
    pub alerts: StaffAlertCatalog,
    /// The self-scan page (C30).
    pub selfscan: StaffSelfScanCatalog,
    /// The vulnerability reports' triage pages (C5).
    pub vdp: StaffVdpCatalog,
    /// The finance pages: payouts and batches (C16).
    pub payouts: StaffPayoutsCatalog,
    /// The shipping label page (C19, C23; ADR 0017).
    pub labels: StaffLabelCatalog,
}
}

catalog! {
/// The words of the shipping centre's pages (`[staff.centre]`). `{…}`
/// marks a value filled in by the page.
pub struct StaffPayoutsCatalog {
    pub nav: String,
    pub title: String,
    pub lead: String,
    pub requested_title: String,
    pub requested_none: String,
    pub col_requested: String,
    pub col_amount: String,
    pub col_fee: String,
    pub col_net: String,
    pub col_account: String,
    pub col_status: String,
    pub col_line: String,
    pub col_completed: String,
    pub build_title: String,
    pub build_date: String,
    pub build_date_hint: String,
    pub build_submit: String,
    pub batches_title: String,
    pub batches_none: String,
    pub col_batch: String,
    pub col_transfer_date: String,
    pub col_items: String,
    pub col_total: String,
    pub col_exported: String,
    pub open_batch: String,
    pub batch_title: String,
    pub export_lead: String,
    pub export_submit: String,
    pub mark_paid: String,
    pub mark_failed: String,
    pub result_lead: String,
    pub result_title: String,
    pub result_file: String,
    pub result_submit: String,
    pub flash_imported: String,
    pub flash_import_again: String,
    pub flash_import_contradicted: String,
    pub err_result_none: String,
    pub err_result: String,
    pub err_result_length: String,
    pub err_result_header: String,
    pub err_result_end: String,
    pub err_result_trailer: String,
    pub err_result_not_data: String,
    pub err_result_amount_digits: String,
    pub err_result_line_digits: String,
    pub err_result_code: String,
    pub err_result_totals: String,
    pub err_result_empty: String,
    pub err_result_not_in_batch: String,
    pub err_result_amount: String,
    pub err_result_twice: String,
    pub flash_built: String,
    pub flash_paid: String,
    pub flash_failed: String,
    pub flash_already: String,
    pub flash_contradicted: String,
    pub err_nothing: String,
    pub err_date: String,
    pub err_state: String,
    pub err_unconvertible: String,
    pub err_not_found: String,
    pub status_requested: String,
    pub status_batched: String,
    pub status_paid: String,
    pub status_failed: String,
}
}

catalog! {
pub struct StaffCentreCatalog {
    pub nav: String,
    pub shift_title: String,
    pub shift_lead: String,
    pub on_shift: String,
    pub off_shift: String,
    pub elsewhere: String,
    pub resume_submit: String,
    pub check_in_title: String,
    pub check_in_field: String,
    pub check_in_submit: String,
    pub no_terminals: String,
    pub check_out_submit: String,
    pub confirm_check_out: String,
    pub links_title: String,
    pub link_void_new: String,
    pub link_voids: String,
    pub link_terminals: String,
    pub link_shifts: String,
    pub terminals_title: String,
    pub terminals_lead: String,
    pub none_terminals: String,
    pub col_label: String,
    pub col_serial: String,
    pub col_status: String,
    pub status_active: String,
    pub status_retired: String,
    pub status_checked_out: String,
    pub register_title: String,
    pub register_label: String,
    pub register_serial: String,
    pub register_submit: String,
    pub retire_submit: String,
    pub confirm_retire: String,
    pub shifts_title: String,
    pub shifts_lead: String,
    pub none_shifts: String,
    pub col_who: String,
    pub col_terminal: String,
    pub col_from: String,
    pub col_to: String,
    pub open_now: String,
    pub end_checked_out: String,
    pub end_staff_disabled: String,
    pub you: String,
    pub times: String,
    pub void_new_title: String,
    pub void_new_lead: String,
    pub void_shipment: String,
    pub void_reason: String,
    pub void_submit: String,
    pub confirm_void: String,
    pub voids_title: String,
    pub voids_lead: String,
    pub none_voids: String,
    pub col_shipment: String,
    pub col_requested: String,
    pub col_reason: String,
    pub approve_submit: String,
    pub reject_submit: String,
    pub own_request: String,
    pub confirm_approve: String,
    pub confirm_reject: String,
    pub confirm_title: String,
    pub confirm_submit: String,
    pub flash_checked_in: String,
    pub flash_resumed: String,
    pub flash_checked_out: String,
    pub flash_shift_needed: String,
    pub flash_registered: String,
    pub flash_retired: String,
    pub flash_void_requested: String,
    pub flash_void_approved: String,
    pub flash_void_already: String,
    pub flash_void_rejected: String,
    pub err_label: String,
    pub err_serial: String,
    pub err_taken: String,
    pub err_terminal_not_found: String,
    pub err_in_use: String,
    pub err_not_available: String,
    pub err_already_on_shift: String,
    pub err_no_shift: String,
    pub err_shipment: String,
    pub err_reason: String,
    pub err_pending: String,
    pub err_void_not_found: String,
    pub err_decided: String,
    pub err_code_not_live: String,
    pub err_own_request: String,
    pub err_not_recorded: String,
    pub end_by_manager: String,
    pub end_shift_submit: String,
    pub confirm_end_shift: String,
    pub flash_shift_ended: String,
    pub err_own_shift: String,
}
}

catalog! {
/// The words of the console's alerts page (`[staff.alerts]`).
pub struct StaffAlertCatalog {
    pub nav: String,
    pub title: String,
    pub lead: String,
    pub on_title: String,
    pub none_on: String,
    pub history_title: String,
    pub none: String,
    pub col_rule: String,
    pub col_subject: String,
    pub col_value: String,
    pub col_fired: String,
    pub col_cleared: String,
    pub still_on: String,
    pub times: String,
}
}

catalog! {
/// The words of the console's self-scan page (`[staff.selfscan]`).
pub struct StaffSelfScanCatalog {
    pub nav: String,
    pub title: String,
    pub lead: String,
    pub latest_title: String,
    pub none: String,
    pub col_when: String,
    pub col_findings: String,
    pub clean: String,
    pub english: String,
    pub show_report: String,
    pub earlier_title: String,
    pub times: String,
}
}

catalog! {
/// The words of the shipping label page (`[staff.labels]`). The label's
/// own text is in the image, never here.
pub struct StaffLabelCatalog {
    pub title: String,
    pub lead: String,
    /// The image's alternative text; `{waybill}` is the waybill number.
    pub alt: String,
    pub recorded: String,
    pub print: String,
    pub print_hint: String,
    /// The counter: accepting parcels, parcel events, refusals.
    pub link_accept: String,
    pub accept_title: String,
    pub accept_lead: String,
    pub accept_field: String,
    pub accept_submit: String,
    pub flash_accepted: String,
    pub event_title: String,
    pub event_lead: String,
    pub event_kind: String,
    pub event_in_transit: String,
    pub event_delivered: String,
    pub event_submit: String,
    pub flash_event: String,
    pub err_malformed: String,
    pub err_altered: String,
    pub err_forged: String,
    pub err_unknown: String,
    pub err_already: String,
    pub err_voided: String,
    pub err_no_sender: String,
    pub err_not_recorded: String,
    pub err_no_label: String,
    pub err_unreadable: String,
    pub err_event_state: String,
    pub err_shipment: String,
    pub no_shift_title: String,
    pub no_shift_lead: String,
    pub no_shift_link: String,
}
}

catalog! {
/// The words of the console's incident pages (`[staff.incidents]`).
/// `{…}` marks a value filled in by the page.
pub struct StaffIncidentCatalog {
    pub nav: String,
    pub list_title: String,
    pub list_lead: String,
    pub none: String,
    pub col_title: String,
    pub col_status: String,
    pub col_opened: String,
    pub status_open: String,
    pub status_closed: String,
    pub open_title: String,
    pub open_field: String,
    pub open_submit: String,
    pub opened_by: String,
    pub closed_on: String,
    pub lessons: String,
    pub timeline: String,
    pub col_when: String,
    pub col_who: String,
    pub col_what: String,
    pub col_detail: String,
    pub times: String,
    pub notify_progress: String,
    pub notify_finished: String,
    pub notify_running: String,
    pub notify_stopped: String,
    pub notify_continue: String,
    pub refresh: String,
    pub acts_title: String,
    pub acts_lead: String,
    pub closed_no_acts: String,
    pub read_only: String,
    pub member_field: String,
    pub member_hint: String,
    pub end_legend: String,
    pub reset_legend: String,
    pub audience_legend: String,
    pub end_title: String,
    pub end_all_members: String,
    pub end_member: String,
    pub end_all_staff: String,
    pub end_submit: String,
    pub lock_title: String,
    pub lock_submit: String,
    pub unlock_submit: String,
    pub reset_title: String,
    pub reset_member: String,
    pub reset_all: String,
    pub reset_submit: String,
    pub rotate_title: String,
    pub rotate_lead: String,
    pub rotate_submit: String,
    pub disable_title: String,
    pub staff_field: String,
    pub disable_submit: String,
    pub notify_title: String,
    pub template_field: String,
    pub template_choose: String,
    pub audience_all: String,
    pub audience_members: String,
    pub members_field: String,
    pub notify_submit: String,
    pub close_title: String,
    pub lessons_field: String,
    pub close_submit: String,
    pub confirm_title: String,
    pub confirm_in: String,
    pub confirm_submit: String,
    pub confirm_open: String,
    pub confirm_end_all_members: String,
    pub confirm_end_member: String,
    pub confirm_end_all_staff: String,
    pub confirm_lock: String,
    pub confirm_unlock: String,
    pub confirm_reset_member: String,
    pub confirm_reset_all: String,
    pub confirm_rotate: String,
    pub confirm_disable: String,
    pub confirm_notify: String,
    pub confirm_notify_resume: String,
    pub confirm_close: String,
    pub back: String,
    pub back_list: String,
    pub flash_opened: String,
    pub flash_sessions_ended: String,
    pub flash_locked: String,
    pub flash_unlocked: String,
    pub flash_password_reset: String,
    pub flash_keys_rotated: String,
    pub flash_staff_disabled: String,
    pub flash_notify_done: String,
    pub flash_notify_running: String,
    pub flash_notify_already: String,
    pub flash_closed: String,
    pub err_not_found: String,
    pub err_closed: String,
    pub err_title: String,
    pub err_member_id: String,
    pub err_member_not_found: String,
    pub err_staff_not_found: String,
    pub err_own_account: String,
    pub err_nothing: String,
    pub err_notify_in_progress: String,
    pub err_no_recipients: String,
    pub err_template: String,
    pub err_lessons: String,
    pub err_rotation: String,
    pub err_not_recorded: String,
}
}

catalog! {
/// The words of staff passkeys (`[staff.passkeys]`): the login page's
/// passkey button and the security page.
pub struct StaffPasskeyCatalog {
    pub nav_security: String,
    pub login_lead: String,
    pub login_button: String,
    pub stepup_button: String,
    pub stepup_or_code: String,
    pub login_or_code: String,
    pub login_failed: String,
    pub unsupported: String,
    pub cancelled: String,
    pub security_title: String,
    pub security_lead: String,
    pub title: String,
    pub none: String,
    pub added_on: String,
    pub last_used: String,
    pub never_used: String,
    pub name: String,
    pub add: String,
    pub add_lead: String,
    pub remove: String,
    pub invalid: String,
    pub duplicate: String,
    pub too_many: String,
    pub unavailable: String,
    pub totp_fallback: String,
    pub flash_added: String,
    pub flash_removed: String,
}
}

catalog! {
/// The words of `/security` (`[vdp]`): the disclosure policy, the
/// report form, and the acknowledgement mail. `{…}` marks a value filled
/// in by the page.
pub struct VdpCatalog {
    pub title: String,
    pub lead: String,
    pub scope_title: String,
    pub scope: Vec<String>,
    pub out_of_scope_title: String,
    pub out_of_scope: Vec<String>,
    pub safe_harbour_title: String,
    pub safe_harbour: Vec<String>,
    pub dont_title: String,
    pub dont: Vec<String>,
    pub response_title: String,
    pub response: Vec<String>,
    pub security_txt: String,
    pub form_title: String,
    pub form_lead: String,
    pub reply_email: String,
    pub reply_hint: String,
    pub message: String,
    pub message_hint: String,
    pub sealed_note: String,
    pub submit: String,
    pub sent_title: String,
    /// `{tracking}`: the report's tracking id.
    pub sent_body: String,
    pub sent_mail: String,
    pub mail_subject: String,
    pub mail_body: String,
    pub mail_next: String,
    pub mail_tracking: String,
    pub mail_link: String,
}
}

catalog! {
/// The words of the console's vulnerability report pages
/// (`[staff.vdp]`).
pub struct StaffVdpCatalog {
    pub nav: String,
    pub title: String,
    pub lead: String,
    pub none: String,
    pub col_received: String,
    pub col_tracking: String,
    pub col_status: String,
    pub col_lang: String,
    pub open: String,
    pub report_title: String,
    pub viewed_note: String,
    pub reporter: String,
    pub text: String,
    pub status_title: String,
    pub status_submit: String,
    pub notes_title: String,
    pub no_notes: String,
    pub note_label: String,
    pub note_hint: String,
    pub note_submit: String,
    pub note_by: String,
    pub back: String,
    pub flash_status: String,
    pub flash_note: String,
    pub note_invalid: String,
    pub unreadable: String,
    /// Keyed by `VdpStatus::as_str`.
    pub statuses: BTreeMap<String, String>,
}
}

impl StaffVdpCatalog {
    /// The word for a triage status.
    pub fn status<'a>(&'a self, code: &'a str) -> &'a str {
        self.statuses.get(code).map_or(code, String::as_str)
    }
}

catalog! {
/// The words of the cart, checkout, payment and order pages (`[checkout]`).
pub struct CheckoutCatalog {
    pub nav_cart: String,
    pub nav_orders: String,
    pub nav_sales: String,
    pub add_title: String,
    pub add_lead: String,
    pub add_submit: String,
    pub add_unavailable: String,
    pub add_own_item: String,
    pub stock_left: String,
    pub stock_unlimited: String,
    pub sold_out: String,
    pub cart_title: String,
    pub cart_empty: String,
    pub cart_lead: String,
    pub cart_shop: String,
    pub cart_item: String,
    pub cart_price: String,
    pub cart_quantity: String,
    pub cart_update: String,
    pub cart_remove: String,
    pub cart_unavailable: String,
    pub cart_not_enough: String,
    pub cart_subtotal: String,
    pub cart_checkout: String,
    pub checkout_title: String,
    pub checkout_lead: String,
    pub checkout_address: String,
    pub checkout_no_address: String,
    pub checkout_add_address: String,
    pub checkout_total: String,
    pub checkout_place: String,
    pub checkout_closed: String,
    pub checkout_back: String,
    pub pay_title: String,
    pub pay_lead: String,
    pub pay_card: String,
    pub pay_submit: String,
    pub pay_working: String,
    pub pay_reserved_until: String,
    pub pay_needs_script: String,
    pub pay_expired: String,
    pub pay_error_network: String,
    pub pay_pending: String,
    pub decline_card_declined: String,
    pub decline_insufficient_funds: String,
    pub decline_expired_card: String,
    pub decline_incorrect_cvc: String,
    pub decline_authentication: String,
    pub decline_processing_error: String,
    pub orders_title: String,
    pub orders_none: String,
    pub sales_title: String,
    pub sales_none: String,
    pub sales_balance: String,
    pub order_title: String,
    pub order_number: String,
    pub order_date: String,
    pub order_status: String,
    pub order_items: String,
    pub order_total: String,
    pub order_refunded: String,
    pub order_card: String,
    pub order_ship_to: String,
    pub order_ship_to_hidden: String,
    pub order_fee: String,
    pub order_seller_receives: String,
    pub order_pay_now: String,
    pub order_ship: String,
    pub order_received: String,
    pub order_complete: String,
    pub order_refund: String,
    pub order_refund_amount: String,
    pub order_refund_submit: String,
    pub order_refund_left: String,
    pub order_view: String,
    pub order_back_orders: String,
    pub order_back_sales: String,
    pub confirm_ship_lead: String,
    pub confirm_refund_lead: String,
    pub confirm_received_lead: String,
    pub status_awaiting_payment: String,
    pub status_paid: String,
    pub status_shipped: String,
    pub status_delivered: String,
    pub status_completed: String,
    pub status_cancelled: String,
    pub status_refunded: String,
    pub mail_order_number: String,
    pub mail_order_item: String,
    pub mail_order_total: String,
    pub mail_order_refund_amount: String,
    pub mail_order_link_buyer: String,
    pub mail_order_link_seller: String,
    pub err_total_too_small: String,
    pub err_payment_in_progress: String,
    pub err_invalid_payment_method: String,
    pub err_order_state: String,
    pub err_refund_in_progress: String,
    pub err_invalid_signature: String,
    pub err_webhooks_not_configured: String,
}
}

catalog! {
/// Anonymous shipping on the members' pages (`[shipping]`, issue 15).
pub struct ShippingCatalog {
    pub title: String,
    pub buyer: String,
    pub seller: String,
    pub someone: String,
    pub dropoff_title: String,
    pub dropoff_lead: String,
    pub dropoff_qr_alt: String,
    pub dropoff_code: String,
    pub sizes_title: String,
    pub size_1: String,
    pub size_2: String,
    pub size_3: String,
    pub no_sender: String,
    pub no_address: String,
    pub sender_label: String,
    pub sender_submit: String,
    pub sender_set: String,
    pub status_label: String,
    pub status_awaiting_dropoff: String,
    pub status_accepted: String,
    pub status_in_transit: String,
    pub status_delivered: String,
    pub timeline_title: String,
    pub timeline_empty: String,
    pub event_accepted: String,
    pub event_in_transit: String,
    pub event_delivered: String,
    pub buyer_lead: String,
    pub settings_title: String,
    pub settings_anonymous: String,
    pub settings_sender: String,
    pub settings_sender_default: String,
    pub settings_no_address: String,
    pub settings_save: String,
}
}

impl ShippingCatalog {
    /// A parcel's status as a person reads it.
    pub fn status(&self, s: anshin_domain::ShipmentStatus) -> &str {
        use anshin_domain::ShipmentStatus as S;
        match s {
            S::AwaitingDropoff => &self.status_awaiting_dropoff,
            S::Accepted => &self.status_accepted,
            S::InTransit => &self.status_in_transit,
            S::Delivered => &self.status_delivered,
        }
    }

    /// A timeline line as a person reads it.
    pub fn event(&self, k: anshin_domain::ParcelEventKind) -> &str {
        use anshin_domain::ParcelEventKind as K;
        match k {
            K::Accepted => &self.event_accepted,
            K::InTransit => &self.event_in_transit,
            K::Delivered => &self.event_delivered,
        }
    }
}

/// The legal and help pages of one language (`locales/legal.*.toml`):
/// documents of headed sections. Texts may hold `{placeholders}` that the
/// page fills from the configuration (the operator's details, the
/// session and code lifetimes), so that what they state is what the site
/// does.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Legal {
    pub terms: Document,
    pub privacy: Document,
    pub help: Document,
    pub tokushoho: Tokushoho,
}

/// A page of headed sections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub title: String,
    /// Paragraphs before the first section.
    #[serde(default)]
    pub lead: Vec<String>,
    pub sections: Vec<DocSection>,
}

/// One headed section: paragraphs, then a list, then more paragraphs,
/// then links to pages of the site.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocSection {
    /// The anchor (`/help#codes`): the same in both languages.
    pub id: String,
    pub heading: String,
    #[serde(default)]
    pub paragraphs: Vec<String>,
    #[serde(default)]
    pub items: Vec<String>,
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default)]
    pub links: Vec<DocLink>,
}

/// A link to a page of this site (`href` is a path).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocLink {
    pub label: String,
    pub href: String,
}

/// 特定商取引法に基づく表記: a table of labelled facts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokushoho {
    pub title: String,
    #[serde(default)]
    pub lead: Vec<String>,
    pub rows: Vec<TokushohoRow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokushohoRow {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub note: Option<String>,
    /// Shown only when this optional operator setting is set
    /// (`business_hours`).
    #[serde(default)]
    pub when: Option<String>,
}

impl Catalog {
    /// Reads one language's page catalog (`file` names it in errors).
    pub fn parse(file: &'static str, text: &str) -> Result<Self, CatalogError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|source| CatalogError::Syntax { file, source })?;
        Self::from_table(table, At { file, table: "" })
    }

    /// An order letter's subject or body (`part`), or the generic error
    /// text if the catalog lacked it (a test checks none is missing).
    pub fn order_mail_text(&self, kind: &str, part: &str) -> &String {
        self.order_mail
            .get(&format!("{kind}_{part}"))
            .unwrap_or(&self.error_400_body)
    }

    /// The person's word for an order's status.
    pub fn order_status(&self, s: anshin_domain::OrderStatus) -> &str {
        use anshin_domain::OrderStatus as S;
        let c = &self.checkout;
        match s {
            S::AwaitingPayment => &c.status_awaiting_payment,
            S::Paid => &c.status_paid,
            S::Shipped => &c.status_shipped,
            S::Delivered => &c.status_delivered,
            S::Completed => &c.status_completed,
            S::Cancelled => &c.status_cancelled,
            S::Refunded => &c.status_refunded,
        }
    }

    /// Our own sentence for a processor's decline code (never the
    /// processor's English message).
    pub fn decline_message(&self, code: &str) -> &str {
        let c = &self.checkout;
        match code {
            "insufficient_funds" | "card_velocity_exceeded" => &c.decline_insufficient_funds,
            "expired_card" => &c.decline_expired_card,
            "incorrect_cvc" | "invalid_cvc" => &c.decline_incorrect_cvc,
            "payment_intent_authentication_failure" | "authentication_required" => {
                &c.decline_authentication
            }
            "processing_error" => &c.decline_processing_error,
            _ => &c.decline_card_declined,
        }
    }

    /// The person's word for a login method (never the stored text).
    pub fn login_method(&self, m: anshin_domain::LoginMethod) -> &str {
        self.login_methods
            .get(m.as_str())
            .map_or(m.as_str(), String::as_str)
    }

    /// The person's word for an attempt's outcome.
    pub fn login_outcome(&self, o: anshin_domain::LoginOutcome) -> &str {
        self.login_outcomes
            .get(o.as_str())
            .map_or(o.as_str(), String::as_str)
    }

    /// The person's word for a contact topic.
    pub fn contact_topic(&self, topic: anshin_domain::ContactTopic) -> &str {
        self.contact_topics
            .get(topic.as_str())
            .map_or(topic.as_str(), String::as_str)
    }

    /// What an alert rule watches, in this catalog's language.
    pub fn alert_rule<'a>(&'a self, rule: &'a str) -> &'a str {
        self.alert_rules.get(rule).map_or(rule, String::as_str)
    }

    /// The name of a language, in this catalog's language.
    pub fn language_name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.mail_contact_lang_ja,
            Lang::En => &self.mail_contact_lang_en,
        }
    }

    /// The message for a field error, or a generic one if the catalog
    /// lacks it (a test checks that every error the parsers make has one).
    pub fn field_error(&self, field: &str, code: &str) -> &str {
        self.field_errors
            .get(&format!("{field}.{code}"))
            .map_or(self.error_400_body.as_str(), String::as_str)
    }
}

fn legal(file: &'static str, text: &str) -> Result<Legal, CatalogError> {
    toml::from_str(text).map_err(|source| CatalogError::Syntax { file, source })
}

/// Both catalogs, parsed once at start.
#[derive(Debug)]
pub struct Catalogs {
    ja: Catalog,
    en: Catalog,
}

impl Catalogs {
    pub fn load() -> Result<Self, CatalogError> {
        let mut ja = Catalog::parse("locales/ja.toml", include_str!("../locales/ja.toml"))?;
        ja.legal = legal(
            "locales/legal.ja.toml",
            include_str!("../locales/legal.ja.toml"),
        )?;
        let mut en = Catalog::parse("locales/en.toml", include_str!("../locales/en.toml"))?;
        en.legal = legal(
            "locales/legal.en.toml",
            include_str!("../locales/legal.en.toml"),
        )?;
        Ok(Self { ja, en })
    }

    pub fn get(&self, lang: Lang) -> &Catalog {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_parse_with_every_key() {
        let c = Catalogs::load().unwrap();
        assert_eq!(c.get(Lang::Ja).lang_name, "日本語");
        assert_eq!(c.get(Lang::En).lang_name, "English");
    }

    #[test]
    fn a_missing_unknown_or_mistyped_key_is_an_error_that_names_it() {
        const JA: &str = include_str!("../locales/ja.toml");
        let f = "locales/ja.toml";
        let err = |text: &str| Catalog::parse(f, text).unwrap_err().to_string();
        let without: String = JA
            .lines()
            .filter(|l| !l.starts_with("lang_name "))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(err(&without), "locales/ja.toml: missing key `lang_name`");
        assert_eq!(
            err(&format!("bogus_key = \"x\"\n{JA}")),
            "locales/ja.toml: unknown key `bogus_key`"
        );
        assert_eq!(
            err(&JA.replacen("[staff]\n", "[staff]\nbogus = \"x\"\n", 1)),
            "locales/ja.toml: unknown key `staff.bogus`"
        );
        assert_eq!(
            err(&JA.replacen("lang_name = \"日本語\"", "lang_name = 1", 1)),
            "locales/ja.toml: `lang_name` must be text"
        );
        assert!(err("a = ").starts_with("locales/ja.toml: "));
    }

    #[test]
    fn every_login_method_and_outcome_has_a_word_in_both_languages() {
        use anshin_domain::{LoginMethod, LoginOutcome};
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            let t = c.get(lang);
            for m in LoginMethod::ALL {
                assert!(t.login_methods.contains_key(m.as_str()), "{lang:?} {m:?}");
            }
            for o in LoginOutcome::ALL {
                assert!(t.login_outcomes.contains_key(o.as_str()), "{lang:?} {o:?}");
            }
        }
        assert_eq!(
            c.get(Lang::Ja).login_method(LoginMethod::Code),
            "メールのコード"
        );
    }

    #[test]
    fn both_catalogs_have_the_same_tables() {
        let c = Catalogs::load().unwrap();
        let (ja, en) = (c.get(Lang::Ja), c.get(Lang::En));
        let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&ja.flash), keys(&en.flash));
        assert_eq!(keys(&ja.field_errors), keys(&en.field_errors));
        assert_eq!(keys(&ja.login_methods), keys(&en.login_methods));
        assert_eq!(keys(&ja.login_outcomes), keys(&en.login_outcomes));
        assert_eq!(keys(&ja.contact_topics), keys(&en.contact_topics));
        assert_eq!(keys(&ja.image_errors), keys(&en.image_errors));
        assert_eq!(keys(&ja.item_statuses), keys(&en.item_statuses));
        assert_eq!(keys(&ja.order_mail), keys(&en.order_mail));
        assert_eq!(keys(&ja.staff.roles), keys(&en.staff.roles));
        assert_eq!(keys(&ja.staff.actions), keys(&en.staff.actions));
        assert_eq!(keys(&ja.alert_rules), keys(&en.alert_rules));
    }

    #[test]
    fn c29_every_alert_rule_has_words_in_both_languages() {
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            for r in crate::monitoring::RuleName::ALL {
                assert!(
                    c.get(lang).alert_rules.contains_key(r.as_str()),
                    "{lang:?} {r:?}"
                );
            }
        }
    }

    #[test]
    fn c27_every_staff_role_and_action_has_a_word_in_both_languages() {
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            let t = &c.get(lang).staff;
            for r in anshin_domain::StaffRole::ALL {
                assert!(t.roles.contains_key(r.as_str()), "{lang:?} {r:?}");
            }
            for a in crate::access::Action::ALL {
                assert!(t.actions.contains_key(a.as_str()), "{lang:?} {a:?}");
            }
        }
    }

    #[test]
    fn both_legal_catalogs_have_the_same_sections_and_rows() {
        let c = Catalogs::load().unwrap();
        let (ja, en) = (&c.get(Lang::Ja).legal, &c.get(Lang::En).legal);
        for (name, a, b) in [
            ("terms", &ja.terms, &en.terms),
            ("privacy", &ja.privacy, &en.privacy),
            ("help", &ja.help, &en.help),
        ] {
            let ids = |d: &Document| d.sections.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
            assert!(!a.sections.is_empty(), "{name}");
            assert_eq!(
                ids(a),
                ids(b),
                "{name}: the same sections in both languages"
            );
            for (x, y) in a.sections.iter().zip(&b.sections) {
                let hrefs =
                    |s: &DocSection| s.links.iter().map(|l| l.href.clone()).collect::<Vec<_>>();
                assert_eq!(hrefs(x), hrefs(y), "{name}#{}: the same links", x.id);
                assert!(
                    x.links
                        .iter()
                        .all(|l| l.href.starts_with('/') && !l.href.starts_with("//")),
                    "{name}#{}: links stay on the site",
                    x.id
                );
            }
        }
        let whens = |t: &Tokushoho| t.rows.iter().map(|r| r.when.clone()).collect::<Vec<_>>();
        assert_eq!(ja.tokushoho.rows.len(), en.tokushoho.rows.len());
        assert_eq!(whens(&ja.tokushoho), whens(&en.tokushoho));
    }

    #[test]
    fn every_order_letter_has_a_subject_and_a_body_in_both_languages() {
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            let t = c.get(lang);
            for (_, _, kind) in crate::mail::compose::OrderNotice::KINDS {
                for part in ["subject", "body"] {
                    assert!(
                        t.order_mail.contains_key(&format!("{kind}_{part}")),
                        "{lang:?} {kind} {part}"
                    );
                }
            }
            assert_eq!(
                t.order_mail.len(),
                2 * crate::mail::compose::OrderNotice::KINDS.len()
            );
            for s in anshin_domain::OrderStatus::ALL {
                assert!(!t.order_status(s).is_empty());
            }
        }
    }
}
