//! Transports: hand one composed mail to its next hop.
//!
//! The delivery worker calls [`Transport::send`] for each outbox row it has
//! claimed and decides from [`TransportErrorKind`] whether to retry with
//! back-off (`Transient`) or give up (`Permanent`). Delivery is
//! at-least-once: a worker may crash after a successful send and before it
//! marks the row sent, so a transport is called again with the same mail.
//! [`FileTransport`] makes that harmless (one file per message id); over
//! SMTP the stable `Message-ID` lets receiving systems recognise a repeat.
//!
//! Never log or put into an error a recipient, a subject or a body.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::message::{MailError, OutgoingMail, check_message_id};
use super::settings::{SmtpSettings, SmtpTls};

/// Sends one mail. Implementations must be safe to call again with the
/// same mail after a crash (at-least-once delivery).
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), TransportError>;
    /// Short name for logs and metrics: `file`, `smtp`.
    fn name(&self) -> &'static str;
    /// Delivers several mails and answers for each, in order. The default
    /// sends them one by one; a transport that can make a batch durable
    /// at once (the file transport: one directory sync) does so.
    async fn send_many(&self, mails: &[OutgoingMail]) -> Vec<Result<(), TransportError>> {
        let mut outcomes = Vec::with_capacity(mails.len());
        for mail in mails {
            outcomes.push(self.send(mail).await);
        }
        outcomes
    }
    /// True when delivering a mail again leaves exactly one copy (the file
    /// transport names each file by its Message-ID). Only then may the
    /// delivery worker deliver a batch before marking any of it sent: a
    /// crash in between repeats nothing a reader could see.
    fn idempotent(&self) -> bool {
        false
    }
}

/// Whether trying again later can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// Retry with back-off: SMTP 4xx, connection refused or reset,
    /// timeouts, TLS failures (an untrusted certificate included), a relay
    /// without STARTTLS or a usable AUTH mechanism, disk errors.
    Transient,
    /// Do not retry: SMTP 5xx (recipient refused, message rejected) or a
    /// mail that cannot be composed (invalid address or message id).
    Permanent,
}

/// A failed delivery. `message` never contains the recipient, subject or
/// body (SMTP replies that echo the recipient have it replaced).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?} mail delivery error: {message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

impl TransportError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: TransportErrorKind::Transient,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: TransportErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind == TransportErrorKind::Transient
    }
}

impl From<MailError> for TransportError {
    /// A mail that cannot be composed will not compose next time either.
    fn from(e: MailError) -> Self {
        Self::permanent(e.to_string())
    }
}

// ---------------------------------------------------------------------------
// File transport
// ---------------------------------------------------------------------------

/// The embedded default: one RFC 5322 `<message_id>.eml` file per mail in
/// `<data-dir>/mail/outbox/`, for an operator (or a test) to read or to
/// feed to a real mail system.
///
/// Files hold one-time codes: the directory is 0700 and files 0600.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

/// Makes temporary names unique within the process; the process id makes
/// them unique between processes sharing the directory.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FileTransport {
    /// Creates `dir` (and missing parents) with mode 0700, or tightens an
    /// existing one to 0700.
    pub fn new(dir: PathBuf) -> Result<Self, MailError> {
        let io_err = |source| MailError::Io {
            path: dir.clone(),
            source,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err)?;
        // `create` leaves an existing directory's mode alone.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io_err)?;
        Ok(Self { dir })
    }

    /// The outbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the mail with this id is (or will be) written.
    pub fn path_for(&self, message_id: &str) -> Result<PathBuf, MailError> {
        check_message_id(message_id)?;
        Ok(self.dir.join(format!("{message_id}.eml")))
    }
}

#[async_trait]
impl Transport for FileTransport {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), TransportError> {
        let path = self.path_for(&mail.message_id)?;
        let dir = self.dir.clone();
        let mail = mail.clone();
        // File system calls block; keep them off the async workers.
        tokio::task::spawn_blocking(move || write_once(&dir, &path, &mail))
            .await
            .map_err(|e| TransportError::transient(format!("file transport task failed: {e}")))?
    }

    fn name(&self) -> &'static str {
        "file"
    }

    /// Writes every mail (each file synced) and then syncs the directory
    /// once for all of them, on one blocking thread: a batch costs one
    /// directory sync and one hand-off instead of one per mail. A mail is
    /// reported delivered only once its name is durable.
    async fn send_many(&self, mails: &[OutgoingMail]) -> Vec<Result<(), TransportError>> {
        let dir = self.dir.clone();
        let jobs: Vec<_> = mails
            .iter()
            .map(|m| self.path_for(&m.message_id).map(|p| (p, m.clone())))
            .collect();
        let n = mails.len();
        match tokio::task::spawn_blocking(move || write_many(&dir, jobs)).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                let e = TransportError::transient(format!("file transport task failed: {e}"));
                vec![Err(e); n]
            }
        }
    }

    fn idempotent(&self) -> bool {
        true
    }
}

