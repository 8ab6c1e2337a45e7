//! The vulnerability disclosure programme (C5): `/security` publishes the
//! policy and takes reports; `/.well-known/security.txt` (RFC 9116) points
//! to it. This module holds the settings of both, the report form's use
//! case ([`submit`]) and the sealing the security team's console pages
//! ([`crate::staff::vdp`]) open again.
//!
//! A report is the reporter's address and their text. It needs a solved
//! bot challenge (C7) and is counted like a contact message (`[contact]`
//! limits, under keys of its own). It is sealed at once under a fresh data
//! key of its own (wrapped by the key ring and bound to the report's id,
//! as payout snapshots are, ADR 0020), kept as `new`, acknowledged to the
//! reporter by mail through the outbox with a tracking id, and audited
//! (the tracking id only), in one bundle.
//!
//! What an attacker tries, and where it fails:
//! - read reports from a copy of the database: only ciphertext and the
//!   wrapped key are there; the key ring is apart (`keys/keyring`);
//! - use the form to mail a stranger: the acknowledgement holds catalog
//!   words and the tracking id only (never the text), each report costs
//!   a solved proof of work, and the contact limits cap the rate;
//! - learn a report from logs, URLs, metrics or audit details: none of
//!   them ever holds the address or the text (`Debug` redacts both).

use std::collections::BTreeMap;

use anshin_domain::{Duration, EmailAddress, Lang, Timestamp, VdpReportId};
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_store::{Changes, NewVdpReport, StoreError, Write};
use anshin_vault::{DataKey, FieldContext, fields};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Services;
use crate::accounts::Client;
use crate::accounts::limits::client_keys;
use crate::challenge::ChallengeError;
use crate::contact::MessageText;
use crate::mail::compose::Letter;
use crate::member_data::FieldError;
use crate::settings::{Invalid, Section, invalid, within};

/// The sealed column's associated data: (table, column, report id).
pub const REPORT_TABLE: &str = "vdp_reports";
pub const REPORT_COLUMN: &str = "sealed";
pub const NOTE_TABLE: &str = "vdp_notes";
pub const NOTE_COLUMN: &str = "sealed";

/// `[vdp]`: the disclosure programme's published details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VdpSettings {
    /// security.txt's `Contact`: a `mailto:` or `https:` URI. Unset:
    /// `mailto:security@<site host>`.
    #[serde(default)]
    pub contact: Option<String>,
    /// A fixed `Expires` (RFC 3339), for an operator who reviews the file
    /// by hand. Unset: `expires_days` from now, recomputed on every
    /// request, so the file never lapses silently.
    #[serde(default)]
    pub expires: Option<String>,
    /// Days from now to `Expires` when `expires` is unset (1–364: RFC 9116
    /// asks for less than a year).
    pub expires_days: u64,
    /// The self-scan reports a fixed `expires` this many days before it
    /// passes (and after).
    pub warn_days: u64,
}

impl Default for VdpSettings {
    fn default() -> Self {
        Self {
            contact: None,
            expires: None,
            expires_days: 180,
            warn_days: 30,
        }
    }
}

impl Section for VdpSettings {
    fn check(&self) -> Result<(), Invalid> {
        within("vdp.expires_days", self.expires_days, 1, 364, " days")?;
        within("vdp.warn_days", self.warn_days, 1, 364, " days")?;
        if let Some(c) = &self.contact {
            let ok = match c.strip_prefix("mailto:") {
                Some(addr) => EmailAddress::parse(addr).is_some(),
                None => c.starts_with("https://") && !c.contains(char::is_whitespace),
            };
            if !ok {
                return invalid(
                    "vdp.contact",
                    "must be a mailto: address or an https:// URL",
                );
            }
        }
        if let Some(e) = &self.expires
            && parse_expires(e).is_none()
        {
            return invalid(
                "vdp.expires",
                "must be an RFC 3339 time such as 2027-06-30T00:00:00Z",
            );
        }
        Ok(())
    }
}

fn parse_expires(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| Timestamp::from_micros(t.timestamp_micros()))
}

impl VdpSettings {
    /// The `Contact` URI, given the site's host.
    pub fn contact_uri(&self, site_host: &str) -> String {
        self.contact
            .clone()
            .unwrap_or_else(|| format!("mailto:security@{site_host}"))
    }

    /// `Expires` as of `now`: the fixed one, else `expires_days` ahead.
    pub fn expires_at(&self, now: Timestamp) -> Timestamp {
        self.expires
            .as_deref()
            .and_then(parse_expires)
            .unwrap_or_else(|| now.saturating_add(Duration::from_secs(self.expires_days * 86_400)))
    }

