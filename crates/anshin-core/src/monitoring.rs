//! Security alerts evaluated inside anshin (C29, ADR 0018): a job on the
//! one runner (one instance at a time, under its lease) reads the signals
//! every `alerts.every_secs`, compares each enabled rule with its
//! threshold, and puts an alert on or clears it. Each change is one
//! bundle through the one write path: the alert row, a mail to every
//! address of the security team (through the outbox) and an audit entry.
//! The alert row is unique per rule and subject while on
//! (`alerts_one_live`), so a duplicate bundle (a second instance, a run
//! repeated after a lost lease) fails whole and mails nobody: an alert
//! that stays on is mailed once, and its clearing once.
//!
//! The rules and their signals:
//! - `failed_logins` (credential stuffing), `account_locks`, `waf_blocks`
//!   and `server_errors`: how many such events every instance counted
//!   over the rule's window. The events happen on whichever instance the
//!   load balancer picked, and the alert job runs on one instance (under
//!   its lease), so each instance adds what its own counters grew by to
//!   shared tallies in the database ([`Tally`], `alert_tallies`, in
//!   10-second buckets), every `alerts.every_secs` (the `alerts.tally`
//!   job on each instance, and the alert job itself before it reads):
//!   no database write per request, even under a flood of refusals or
//!   5xx, and one upsert per signal and instance per period. The rule
//!   sums the buckets that start inside its window (one range read of the
//!   table's primary key), so a window is counted to within a bucket,
//!   and another instance's events count after its next flush (at most
//!   `every_secs` late); an instance killed between two flushes loses
//!   that period's counts;
//! - `job_failing`: per job, how many runs failed in the window, on every
//!   instance (the same tallies, `job:<name>`, from each instance's
//!   record of its own runs);
//! - `staff_new_network`: per staff member (the subject is the staff
//!   id, never an address or a name), how many networks (IPv4 /24, IPv6
//!   /48, [`crate::audit::network_of`]) they signed in to the console
//!   from for the first time in the window, while other networks of
//!   theirs were known (`staff_networks`, keyed hashes written in the
//!   login's own bundle, [`crate::staff::network_seen`]); an account's
//!   first network is its baseline, not news;
//! - `outbox_backlog`: mails waiting in the outbox now;
//! - `audit_checkpoint`: how long the oldest entry that no signed
//!   checkpoint covers has waited ([`unwitnessed_secs`]; the checkpoint
//!   job fails, and signs nothing, when the log does not verify, so a
//!   verify failure shows here as entries left unwitnessed, and as
//!   `job_failing` for `audit_checkpoint`);
//! - `certificate_expiry`: days until the serving certificate expires.
//!   Per instance by nature: each instance serves and renews the
//!   certificate in its own data directory (at start, on SIGHUP and by a
//!   check every 12 hours), so this reads the one of the instance that
//!   runs the alert job; an instance whose renewal fails is seen when it
//!   runs the job, and by the weekly self-scan (C30), which each
//!   operator can run on every instance (`anshin selfscan`);
//! - `selfscan`: findings in the newest kept self-scan report (C30,
//!   [`crate::selfscan`]; site-wide, from the database).
//!
//! What an attacker might try, and what stops it (tests in
//! `crates/anshin/tests/api/alerts.rs`, ADR 0018):
//! - flood to spam the security team: an alert is mailed when it goes on
//!   and when it clears, never per event; the unique row decides;
//! - flood to hide a second attack behind the first: each rule has its
//!   own alert, and the console lists every one that is on;
//! - put personal data into an alert (an address as a route, a name as a
//!   job): the mail and the webhook carry only the rule's name, a
//!   subject from the code's own closed set (a job's name) or a staff
//!   id, numbers and times; route labels are templates
//!   ([`crate::metrics::route_label`]); a staff member's network is
//!   stored only as a keyed hash and shown nowhere (the login's audit
//!   entry keeps its origin network, as every entry does);
//! - hide credential stuffing behind a load balancer, by sending it to
//!   the instances that do not run the alert job: every instance's
//!   counts reach the shared tallies;
//! - forge or replay a webhook to the team's receiver: every delivery is
//!   signed (HMAC-SHA256 over `"{t}.{body}"`, the scheme the processor's
//!   webhooks use, [`crate::payments::signature`]), so a receiver that
//!   verifies refuses a forged body and an old `t`;
//! - take the webhook receiver down while attacking, so the alert is
//!   lost there: each delivery is queued in the alert's own bundle
//!   (`alert_webhooks`), sent at once, and on failure tried again by the
//!   `alerts.webhook` job after a growing delay ([`webhook_backoff`],
//!   30 s doubling to an hour, [`WEBHOOK_ATTEMPTS`] in all), signed
//!   afresh at each attempt.

