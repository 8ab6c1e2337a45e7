//! What the weekly self-scan (C30, ADR 0019; `anshin_core::selfscan`)
//! reads: the dependency list `cargo auditable` embedded in the running
//! executable (`auditable-info`), matched against the RustSec advisory
//! database directory of `selfscan.advisory_db` (`rustsec`, read from the
//! directory: no git, no network), the serving certificate and TLS files,
//! and the settings that weaken the site.
//!
//! A binary without a list, a list that cannot be read, and a missing or
//! empty advisory database are findings: a scan that could not look is
//! never a clean report.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anshin_core::selfscan::{Finding, FindingKind, Report, Scanner};
use anshin_domain::Timestamp;

use crate::config::{Settings, WafMode};
use crate::tls::CertInfo;

/// The lowest Argon2id cost the scan accepts (OWASP: 19 MiB, 2 passes).
pub const ARGON2_MIN_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_MIN_ITERATIONS: u32 = 2;

/// The binary's scanner: the settings it runs with, and which executable
/// to read (`--binary`, else `selfscan.binary`, else the running one).
#[derive(Debug)]
pub struct ServerScan {
    pub settings: Settings,
    pub binary: Option<PathBuf>,
}

impl Scanner for ServerScan {
    fn scan(&self, now: Timestamp) -> Report {
        scan(&self.settings, self.binary.as_deref(), now)
    }
}

fn finding(
    kind: FindingKind,
    id: &str,
    subject: impl Into<String>,
    detail: impl Into<String>,
) -> Finding {
    Finding {
        kind,
        id: id.to_owned(),
        subject: subject.into(),
        detail: detail.into(),
    }
}

/// One scan with `settings` at `now`.
pub fn scan(settings: &Settings, binary: Option<&Path>, now: Timestamp) -> Report {
    let binary = binary
        .map(Path::to_path_buf)
        .or_else(|| settings.selfscan.binary.clone())
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_default();
    let mut report = Report {
        ran_at: anshin_core::accounts::format_time(now, 0, "UTC"),
        binary: binary.display().to_string(),
        ..Report::default()
    };
    dependencies(
        &mut report,
        &binary,
        settings.selfscan.advisory_db.as_deref(),
        &settings.selfscan.ignore,
    );
    tls(&mut report, settings, now);
    hazards(&mut report, settings);
    vdp_expiry(&mut report, settings, now);
    report
}

/// security.txt's `Expires` (C5, RFC 9116): a fixed `vdp.expires` within
/// `vdp.warn_days` (or past) is a finding; a computed one cannot lapse.
pub fn vdp_expiry(report: &mut Report, settings: &Settings, now: Timestamp) {
    let Some(days) = settings.vdp.fixed_days_left(now) else {
        return;
    };
    let warn = i64::try_from(settings.vdp.warn_days).unwrap_or(30);
    if days < 0 {
        report.findings.push(finding(
            FindingKind::Config,
            "security_txt_expired",
            "vdp.expires",
            "security.txt's Expires has passed: researchers must treat its contact details as \
             stale (RFC 9116 §2.5.5); set a new date within a year, or unset it",
        ));
    } else if days <= warn {
        report.findings.push(finding(
            FindingKind::Config,
            "security_txt_expiring",
            "vdp.expires",
            format!(
                "security.txt's Expires is in {days} days: set a new date within a year, or \
                 unset it to have it computed"
            ),
        ));
    }
}

/// A package of a dependency list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub version: rustsec::Version,
    /// Only used while building (a build script, a procedural macro).
    pub build: bool,
}

/// A package of the list `cargo auditable` embedded in an executable, as
/// `anshin sbom` prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct EmbeddedPackage {
    pub name: String,
    pub version: String,
    /// `crates.io`, `local` (a crate of this workspace), `git`, `registry`
    /// or what the list says.
    pub source: String,
    /// `runtime`, or `build` (only used while building: a build script or
    /// a procedural macro).
    pub kind: &'static str,
}

/// Why an executable's dependency list cannot be had.
#[derive(Debug)]
pub enum ListError {
    /// Not built with `cargo auditable`.
    Missing,
    /// There is a list, but it cannot be read (or the file cannot).
    Unreadable(String),
}

