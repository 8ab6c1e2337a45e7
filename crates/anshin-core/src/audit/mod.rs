//! The tamper-evident audit log (C22, C26): what a use case records, the
//! keyed hash of the details, signed checkpoints and the verifier.
//!
//! A use case that must be audited adds an [`AuditEntry`] (built with
//! [`entry`]) to the same [`anshin_store::Changes`] bundle as its act, so
//! the act and its record commit together or not at all. The store hashes
//! entries into an RFC 6962 Merkle tree (`anshin_store::audit`); the
//! [`checkpoint`] job signs the tree head (Ed25519, C2SP signed note) every
//! `audit.checkpoint_every_secs` and at shutdown, and sends it off the box:
//! to `audit.witness_dir` and by mail to `audit.security_email`.
//! [`verify::verify`] recomputes the whole tree, checks every checkpoint's
//! signature and that the latest witnessed one is a prefix of the log.
//!
//! Entries hold pseudonymous ids, never an address or a name. The details
//! (which may name personal data) sit in their own row, purgeable; the
//! entry holds only HMAC-SHA-256 of them under the audit key, which is
//! derived from the key ring (outside the database), so an attacker with
//! the database alone can neither read a purged detail back from its hash
//! nor forge a detail that matches.

pub mod checkpoint;
pub mod export;
pub mod note;
pub mod verify;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

pub use anshin_store::{
    Actor, AuditAction, AuditEntry, AuditQuery, AuditTarget, StoredAuditEntry, StoredCheckpoint,
    TargetKind,
};

use crate::Services;
use crate::settings::{Invalid, Section, invalid, within};

/// `[audit]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// How often the checkpoint job signs the tree head (also at shutdown).
    pub checkpoint_every_secs: u64,
    /// Where signed checkpoints are written, one file each; unset means
    /// `<data-dir>/audit/witness`. Point it at storage the database's
    /// administrators cannot rewrite (another host's mount, a WORM bucket
    /// synced from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_dir: Option<PathBuf>,
    /// Where each new checkpoint is mailed (through the outbox); unset: no
    /// mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_email: Option<String>,
    /// The Ed25519 signing key; unset means
    /// `<data-dir>/keys/audit-signing-key`, created 0600 on first use.
    /// Never in the database; back it up with the key ring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_file: Option<PathBuf>,
    /// The log's name: the first line of every checkpoint and the key
    /// name of its signature. Unset: `<site host>/audit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            checkpoint_every_secs: 300,
            witness_dir: None,
            security_email: None,
            signing_key_file: None,
            origin: None,
        }
    }
}

impl Section for AuditSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "audit.checkpoint_every_secs",
            self.checkpoint_every_secs,
            1,
            86_400,
            " seconds",
        )?;
        if let Some(e) = &self.security_email
            && anshin_domain::EmailAddress::parse(e).is_none()
        {
            return invalid("audit.security_email", "must be an e-mail address");
        }
        if let Some(o) = &self.origin
            && !note::is_key_name(o)
        {
            return invalid(
                "audit.origin",
                "must be a name without spaces or '+' (e.g. shop.example.jp/audit)",
            );
        }
        Ok(())
    }
}

impl AuditSettings {
    pub fn witness_dir(&self, data_dir: &Path) -> PathBuf {
        self.witness_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("audit").join("witness"))
    }

    pub fn signing_key_file(&self, data_dir: &Path) -> PathBuf {
        self.signing_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("keys").join("audit-signing-key"))
    }

    /// The origin in effect, given the site's host.
    pub fn origin(&self, site_host: &str) -> String {
        match &self.origin {
            Some(o) => o.clone(),
            None => {
                let host: String = site_host
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '+')
                    .collect();
                format!("{}/audit", if host.is_empty() { "anshin" } else { &host })
            }
        }
    }
}

/// The key of the details' keyed hash (HMAC-SHA-256), derived from the
/// key ring. Redacted on Debug, zeroed on drop.
#[derive(Clone)]
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey([redacted])")
    }
}

impl AuditKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// HMAC-SHA-256 of the details text.
    pub fn mac(&self, details: &str) -> [u8; 32] {
        match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_slice()) {
            Ok(mut mac) => {
                mac.update(details.as_bytes());
                mac.finalize().into_bytes().into()
            }
            // HMAC takes keys of any length; this arm cannot run.
            Err(_) => [0u8; 32],
        }
    }

    /// Whether `details` are the ones `mac` was made of (constant time).
    pub fn matches(&self, details: &str, mac: &[u8; 32]) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.mac(details).as_slice(), mac.as_slice()).into()
    }

    /// [`AuditKey::matches`] for many details in a row (the verifier):
    /// the key's HMAC state is made once, not once per entry.
    pub fn matcher(&self) -> Option<DetailsMatcher> {
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_slice())
            .ok()
            .map(DetailsMatcher)
    }
}

/// The audit key's HMAC state, ready to check details against their
/// keyed hash ([`AuditKey::matcher`]). Holds key material: `Debug`
/// redacts it.
#[derive(Clone)]
pub struct DetailsMatcher(hmac::Hmac<Sha256>);

impl std::fmt::Debug for DetailsMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DetailsMatcher([redacted])")
    }
}

impl DetailsMatcher {
    /// Whether `details` are the ones `mac` was made of (constant time).
    pub fn matches(&self, details: &str, mac: &[u8; 32]) -> bool {
        let mut m = self.0.clone();
        m.update(details.as_bytes());
        subtle::ConstantTimeEq::ct_eq(m.finalize().into_bytes().as_slice(), mac.as_slice()).into()
    }
}