/// Writes the file unless it exists. The content goes to a temporary file
/// in the same directory, is fsynced, and is then hard-linked to its final
/// name: the link is atomic and, unlike `rename`, fails instead of
/// replacing a file that appeared meanwhile, so two workers racing on the
/// same row still leave exactly one file. The directory is fsynced so the
/// new name survives a power cut before the worker marks the row sent.
fn write_once(dir: &Path, path: &Path, mail: &OutgoingMail) -> Result<(), TransportError> {
    write_file(dir, path, mail)?;
    sync_dir(dir)
}

/// [`write_once`] for a batch: each file as there, then one directory
/// sync for all of them. If that sync fails, none of the names is known
/// to be durable, so each mail fails too (and is retried: its file is
/// then found, kept, and the directory synced again).
fn write_many(
    dir: &Path,
    jobs: Vec<Result<(PathBuf, OutgoingMail), MailError>>,
) -> Vec<Result<(), TransportError>> {
    let written: Vec<Result<(), TransportError>> = jobs
        .into_iter()
        .map(|job| {
            job.map_err(TransportError::from)
                .and_then(|(path, mail)| write_file(dir, &path, &mail))
        })
        .collect();
    let synced = if written.iter().any(Result::is_ok) {
        sync_dir(dir)
    } else {
        Ok(())
    };
    written
        .into_iter()
        .map(|w| match (w, &synced) {
            (Ok(()), Err(e)) => Err(e.clone()),
            (w, _) => w,
        })
        .collect()
}

/// Writes the mail's file unless it exists (a repeat keeps the first
/// copy). Its name is durable only after the directory is synced.
fn write_file(dir: &Path, path: &Path, mail: &OutgoingMail) -> Result<(), TransportError> {
    if path
        .try_exists()
        .map_err(|e| io_error(dir, "checking", e))?
    {
        return Ok(());
    }
    let bytes = mail.to_rfc5322()?;
    let temp = dir.join(format!(
        ".{}.{}.{}.tmp",
        mail.message_id,
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_and_link(dir, &temp, path, &bytes);
    // The temporary name is never needed again, whatever happened.
    let _ = fs::remove_file(&temp);
    result
}

fn write_and_link(
    dir: &Path,
    temp: &Path,
    path: &Path,
    bytes: &[u8],
) -> Result<(), TransportError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(temp)
        .map_err(|e| io_error(dir, "creating a temporary file", e))?;
    file.write_all(bytes)
        .map_err(|e| io_error(dir, "writing", e))?;
    file.sync_all().map_err(|e| io_error(dir, "syncing", e))?;
    drop(file);
    match fs::hard_link(temp, path) {
        Ok(()) => {}
        // Another worker delivered the same mail first: that is the
        // idempotent outcome, not an error.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(dir, "linking", e)),
    }
    Ok(())
}

/// Makes the directory's new names survive a power cut, before any of
/// their rows is marked sent.
fn sync_dir(dir: &Path) -> Result<(), TransportError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "syncing the directory", e))
}

/// Disk full, permissions being fixed: worth retrying later.
fn io_error(dir: &Path, what: &str, e: io::Error) -> TransportError {
    TransportError::transient(format!("file transport: {what} in {}: {e}", dir.display()))
}

// ---------------------------------------------------------------------------
// SMTP transport
// ---------------------------------------------------------------------------

/// Relays mail to an SMTP server (lettre, rustls with aws-lc-rs).
///
/// Certificates are always verified, against the Mozilla roots plus the
/// optional `ca_file`; STARTTLS is required, never opportunistic.
pub struct SmtpTransport {
    /// Everything checked and loaded at construction (so a bad `ca_file`
    /// fails at start), but not yet built: lettre's connection pool spawns
    /// a tokio task when built, which needs a runtime; `send` has one.
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    inner: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    host: String,
    port: u16,
    tls: SmtpTls,
}

