//! The `[mail]` settings: which transport, the sender, and the SMTP relay.
//!
//! Checked at start like every other section, so a plaintext relay to a
//! remote host or half-set credentials stop the process with the key named.
//! The SMTP password is a [`SecretString`]: `Debug` hides it and
//! `Serialize` (what `anshin config show` prints) writes `[redacted]`.

use std::net::IpAddr;
use std::path::PathBuf;

use lettre::message::Mailbox;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::MailError;
use crate::settings::{Invalid, Section, invalid};

/// `[mail]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `file` (embedded default: `.eml` files in `<data-dir>/mail/outbox/`)
    /// or `smtp`.
    pub transport: TransportKind,
    /// Sender address of every mail; its domain also ends the Message-ID.
    pub from_address: String,
    /// Sender display name.
    pub from_name: String,
    pub smtp: SmtpSettings,
}

/// `[mail.smtp]`, used when `mail.transport = "smtp"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(
        serialize_with = "crate::settings::redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub password: Option<SecretString>,
    /// Extra PEM root certificate(s) to trust, for a private relay or a
    /// test server with a self-signed certificate. There is deliberately no
    /// switch to skip verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Per SMTP command, connecting included.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required: a
    /// server that does not offer it fails the delivery (no downgrade).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// No encryption: only to a relay on loopback.
    None,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: TransportKind::File,
            from_address: "no-reply@localhost".into(),
            from_name: "anshin".into(),
            smtp: SmtpSettings {
                host: "localhost".into(),
                port: 587,
                tls: SmtpTls::Starttls,
                username: None,
                password: None,
                ca_file: None,
                timeout_secs: 30,
            },
        }
    }
}

impl Section for MailSettings {
    fn check(&self) -> Result<(), Invalid> {
        MailSettings::check(self)
    }
}

impl MailSettings {
    /// Checks every value; the error names the key and its variable.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.from_address.parse::<lettre::Address>().is_err() {
            return invalid(
                "mail.from_address",
                "not an email address such as no-reply@shop.example.jp",
            );
        }
        if self.from_name.chars().any(char::is_control) || self.from_name.chars().count() > 100 {
            return invalid(
                "mail.from_name",
                "at most 100 characters, no control characters",
            );
        }
        let s = &self.smtp;
        let host = s.host.trim();
        if host.is_empty()
            || host != s.host
            || host.len() > 253
            || host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            return invalid(
                "mail.smtp.host",
                "must be a host name or IP address such as smtp.example.jp",
            );
        }
        if s.port == 0 {
            return invalid("mail.smtp.port", "must be between 1 and 65535");
        }
        if s.tls == SmtpTls::None && !is_loopback_host(host) {
            return invalid(
                "mail.smtp.tls",
                "\"none\" sends codes and credentials in clear text and is only allowed to a \
                 loopback host (localhost, 127.0.0.1, ::1); use \"starttls\" or \"implicit\"",
            );
        }
        if s.tls == SmtpTls::None && s.ca_file.is_some() {
            return invalid(
                "mail.smtp.ca_file",
                "only used with tls = \"starttls\" or \"implicit\"",
            );
        }
        if s.username.is_some() != s.password.is_some() {
            return invalid(
                "mail.smtp.password",
                "mail.smtp.username and mail.smtp.password must be set together",
            );
        }
        if !(1..=300).contains(&s.timeout_secs) {
            return invalid(
                "mail.smtp.timeout_secs",
                "must be between 1 and 300 seconds",
            );
        }
        Ok(())
    }

    /// The sender mailbox (address and display name) for [`super::OutgoingMail::from`].
    pub fn from_mailbox(&self) -> Result<Mailbox, MailError> {
        let address = self.from_address.parse::<lettre::Address>().map_err(|e| {
            MailError::InvalidAddress {
                field: "sender",
                reason: e.to_string(),
            }
        })?;
        let name = Some(self.from_name.clone()).filter(|n| !n.is_empty());
        Ok(Mailbox::new(name, address))
    }
}

