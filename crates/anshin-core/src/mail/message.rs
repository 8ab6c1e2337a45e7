//! One outgoing mail as the outbox stores it, and its RFC 5322 form.
//!
//! Composition is deterministic in everything but the MIME boundary: the
//! `Message-ID` comes from the outbox row and the `Date` from the app's
//! clock, so a retried delivery is recognisably the same mail. This module
//! never reads the clock and never prints a recipient, subject or body:
//! they hold one-time codes and personal data.

use std::fmt;
use std::time::{Duration, SystemTime};

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

/// Longest message id accepted; a UUID's simple form is 32 characters.
const MAX_MESSAGE_ID_LEN: usize = 128;

/// A mail ready to send: what the outbox row holds.
#[derive(Clone)]
pub struct OutgoingMail {
    /// Stable id assigned by the outbox (a UUIDv7 simple string, say).
    /// Becomes `Message-ID: <{message_id}@{domain of from}>` and the file
    /// name of the file transport, so only `[A-Za-z0-9._-]` is accepted.
    pub message_id: String,
    /// The platform's sender (address and display name).
    pub from: Mailbox,
    /// The recipient's address. Personal data: never printed.
    pub to: String,
    /// May hold a one-time code: never printed.
    pub subject: String,
    /// Plain-text body. Never printed.
    pub text: String,
    /// HTML body (already escaped by its template). Never printed.
    pub html: String,
    /// `Date` header, UTC microseconds from the app's clock.
    pub date_micros: i64,
}

/// Why a mail could not be composed or a transport could not be set up.
/// Messages name the field, never its value (values are personal data).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid {field} address: {reason}")]
    InvalidAddress { field: &'static str, reason: String },
    #[error(
        "invalid message id: must be 1 to 128 characters of A-Z a-z 0-9 . _ - and not start with a dot"
    )]
    InvalidMessageId,
    #[error("invalid subject: must not contain line breaks or other control characters")]
    InvalidSubject,
    #[error("invalid date: microseconds before 1970 or out of range")]
    InvalidDate,
    #[error("could not compose the message: {0}")]
    Compose(String),
    #[error("mail configuration: {0}")]
    Config(String),
    #[error("mail outbox directory {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl OutgoingMail {
    /// The recipient as a parsed address (lettre's RFC 5321 parser).
    pub(crate) fn recipient(&self) -> Result<lettre::Address, MailError> {
        self.to
            .parse::<lettre::Address>()
            .map_err(|e| MailError::InvalidAddress {
                field: "recipient",
                reason: e.to_string(),
            })
    }

    /// The composed message, for the SMTP transport (which also needs the
    /// envelope lettre derives from it).
    pub(crate) fn compose(&self) -> Result<Message, MailError> {
        check_message_id(&self.message_id)?;
        if self.subject.chars().any(char::is_control) {
            // lettre would encode them, but a line break in a subject is
            // never intended and is the classic header-injection shape.
            return Err(MailError::InvalidSubject);
        }
        let to = Mailbox::new(None, self.recipient()?);
        let date = u64::try_from(self.date_micros)
            .ok()
            .and_then(|us| SystemTime::UNIX_EPOCH.checked_add(Duration::from_micros(us)))
            .ok_or(MailError::InvalidDate)?;
        let domain = self.from.email.domain();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(self.subject.clone())
            .date(date)
            // RFC 5322 §3.6.4: id-left "@" id-right in angle brackets; the
            // sender's domain makes it globally unique with the outbox id.
            .message_id(Some(format!("<{}@{}>", self.message_id, domain)))
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))
            .map_err(|e| MailError::Compose(e.to_string()))
    }

    /// The mail as RFC 5322 bytes: `multipart/alternative` with a UTF-8
    /// `text/plain` and `text/html` part; non-ASCII headers (a Japanese
    /// subject) are RFC 2047 encoded by lettre.
    pub fn to_rfc5322(&self) -> Result<Vec<u8>, MailError> {
        Ok(self.compose()?.formatted())
    }
}