impl SmtpTransport {
    pub fn new(settings: &SmtpSettings) -> Result<Self, MailError> {
        let tls = match settings.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters(settings)?),
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters(settings)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)));
        match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                // Justified: lettre needs the password to authenticate.
                builder = builder.credentials(Credentials::new(
                    user.clone(),
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            _ => {
                return Err(MailError::Config(
                    "mail.smtp.username and mail.smtp.password must be set together".into(),
                ));
            }
        }
        Ok(Self {
            builder,
            inner: OnceLock::new(),
            host: settings.host.clone(),
            port: settings.port,
            tls: settings.tls,
        })
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.inner.get_or_init(|| self.builder.clone().build())
    }
}

fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, MailError> {
    let mut params = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let pem = fs::read(path).map_err(|source| MailError::Io {
            path: path.clone(),
            source,
        })?;
        // lettre accepts an empty PEM as "no certificates"; an operator who
        // names a file means at least one.
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(MailError::Config(format!(
                "mail.smtp.ca_file {}: no PEM certificate in it",
                path.display()
            )));
        }
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| MailError::Config(format!("mail.smtp.ca_file {}: {e}", path.display())))?;
        params = params.add_root_certificate(cert);
    }
    params
        .build_rustls()
        .map_err(|e| MailError::Config(format!("mail.smtp TLS settings: {e}")))
}

impl fmt::Debug for SmtpTransport {
    /// No credentials, whatever lettre's own `Debug` would show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), TransportError> {
        let message = mail.compose()?;
        match self.transport().send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e, &mail.to)),
        }
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}

/// RFC 5321 §4.2.1: 5yz replies are permanent, 4yz transient. Everything
/// else is transient too: refused or dropped connections, timeouts, TLS
/// failures, and lettre's "client" errors, which here mean the relay lacks
/// something we require (STARTTLS, an AUTH mechanism, SMTPUTF8): an
/// operator fixes the relay or the settings and the retries then succeed,
/// where a permanent verdict would have dropped the mail.
fn classify(e: &lettre::transport::smtp::Error, recipient: &str) -> TransportError {
    let message = redact(&format!("smtp: {e}"), recipient);
    if e.is_permanent() {
        TransportError::permanent(message)
    } else {
        TransportError::transient(message)
    }
}

/// Servers often echo the recipient in a refusal (`550 <a@b>: unknown`).
fn redact(text: &str, recipient: &str) -> String {
    if recipient.is_empty() {
        return text.to_owned();
    }
    let lower_text = text.to_lowercase();
    let lower_rcpt = recipient.to_lowercase();
    // Byte offsets agree only if lowercasing kept lengths; otherwise fall
    // back to the exact spelling.
    if lower_text.len() != text.len() || lower_rcpt.len() != recipient.len() {
        return text.replace(recipient, "[recipient]");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (at, _) in lower_text.match_indices(&lower_rcpt) {
        out.push_str(text.get(rest..at).unwrap_or_default());
        out.push_str("[recipient]");
        rest = at + recipient.len();
    }
    out.push_str(text.get(rest..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_replies_have_the_recipient_replaced() {
        let shown = redact(
            "smtp: permanent error (550): <Buyer@Example.com>: Recipient address rejected",
            "buyer@example.com",
        );
        assert_eq!(
            shown,
            "smtp: permanent error (550): <[recipient]>: Recipient address rejected"
        );
    }

    #[test]
    fn mail_errors_are_permanent() {
        let e = TransportError::from(MailError::InvalidMessageId);
        assert_eq!(e.kind, TransportErrorKind::Permanent);
    }

    #[test]
    fn smtp_transport_debug_shows_no_password() {
        let mut s = crate::mail::MailSettings::default().smtp;
        s.username = Some("relay".into());
        s.password = Some(secrecy::SecretString::from("hunter2-smtp".to_owned()));
        let t = SmtpTransport::new(&s).unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("localhost"), "{shown}");
    }

    #[test]
    fn ca_file_without_a_certificate_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        fs::write(&path, "not a certificate").unwrap();
        let mut s = crate::mail::MailSettings::default().smtp;
        s.ca_file = Some(path);
        let err = SmtpTransport::new(&s).unwrap_err().to_string();
        assert!(err.contains("mail.smtp.ca_file"), "{err}");
    }
}
