//! Messages to support from the contact form (`/contact`): a topic from a
//! closed list, the text, and an address to answer to. A message needs a
//! solved bot challenge (C7), is limited per client address, network and
//! site-wide (`[contact]`), and becomes one mail to the operator's support
//! address, queued in the outbox like every mail: sealed there
//! (AES-256-GCM) until it is delivered, then wiped. Nothing else of it is
//! stored, and no mail goes to the address typed in the form (the form
//! cannot be used to send mail to someone else).
//!
//! The text and the reply address are personal: they are never logged,
//! their `Debug` is redacted, and a [`FieldError`] names the field and the
//! rule, never the input.
//!
//! What an attacker tries, and where it fails:
//! - flood the support inbox from one place: the address and network
//!   windows; from many places: the site-wide window, and each message
//!   costs a solved proof of work;
//! - exhaust the windows for others without solving challenges: a message
//!   is counted only after its challenge passed;
//! - inject mail headers: the subject is the catalog's words and a topic
//!   from a closed list; the reply address is checked and goes into the
//!   body only;
//! - inject markup into the support mail: every text of the HTML body is
//!   escaped (`mail::compose::escape`).

use std::collections::BTreeMap;

use anshin_domain::{Duration, EmailAddress, Lang, MemberId};
use anshin_store::Changes;
use serde::{Deserialize, Serialize};

use crate::Services;
use crate::accounts::Client;
use crate::accounts::limits::client_keys;
use crate::challenge::ChallengeError;
use crate::mail::compose::Letter;
use crate::member_data::FieldError;
use crate::settings::{Invalid, Section, invalid, within};

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// `[contact]`: how many messages the contact form takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactSettings {
    /// The window of the counts below.
    pub window_secs: u64,
    /// Messages per client address (IPv4 /32, IPv6 /128) per window.
    pub max_per_address: i64,
    /// Messages per IPv4 /24 or IPv6 /64 per window.
    pub max_per_network: i64,
    /// Messages site-wide per window: what the support inbox takes.
    pub max_global: i64,
}

impl Default for ContactSettings {
    fn default() -> Self {
        Self {
            window_secs: 3600,
            max_per_address: 5,
            max_per_network: 20,
            max_global: 200,
        }
    }
}

impl Section for ContactSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "contact.window_secs",
            self.window_secs,
            60,
            7 * 86_400,
            " seconds",
        )?;
        if self.max_per_address < 1 || self.max_per_network < 1 || self.max_global < 1 {
            return invalid("contact.max_per_address", "limits must be at least 1");
        }
        if self.max_per_address > self.max_per_network || self.max_per_network > self.max_global {
            return invalid(
                "contact.max_per_network",
                "must be between contact.max_per_address and contact.max_global",
            );
        }
        Ok(())
    }
}

/// What a message is about: the form's choice, the mail's subject.
pub use anshin_domain::ContactTopic as Topic;