use std::collections::BTreeMap;
use std::sync::Arc;

use anshin_domain::{AlertId, Duration, EmailAddress, Lang, MailStatus, Timestamp};
use anshin_store::alerts::{AlertRecord, NewAlert, TALLY_BUCKET, tally_bucket};
use anshin_store::audit::{Actor, AuditAction, AuditTarget, TargetKind};
use anshin_store::{Changes, StoreError, Write, guards};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::Services;
use crate::jobs::{Job, JobStats, Schedule, Scope};
use crate::mail::compose::Letter;
use crate::settings::{Invalid, Section, invalid, within};

/// The rules, by name. Closed: the name is stored with each alert and is
/// what the mail, the webhook and the console show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleName {
    FailedLogins,
    AccountLocks,
    WafBlocks,
    ServerErrors,
    OutboxBacklog,
    JobFailing,
    AuditCheckpoint,
    CertificateExpiry,
    SelfScan,
    StaffNewNetwork,
}

impl RuleName {
    pub const ALL: [RuleName; 10] = [
        RuleName::FailedLogins,
        RuleName::AccountLocks,
        RuleName::WafBlocks,
        RuleName::ServerErrors,
        RuleName::OutboxBacklog,
        RuleName::JobFailing,
        RuleName::AuditCheckpoint,
        RuleName::CertificateExpiry,
        RuleName::SelfScan,
        RuleName::StaffNewNetwork,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleName::FailedLogins => "failed_logins",
            RuleName::AccountLocks => "account_locks",
            RuleName::WafBlocks => "waf_blocks",
            RuleName::ServerErrors => "server_errors",
            RuleName::OutboxBacklog => "outbox_backlog",
            RuleName::JobFailing => "job_failing",
            RuleName::AuditCheckpoint => "audit_checkpoint",
            RuleName::CertificateExpiry => "certificate_expiry",
            RuleName::SelfScan => "selfscan",
            RuleName::StaffNewNetwork => "staff_new_network",
        }
    }

    /// Whether the rule counts events over a window (and so needs one):
    /// a subject with no events in the window reads 0.
    pub fn counts(self) -> bool {
        matches!(
            self,
            RuleName::FailedLogins
                | RuleName::AccountLocks
                | RuleName::WafBlocks
                | RuleName::ServerErrors
                | RuleName::JobFailing
                | RuleName::StaffNewNetwork
        )
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether the alert is on at or above the threshold (counts, ages)
    /// or at or below it (days left).
    fn on(self, value: i64, threshold: i64) -> bool {
        match self {
            RuleName::CertificateExpiry => value <= threshold,
            _ => value >= threshold,
        }
    }
}

/// One rule's configuration (`[alerts.<rule>]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    pub enabled: bool,
    /// The value at which the alert goes on (days for
    /// `certificate_expiry`, where it goes on at or below).
    pub threshold: u64,
    /// The window a count is taken over, in seconds (unused by the
    /// rules that read a current value: backlog, checkpoint age,
    /// certificate days).
    pub window_secs: u64,
}

const fn rule(threshold: u64, window_secs: u64) -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold,
        window_secs,
    }
}

/// `[alerts]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Evaluate the rules at all.
    pub enabled: bool,
    /// How often the rules are evaluated.
    pub every_secs: u64,
    /// The security team's addresses: every alert and every clearing is
    /// mailed to each. Empty: alerts are kept, audited and shown in the
    /// console, and mailed to nobody (the start log says so).
    pub security_team: Vec<String>,
    /// The language of the mails to the security team (alerts, clearings,
    /// self-scan reports): `en` (the runbook's working language) or `ja`.
    #[serde(default = "english")]
    pub language: Lang,
    /// Where alerts are also POSTed (JSON), signed with `webhook_secret`
    /// in the `Anshin-Signature` header. Unset: no webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(
        serialize_with = "crate::settings::redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_secret: Option<SecretString>,
    /// Failed member logins over the window (credential stuffing).
    pub failed_logins: RuleSettings,
    /// Accounts locked over the window.
    pub account_locks: RuleSettings,
    /// Requests the WAF refused over the window.
    pub waf_blocks: RuleSettings,
    /// Requests answered 5xx over the window.
    pub server_errors: RuleSettings,
    /// Mails waiting in the outbox.
    pub outbox_backlog: RuleSettings,
    /// Failed runs of one job over the window.
    pub job_failing: RuleSettings,
    /// Seconds the oldest audit entry not yet in a signed checkpoint
    /// has waited.
    pub audit_checkpoint: RuleSettings,
    /// Days until the serving certificate expires.
    pub certificate_expiry: RuleSettings,
    /// Findings in the newest self-scan report (C30, ADR 0019).
    pub selfscan: RuleSettings,
    /// Networks a staff member signed in to the console from for the
    /// first time, over the window (per staff member).
    #[serde(default = "staff_new_network")]
    pub staff_new_network: RuleSettings,
}