/// Loopback by name or by address; anything else may cross a network.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // `[::1]` as written in URLs.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(host: &str, tls: SmtpTls) -> MailSettings {
        let d = MailSettings::default();
        MailSettings {
            transport: TransportKind::Smtp,
            smtp: SmtpSettings {
                host: host.into(),
                tls,
                ..d.smtp
            },
            ..d
        }
    }

    fn key_of(s: &MailSettings) -> &'static str {
        s.check().unwrap_err().key
    }

    #[test]
    fn defaults_validate() {
        MailSettings::default().check().unwrap();
        let from = MailSettings::default().from_mailbox().unwrap();
        assert_eq!(from.email.to_string(), "no-reply@localhost");
        assert_eq!(from.name.as_deref(), Some("anshin"));
    }

    #[test]
    fn tls_none_is_refused_for_a_non_loopback_host() {
        for host in [
            "smtp.example.jp",
            "10.0.0.5",
            "192.168.1.1",
            "localhost.example.jp",
        ] {
            let err = smtp(host, SmtpTls::None).check().unwrap_err().to_string();
            assert!(err.contains("mail.smtp.tls"), "{host}: {err}");
            assert!(err.contains("ANSHIN_MAIL__SMTP__TLS"), "{host}: {err}");
        }
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "[::1]",
        ] {
            smtp(host, SmtpTls::None).check().unwrap();
        }
        smtp("smtp.example.jp", SmtpTls::Starttls).check().unwrap();
        smtp("smtp.example.jp", SmtpTls::Implicit).check().unwrap();
    }

    #[test]
    fn validation_errors_name_the_key() {
        let s = MailSettings {
            from_address: "nobody".into(),
            ..MailSettings::default()
        };
        assert_eq!(key_of(&s), "mail.from_address");
        assert!(
            s.check()
                .unwrap_err()
                .to_string()
                .contains("ANSHIN_MAIL__FROM_ADDRESS")
        );

        let s = MailSettings {
            from_name: "a\nb".into(),
            ..MailSettings::default()
        };
        assert_eq!(key_of(&s), "mail.from_name");

        let mut s = MailSettings::default();
        s.smtp.host = String::new();
        assert_eq!(key_of(&s), "mail.smtp.host");
        assert!(
            s.check()
                .unwrap_err()
                .to_string()
                .contains("ANSHIN_MAIL__SMTP__HOST")
        );

        let mut s = MailSettings::default();
        s.smtp.port = 0;
        assert_eq!(key_of(&s), "mail.smtp.port");

        let mut s = MailSettings::default();
        s.smtp.username = Some("relay".into());
        assert_eq!(key_of(&s), "mail.smtp.password");

        let mut s = MailSettings::default();
        s.smtp.timeout_secs = 0;
        assert_eq!(key_of(&s), "mail.smtp.timeout_secs");

        let mut s = smtp("127.0.0.1", SmtpTls::None);
        s.smtp.ca_file = Some("/etc/ca.pem".into());
        assert_eq!(key_of(&s), "mail.smtp.ca_file");
    }

    #[test]
    fn password_is_redacted_in_debug_and_serialize() {
        let mut s = MailSettings::default();
        s.smtp.username = Some("relay".into());
        s.smtp.password = Some(SecretString::from("hunter2-smtp".to_owned()));
        let shown = format!("{s:?} {}", toml::to_string(&s).unwrap());
        assert!(!shown.contains("hunter2-smtp"), "{shown}");
        assert!(shown.contains("password = \"[redacted]\""), "{shown}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<MailSettings>(
            "transport = \"smtp\"\nfrom_address = \"a@b.jp\"\nfrom_name = \"x\"\n\
             [smtp]\nhost = \"h\"\nport = 25\ntls = \"starttls\"\ntimeout_secs = 5\n\
             skip_verify = true\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("skip_verify"), "{err}");
    }
}
