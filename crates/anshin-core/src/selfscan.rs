//! The weekly self-scan (C30, ADR 0019): anshin checks itself for known
//! vulnerabilities and for settings that weaken it.
//!
//! The binary (`anshin::selfscan`) does the reading: the dependency list
//! that `cargo auditable` embedded in the running executable, the RustSec
//! advisory database directory of `selfscan.advisory_db`, the certificate,
//! the TLS files and the settings. It hands back a [`Report`]. This module
//! keeps the report: one bundle through the one write path holds the
//! report's row, a mail of its text to every address of the security team
//! (`alerts.security_team`, through the outbox) and a `selfscan_ran` audit
//! entry, so a report is kept exactly when it was mailed and audited. The
//! alert job's `selfscan` rule reads the newest kept report: findings put
//! the alert on (one mail), a clean scan clears it.
//!
//! [`SelfScanJob`] runs on the one job runner, one instance at a time under
//! its lease, every `selfscan.every_secs` (a week) of the clock: the
//! database records when the scan is next due, so two instances scan once,
//! and a restart neither scans again nor skips a week (each instance asks
//! every `selfscan.poll_secs` whether it is due).
//!
//! What an attacker would try, and what stops it (tests in
//! `crates/anshin/tests/api/selfscan.rs`):
//! - run a binary built without the list (a plain `cargo build`, or one
//!   whose list was stripped) so the scan has nothing to match: a missing
//!   or unreadable list is a finding, never a clean report;
//! - point the scan at an empty, missing or unparsable advisory database:
//!   a finding too (no database, no verdict);
//! - hide a finding behind the ignore list: ignored advisories are still
//!   listed in the report (text, JSON, mail, console), with their ids;
//! - make the scan run many times (many instances, restarts) to flood the
//!   team: the lease and the recorded next run make it once per week;
//! - put personal data into the report: it holds crate names, versions,
//!   advisory ids, setting names, file paths of the operator's own
//!   configuration and dates only.

use std::path::PathBuf;
use std::sync::Arc;

use anshin_domain::{Duration, EmailAddress, Lang, SelfScanId, Timestamp};
use anshin_store::audit::{Actor, AuditAction, AuditTarget, TargetKind};
use anshin_store::selfscan::NewSelfScan;
use anshin_store::{Changes, Write};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::Services;
use crate::jobs::{Job, Schedule, Scope};
use crate::mail::compose::Letter;
use crate::settings::{Invalid, Section, invalid, within};

/// `[selfscan]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfScanSettings {
    /// Run the weekly scan at all.
    pub enabled: bool,
    /// How often the scan runs (a week).
    pub every_secs: u64,
    /// How often each instance asks the database whether the scan is due.
    pub poll_secs: u64,
    /// The RustSec advisory database: a directory holding `crates/`
    /// (a clone of github.com/rustsec/advisory-db, kept fresh by the
    /// operator). Unset: the scan reports that it has no database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory_db: Option<PathBuf>,
    /// The executable whose embedded dependency list is checked. Unset:
    /// the running one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<PathBuf>,
    /// Advisory ids accepted after review: still listed in every report
    /// (as ignored), but no finding. The default is the one cargo audit
    /// ignores too (`.cargo/audit.toml`): RUSTSEC-2023-0071, a timing
    /// side channel of RSA *private-key* operations in `rsa`, which
    /// anshin only uses to verify passkey signatures.
    pub ignore: Vec<String>,
}

impl Default for SelfScanSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every_secs: 7 * 86_400,
            poll_secs: 60,
            advisory_db: None,
            binary: None,
            ignore: vec!["RUSTSEC-2023-0071".into()],
        }
    }
}

impl Section for SelfScanSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "selfscan.every_secs",
            self.every_secs,
            60,
            31 * 86_400,
            " seconds",
        )?;
        within("selfscan.poll_secs", self.poll_secs, 1, 3_600, " seconds")?;
        if self.ignore.len() > 100 {
            return invalid("selfscan.ignore", "at most 100 advisory ids");
        }
        if self.ignore.iter().any(|id| !valid_advisory_id(id)) {
            return invalid(
                "selfscan.ignore",
                "must be advisory ids such as RUSTSEC-2023-0071",
            );
        }
        Ok(())
    }
}