/// The network a request came from, as the log keeps it: an IPv4 /24 or
/// an IPv6 /48 (an IPv4-mapped IPv6 address counts as IPv4). The full
/// address is personal data kept only in the member's own login history.
pub fn network_of(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let (a, b, c) = (
                s.first().copied().unwrap_or(0),
                s.get(1).copied().unwrap_or(0),
                s.get(2).copied().unwrap_or(0),
            );
            format!("{a:x}:{b:x}:{c:x}::/48")
        }
    }
}

/// Builds an entry at the current time: the details are serialised
/// (JSON), hashed under the audit key, and kept apart.
pub fn entry(
    svc: &Services,
    actor: Actor,
    action: AuditAction,
    target: Option<AuditTarget>,
    from: Option<IpAddr>,
    reason: &str,
    details: serde_json::Value,
) -> AuditEntry {
    build(
        svc.keys.audit_key(),
        svc.now(),
        actor,
        action,
        target,
        from,
        reason,
        details,
    )
}

/// [`entry`] for a door without [`Services`] (key maintenance).
#[allow(clippy::too_many_arguments)]
pub fn build(
    key: &AuditKey,
    at: anshin_domain::Timestamp,
    actor: Actor,
    action: AuditAction,
    target: Option<AuditTarget>,
    from: Option<IpAddr>,
    reason: &str,
    details: serde_json::Value,
) -> AuditEntry {
    let details = details.to_string();
    AuditEntry {
        actor,
        action,
        target,
        at,
        origin: from.map(network_of),
        reason: reason.to_owned(),
        details_mac: key.mac(&details),
        details: Some(details),
    }
}

/// Where a session's acts come from, as far as the core knows: the address
/// the session logged in from (the use cases that take no `Client`).
pub fn session_origin(session: &anshin_store::SessionRecord) -> Option<IpAddr> {
    session.login.as_ref().and_then(|l| l.ip.parse().ok())
}

/// The policy reason of a member's act on their own account.
pub const OWN_ACCOUNT: &str = "own_account";

/// A member's security event on their own account (C22): actor and target
/// are the member.
pub fn member_event(
    svc: &Services,
    member: anshin_domain::MemberId,
    action: AuditAction,
    from: Option<IpAddr>,
    details: serde_json::Value,
) -> AuditEntry {
    entry(
        svc,
        Actor::Member(member),
        action,
        Some(AuditTarget::member(member)),
        from,
        OWN_ACCOUNT,
        details,
    )
}

/// Records that an instance started and with which settings (C22,
/// "settings at start"): the effective configuration as `anshin config
/// show` prints it (secrets redacted, e-mail addresses masked), the
/// SHA-256 of the unmasked text to compare starts at a glance, the version
/// and the instance.
/// Called before the instance serves anything: a start that cannot be
/// audited does not happen.
pub async fn record_start(
    svc: &Services,
    instance: &str,
    version: &str,
    effective_config: &str,
) -> Result<(), anshin_store::StoreError> {
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(effective_config.as_bytes()));
    // Addresses in the settings (the sender, the security team's) may
    // name a person: the log keeps that one was set, the hash covers it.
    let shown: Vec<String> = effective_config
        .lines()
        .map(|line| match line.split_once(" = ") {
            Some((key, value)) if value.contains('@') => format!("{key} = \"[address]\""),
            _ => line.to_owned(),
        })
        .collect();
    let effective_config = shown.join("\n");
    let entry = entry(
        svc,
        Actor::System,
        AuditAction::SettingsAtStart,
        None,
        None,
        "process_start",
        serde_json::json!({
            "instance": instance,
            "version": version,
            "config_sha256": digest,
            "config": effective_config,
        }),
    );
    svc.store
        .commit(&anshin_store::Changes::new().audited(entry))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c22_origin_is_a_network_not_an_address() {
        assert_eq!(
            network_of("203.0.113.77".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            network_of("2001:db8:abcd:12::1".parse().unwrap()),
            "2001:db8:abcd::/48"
        );
        assert_eq!(
            network_of("::ffff:198.51.100.9".parse().unwrap()),
            "198.51.100.0/24"
        );
    }

    #[test]
    fn c22_details_hash_is_keyed() {
        let a = AuditKey::from_bytes([1; 32]);
        let b = AuditKey::from_bytes([2; 32]);
        assert_ne!(a.mac("{}"), b.mac("{}"));
        assert!(a.matches("{}", &a.mac("{}")));
        assert!(!a.matches("{\"x\":1}", &a.mac("{}")));
        assert_eq!(format!("{a:?}"), "AuditKey([redacted])");
    }

    #[test]
    fn audit_settings_check_their_values() {
        assert!(AuditSettings::default().check().is_ok());
        let bad = AuditSettings {
            checkpoint_every_secs: 0,
            ..AuditSettings::default()
        };
        assert_eq!(bad.check().unwrap_err().key, "audit.checkpoint_every_secs");
        let bad = AuditSettings {
            security_email: Some("nope".into()),
            ..AuditSettings::default()
        };
        assert_eq!(bad.check().unwrap_err().key, "audit.security_email");
        assert_eq!(
            AuditSettings::default().origin("shop.example.jp"),
            "shop.example.jp/audit"
        );
    }
}