fn staff_new_network() -> RuleSettings {
    rule(1, 3_600)
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every_secs: 60,
            security_team: Vec::new(),
            language: Lang::En,
            webhook_url: None,
            webhook_secret: None,
            failed_logins: rule(200, 300),
            account_locks: rule(20, 900),
            waf_blocks: rule(500, 300),
            server_errors: rule(50, 300),
            outbox_backlog: rule(500, 0),
            job_failing: rule(1, 900),
            audit_checkpoint: rule(7_200, 0),
            certificate_expiry: rule(21, 0),
            selfscan: rule(1, 0),
            staff_new_network: staff_new_network(),
        }
    }
}

impl AlertSettings {
    pub fn rule(&self, name: RuleName) -> RuleSettings {
        match name {
            RuleName::FailedLogins => self.failed_logins,
            RuleName::AccountLocks => self.account_locks,
            RuleName::WafBlocks => self.waf_blocks,
            RuleName::ServerErrors => self.server_errors,
            RuleName::OutboxBacklog => self.outbox_backlog,
            RuleName::JobFailing => self.job_failing,
            RuleName::AuditCheckpoint => self.audit_checkpoint,
            RuleName::CertificateExpiry => self.certificate_expiry,
            RuleName::SelfScan => self.selfscan,
            RuleName::StaffNewNetwork => self.staff_new_network,
        }
    }

    /// The security team's addresses, parsed (checked at start).
    pub fn team(&self) -> Vec<EmailAddress> {
        self.security_team
            .iter()
            .filter_map(|a| EmailAddress::parse(a))
            .collect()
    }
}

fn english() -> Lang {
    Lang::En
}

/// `(key, rule)`: the dotted keys of each rule's threshold and window.
fn rule_keys(name: RuleName) -> (&'static str, &'static str) {
    match name {
        RuleName::FailedLogins => (
            "alerts.failed_logins.threshold",
            "alerts.failed_logins.window_secs",
        ),
        RuleName::AccountLocks => (
            "alerts.account_locks.threshold",
            "alerts.account_locks.window_secs",
        ),
        RuleName::WafBlocks => (
            "alerts.waf_blocks.threshold",
            "alerts.waf_blocks.window_secs",
        ),
        RuleName::ServerErrors => (
            "alerts.server_errors.threshold",
            "alerts.server_errors.window_secs",
        ),
        RuleName::OutboxBacklog => (
            "alerts.outbox_backlog.threshold",
            "alerts.outbox_backlog.window_secs",
        ),
        RuleName::JobFailing => (
            "alerts.job_failing.threshold",
            "alerts.job_failing.window_secs",
        ),
        RuleName::AuditCheckpoint => (
            "alerts.audit_checkpoint.threshold",
            "alerts.audit_checkpoint.window_secs",
        ),
        RuleName::CertificateExpiry => (
            "alerts.certificate_expiry.threshold",
            "alerts.certificate_expiry.window_secs",
        ),
        RuleName::SelfScan => ("alerts.selfscan.threshold", "alerts.selfscan.window_secs"),
        RuleName::StaffNewNetwork => (
            "alerts.staff_new_network.threshold",
            "alerts.staff_new_network.window_secs",
        ),
    }
}

impl Section for AlertSettings {
    fn check(&self) -> Result<(), Invalid> {
        within("alerts.every_secs", self.every_secs, 1, 3_600, " seconds")?;
        if self.security_team.len() > 20 {
            return invalid("alerts.security_team", "at most 20 addresses");
        }
        if self
            .security_team
            .iter()
            .any(|a| EmailAddress::parse(a).is_none())
        {
            return invalid("alerts.security_team", "must be e-mail addresses");
        }
        match (&self.webhook_url, &self.webhook_secret) {
            (Some(url), Some(secret)) => {
                if !(url.starts_with("https://") || url.starts_with("http://127.0.0.1"))
                    || url.len() > 2_000
                {
                    return invalid(
                        "alerts.webhook_url",
                        "must be an https:// URL (http only to 127.0.0.1)",
                    );
                }
                if secret.expose_secret().len() < 16 {
                    return invalid("alerts.webhook_secret", "at least 16 characters");
                }
            }
            (None, None) => {}
            (Some(_), None) => {
                return invalid("alerts.webhook_secret", "is needed with alerts.webhook_url");
            }
            (None, Some(_)) => {
                return invalid("alerts.webhook_url", "is needed with alerts.webhook_secret");
            }
        }
        for name in RuleName::ALL {
            let r = self.rule(name);
            let (threshold, window) = rule_keys(name);
            within(threshold, r.threshold, 1, 1_000_000_000, "")?;
            within(window, r.window_secs, 0, 7 * 86_400, " seconds")?;
            if name.counts() && r.window_secs == 0 {
                return invalid(window, "a count needs a window of at least 1 second");
            }
        }
        Ok(())
    }
}