/// `RUSTSEC-YYYY-NNNN` (or another database's `PREFIX-…` id): letters,
/// digits and dashes, short.
fn valid_advisory_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id.contains('-')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A crate version in the embedded list has a known vulnerability.
    Advisory,
    /// The executable carries no dependency list (not built with
    /// `cargo auditable`), or it cannot be read.
    NoDependencyList,
    /// The advisory database is not configured, missing or unreadable.
    AdvisoryDb,
    /// The serving certificate expires soon, has expired or cannot be read.
    Certificate,
    /// The TLS files or settings are weak (a private key others can read,
    /// a self-signed certificate on a public site).
    Tls,
    /// A setting that weakens the site (WAF off, a private listener on a
    /// public address, Argon2 below the minimum, debug logging, no witness
    /// directory).
    Config,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Advisory => "advisory",
            FindingKind::NoDependencyList => "no_dependency_list",
            FindingKind::AdvisoryDb => "advisory_db",
            FindingKind::Certificate => "certificate",
            FindingKind::Tls => "tls",
            FindingKind::Config => "config",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The advisory's id (`RUSTSEC-…`), or the check's name
    /// (`waf_off`, `ops_listener_public`, …).
    pub id: String,
    /// What it is found in: `crate@version`, a setting's key, a file.
    pub subject: String,
    /// One line saying what is wrong (an advisory's title).
    pub detail: String,
}

/// An informational advisory (unmaintained, unsound, notice) that
/// matches: listed, not a finding (as cargo audit's warnings).
pub type Warning = Finding;

/// What the scan read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// When the scan ran (RFC 3339, UTC).
    pub ran_at: String,
    /// The executable that was read.
    pub binary: String,
    /// How many packages its embedded list holds; `None` without a list.
    pub dependencies: Option<usize>,
    /// The advisory database read, and how many advisories it held.
    pub advisory_db: Option<String>,
    pub advisories: usize,
    /// Everything that needs the security team.
    pub findings: Vec<Finding>,
    /// Informational advisories that match (unmaintained, unsound).
    pub warnings: Vec<Warning>,
    /// Vulnerabilities that match but were accepted (`selfscan.ignore`).
    pub ignored: Vec<Finding>,
}