/// Every package of the list `cargo auditable` embedded in `binary`
/// (input and output size limits of `auditable-info`), sorted by name and
/// version. The one reader of that list: the self-scan matches it against
/// advisories, `anshin sbom` prints it.
pub fn read_embedded(binary: &Path) -> Result<Vec<EmbeddedPackage>, ListError> {
    match auditable_info::audit_info_from_file(binary, auditable_info::Limits::default()) {
        Ok(list) => {
            let mut packages: Vec<EmbeddedPackage> = list
                .packages
                .into_iter()
                .map(|p| EmbeddedPackage {
                    name: p.name,
                    version: p.version.to_string(),
                    source: String::from(p.source),
                    kind: match p.kind {
                        auditable_serde::DependencyKind::Build => "build",
                        auditable_serde::DependencyKind::Runtime => "runtime",
                    },
                })
                .collect();
            packages.sort();
            Ok(packages)
        }
        Err(auditable_info::Error::NoAuditData) => Err(ListError::Missing),
        Err(e) => Err(ListError::Unreadable(e.to_string())),
    }
}

/// The crates.io packages of the list `cargo auditable` embedded in
/// `binary` ([`read_embedded`]); a finding (and `None`) when there is none
/// or it cannot be read.
pub fn embedded_list(report: &mut Report, binary: &Path) -> Option<Vec<Dep>> {
    match read_embedded(binary) {
        Ok(list) => Some(
            list.into_iter()
                .filter(|p| p.source == "crates.io")
                .filter_map(|p| {
                    Some(Dep {
                        version: rustsec::Version::parse(&p.version).ok()?,
                        name: p.name,
                        build: p.kind == "build",
                    })
                })
                .collect(),
        ),
        Err(ListError::Missing) => {
            report.findings.push(finding(
                FindingKind::NoDependencyList,
                "no_dependency_list",
                report.binary.clone(),
                "the executable carries no dependency list (not built with `cargo auditable`): \
                 no advisory can be matched against it",
            ));
            None
        }
        Err(ListError::Unreadable(e)) => {
            report.findings.push(finding(
                FindingKind::NoDependencyList,
                "dependency_list_unreadable",
                report.binary.clone(),
                format!("the embedded dependency list cannot be read: {e}"),
            ));
            None
        }
    }
}

/// The crates.io packages of a `Cargo.lock` (every target's, dev
/// dependencies included: a superset of any binary's list).
pub fn lockfile_list(lock: &Path) -> anyhow::Result<Vec<Dep>> {
    let lock = rustsec::Lockfile::load(lock)?;
    Ok(lock
        .packages
        .into_iter()
        .filter(|p| p.source.as_ref().is_some_and(|s| s.is_default_registry()))
        .map(|p| Dep {
            name: p.name.as_str().to_owned(),
            version: p.version,
            build: false,
        })
        .collect())
}

/// The embedded list against the advisory database.
pub fn dependencies(report: &mut Report, binary: &Path, db: Option<&Path>, ignore: &[String]) {
    let list = embedded_list(report, binary);
    if let Some(list) = &list {
        report.dependencies = Some(list.len());
    }
    check(report, list.as_deref(), db, ignore);
}

