//! Mail: composing letters ([`compose`]), the outbox worker ([`outbox`]),
//! and delivery from a composed [`OutgoingMail`] to "delivered".
//!
//! The app writes every mail into an outbox row in the same database
//! transaction as the event that causes it; a delivery worker claims due
//! rows and hands each to a [`Transport`]. This module is the part after
//! the claim: composing RFC 5322 bytes ([`message`]), writing them to the
//! embedded default's outbox directory or relaying them over SMTP
//! ([`transport`]), and the `[mail]` settings ([`settings`]).
//!
//! Mail carries one-time codes and personal data, so this module must never
//! log, print or put into an error message a recipient, a subject or a
//! body. `Debug` of [`OutgoingMail`] redacts them, and SMTP error texts
//! have the recipient replaced before they leave [`transport`].

pub mod compose;
pub mod message;
pub mod outbox;
pub mod settings;
pub mod transport;

use std::path::Path;
use std::sync::Arc;

use anshin_domain::EmailAddress;
use anshin_store::NewMail;

use crate::Services;
use crate::i18n::Lang;
use compose::{Letter, SealError, render, seal};

pub use lettre::message::Mailbox;
pub use message::{MailError, OutgoingMail};
pub use settings::{MailSettings, SmtpSettings, SmtpTls, TransportKind};
pub use transport::{FileTransport, SmtpTransport, Transport, TransportError, TransportErrorKind};

/// The transport the settings choose: the file outbox in
/// `<data_dir>/mail/outbox/` (embedded default) or an SMTP relay.
///
/// Settings are validated again here, so a caller that skipped
/// `Settings::load` still cannot get a plaintext relay to a remote host.
pub fn transport_from_settings(
    settings: &MailSettings,
    data_dir: &Path,
) -> Result<Arc<dyn Transport>, MailError> {
    settings
        .check()
        .map_err(|e| MailError::Config(e.to_string()))?;
    match settings.transport {
        TransportKind::File => Ok(Arc::new(FileTransport::new(
            data_dir.join("mail").join("outbox"),
        )?)),
        TransportKind::Smtp => Ok(Arc::new(SmtpTransport::new(&settings.smtp)?)),
    }
}

/// Renders `letter` for `to` in `lang` and seals it into a mail for the
/// outbox, ready for a [`anshin_store::Changes`] bundle.
pub fn letter(
    svc: &Services,
    lang: Lang,
    to: &EmailAddress,
    letter: &Letter<'_>,
) -> Result<NewMail, SealError> {
    let l = &svc.letters;
    let rendered = render(l.catalogs.get(lang), lang, &l.origin, to.as_str(), letter);
    seal(
        &svc.keys,
        &svc.random,
        svc.new_id(),
        letter.kind(),
        svc.now(),
        &rendered,
    )
}