impl Report {
    /// The report as text, as mailed and shown in the console.
    pub fn text(&self) -> String {
        let mut out = format!(
            "anshin self-scan at {}\nbinary: {}\ndependencies: {}\nadvisory database: {} ({} advisories)\n",
            self.ran_at,
            self.binary,
            self.dependencies
                .map_or_else(|| "no embedded list".to_owned(), |n| n.to_string()),
            self.advisory_db.as_deref().unwrap_or("none"),
            self.advisories,
        );
        let mut section = |title: &str, items: &[Finding]| {
            out.push_str(&format!("\n{title}: {}\n", items.len()));
            for f in items {
                out.push_str(&format!(
                    "- [{}] {} {}: {}\n",
                    f.kind.as_str(),
                    f.id,
                    f.subject,
                    f.detail
                ));
            }
        };
        section("findings", &self.findings);
        section("warnings (informational advisories)", &self.warnings);
        section("ignored (selfscan.ignore)", &self.ignored);
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Reads what the scan checks (the binary's part: files, settings).
pub trait Scanner: Send + Sync + std::fmt::Debug {
    /// One scan at `now`. Blocking (reads files): the job calls it on the
    /// blocking pool.
    fn scan(&self, now: Timestamp) -> Report;
}

/// Keeps `report`: its row, a mail to each of `team` and the audit entry,
/// in one bundle. Returns the report's id.
pub async fn keep(
    svc: &Services,
    team: &[EmailAddress],
    lang: Lang,
    report: &Report,
) -> anyhow::Result<SelfScanId> {
    let id: SelfScanId = svc.new_id();
    let now = svc.now();
    let text = report.text();
    let findings = i64::try_from(report.findings.len()).unwrap_or(i64::MAX);
    let mut changes = Changes::new().with(Write::RecordSelfScan(NewSelfScan {
        id,
        ran_at: now,
        findings,
        json: report.json(),
        text: text.clone(),
    }));
    for to in team {
        changes.push_mail(crate::mail::letter(
            svc,
            lang,
            to,
            &Letter::SelfScan {
                findings,
                when_utc: crate::accounts::format_time(now, 0, "UTC"),
                report: &text,
            },
        )?);
    }
    let ids: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
    let changes = changes.audited(crate::audit::entry(
        svc,
        Actor::System,
        AuditAction::SelfScanRan,
        Some(AuditTarget {
            kind: TargetKind::SelfScan,
            id: id.to_string(),
        }),
        None,
        "weekly_selfscan",
        serde_json::json!({
            "findings": findings,
            "ids": ids,
            "dependencies": report.dependencies,
            "advisories": report.advisories,
        }),
    ));
    svc.store.commit(&changes).await?;
    tracing::info!(findings, "self-scan report kept");
    Ok(id)
}

/// The weekly self-scan job (`selfscan.weekly`).
#[derive(Debug)]
pub struct SelfScanJob {
    pub svc: Services,
    pub settings: SelfScanSettings,
    pub scanner: Arc<dyn Scanner>,
    /// Who the report is mailed to (`alerts.security_team`), and in which
    /// language (`alerts.language`).
    pub team: Vec<EmailAddress>,
    pub lang: Lang,
    pub lease: Duration,
}

impl SelfScanJob {
    /// One scan, kept. Returns how many findings it had.
    pub async fn scan_and_keep(&self) -> anyhow::Result<u64> {
        let scanner = self.scanner.clone();
        let now = self.svc.now();
        let report = tokio::task::spawn_blocking(move || scanner.scan(now)).await?;
        keep(&self.svc, &self.team, self.lang, &report).await?;
        Ok(report.findings.len() as u64)
    }
}

#[async_trait::async_trait]
impl Job for SelfScanJob {
    fn name(&self) -> &'static str {
        "selfscan.weekly"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: std::time::Duration::from_secs(self.settings.every_secs),
            scope: Scope::OneInstance { lease: self.lease },
        }
    }

    fn poll(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.settings.poll_secs)
    }

    async fn run(&self, _stop: &CancellationToken) -> anyhow::Result<u64> {
        self.scan_and_keep().await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn c30_settings_refuse_what_cannot_work() {
        assert!(SelfScanSettings::default().check().is_ok());
        let s = SelfScanSettings {
            ignore: vec!["RUSTSEC-2023-0071; rm -rf".into()],
            ..SelfScanSettings::default()
        };
        assert_eq!(s.check().unwrap_err().key, "selfscan.ignore");
        let s = SelfScanSettings {
            every_secs: 0,
            ..SelfScanSettings::default()
        };
        assert_eq!(s.check().unwrap_err().key, "selfscan.every_secs");
    }

    #[test]
    fn c30_the_text_lists_findings_warnings_and_ignored() {
        let f = |id: &str| Finding {
            kind: FindingKind::Advisory,
            id: id.into(),
            subject: "x@1.0.0".into(),
            detail: "bad".into(),
        };
        let r = Report {
            findings: vec![f("RUSTSEC-2099-0001")],
            ignored: vec![f("RUSTSEC-2023-0071")],
            ..Report::default()
        };
        let t = r.text();
        assert!(t.contains("dependencies: no embedded list"), "{t}");
        assert!(t.contains("findings: 1\n- [advisory] RUSTSEC-2099-0001 x@1.0.0: bad"));
        assert!(t.contains("ignored (selfscan.ignore): 1\n- [advisory] RUSTSEC-2023-0071"));
    }
}