/// `list` (if there is one) against the advisory database `db`: a
/// vulnerability is a finding (or ignored, if `ignore` names it), an
/// informational advisory a warning. No database, an unreadable or an
/// empty one is a finding.
pub fn check(report: &mut Report, list: Option<&[Dep]>, db: Option<&Path>, ignore: &[String]) {
    let Some(db_dir) = db else {
        report.findings.push(finding(
            FindingKind::AdvisoryDb,
            "advisory_db_unset",
            "selfscan.advisory_db",
            "no advisory database is configured: set selfscan.advisory_db to a copy of the \
             RustSec advisory database and keep it fresh",
        ));
        return;
    };
    report.advisory_db = Some(db_dir.display().to_string());
    let db = match rustsec::Database::open(db_dir) {
        Ok(db) => db,
        Err(e) => {
            report.findings.push(finding(
                FindingKind::AdvisoryDb,
                "advisory_db_unreadable",
                "selfscan.advisory_db",
                format!("the advisory database cannot be read: {e}"),
            ));
            return;
        }
    };
    report.advisories = db.iter().count();
    if report.advisories == 0 {
        report.findings.push(finding(
            FindingKind::AdvisoryDb,
            "advisory_db_empty",
            "selfscan.advisory_db",
            "the advisory database holds no advisories",
        ));
        return;
    }
    let Some(list) = list else { return };
    let mut seen = BTreeSet::new();
    for p in list {
        let Ok(name) = rustsec::package::Name::from_str(&p.name) else {
            continue;
        };
        let subject = format!(
            "{}@{}{}",
            p.name,
            p.version,
            if p.build { " (build)" } else { "" }
        );
        let query = rustsec::database::Query::new()
            .collection(rustsec::Collection::Crates)
            .withdrawn(false)
            .package_name(name)
            .package_version(p.version.clone());
        for adv in db.query(&query) {
            let id = adv.metadata.id.as_str().to_owned();
            if !seen.insert((id.clone(), subject.clone())) {
                continue;
            }
            let title = adv.metadata.title.clone();
            match &adv.metadata.informational {
                Some(kind) => report.warnings.push(finding(
                    FindingKind::Advisory,
                    &id,
                    subject.clone(),
                    format!("{kind}: {title}"),
                )),
                None if ignore.iter().any(|i| i == &id) => {
                    report
                        .ignored
                        .push(finding(FindingKind::Advisory, &id, subject.clone(), title))
                }
                None => report.findings.push(finding(
                    FindingKind::Advisory,
                    &id,
                    subject.clone(),
                    title,
                )),
            }
        }
    }
}