    /// Whole days from `now` to a fixed `expires` (negative: passed);
    /// `None` when it is computed (it cannot lapse).
    pub fn fixed_days_left(&self, now: Timestamp) -> Option<i64> {
        let at = parse_expires(self.expires.as_deref()?)?;
        Some((at.micros() - now.micros()).div_euclid(86_400_000_000))
    }
}

/// RFC 3339 in UTC with seconds, as security.txt's `Expires` wants it.
pub fn rfc3339(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(at.micros())
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `/.well-known/security.txt` (RFC 9116): `origin` is the site's base URL
/// without a trailing slash.
pub fn security_txt(
    settings: &VdpSettings,
    origin: &str,
    site_host: &str,
    now: Timestamp,
) -> String {
    format!(
        "# anshin vulnerability disclosure (RFC 9116)\n\
         Contact: {contact}\n\
         Contact: {origin}/security\n\
         Expires: {expires}\n\
         Preferred-Languages: ja, en\n\
         Canonical: {origin}/.well-known/security.txt\n\
         Policy: {origin}/security\n",
        contact = settings.contact_uri(site_host),
        expires = rfc3339(settings.expires_at(now)),
    )
}

/// The form as typed.
#[derive(Default)]
pub struct RawReport {
    pub reply_email: String,
    pub message: String,
}

impl std::fmt::Debug for RawReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawReport([redacted])")
    }
}

/// A report as parsed. `Debug` redacts (both fields are personal).
#[derive(Debug, Clone)]
pub struct Report {
    pub reply_to: EmailAddress,
    pub message: MessageText,
}

impl Report {
    /// Every field's error at once, in form order.
    pub fn parse(raw: &RawReport) -> Result<Self, Vec<FieldError>> {
        let reply_to = match raw.reply_email.trim() {
            "" => Err(FieldError::new("reply_email", "required")),
            e => EmailAddress::parse(e).ok_or(FieldError::new("reply_email", "invalid_format")),
        };
        let message = MessageText::parse(&raw.message);
        match (reply_to, message) {
            (Ok(reply_to), Ok(message)) => Ok(Self { reply_to, message }),
            (a, b) => Err([a.err(), b.err()].into_iter().flatten().collect()),
        }
    }
}

/// What is sealed: the reporter's address and the text.
#[derive(Serialize, Deserialize)]
pub(crate) struct Sealed {
    pub(crate) email: String,
    pub(crate) text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VdpError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("bot challenge: {0}")]
    Challenge(#[from] ChallengeError),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("the report cannot be sealed or opened")]
    Unreadable,
    #[error("unexpected: {0}")]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for VdpError {
    fn from(e: StoreError) -> Self {
        VdpError::Unexpected(e.into())
    }
}

impl From<crate::mail::compose::SealError> for VdpError {
    fn from(e: crate::mail::compose::SealError) -> Self {
        VdpError::Unexpected(e.into())
    }
}

/// What the report's wrapped key is bound to: a label and the id, so a
/// report key can never pass for a member's, a shipment's or a payout's.
pub(crate) fn key_binding(id: VdpReportId) -> Vec<u8> {
    let mut b = b"vdp_report/".to_vec();
    b.extend_from_slice(id.as_bytes());
    b
}

/// `VDP-XXXX-XXXX-XX`: 50 random bits in Crockford's base 32 (no I, L,
/// O, U), easy to read out and quote.
fn tracking_id(svc: &Services) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 8];
    svc.random.fill(&mut bytes);
    let mut n = u64::from_le_bytes(bytes);
    let mut out = String::from("VDP-");
    for i in 0..10 {
        if i == 4 || i == 8 {
            out.push('-');
        }
        let digit = ALPHABET.get((n & 31) as usize).copied().unwrap_or(b'0');
        out.push(char::from(digit));
        n >>= 5;
    }
    out
}