/// What the core cannot read by itself: counters and facts of the web
/// layer and the TLS files, which the binary provides.
pub trait Probe: Send + Sync + std::fmt::Debug {
    /// Requests the WAF refused so far on this instance (a counter that
    /// only grows while the process lives).
    fn waf_blocked(&self) -> u64;
    /// When the serving certificate expires, if it can be read.
    fn certificate_not_after(&self) -> Option<Timestamp>;
}

/// Delivers a signed alert to the webhook (the binary's HTTP client).
#[async_trait::async_trait]
pub trait AlertHook: Send + Sync + std::fmt::Debug {
    /// POSTs `body` with `signature` in the `Anshin-Signature` header.
    async fn deliver(&self, body: String, signature: String) -> anyhow::Result<()>;
}

/// The `Anshin-Signature` header for `body` signed at `t` (Unix
/// seconds): `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the
/// scheme of the processor's webhooks, so a receiver verifies it as
/// [`crate::payments::signature::verify`] does.
pub fn sign_webhook(secret: &[u8], t: i64, body: &[u8]) -> String {
    crate::payments::signature::sign(secret, t, body)
}

/// One rule's reading for one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub rule: RuleName,
    /// A job's name, or `""`.
    pub subject: String,
    pub value: i64,
    pub threshold: i64,
    pub window_secs: u64,
}

/// The longest window a rule may have (`alerts.*.window_secs`): older
/// tallies are purged.
const LONGEST_WINDOW: Duration = Duration::from_micros(7 * 86_400 * 1_000_000);

/// This instance's share of the alert signals: what its own counters
/// (failed member logins, account locks, WAF refusals, 5xx answers, each
/// job's failed runs) grew by since it last added them to the shared
/// tallies in the database. [`Tally::flush`] adds the growth, in the
/// bucket of now, as one bundle; the alert job, on whichever instance
/// holds its lease, sums every instance's tallies over each rule's window.
#[derive(Debug)]
pub struct Tally {
    svc: Services,
    probe: Arc<dyn Probe>,
    jobs: Arc<JobStats>,
    /// Each signal's counter value at the last flush that committed.
    /// Held across the commit, so two flushes of one instance (the
    /// `alerts.tally` job and the alert job) never add the same growth.
    flushed: tokio::sync::Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    pub fn new(svc: Services, probe: Arc<dyn Probe>, jobs: Arc<JobStats>) -> Self {
        Self {
            svc,
            probe,
            jobs,
            flushed: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// The counters of this process, by signal name (names from the
    /// code's closed set: a rule's name, or `job:<job name>`).
    fn counters(&self) -> Vec<(String, u64)> {
        let m = &self.svc.metrics;
        let mut out = vec![
            (
                RuleName::FailedLogins.as_str().to_owned(),
                m.logins_failed.get(),
            ),
            (
                RuleName::AccountLocks.as_str().to_owned(),
                m.account_locks.get(),
            ),
            (
                RuleName::WafBlocks.as_str().to_owned(),
                self.probe.waf_blocked(),
            ),
            (
                RuleName::ServerErrors.as_str().to_owned(),
                m.http.server_errors(),
            ),
        ];
        for (name, c) in self.jobs.snapshot() {
            out.push((job_signal(name), c.failures));
        }
        out
    }

    /// Adds what this instance's counters grew by since the last flush to
    /// the shared tallies; returns how many events it added.
    pub async fn flush(&self) -> Result<u64, StoreError> {
        let mut flushed = self.flushed.lock().await;
        let now = self.svc.now();
        let current = self.counters();
        let mut counts = Vec::new();
        let mut added = 0u64;
        for (signal, value) in &current {
            let before = flushed.get(signal).copied().unwrap_or(0);
            let grew = value.saturating_sub(before);
            if grew > 0 {
                added = added.saturating_add(grew);
                counts.push((signal.clone(), i64::try_from(grew).unwrap_or(i64::MAX)));
            }
        }
        if !counts.is_empty() {
            self.svc
                .store
                .commit(&Changes::new().with(Write::AddAlertTallies {
                    bucket: tally_bucket(now),
                    counts,
                }))
                .await?;
        }
        flushed.extend(current);
        Ok(added)
    }
}

/// The tally signal of a job's failed runs.
fn job_signal(job: &str) -> String {
    format!("job:{job}")
}

/// The `alerts.tally` job: every `alerts.every_secs`, on every instance,
/// adds the instance's counts to the shared tallies ([`Tally::flush`]).
#[derive(Debug)]
pub struct TallyJob {
    pub tally: Arc<Tally>,
    pub every: std::time::Duration,
}

#[async_trait::async_trait]
impl Job for TallyJob {
    fn name(&self) -> &'static str {
        "alerts.tally"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: self.every,
            scope: Scope::EachInstance,
        }
    }

