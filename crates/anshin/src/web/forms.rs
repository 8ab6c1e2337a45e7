//! What every HTML form page does when a submission is wrong: show each
//! field's error next to the field (and a summary on top), in the
//! visitor's language, with what the person typed still in the form.
//!
//! The messages come from [`FieldError`], which never contains the input,
//! so nothing here can echo personal data into a log. Values typed by the
//! member are written back only into the HTML of their own `no-store`
//! response, never into a URL.

use axum::response::Response;
use http::{HeaderValue, header};

use crate::i18n::Lang;
use crate::member_data::FieldError;

/// The field errors of one submission, as the page shows them.
#[derive(Debug, Default)]
pub struct FieldMessages(Vec<(&'static str, &'static str)>);

impl FieldMessages {
    pub fn new(lang: Lang, errors: &[FieldError]) -> Self {
        Self(
            errors
                .iter()
                .map(|e| {
                    let text = match lang {
                        Lang::Ja => e.message_ja,
                        Lang::En => e.message_en,
                    };
                    (e.field, text)
                })
                .collect(),
        )
    }

    /// The message for `field`, if it is wrong (the parsers report at most
    /// one error per field).
    pub fn get(&self, field: &str) -> Option<&'static str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| *m)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every message, in form order: the summary above the form.
    pub fn messages(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(_, m)| *m)
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
    use super::*;

    #[test]
    fn messages_follow_the_language_and_the_field() {
        let errors = [
            FieldError::new("postal_code", "required", "Enter it.", "入力してください。"),
            FieldError::new("city", "too_long", "Too long.", "長すぎます。"),
        ];
        let ja = FieldMessages::new(Lang::Ja, &errors);
        assert_eq!(ja.get("postal_code"), Some("入力してください。"));
        assert_eq!(ja.get("line1"), None);
        let en = FieldMessages::new(Lang::En, &errors);
        assert_eq!(
            en.messages().collect::<Vec<_>>(),
            ["Enter it.", "Too long."]
        );
        assert!(FieldMessages::default().is_empty());
    }
}