/// The text of a message: 1 to [`MAX_MESSAGE_CHARS`] characters after
/// trimming, line breaks (normalised to `\n`) and tabs allowed, no other
/// control or invisible formatting characters. Personal: `Debug` redacts.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl std::fmt::Debug for MessageText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageText([redacted])")
    }
}

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = raw.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err(FieldError::new("message", "required"));
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(FieldError::new("message", "too_long"));
        }
        let bad = |c: char| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        };
        if text.chars().any(bad) {
            return Err(FieldError::new("message", "invalid_character"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The form as typed.
#[derive(Default)]
pub struct RawContact {
    pub topic: String,
    pub message: String,
    pub reply_email: String,
}

impl std::fmt::Debug for RawContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawContact")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// A message as parsed: every field right.
#[derive(Debug, Clone)]
pub struct Contact {
    pub topic: Topic,
    pub message: MessageText,
    /// Where support answers. Personal (its `Debug` redacts).
    pub reply_to: EmailAddress,
}

impl Contact {
    /// Every field's error at once, in form order.
    pub fn parse(raw: &RawContact) -> Result<Self, Vec<FieldError>> {
        let topic = match raw.topic.trim() {
            "" => Err(FieldError::new("topic", "required")),
            t => Topic::parse(t).map_err(|_| FieldError::new("topic", "unknown")),
        };
        let message = MessageText::parse(&raw.message);
        let reply_to = match raw.reply_email.trim() {
            "" => Err(FieldError::new("reply_email", "required")),
            e => EmailAddress::parse(e).ok_or(FieldError::new("reply_email", "invalid_format")),
        };
        match (topic, message, reply_to) {
            (Ok(topic), Ok(message), Ok(reply_to)) => Ok(Self {
                topic,
                message,
                reply_to,
            }),
            (topic, message, reply_to) => Err([topic.err(), message.err(), reply_to.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }
}

/// Who sends a message, as the support mail states it.
#[derive(Debug, Clone, Copy)]
pub struct Sender {
    /// The signed-in member, if any (support finds the account by it).
    pub member: Option<MemberId>,
    /// The language of the page the message was written on.
    pub lang: Lang,
}

/// Where the support mail goes, and in which language it is written.
#[derive(Debug, Clone)]
pub struct Support {
    pub address: EmailAddress,
    pub lang: Lang,
}

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("bot challenge: {0}")]
    Challenge(#[from] ChallengeError),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("unexpected: {0}")]
    Unexpected(#[from] anyhow::Error),
}

impl From<anshin_store::StoreError> for ContactError {
    fn from(e: anshin_store::StoreError) -> Self {
        ContactError::Unexpected(e.into())
    }
}

impl From<crate::mail::compose::SealError> for ContactError {
    fn from(e: crate::mail::compose::SealError) -> Self {
        ContactError::Unexpected(e.into())
    }
}

/// Sends a message to support: checks the bot challenge (C7), counts it
/// against the client's address, network and the site (refusing it over
/// a limit), then queues the mail to `support`.
pub async fn send(
    svc: &Services,
    contact: &Contact,
    sender: Sender,
    support: &Support,
    challenge: Option<&str>,
    client: &Client,
) -> Result<(), ContactError> {
    let level = svc.challenges.level().saturating_sub(1);
    crate::challenge::check(svc, challenge, client.ip, level).await?;
    count(svc, client).await?;
    let letter = Letter::ContactMessage {
        topic: contact.topic,
        message: contact.message.as_str(),
        reply_to: contact.reply_to.as_str(),
        member: sender.member,
        sender_lang: sender.lang,
    };
    let mail = crate::mail::letter(svc, support.lang, &support.address, &letter)?;
    svc.store.commit(&Changes::new().mail(mail)).await?;
    // The topic and whether a member wrote: never the text or an address.
    tracing::info!(
        topic = contact.topic.as_str(),
        member = sender.member.is_some(),
        "contact message queued for support"
    );
    Ok(())
}

/// Counts one message against the client's address, network and the
/// site, then refuses it if any of them is over its limit. Counted first
/// and read after, so parallel messages cannot all slip under a limit.
async fn count(svc: &Services, client: &Client) -> Result<(), ContactError> {
    let cfg = &svc.settings.contact;
    let window = Duration::from_secs(cfg.window_secs);
    let now = svc.now();
    let (ip, net) = client_keys(client.ip);
    let keys = [
        format!("contact:{ip}"),
        format!("contact:{net}"),
        "contact:global".to_owned(),
    ];
    let t = svc.store.throttle();
    t.note_failure(&keys, now, window).await?;
    let limits: BTreeMap<&str, i64> = [
        (keys[0].as_str(), cfg.max_per_address),
        (keys[1].as_str(), cfg.max_per_network),
        (keys[2].as_str(), cfg.max_global),
    ]
    .into_iter()
    .collect();
    for (key, max) in limits {
        if t.failures_in_window(key, now, window).await? > max {
            tracing::info!(
                scope = key.split(':').nth(1).unwrap_or_default(),
                "contact message over the limit"
            );
            return Err(ContactError::RateLimited {
                retry_after_secs: cfg.window_secs,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalogs;

    fn raw(topic: &str, message: &str, reply: &str) -> RawContact {
        RawContact {
            topic: topic.into(),
            message: message.into(),
            reply_email: reply.into(),
        }
    }

    #[test]
    fn a_message_parses_with_its_line_breaks_and_every_wrong_field_is_named() {
        let c = Contact::parse(&raw(
            "shipping",
            "  荷物が届きません。\r\n注文番号は 123 です。\t ",
            " Hanako@Example.JP ",
        ))
        .unwrap();
        assert_eq!(c.topic, Topic::Shipping);
        assert_eq!(
            c.message.as_str(),
            "荷物が届きません。\n注文番号は 123 です。"
        );
        assert_eq!(c.reply_to.as_str(), "hanako@example.jp");

        let errors = Contact::parse(&raw("", " \n ", "")).unwrap_err();
        let codes: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            codes,
            [
                "topic: required",
                "message: required",
                "reply_email: required"
            ]
        );
        let errors = Contact::parse(&raw(
            "refund-now",
            &"あ".repeat(MAX_MESSAGE_CHARS + 1),
            "not-an-address",
        ))
        .unwrap_err();
        let codes: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            codes,
            [
                "topic: unknown",
                "message: too_long",
                "reply_email: invalid_format"
            ]
        );
        assert!(MessageText::parse(&"あ".repeat(MAX_MESSAGE_CHARS)).is_ok());
        for bad in ["a\u{0}b", "a\u{1b}[31mb", "a\u{202e}b", "a\u{200b}b"] {
            assert_eq!(
                MessageText::parse(bad).unwrap_err().to_string(),
                "message: invalid_character"
            );
        }
    }

    #[test]
    fn the_text_and_the_address_stay_out_of_debug_output() {
        let c = Contact::parse(&raw("other", "secret words", "taro@example.jp")).unwrap();
        let shown = format!(
            "{c:?} {:?}",
            raw("other", "secret words", "taro@example.jp")
        );
        assert!(
            !shown.contains("secret") && !shown.contains("taro"),
            "{shown}"
        );
    }

    #[test]
    fn every_topic_and_contact_field_error_has_words_in_both_languages() {
        let c = Catalogs::load().unwrap();
        for lang in [Lang::Ja, Lang::En] {
            let t = c.get(lang);
            for topic in Topic::ALL {
                assert!(
                    t.contact_topics.contains_key(topic.as_str()),
                    "{lang:?} {topic:?}"
                );
                assert_eq!(Topic::parse(topic.as_str()), Ok(*topic));
            }
            for (field, code) in [
                ("topic", "required"),
                ("topic", "unknown"),
                ("message", "required"),
                ("message", "too_long"),
                ("message", "invalid_character"),
                ("reply_email", "required"),
                ("reply_email", "invalid_format"),
            ] {
                assert_ne!(
                    t.field_error(field, code),
                    t.error_400_body,
                    "{lang:?} {field}.{code}"
                );
            }
        }
    }

    #[test]
    fn settings_are_checked() {
        ContactSettings::default().check().unwrap();
        let s = ContactSettings {
            max_per_address: 50,
            ..ContactSettings::default()
        };
        assert!(s.check().is_err());
        let s = ContactSettings {
            window_secs: 1,
            ..ContactSettings::default()
        };
        assert!(s.check().is_err());
    }
}