/// Takes a report: checks the bot challenge (C7), counts it against the
/// client's address, network and the site (the `[contact]` limits), seals
/// it under a key of its own and commits it with the acknowledgement mail
/// to the reporter and the audit entry. Returns the tracking id.
pub async fn submit(
    svc: &Services,
    report: &Report,
    lang: Lang,
    challenge: Option<&str>,
    client: &Client,
) -> Result<String, VdpError> {
    let level = svc.challenges.level().saturating_sub(1);
    crate::challenge::check(svc, challenge, client.ip, level).await?;
    count(svc, client).await?;
    let id: VdpReportId = svc.new_id();
    let key = DataKey::generate(&mut svc.random.rng());
    let wrapped = svc
        .keys
        .wrap_member_key(&key, &key_binding(id), &svc.random)
        .map_err(|_| VdpError::Unreadable)?;
    let plain = Zeroizing::new(
        serde_json::to_vec(&Sealed {
            email: report.reply_to.as_str().to_owned(),
            text: report.message.as_str().to_owned(),
        })
        .map_err(|_| VdpError::Unreadable)?,
    );
    let sealed = fields::encrypt(
        &key,
        &FieldContext::new(REPORT_TABLE, REPORT_COLUMN, id.as_bytes()),
        &plain,
        &mut svc.random.rng(),
    )
    .map_err(|_| VdpError::Unreadable)?;
    let kek_version = i64::from(wrapped.kek_version());
    let wrapped_key = wrapped.into_bytes();
    // A tracking id is 50 random bits: a clash is next to impossible, and
    // the unique column turns one into a retry with a new id.
    for _ in 0..3 {
        let tracking = tracking_id(svc);
        let mail = crate::mail::letter(
            svc,
            lang,
            &report.reply_to,
            &Letter::VdpReceived {
                tracking: &tracking,
            },
        )?;
        let changes = Changes::new()
            .with(Write::ReceiveVdpReport(NewVdpReport {
                id,
                tracking: tracking.clone(),
                lang,
                received_at: svc.now(),
                kek_version,
                wrapped_key: wrapped_key.clone(),
                sealed: sealed.clone(),
            }))
            .mail(mail)
            .audited(crate::audit::entry(
                svc,
                Actor::Anonymous,
                AuditAction::VdpReportReceived,
                Some(AuditTarget::vdp_report(id)),
                Some(client.ip),
                "vdp_form",
                serde_json::json!({ "tracking": tracking, "lang": lang.code() }),
            ));
        match svc.store.commit(&changes).await {
            Ok(_) => {
                // The tracking id only: never the text or the address.
                tracing::info!(tracking = %tracking, "vulnerability report received");
                return Ok(tracking);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(VdpError::Unexpected(anyhow::anyhow!(
        "no free tracking id after three tries"
    )))
}

/// Counts one report against the client's address, network and the site,
/// then refuses it if any of them is over its `[contact]` limit.
async fn count(svc: &Services, client: &Client) -> Result<(), VdpError> {
    let cfg = &svc.settings.contact;
    let window = Duration::from_secs(cfg.window_secs);
    let now = svc.now();
    let (ip, net) = client_keys(client.ip);
    let keys = [
        format!("vdp:{ip}"),
        format!("vdp:{net}"),
        "vdp:global".to_owned(),
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
                "vulnerability report over the limit"
            );
            return Err(VdpError::RateLimited {
                retry_after_secs: cfg.window_secs,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c05_settings_are_checked_and_expires_never_lapses_unless_fixed() {
        VdpSettings::default().check().unwrap();
        for bad in [
            VdpSettings {
                expires_days: 365,
                ..VdpSettings::default()
            },
            VdpSettings {
                contact: Some("security@example.jp".into()),
                ..VdpSettings::default()
            },
            VdpSettings {
                contact: Some("http://example.jp/security".into()),
                ..VdpSettings::default()
            },
            VdpSettings {
                expires: Some("next year".into()),
                ..VdpSettings::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let now = Timestamp::from_micros(1_800_000_000_000_000);
        let s = VdpSettings::default();
        assert_eq!(s.fixed_days_left(now), None);
        assert_eq!(
            s.expires_at(now).micros() - now.micros(),
            180 * 86_400_000_000
        );
        let fixed = VdpSettings {
            expires: Some(rfc3339(
                now.saturating_add(Duration::from_secs(10 * 86_400)),
            )),
            ..VdpSettings::default()
        };
        fixed.check().unwrap();
        assert_eq!(fixed.fixed_days_left(now), Some(10));
        assert_eq!(
            VdpSettings::default().contact_uri("shop.example.jp"),
            "mailto:security@shop.example.jp"
        );
    }

    #[test]
    fn c05_the_report_stays_out_of_debug_output() {
        let raw = RawReport {
            reply_email: "taro@example.jp".into(),
            message: "secret words".into(),
        };
        let r = Report::parse(&raw).unwrap();
        let shown = format!("{raw:?} {r:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("taro"),
            "{shown}"
        );
        let errors = Report::parse(&RawReport::default()).unwrap_err();
        let codes: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(codes, ["reply_email: required", "message: required"]);
    }
}