/// The certificate's expiry, the private key's permissions, and a
/// self-signed certificate on a public site.
fn tls(report: &mut Report, settings: &Settings, now: Timestamp) {
    let (cert, key) = match (&settings.tls.cert, &settings.tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => {
            let dir = settings.data_dir.join("tls");
            (dir.join("cert.pem"), dir.join("key.pem"))
        }
    };
    let subject = cert.display().to_string();
    match CertInfo::of_file(&cert) {
        Err(e) => report.findings.push(finding(
            FindingKind::Certificate,
            "certificate_unreadable",
            subject.clone(),
            e.to_string(),
        )),
        Ok(info) => {
            let days = (info.not_after.micros() - now.micros()).div_euclid(86_400_000_000);
            let warn_days =
                i64::try_from(settings.alerts.certificate_expiry.threshold).unwrap_or(21);
            if days < 0 {
                report.findings.push(finding(
                    FindingKind::Certificate,
                    "certificate_expired",
                    subject.clone(),
                    "the serving certificate has expired",
                ));
            } else if days <= warn_days {
                report.findings.push(finding(
                    FindingKind::Certificate,
                    "certificate_expiring",
                    subject.clone(),
                    format!("the serving certificate expires in {days} days"),
                ));
            }
        }
    }
    if let Ok(true) = crate::tls::is_self_signed(&cert)
        && let Some(url) = &settings.site.base_url
        && !url
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]")
    {
        report.findings.push(finding(
            FindingKind::Tls,
            "tls_self_signed_public",
            "tls.cert",
            "the public site serves a self-signed certificate: browsers refuse it and \
             visitors learn to click through warnings",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(&key)
            && meta.permissions().mode() & 0o077 != 0
        {
            report.findings.push(finding(
                FindingKind::Tls,
                "tls_key_readable_by_others",
                key.display().to_string(),
                format!(
                    "the TLS private key's file mode is {:o}: only its owner may read it (600)",
                    meta.permissions().mode() & 0o777
                ),
            ));
        }
    }
}

/// Whether a listener's address is reachable from outside a private
/// network: the wildcard (every interface) and any global address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_unspecified() || !(v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
        IpAddr::V6(v6) => {
            let [seg, ..] = v6.segments();
            v6.is_unspecified()
                || !(v6.is_loopback()
                    || (seg & 0xfe00) == 0xfc00 // unique local
                    || (seg & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// Settings that weaken the site.
pub fn hazards(report: &mut Report, s: &Settings) {
    let mut push = |id: &str, subject: &str, detail: String| {
        report
            .findings
            .push(finding(FindingKind::Config, id, subject, detail));
    };
    match s.waf.mode {
        WafMode::Off => push(
            "waf_off",
            "waf.mode",
            "the WAF is off: requests are not inspected (C6)".into(),
        ),
        WafMode::Detect => push(
            "waf_detect_only",
            "waf.mode",
            "the WAF only logs attacks and lets them through (C6)".into(),
        ),
        WafMode::Block => {}
    }
    if is_public(s.listen.ops.ip()) {
        push(
            "ops_listener_public",
            "listen.ops",
            format!(
                "the ops listener (health, metrics) is on {}, reachable from outside: bind it \
                 to loopback or a private network",
                s.listen.ops.ip()
            ),
        );
    }
    if is_public(s.listen.staff.ip()) {
        push(
            "staff_listener_public",
            "listen.staff",
            format!(
                "the staff console listens on {}, reachable from outside: bind it to loopback \
                 or a private network (C20)",
                s.listen.staff.ip()
            ),
        );
    }
    if s.auth.argon2_memory_kib < ARGON2_MIN_MEMORY_KIB
        || s.auth.argon2_iterations < ARGON2_MIN_ITERATIONS
    {
        push(
            "argon2_below_minimum",
            "auth.argon2_memory_kib",
            format!(
                "Argon2id costs {} KiB and {} passes, below the minimum of {} KiB and {} (C8)",
                s.auth.argon2_memory_kib,
                s.auth.argon2_iterations,
                ARGON2_MIN_MEMORY_KIB,
                ARGON2_MIN_ITERATIONS
            ),
        );
    }
    let level = s.log.level.to_ascii_lowercase();
    if level.contains("debug") || level.contains("trace") {
        push(
            "debug_logging",
            "log.level",
            "debug or trace logging is on: it writes request details that production logs \
             must not keep (C26)"
                .into(),
        );
    }
    let witness = s.audit.witness_dir(&s.data_dir);
    if !witness.is_dir() {
        push(
            "witness_dir_missing",
            "audit.witness_dir",
            format!(
                "the audit witness directory {} does not exist: signed checkpoints are not \
                 kept outside the database (C22)",
                witness.display()
            ),
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn c30_public_means_the_wildcard_or_a_global_address() {
        for public in ["0.0.0.0", "203.0.113.7", "::", "2001:db8::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.5",
            "172.16.9.9",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn c30_no_empty_or_unreadable_advisory_database_is_a_finding() {
        let ids = |db: Option<&Path>| {
            let mut r = Report::default();
            check(&mut r, Some(&[]), db, &[]);
            r.findings.into_iter().map(|f| f.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(None), ["advisory_db_unset"]);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ids(Some(&dir.path().join("nowhere"))),
            ["advisory_db_unreadable"]
        );
        std::fs::create_dir_all(dir.path().join("crates")).unwrap();
        assert_eq!(ids(Some(dir.path())), ["advisory_db_empty"]);
    }

    #[test]
    fn c30_each_configuration_hazard_is_a_finding() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings {
            data_dir: dir.path().to_owned(),
            ..Settings::default()
        };
        std::fs::create_dir_all(s.audit.witness_dir(&s.data_dir)).unwrap();
        let ids = |s: &Settings| {
            let mut r = Report::default();
            hazards(&mut r, s);
            r.findings.into_iter().map(|f| f.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&s), Vec::<String>::new(), "the default is clean");
        s.waf.mode = WafMode::Off;
        s.listen.ops = "0.0.0.0:9090".parse().unwrap();
        s.listen.staff = "203.0.113.7:8444".parse().unwrap();
        s.auth.argon2_memory_kib = 8_192;
        s.log.level = "anshin=debug,info".into();
        s.audit.witness_dir = Some(dir.path().join("nowhere"));
        assert_eq!(
            ids(&s),
            [
                "waf_off",
                "ops_listener_public",
                "staff_listener_public",
                "argon2_below_minimum",
                "debug_logging",
                "witness_dir_missing"
            ]
        );
    }
}