    async fn run(&self, _stop: &CancellationToken) -> anyhow::Result<u64> {
        Ok(self.tally.flush().await?)
    }
}

/// The alert job (`alerts.evaluate`).
#[derive(Debug)]
pub struct AlertJob {
    svc: Services,
    settings: AlertSettings,
    probe: Arc<dyn Probe>,
    hook: Option<Arc<dyn AlertHook>>,
    tally: Arc<Tally>,
    lease: Duration,
}

impl AlertJob {
    pub fn new(
        svc: Services,
        settings: AlertSettings,
        probe: Arc<dyn Probe>,
        hook: Option<Arc<dyn AlertHook>>,
        tally: Arc<Tally>,
        lease: Duration,
    ) -> Self {
        Self {
            svc,
            settings,
            probe,
            hook,
            tally,
            lease,
        }
    }

    /// Every signal's tallies over `window_secs` up to now (the buckets
    /// that start inside the window), once per distinct window.
    async fn sums(
        &self,
        cache: &mut BTreeMap<u64, Vec<(String, i64)>>,
        window_secs: u64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        if let Some(s) = cache.get(&window_secs) {
            return Ok(s.clone());
        }
        let since = self.svc.now() - Duration::from_secs(window_secs);
        let s = self.svc.store.alerts().tallies_since(since).await?;
        cache.insert(window_secs, s.clone());
        Ok(s)
    }

    /// Reads every enabled rule's signal.
    pub async fn observe(&self) -> Result<Vec<Observation>, StoreError> {
        let svc = &self.svc;
        let now = svc.now();
        let mut out = Vec::new();
        let mut push = |rule: RuleName, subject: String, value: Option<i64>| {
            let r = self.settings.rule(rule);
            if let Some(value) = value {
                out.push(Observation {
                    rule,
                    subject,
                    value,
                    threshold: i64::try_from(r.threshold).unwrap_or(i64::MAX),
                    window_secs: r.window_secs,
                });
            }
        };
        // This instance's own counts first, so that what it saw is in the
        // sums it reads; the other instances' arrive with their flushes.
        self.tally.flush().await?;
        let mut cache = BTreeMap::new();
        for rule in [
            RuleName::FailedLogins,
            RuleName::AccountLocks,
            RuleName::WafBlocks,
            RuleName::ServerErrors,
        ] {
            let r = self.settings.rule(rule);
            if r.enabled {
                let sums = self.sums(&mut cache, r.window_secs).await?;
                let n = sums
                    .iter()
                    .find(|(s, _)| s == rule.as_str())
                    .map_or(0, |(_, n)| *n);
                push(rule, String::new(), Some(n));
            }
        }
        let r = self.settings.job_failing;
        if r.enabled {
            let sums = self.sums(&mut cache, r.window_secs).await?;
            let mut jobs: BTreeMap<String, i64> = self
                .tally
                .jobs
                .snapshot()
                .into_keys()
                .map(|name| (name.to_owned(), 0))
                .collect();
            for (signal, n) in sums {
                if let Some(name) = signal.strip_prefix("job:") {
                    jobs.insert(name.to_owned(), n);
                }
            }
            for (name, n) in jobs {
                push(RuleName::JobFailing, name, Some(n));
            }
        }
        let r = self.settings.staff_new_network;
        if r.enabled {
            let since = now - Duration::from_secs(r.window_secs);
            for (staff, n) in svc.store.alerts().new_staff_networks(since).await? {
                push(RuleName::StaffNewNetwork, staff.to_string(), Some(n));
            }
        }
        if self.settings.outbox_backlog.enabled {
            let n = svc
                .store
                .mail()
                .count_by_status(MailStatus::Pending)
                .await?;
            push(RuleName::OutboxBacklog, String::new(), Some(n));
        }
        if self.settings.audit_checkpoint.enabled {
            let waiting = unwitnessed_secs(svc.store.as_ref(), now).await?;
            push(RuleName::AuditCheckpoint, String::new(), Some(waiting));
        }
        if self.settings.certificate_expiry.enabled
            && let Some(until) = self.probe.certificate_not_after()
        {
            push(
                RuleName::CertificateExpiry,
                String::new(),
                Some((until.micros() - now.micros()).div_euclid(86_400_000_000)),
            );
        }
        if self.settings.selfscan.enabled
            && let Some(report) = svc.store.selfscan().latest().await?
        {
            push(RuleName::SelfScan, String::new(), Some(report.findings));
        }
        Ok(out)
    }