/// The id doubles as a file name, so it must not be able to name a path.
pub(crate) fn check_message_id(id: &str) -> Result<(), MailError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_MESSAGE_ID_LEN
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(MailError::InvalidMessageId)
    }
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Recipient, subject and bodies hold personal data and one-time
        // codes; only their sizes are shown, which help debugging.
        f.debug_struct("OutgoingMail")
            .field("message_id", &self.message_id)
            .field("from", &self.from.email)
            .field("to", &"[redacted]")
            .field(
                "subject",
                &format_args!("[redacted, {} bytes]", self.subject.len()),
            )
            .field(
                "text",
                &format_args!("[redacted, {} bytes]", self.text.len()),
            )
            .field(
                "html",
                &format_args!("[redacted, {} bytes]", self.html.len()),
            )
            .field("date_micros", &self.date_micros)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    /// An instant in November 2026 with a sub-second part.
    const DATE_MICROS: i64 = 1_795_000_000_000_000 + 789_000;

    fn mail() -> OutgoingMail {
        OutgoingMail {
            message_id: "0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4".into(),
            from: Mailbox::new(
                Some("安心 マーケット".into()),
                "no-reply@shop.example.jp".parse().unwrap(),
            ),
            to: "buyer@example.com".into(),
            subject: "ログインコード: 493817".into(),
            text: "コードは 493817 です。\n10分間有効です。".into(),
            html: "<p>コードは <b>493817</b> です。</p>".into(),
            date_micros: DATE_MICROS,
        }
    }

    #[test]
    fn rfc5322_output_parses_back_with_both_parts_id_date_and_japanese_subject() {
        let bytes = mail().to_rfc5322().unwrap();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(parsed.subject(), Some("ログインコード: 493817"));
        assert_eq!(
            parsed.message_id(),
            Some("0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4@shop.example.jp")
        );
        let date = parsed.date().unwrap();
        // The Date header has second precision.
        assert_eq!(date.to_timestamp(), DATE_MICROS / 1_000_000);
        // RFC 5322 lines end in CRLF; lettre converts the bare LF.
        assert_eq!(
            parsed.body_text(0).unwrap().trim_end(),
            "コードは 493817 です。\r\n10分間有効です。"
        );
        assert_eq!(
            parsed.body_html(0).unwrap().trim_end(),
            "<p>コードは <b>493817</b> です。</p>"
        );
        assert!(parsed.is_content_type("multipart", "alternative"));
        let to = parsed.to().unwrap().first().unwrap();
        assert_eq!(to.address(), Some("buyer@example.com"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.address(), Some("no-reply@shop.example.jp"));
        assert_eq!(from.name(), Some("安心 マーケット"));
    }

    #[test]
    fn headers_are_ascii_so_the_japanese_subject_is_encoded() {
        let bytes = mail().to_rfc5322().unwrap();
        let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = &bytes[..head_end];
        assert!(head.is_ascii(), "{}", String::from_utf8_lossy(head));
        let head = String::from_utf8_lossy(head).to_lowercase();
        assert!(head.contains("subject: =?utf-8?"), "{head}");
        let whole = String::from_utf8_lossy(&bytes).to_lowercase();
        assert_eq!(whole.matches("charset=utf-8").count(), 2, "{whole}");
    }

    #[test]
    fn invalid_recipient_is_a_clear_error_not_a_panic() {
        let mut m = mail();
        m.to = "not an address".into();
        let err = m.to_rfc5322().unwrap_err();
        assert!(matches!(
            err,
            MailError::InvalidAddress {
                field: "recipient",
                ..
            }
        ));
        assert!(err.to_string().contains("recipient"), "{err}");
        assert!(!err.to_string().contains("not an address"), "{err}");
    }

    #[test]
    fn message_ids_that_could_name_a_path_are_refused() {
        for id in ["", "../x", "a/b", ".hidden", "a b", "<x>", &"a".repeat(129)] {
            let mut m = mail();
            m.message_id = id.into();
            assert!(
                matches!(m.to_rfc5322(), Err(MailError::InvalidMessageId)),
                "{id:?}"
            );
        }
    }

    #[test]
    fn subject_with_line_break_is_refused() {
        let mut m = mail();
        m.subject = "hi\r\nBcc: victim@example.com".into();
        assert!(matches!(m.to_rfc5322(), Err(MailError::InvalidSubject)));
    }

    #[test]
    fn negative_date_is_refused() {
        let mut m = mail();
        m.date_micros = -1;
        assert!(matches!(m.to_rfc5322(), Err(MailError::InvalidDate)));
    }

    #[test]
    fn debug_redacts_recipient_subject_and_bodies() {
        let shown = format!("{:?}", mail());
        for secret in ["buyer@example.com", "493817", "ログイン", "コード"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(
            shown.contains("0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4"),
            "{shown}"
        );
        assert!(shown.contains("[redacted"), "{shown}");
    }
}
