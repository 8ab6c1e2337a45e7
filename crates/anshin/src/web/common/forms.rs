//! What every HTML form page does when a submission is wrong: show each
//! field's error next to the field (and a summary on top), in the
//! visitor's language, with what the person typed still in the form.
//!
//! The messages come from [`FieldError`], which never contains the input,
//! so nothing here can echo personal data into a log. Values typed by the
//! member are written back only into the HTML of their own `no-store`
//! response, never into a URL.

use anshin_core::i18n::Catalog;
use anshin_core::member_data::FieldError;
use axum::response::Response;
use http::{HeaderValue, header};

/// The field errors of one submission, as the page shows them, in the
/// visitor's language (from the catalog's `[field_errors]`).
#[derive(Debug, Default)]
pub struct FieldMessages(Vec<(&'static str, String)>);

impl FieldMessages {
    pub fn new(catalog: &Catalog, errors: &[FieldError]) -> Self {
        Self(
            errors
                .iter()
                .map(|e| (e.field, e.message(catalog).to_owned()))
                .collect(),
        )
    }

    /// The message for `field`, if it is wrong (the parsers report at most
    /// one error per field).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every message, in form order: the summary above the form.
    pub fn messages(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(|(_, m)| m.as_str())
    }
}

/// Marks a page that shows personal data as not to be stored by the
/// browser or any cache (RFC 9111 §5.2.2.5).
pub fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use anshin_core::i18n::{Catalogs, Lang};

    use super::*;

    #[test]
    fn c13_messages_follow_the_language_and_the_field() {
        let c = Catalogs::load().unwrap();
        let postal = anshin_core::member_data::PostalCode::parse("12").unwrap_err();
        let city = anshin_core::member_data::City::parse(&"a".repeat(101)).unwrap_err();
        let errors = [postal, city];
        let ja = FieldMessages::new(c.get(Lang::Ja), &errors);
        assert_eq!(
            ja.get("postal_code"),
            Some("郵便番号は7桁で入力してください（例: 123-4567）。")
        );
        assert_eq!(ja.get("line1"), None);
        let en = FieldMessages::new(c.get(Lang::En), &errors);
        assert_eq!(
            en.messages().collect::<Vec<_>>(),
            [
                "Enter a 7-digit postal code, for example 123-4567.",
                "Enter at most 100 characters."
            ]
        );
        assert!(FieldMessages::default().is_empty());
    }
}