    /// One evaluation: puts on what crossed its threshold, clears what
    /// fell back. Returns how many alerts changed.
    pub async fn evaluate(&self) -> anyhow::Result<u64> {
        let observed = self.observe().await?;
        let firing = self.svc.store.alerts().firing().await?;
        let mut changed = 0;
        for o in &observed {
            let on = firing
                .iter()
                .find(|a| a.rule == o.rule.as_str() && a.subject == o.subject);
            match (on, o.rule.on(o.value, o.threshold)) {
                (None, true) => changed += u64::from(self.fire(o).await?),
                (Some(a), false) => changed += u64::from(self.resolve(a, Some(o)).await?),
                _ => {}
            }
        }
        for a in &firing {
            let rule = RuleName::parse(&a.rule);
            let enabled = rule.is_some_and(|r| self.settings.rule(r).enabled);
            if !enabled {
                // An alert of a rule that was switched off clears.
                changed += u64::from(self.resolve(a, None).await?);
                continue;
            }
            // A counting rule's subject without events in the window (a
            // job no instance ran lately, a staff member whose new
            // network left the window) reads 0.
            if let Some(rule) = rule.filter(|r| r.counts())
                && !observed
                    .iter()
                    .any(|o| o.rule == rule && o.subject == a.subject)
            {
                let r = self.settings.rule(rule);
                let zero = Observation {
                    rule,
                    subject: a.subject.clone(),
                    value: 0,
                    threshold: a.threshold,
                    window_secs: r.window_secs,
                };
                changed += u64::from(self.resolve(a, Some(&zero)).await?);
            }
        }
        // Tallies older than any window go (one range delete of the
        // primary key; nothing most of the time).
        self.svc
            .store
            .alerts()
            .purge_tallies(tally_bucket(self.svc.now() - LONGEST_WINDOW) - TALLY_BUCKET)
            .await?;
        Ok(changed)
    }

    fn details(rule: &str, subject: &str, value: i64, threshold: i64) -> serde_json::Value {
        serde_json::json!({
            "rule": rule,
            "subject": subject,
            "value": value,
            "threshold": threshold,
        })
    }

    async fn fire(&self, o: &Observation) -> anyhow::Result<bool> {
        let svc = &self.svc;
        let id: AlertId = svc.new_id();
        let now = svc.now();
        let mut changes = Changes::new().with(Write::FireAlert(NewAlert {
            id,
            rule: o.rule.as_str().to_owned(),
            subject: o.subject.clone(),
            fired_at: now,
            value: o.value,
            threshold: o.threshold,
        }));
        for to in self.settings.team() {
            changes.push_mail(crate::mail::letter(
                svc,
                self.settings.language,
                &to,
                &Letter::Alert {
                    rule: o.rule.as_str(),
                    subject: &o.subject,
                    value: o.value,
                    threshold: o.threshold,
                    window_secs: o.window_secs,
                    resolved: false,
                    when_utc: crate::accounts::format_time(now, 0, "UTC"),
                },
            )?);
        }
        self.queue_hook(
            &mut changes,
            id,
            "fired",
            o.rule.as_str(),
            &o.subject,
            o.value,
            o.threshold,
            now,
        );
        let changes = changes.audited(crate::audit::entry(
            svc,
            Actor::System,
            AuditAction::AlertFired,
            Some(alert_target(id)),
            None,
            o.rule.as_str(),
            Self::details(o.rule.as_str(), &o.subject, o.value, o.threshold),
        ));
        match svc.store.commit(&changes).await {
            Ok(()) => {}
            // Another instance (or an earlier run) put it on first: its
            // mail went, ours is dropped with the bundle.
            Err(StoreError::Precondition(g)) if g == guards::ALERT_ON => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        svc.metrics.alerts_fired.inc();
        tracing::warn!(rule = o.rule.as_str(), subject = %o.subject, value = o.value, threshold = o.threshold, "security alert on");
        self.send_hooks().await;
        Ok(true)
    }

    async fn resolve(&self, a: &AlertRecord, o: Option<&Observation>) -> anyhow::Result<bool> {
        let svc = &self.svc;
        let now = svc.now();
        let value = o.map(|o| o.value).unwrap_or(a.value);
        let rule = RuleName::parse(&a.rule);
        let mut changes = Changes::new().with(Write::ResolveAlert {
            alert: a.id,
            at: now,
        });
        if let Some(rule) = rule {
            for to in self.settings.team() {
                changes.push_mail(crate::mail::letter(
                    svc,
                    self.settings.language,
                    &to,
                    &Letter::Alert {
                        rule: rule.as_str(),
                        subject: &a.subject,
                        value,
                        threshold: a.threshold,
                        window_secs: self.settings.rule(rule).window_secs,
                        resolved: true,
                        when_utc: crate::accounts::format_time(now, 0, "UTC"),
                    },
                )?);
            }
        }
        self.queue_hook(
            &mut changes,
            a.id,
            "resolved",
            &a.rule,
            &a.subject,
            value,
            a.threshold,
            now,
        );
        let changes = changes.audited(crate::audit::entry(
            svc,
            Actor::System,
            AuditAction::AlertResolved,
            Some(alert_target(a.id)),
            None,
            rule.map(RuleName::as_str).unwrap_or("unknown_rule"),
            Self::details(&a.rule, &a.subject, value, a.threshold),
        ));
        match svc.store.commit(&changes).await {
            Ok(()) => {}
            Err(StoreError::Precondition(g)) if g == guards::ALERT_NOT_ON => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(rule = %a.rule, subject = %a.subject, "security alert cleared");
        self.send_hooks().await;
        Ok(true)
    }

    /// Puts the webhook delivery of an alert's event in its bundle, if a
    /// webhook is configured: it exists exactly when the alert changed.
    #[allow(clippy::too_many_arguments)]
    fn queue_hook(
        &self,
        changes: &mut Changes,
        alert: AlertId,
        event: &'static str,
        rule: &str,
        subject: &str,
        value: i64,
        threshold: i64,
        at: Timestamp,
    ) {
        if self.hook.is_some() && self.settings.webhook_secret.is_some() {
            changes.push(Write::QueueAlertWebhook {
                alert,
                event,
                body: webhook_body(event, rule, subject, value, threshold, at),
                at,
            });
        }
    }

    /// Sends what is due now (the delivery just queued among it); a
    /// failure waits for [`WebhookJob`]. Never fails the alert: its mail
    /// is queued with it.
    async fn send_hooks(&self) {
        let (Some(hook), Some(secret)) = (&self.hook, &self.settings.webhook_secret) else {
            return;
        };
        if let Err(e) = deliver_webhooks(&self.svc, hook.as_ref(), secret).await {
            tracing::warn!(error = %e, "cannot deliver the alert webhook now; the retry job will");
        }
    }
}

/// How many attempts a webhook delivery gets before it is given up
/// (about seven hours of retries).
pub const WEBHOOK_ATTEMPTS: i64 = 12;

/// The wait before attempt `n + 1` after `n` failed ones: 30 s, doubling,
/// at most an hour.
pub fn webhook_backoff(failed: i64) -> Duration {
    let doublings = u32::try_from(failed.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    let secs = 30u64.saturating_mul(1 << doublings).min(3_600);
    Duration::from_secs(secs)
}

/// How long a claimed delivery is held for its attempt (more than the
/// HTTP client's timeouts), before another run may try it.
const WEBHOOK_CLAIM: Duration = Duration::from_micros(120_000_000);

/// Sends every alert webhook delivery that is due, each signed at the
/// time of its attempt (so a retry is not an old `t` to the receiver);
/// a failure is counted, logged (without the body) and tried again after
/// [`webhook_backoff`], until [`WEBHOOK_ATTEMPTS`]. Returns how many
/// were delivered.
pub async fn deliver_webhooks(
    svc: &Services,
    hook: &dyn AlertHook,
    secret: &SecretString,
) -> Result<u64, StoreError> {
    let now = svc.now();
    let alerts = svc.store.alerts();
    let mut delivered = 0;
    for d in alerts.claim_webhooks(now, now + WEBHOOK_CLAIM, 20).await? {
        let signature = sign_webhook(
            secret.expose_secret().as_bytes(),
            now.secs(),
            d.body.as_bytes(),
        );
        match hook.deliver(d.body.clone(), signature).await {
            Ok(()) => {
                alerts
                    .webhook_attempted(d.alert, &d.event, now, Ok(()))
                    .await?;
                delivered += 1;
            }
            Err(e) => {
                svc.metrics.alert_webhook_failures.inc();
                let failed = d.attempts + 1;
                let next = (failed < WEBHOOK_ATTEMPTS).then(|| now + webhook_backoff(failed));
                let reason = e.to_string();
                let reason: String = reason.chars().take(200).collect();
                tracing::warn!(error = %reason, attempt = failed, gave_up = next.is_none(), "alert webhook failed");
                alerts
                    .webhook_attempted(d.alert, &d.event, now, Err((&reason, next)))
                    .await?;
            }
        }
    }
    Ok(delivered)
}

/// The `alerts.webhook` job: every `alerts.every_secs`, on every
/// instance, sends the alert webhook deliveries that are due (failed
/// ones after their backoff); each is claimed in the database first, so
/// two instances never send the same one at once.
#[derive(Debug)]
pub struct WebhookJob {
    pub svc: Services,
    pub hook: Arc<dyn AlertHook>,
    pub secret: SecretString,
    pub every: std::time::Duration,
}

#[async_trait::async_trait]
impl Job for WebhookJob {
    fn name(&self) -> &'static str {
        "alerts.webhook"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: self.every,
            scope: Scope::EachInstance,
        }
    }

    async fn run(&self, _stop: &CancellationToken) -> anyhow::Result<u64> {
        Ok(deliver_webhooks(&self.svc, self.hook.as_ref(), &self.secret).await?)
    }
}

/// How long the oldest audit entry that no signed checkpoint covers yet
/// has waited, in seconds (0 when every entry is covered). A quiet log
/// needs no new checkpoint, so this, not the last checkpoint's age, is
/// what says that checkpoints stopped (or that the log stopped
/// verifying, since the checkpoint job then signs nothing).
pub async fn unwitnessed_secs(
    store: &dyn anshin_store::Store,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let audit = store.audit();
    let covered = audit
        .checkpoints()
        .await?
        .iter()
        .map(|c| c.size)
        .max()
        .unwrap_or(0);
    Ok(match audit.entries(covered, 1).await?.first() {
        Some(e) => (now.micros() - e.entry.at.micros())
            .div_euclid(1_000_000)
            .max(0),
        None => 0,
    })
}

/// The JSON an alert webhook carries: nothing but the rule, the subject,
/// numbers and the time.
pub fn webhook_body(
    event: &str,
    rule: &str,
    subject: &str,
    value: i64,
    threshold: i64,
    at: Timestamp,
) -> String {
    serde_json::json!({
        "event": event,
        "rule": rule,
        "subject": subject,
        "value": value,
        "threshold": threshold,
        "at": at.secs(),
    })
    .to_string()
}

fn alert_target(id: AlertId) -> AuditTarget {
    AuditTarget {
        kind: TargetKind::Alert,
        id: id.to_string(),
    }
}

#[async_trait::async_trait]
impl Job for AlertJob {
    fn name(&self) -> &'static str {
        "alerts.evaluate"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: std::time::Duration::from_secs(self.settings.every_secs),
            scope: Scope::OneInstance { lease: self.lease },
        }
    }

    async fn run(&self, _stop: &CancellationToken) -> anyhow::Result<u64> {
        self.evaluate().await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    #[test]
    fn c29_webhook_retries_back_off_to_an_hour() {
        let secs = |n| webhook_backoff(n).micros() / 1_000_000;
        assert_eq!([secs(1), secs(2), secs(3), secs(4)], [30, 60, 120, 240]);
        assert_eq!(secs(8), 3_600);
        assert_eq!(secs(100), 3_600);
    }

    #[test]
    fn c29_certificate_days_fire_at_or_below_the_threshold() {
        assert!(RuleName::CertificateExpiry.on(21, 21));
        assert!(!RuleName::CertificateExpiry.on(22, 21));
        assert!(RuleName::FailedLogins.on(200, 200));
        assert!(!RuleName::FailedLogins.on(199, 200));
    }

    #[test]
    fn c29_settings_refuse_what_cannot_work() {
        assert!(AlertSettings::default().check().is_ok());
        let s = AlertSettings {
            security_team: vec!["not an address".into()],
            ..AlertSettings::default()
        };
        assert_eq!(s.check().unwrap_err().key, "alerts.security_team");
        let mut s = AlertSettings::default();
        s.failed_logins.window_secs = 0;
        assert_eq!(
            s.check().unwrap_err().key,
            "alerts.failed_logins.window_secs"
        );
        let mut s = AlertSettings {
            webhook_url: Some("http://hooks.example/x".into()),
            webhook_secret: Some("0123456789abcdef".to_owned().into()),
            ..AlertSettings::default()
        };
        assert_eq!(s.check().unwrap_err().key, "alerts.webhook_url");
        s.webhook_secret = None;
        assert_eq!(s.check().unwrap_err().key, "alerts.webhook_secret");
    }

    #[test]
    fn c29_the_webhook_signature_verifies_and_a_forgery_does_not() {
        let body = webhook_body("fired", "failed_logins", "", 250, 200, at(1_000));
        let sig = sign_webhook(b"0123456789abcdef", 1_000, body.as_bytes());
        let tol = Duration::from_secs(300);
        assert!(
            crate::payments::signature::verify(
                b"0123456789abcdef",
                &sig,
                body.as_bytes(),
                at(1_000),
                tol
            )
            .is_ok()
        );
        let forged = body.replace("250", "1");
        assert!(
            crate::payments::signature::verify(
                b"0123456789abcdef",
                &sig,
                forged.as_bytes(),
                at(1_000),
                tol
            )
            .is_err()
        );
        assert!(
            crate::payments::signature::verify(
                b"0123456789abcdef",
                &sig,
                body.as_bytes(),
                at(2_000),
                tol
            )
            .is_err()
        );
    }
}
