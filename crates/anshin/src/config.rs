//! Typed settings: defaults, then an optional TOML file (`--config`), then
//! `ANSHIN_<SECTION>__<KEY>` environment variables, then `--data-dir`.
//! Every section checks itself at start ([`Section`]), so a wrong value
//! stops the process with a message naming the key and its variable,
//! instead of failing later under load. The core's sections (`auth`,
//! `limits`, `sessions`, `captcha`, `mail`, `keys`, `jobs`) live beside
//! the use cases they configure; this module adds the server's own and
//! composes them.
//!
//! Secrets (the database password, the SMTP password, the captcha secret,
//! the payment processor's secret key and webhook signing secret)
//! live in types whose `Debug` and `Serialize` redact them
//! (`anshin_core::settings::redacted`), so `anshin config show` and logs
//! cannot leak them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anshin_core::accounts::AuthSettings;
use anshin_core::accounts::LimitsSettings;
use anshin_core::challenge::CaptchaSettings;
use anshin_core::contact::ContactSettings;
use anshin_core::i18n::Lang;
use anshin_core::jobs::JobsSettings;
use anshin_core::keys::KeysSettings;
use anshin_core::mail::MailSettings;
use anshin_core::media::MediaSettings;
use anshin_core::payments::PaymentsSettings;
use anshin_core::sessions::SessionSettings;
pub use anshin_core::settings::{Invalid, Section};
use anshin_core::settings::{invalid, within};
use anshin_core::staff::StaffSettings;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Top-level sections; environment variables outside them are ignored so
/// that unrelated `ANSHIN_*` variables (test settings, say) do not break
/// the strict parsing below.
const SECTIONS: &[&str] = &[
    "listen",
    "site",
    "database",
    "tls",
    "http",
    "sessions",
    "log",
    "mail",
    "keys",
    "auth",
    "limits",
    "captcha",
    "waf",
    "jobs",
    "operator",
    "contact",
    "media",
    "payments",
    "staff",
    "audit",
    "retention",
    "alerts",
    "selfscan",
    "payouts",
    "vdp",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Everything the embedded default writes: SQLite file, generated TLS
    /// certificate, keys, mail outbox.
    pub data_dir: PathBuf,
    pub listen: ListenSettings,
    pub site: SiteSettings,
    pub database: DatabaseSettings,
    pub tls: TlsSettings,
    pub http: HttpSettings,
    pub sessions: SessionSettings,
    pub log: LogSettings,
    pub keys: KeysSettings,
    pub auth: AuthSettings,
    pub mail: MailSettings,
    pub limits: LimitsSettings,
    /// Bot challenges (C7).
    pub captcha: CaptchaSettings,
    pub waf: WafSettings,
    /// Background jobs.
    pub jobs: JobsSettings,
    /// Who runs the site: the legal notice and the contact form's
    /// destination.
    pub operator: OperatorSettings,
    /// The contact form's limits.
    pub contact: ContactSettings,
    /// Uploaded images: where they are kept, how large they may be.
    pub media: MediaSettings,
    /// Checkout and the card processor (C15): keys, webhook secret,
    /// platform fee, reservation and reconciliation.
    #[serde(default)]
    pub payments: PaymentsSettings,
    /// The staff console (issue 14): network allowlist (C20), sessions
    /// and step-up (C27).
    #[serde(default)]
    pub staff: StaffSettings,
    /// The tamper-evident audit log (C22): checkpoints, witness, signing
    /// key.
    #[serde(default)]
    pub audit: anshin_core::audit::AuditSettings,
    /// Log retention (C26): how long login history and audit details are
    /// kept (`docs/log-policy.md`).
    #[serde(default)]
    pub retention: anshin_core::retention::RetentionSettings,
    /// Security alerts (C29): the rules, the security team's addresses,
    /// the signed webhook.
    #[serde(default)]
    pub alerts: anshin_core::monitoring::AlertSettings,
    /// The weekly self-scan (C30): the advisory database, the binary, the
    /// accepted advisories.
    #[serde(default)]
    pub selfscan: anshin_core::selfscan::SelfScanSettings,
    /// The vulnerability disclosure programme (C5): security.txt's
    /// contact and expiry.
    #[serde(default)]
    pub vdp: anshin_core::vdp::VdpSettings,
    /// Creator payouts (C16): minimum, transfer fee, the platform's own
    /// account as the Zengin file's header names it.
    #[serde(default)]
    pub payouts: anshin_core::payouts::PayoutSettings,
}

/// `[operator]`: who runs the site, as the legal notice
/// (特定商取引法に基づく表記, `/legal/tokushoho`) must state it, and where
/// the contact form's messages go. The law makes these details public, so
/// they appear on the pages; the log says only which are still the
/// placeholders of the embedded default (never a value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSettings {
    /// 運営事業者: the company (or person) that runs the site.
    pub name: String,
    /// 運営統括責任者: the person responsible for running it.
    pub representative: String,
    /// 所在地: the postal address.
    pub address: String,
    /// 電話番号: a phone number people can call.
    pub phone: String,
    /// メールアドレス: the public address of the operator.
    pub email: String,
    /// Where contact-form messages are mailed (through the mail outbox).
    pub support_email: String,
    /// 受付時間, e.g. `平日 10:00〜17:00`; shown only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<String>,
}

impl Default for OperatorSettings {
    /// Placeholders that say so on the page: a real site must set every
    /// one (`anshin serve` warns while any is left).
    fn default() -> Self {
        Self {
            name: "［未設定］運営事業者の名称".into(),
            representative: "［未設定］運営統括責任者の氏名".into(),
            address: "［未設定］所在地".into(),
            phone: "［未設定］電話番号".into(),
            email: "operator@example.invalid".into(),
            support_email: "support@example.invalid".into(),
            business_hours: None,
        }
    }
}

impl OperatorSettings {
    /// The keys still holding the embedded default's placeholder.
    pub fn placeholders(&self) -> Vec<&'static str> {
        let d = Self::default();
        [
            ("operator.name", self.name == d.name),
            (
                "operator.representative",
                self.representative == d.representative,
            ),
            ("operator.address", self.address == d.address),
            ("operator.phone", self.phone == d.phone),
            ("operator.email", self.email == d.email),
            (
                "operator.support_email",
                self.support_email == d.support_email,
            ),
        ]
        .into_iter()
        .filter_map(|(key, default)| default.then_some(key))
        .collect()
    }

    /// The parsed support address (checked at start, so it parses).
    pub fn support_address(&self) -> Option<anshin_core::domain::EmailAddress> {
        anshin_core::domain::EmailAddress::parse(&self.support_email)
    }
}

/// The web application firewall (C6): OWASP CRS run in-process by
/// `anshin-waf` in front of every route of the public site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafSettings {
    /// `block` refuses attacks with 403, `detect` only logs them, `off`
    /// does not inspect.
    pub mode: WafMode,
    /// CRS paranoia level, 1 (fewest false positives) to 4.
    pub paranoia_level: u8,
    /// CRS inbound anomaly score at which a request is blocked (5 = one
    /// critical match).
    pub inbound_anomaly_threshold: u32,
    /// `crs-setup.conf` of the installed CRS.
    pub crs_setup: PathBuf,
    /// Directory of the CRS rule files (`*.conf` and data files).
    pub crs_rules: PathBuf,
    /// Load the anshin tuning profile (exclusions for what members type;
    /// see `crates/anshin-waf/profiles/`).
    pub tuning: bool,
    /// Rules switched off under a path prefix.
    pub exclusions: Vec<WafExclusion>,
    /// Prose fields the operator adds to the ones the site declares next
    /// to its routes (`web::site::PROSE_FIELDS`): on these (method, route,
    /// field), the tuning profile's prose treatment applies.
    pub prose_fields: Vec<WafProseField>,
}

/// `{ method = "POST", route = "/contact", field = "message" }`: the
/// argument takes prose on that route (see `anshin_waf::ProseField`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafProseField {
    pub method: String,
    pub route: String,
    pub field: String,
}

impl WafProseField {
    pub fn to_waf(&self) -> anshin_waf::ProseField {
        anshin_waf::ProseField::new(&self.method, &self.route, &self.field)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WafMode {
    Block,
    Detect,
    Off,
}

/// `{ path_prefix = "/x", rule_ids = [942100] }`: the rules do not run for
/// requests whose path starts with the prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafExclusion {
    pub path_prefix: String,
    pub rule_ids: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSettings {
    /// The HTTPS site.
    pub public: SocketAddr,
    /// Plain HTTP that only redirects to the HTTPS site.
    pub redirect: SocketAddr,
    /// Health and readiness, plain HTTP, for loopback or a private network.
    pub ops: SocketAddr,
    /// The staff console, HTTPS, answering only `staff.allowed_networks`.
    #[serde(default = "default_staff_listener")]
    pub staff: SocketAddr,
}

fn default_staff_listener() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8444))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    /// The public origin, e.g. `https://shop.example.jp`. Used for
    /// redirects and the CSRF origin check. Unset: derived from the public
    /// listener (`https://localhost:<port>` for a wildcard address).
    pub base_url: Option<url::Url>,
    /// Language when neither the cookie nor `Accept-Language` decides.
    pub default_language: Lang,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; unset means
    /// `sqlite://<data-dir>/anshin.db`.
    pub url: Option<DatabaseUrl>,
    /// Pool size per app instance.
    pub max_connections: u32,
    /// How long a request waits for a free pooled connection before it
    /// fails with 503 (fail fast rather than pile up when the database is
    /// saturated or down).
    #[serde(default = "default_acquire_timeout_secs")]
    pub acquire_timeout_secs: u64,
}

fn default_acquire_timeout_secs() -> u64 {
    anshin_store::ACQUIRE_TIMEOUT.as_secs()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain; unset means a self-signed one in `<data-dir>/tls/`.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest request body accepted; larger gets 413.
    pub body_limit_bytes: usize,
    /// Time allowed for the TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Time allowed to send the request head (slowloris defence); also how
    /// long an idle keep-alive connection is kept.
    pub header_timeout_secs: u64,
    /// Time allowed for a whole request, body and handler included.
    pub request_timeout_secs: u64,
    /// On SIGTERM, how long in-flight requests may still run.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `anshin=debug,info`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for machines.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: ListenSettings {
                public: SocketAddr::from(([127, 0, 0, 1], 8443)),
                redirect: SocketAddr::from(([127, 0, 0, 1], 8080)),
                ops: SocketAddr::from(([127, 0, 0, 1], 9090)),
                staff: default_staff_listener(),
            },
            site: SiteSettings {
                base_url: None,
                default_language: Lang::Ja,
            },
            database: DatabaseSettings {
                url: None,
                max_connections: 10,
                acquire_timeout_secs: default_acquire_timeout_secs(),
            },
            tls: TlsSettings {
                cert: None,
                key: None,
            },
            http: HttpSettings {
                body_limit_bytes: 1024 * 1024,
                tls_handshake_timeout_secs: 10,
                header_timeout_secs: 15,
                request_timeout_secs: 30,
                shutdown_grace_secs: 8,
            },
            sessions: SessionSettings::default(),
            log: LogSettings {
                level: "info".into(),
                format: LogFormat::Json,
            },
            keys: KeysSettings::default(),
            auth: AuthSettings::default(),
            mail: MailSettings::default(),
            limits: LimitsSettings::default(),
            captcha: CaptchaSettings::default(),
            waf: WafSettings {
                mode: WafMode::Block,
                paranoia_level: 1,
                inbound_anomaly_threshold: 5,
                crs_setup: PathBuf::from("/etc/modsecurity/crs/crs-setup.conf"),
                crs_rules: PathBuf::from("/usr/share/modsecurity-crs/rules"),
                tuning: true,
                exclusions: Vec::new(),
                prose_fields: Vec::new(),
            },
            jobs: JobsSettings::default(),
            operator: OperatorSettings::default(),
            contact: ContactSettings::default(),
            media: MediaSettings::default(),
            payments: PaymentsSettings::default(),
            staff: StaffSettings::default(),
            audit: anshin_core::audit::AuditSettings::default(),
            retention: anshin_core::retention::RetentionSettings::default(),
            alerts: anshin_core::monitoring::AlertSettings::default(),
            selfscan: anshin_core::selfscan::SelfScanSettings::default(),
            payouts: anshin_core::payouts::PayoutSettings::default(),
            vdp: anshin_core::vdp::VdpSettings::default(),
        }
    }
}

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Invalid),
}

impl Settings {
    /// Loads and validates the settings. `data_dir` from the command line
    /// (flag or `ANSHIN_DATA_DIR`) wins over the file.
    pub fn load(file: Option<&Path>, data_dir: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile {
                    path: path.to_owned(),
                });
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("ANSHIN_").split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            // `split` has already turned `__` into `.`.
            SECTIONS.iter().any(|s| key.starts_with(&format!("{s}.")))
        }));
        if let Some(dir) = data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Every section checks itself; then what spans sections.
    fn validate(&self) -> Result<(), ConfigError> {
        let sections: [&dyn Section; 25] = [
            &self.listen,
            &self.site,
            &self.database,
            &self.tls,
            &self.http,
            &self.sessions,
            &self.log,
            &self.keys,
            &self.auth,
            &self.mail,
            &self.limits,
            &self.captcha,
            &self.waf,
            &self.jobs,
            &self.operator,
            &self.contact,
            &self.media,
            &self.payments,
            &self.staff,
            &self.audit,
            &self.retention,
            &self.alerts,
            &self.selfscan,
            &self.payouts,
            &self.vdp,
        ];
        for section in sections {
            section.check()?;
        }
        Ok(())
    }

    /// The core's sections, for `anshin_core::Services`.
    pub fn core(&self) -> anshin_core::CoreSettings {
        anshin_core::CoreSettings {
            auth: self.auth.clone(),
            limits: self.limits.clone(),
            sessions: self.sessions.clone(),
            captcha: self.captcha.clone(),
            contact: self.contact.clone(),
            media: self.media.clone(),
            payments: self.payments.clone(),
            staff: self.staff.clone(),
            payouts: self.payouts.clone(),
        }
    }

    /// The audit log's name (`audit.origin`, else `<site host>/audit`):
    /// the first line of its checkpoints and its signing key's name.
    pub fn audit_origin(&self) -> String {
        let host = self
            .site
            .base_url
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        self.audit.origin(&host)
    }

    /// The audit log's signing key (created on first use).
    pub fn audit_signer(
        &self,
        random: &anshin_core::random::Random,
    ) -> anyhow::Result<anshin_core::audit::note::AuditSigner> {
        Ok(anshin_core::audit::note::AuditSigner::load_or_create(
            &self.audit.signing_key_file(&self.data_dir),
            &self.audit_origin(),
            random,
        )?)
    }

    /// The key ring file in effect.
    pub fn keys_file(&self) -> PathBuf {
        self.keys.file(&self.data_dir)
    }

    /// The database URL in effect (the default points into the data dir).
    pub fn database_url(&self) -> DatabaseUrl {
        match &self.database.url {
            Some(url) => url.clone(),
            None => DatabaseUrl(SecretString::from(format!(
                "sqlite://{}",
                self.data_dir.join("anshin.db").display()
            ))),
        }
    }

    /// The configuration as `anshin config show` prints it: defaults filled
    /// in, secrets redacted.
    pub fn effective_toml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        shown.database.url = Some(self.database_url());
        toml::to_string(&shown).map_err(|e| ConfigError::Parse(e.to_string()))
    }
}

impl Section for ListenSettings {
    fn check(&self) -> Result<(), Invalid> {
        if self.public == self.redirect && self.public.port() != 0 {
            return invalid("listen.redirect", "same address as listen.public");
        }
        if (self.ops == self.public || self.ops == self.redirect) && self.ops.port() != 0 {
            return invalid("listen.ops", "same address as another listener");
        }
        if [self.public, self.redirect, self.ops].contains(&self.staff) && self.staff.port() != 0 {
            return invalid("listen.staff", "same address as another listener");
        }
        Ok(())
    }
}

impl Section for SiteSettings {
    fn check(&self) -> Result<(), Invalid> {
        if let Some(url) = &self.base_url {
            if url.scheme() != "https" {
                return invalid("site.base_url", "must start with https://");
            }
            if url.host_str().is_none() || url.path() != "/" || url.query().is_some() {
                return invalid(
                    "site.base_url",
                    "must be an origin such as https://shop.example.jp (no path or query)",
                );
            }
        }
        Ok(())
    }
}

impl Section for OperatorSettings {
    fn check(&self) -> Result<(), Invalid> {
        for (key, value) in [
            ("operator.name", &self.name),
            ("operator.representative", &self.representative),
            ("operator.address", &self.address),
            ("operator.phone", &self.phone),
        ] {
            if value.trim().is_empty() || value.chars().count() > 300 {
                return invalid(key, "must be 1 to 300 characters");
            }
            if value.chars().any(char::is_control) {
                return invalid(key, "must not contain line breaks or control characters");
            }
        }
        if let Some(h) = &self.business_hours
            && (h.trim().is_empty() || h.chars().count() > 300 || h.chars().any(char::is_control))
        {
            return invalid(
                "operator.business_hours",
                "must be 1 to 300 characters without line breaks, or unset",
            );
        }
        for (key, value) in [
            ("operator.email", &self.email),
            ("operator.support_email", &self.support_email),
        ] {
            if anshin_core::domain::EmailAddress::parse(value).is_none() {
                return invalid(
                    key,
                    "must be an e-mail address such as support@shop.example.jp",
                );
            }
        }
        Ok(())
    }
}

impl Section for DatabaseSettings {
    fn check(&self) -> Result<(), Invalid> {
        if self.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if !(1..=300).contains(&self.acquire_timeout_secs) {
            return invalid(
                "database.acquire_timeout_secs",
                "must be between 1 and 300 seconds",
            );
        }
        Ok(())
    }
}

impl Section for TlsSettings {
    fn check(&self) -> Result<(), Invalid> {
        if self.cert.is_some() != self.key.is_some() {
            return invalid("tls.cert", "tls.cert and tls.key must be set together");
        }
        Ok(())
    }
}

impl Section for HttpSettings {
    fn check(&self) -> Result<(), Invalid> {
        within(
            "http.body_limit_bytes",
            self.body_limit_bytes,
            1024,
            64 * 1024 * 1024,
            " bytes",
        )?;
        within(
            "http.tls_handshake_timeout_secs",
            self.tls_handshake_timeout_secs,
            1,
            3600,
            " seconds",
        )?;
        within(
            "http.header_timeout_secs",
            self.header_timeout_secs,
            1,
            3600,
            " seconds",
        )?;
        within(
            "http.request_timeout_secs",
            self.request_timeout_secs,
            1,
            3600,
            " seconds",
        )?;
        within(
            "http.shutdown_grace_secs",
            self.shutdown_grace_secs,
            0,
            60,
            " seconds",
        )
    }
}

impl Section for LogSettings {
    fn check(&self) -> Result<(), Invalid> {
        if tracing_subscriber::EnvFilter::try_new(&self.level).is_err() {
            return invalid("log.level", "not a valid filter (try info or debug)");
        }
        Ok(())
    }
}

impl Section for WafSettings {
    fn check(&self) -> Result<(), Invalid> {
        within("waf.paranoia_level", self.paranoia_level, 1, 4, "")?;
        within(
            "waf.inbound_anomaly_threshold",
            self.inbound_anomaly_threshold,
            1,
            1000,
            "",
        )?;
        for e in &self.exclusions {
            // The prefix is written into SecLang text: only plain path
            // characters, so it cannot change the rule it is part of.
            let plain = e.path_prefix.starts_with('/')
                && e.path_prefix.len() <= 200
                && e.path_prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
            if !plain {
                return invalid(
                    "waf.exclusions",
                    "path_prefix must start with / and hold only letters, digits and / - _ . ~",
                );
            }
            if e.rule_ids.is_empty() || e.rule_ids.iter().any(|id| !(1..=9_999_999).contains(id)) {
                return invalid(
                    "waf.exclusions",
                    "rule_ids must list rule ids between 1 and 9999999",
                );
            }
        }
        // The declarations are written into SecLang text: the WAF crate
        // refuses any that could change the rules.
        let fields: Vec<_> = self
            .prose_fields
            .iter()
            .map(WafProseField::to_waf)
            .collect();
        if let Err(e) = anshin_waf::prose_field_rules(&fields) {
            return invalid("waf.prose_fields", e.to_string());
        }
        Ok(())
    }
}

/// Figment names the key and the source (file or environment variable);
/// add the environment variable spelling operators use.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let env = format!("ANSHIN_{}", e.path.join("__").to_uppercase());
            if key.is_empty() {
                e.to_string()
            } else {
                format!("{e} (key {key}, env {env})")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A database URL. It may hold a password, so it never prints in full:
/// `Debug` and `Serialize` show it with the password replaced.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Self(SecretString::from(text.to_owned()));
        url.kind()?;
        Ok(url)
    }

    pub fn kind(&self) -> Result<DatabaseKind, String> {
        let text = self.0.expose_secret();
        if text.starts_with("sqlite:") {
            Ok(DatabaseKind::Sqlite)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(DatabaseKind::Postgres)
        } else {
            Err("must start with sqlite:// or postgres://".into())
        }
    }

    /// The full URL, password included: for the database driver only.
    pub fn expose(&self) -> &str {
        // Justified: the driver needs the password to connect.
        self.0.expose_secret()
    }

    /// The URL with any password replaced, safe to print and log.
    pub fn redacted(&self) -> String {
        let text = self.0.expose_secret();
        match url::Url::parse(text) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("[redacted]"));
                }
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let secret = k.to_ascii_lowercase().contains("password");
                        (
                            k.into_owned(),
                            if secret {
                                "[redacted]".into()
                            } else {
                                v.into_owned()
                            },
                        )
                    })
                    .collect();
                if !pairs.is_empty() {
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                url.to_string()
            }
            // Unparseable: show only the scheme.
            Err(_) => format!("{}[redacted]", text.split("://").next().unwrap_or("")),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DatabaseUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_url_and_query() {
        let url = DatabaseUrl::parse(
            "postgres://app:hunter2@db.internal:5432/anshin?password=x2&sslmode=require",
        )
        .unwrap();
        let shown = format!("{} {:?}", url.redacted(), url);
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("x2&"));
        assert!(shown.contains("db.internal"));
        assert!(shown.contains("sslmode=require"));
    }

    #[test]
    fn rejects_unknown_database_scheme() {
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert_eq!(
            DatabaseUrl::parse("sqlite://a.db").unwrap().kind().unwrap(),
            DatabaseKind::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/d")
                .unwrap()
                .kind()
                .unwrap(),
            DatabaseKind::Postgres
        );
    }

    #[test]
    fn defaults_validate() {
        Settings::default().validate().unwrap();
    }

    #[test]
    fn c20_staff_section_parses_networks_and_areas_and_refuses_unknown_areas() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(
            &file,
            "[listen]\nstaff = \"0.0.0.0:9444\"\n[staff]\nallowed_networks = [\"10.0.0.0/8\", \"fd00::/8\"]\n\
             trusted_proxies = [\"10.0.0.1\"]\nstep_up_secs = 120\n\
             [staff.areas.shipping]\nallowed_networks = [\"10.20.0.0/16\"]\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), None).unwrap();
        assert_eq!(s.listen.staff.port(), 9444);
        assert!(s.staff.listener_allows("10.9.9.9".parse().unwrap()));
        assert!(!s.staff.listener_allows("127.0.0.1".parse().unwrap()));
        assert!(s.staff.area_allows(
            anshin_core::access::Area::Shipping,
            "10.20.1.1".parse().unwrap()
        ));
        assert!(!s.staff.area_allows(
            anshin_core::access::Area::Shipping,
            "10.9.9.9".parse().unwrap()
        ));
        assert_eq!(s.staff.step_up_secs, 120);
        // The defaults: loopback only, the console on 8444.
        let d = Settings::default();
        assert_eq!(d.listen.staff.port(), 8444);
        assert!(d.staff.listener_allows("::1".parse().unwrap()));
        assert!(!d.staff.listener_allows("192.0.2.1".parse().unwrap()));
        std::fs::write(&file, "[staff.areas.kitchen]\nallowed_networks = []\n").unwrap();
        let e = Settings::load(Some(&file), None).unwrap_err().to_string();
        assert!(e.contains("staff.areas"), "{e}");
        std::fs::write(&file, "[staff]\nallowed_networks = [\"10.0.0.0/33\"]\n").unwrap();
        assert!(Settings::load(Some(&file), None).is_err());
        s.effective_toml().unwrap();
    }

    #[test]
    fn waf_section_parses_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(
            &file,
            "[waf]\nmode = \"detect\"\nparanoia_level = 2\nexclusions = [{ path_prefix = \"/api/v1/items\", rule_ids = [942100, 941100] }]\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), None).unwrap();
        assert_eq!(s.waf.mode, WafMode::Detect);
        assert_eq!(s.waf.paranoia_level, 2);
        assert_eq!(s.waf.inbound_anomaly_threshold, 5);
        assert!(s.waf.tuning);
        assert_eq!(s.waf.exclusions[0].rule_ids, vec![942100, 941100]);
        std::fs::write(
            &file,
            "[waf]\nprose_fields = [{ method = \"POST\", route = \"/contact/{shop}\", field = \"message\" }]\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), None).unwrap();
        assert_eq!(s.waf.prose_fields[0].route, "/contact/{shop}");
        for bad in [
            "[waf]\nprose_fields = [{ method = \"POST\", route = \"/c\\\" \\\"id:1\", field = \"m\" }]\n",
            "[waf]\nprose_fields = [{ method = \"POST\", route = \"/c\", field = \"m,ctl:ruleEngine=Off\" }]\n",
            "[waf]\nprose_fields = [{ method = \"TRACE\", route = \"/c\", field = \"m\" }]\n",
            "[waf]\nparanoia_level = 5\n",
            "[waf]\nmode = \"maybe\"\n",
            "[waf]\nexclusions = [{ path_prefix = \"/x\\\" \\\"id:1\", rule_ids = [1] }]\n",
            "[waf]\nexclusions = [{ path_prefix = \"/x\", rule_ids = [] }]\n",
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(Settings::load(Some(&file), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn c15_payment_secrets_load_and_are_redacted_in_config_show() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("anshin.toml");
        std::fs::write(
            &file,
            "[payments]\napi_base = \"http://127.0.0.1:8420/\"\n\
             js_url = \"http://127.0.0.1:8420/js.stripe.com/v3/\"\n\
             secret_key = \"sk_test_hunter2\"\npublishable_key = \"pk_test_abc\"\n\
             webhook_secret = \"whsec_hunter3\"\nfee_basis_points = 600\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), Some(dir.path())).unwrap();
        assert!(s.payments.configured());
        assert_eq!(s.payments.fee_basis_points, 600);
        assert_eq!(s.payments.fee_fixed_yen, 22);
        let shown = format!("{} {:?}", s.effective_toml().unwrap(), s.payments);
        assert!(
            !shown.contains("hunter2") && !shown.contains("hunter3"),
            "{shown}"
        );
        assert!(shown.contains("pk_test_abc"));
    }

    #[test]
    fn effective_toml_has_default_database_url() {
        let s = Settings::default();
        let text = s.effective_toml().unwrap();
        assert!(text.contains("sqlite://./data/anshin.db"), "{text}");
    }

    #[test]
    fn c07_captcha_section_loads_from_the_config_file_and_is_redacted_in_config_show() {
        use anshin_core::challenge::Provider;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("anshin.toml");
        std::fs::write(
            &file,
            "[captcha]\nprovider = \"recaptcha_v3\"\nsite_key = \"site\"\n\
             secret = \"hunter2-v3\"\nmin_score = 0.7\nexpected_action = \"login\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), Some(dir.path())).unwrap();
        assert_eq!(s.captcha.provider, Provider::RecaptchaV3);
        assert_eq!(s.captcha.min_score, 0.7);
        assert_eq!(s.captcha.difficulty, 50_000);
        assert_eq!(
            s.captcha.verify_url().unwrap().as_str(),
            "https://www.google.com/recaptcha/api/siteverify"
        );
        let shown = s.effective_toml().unwrap();
        assert!(!shown.contains("hunter2-v3"), "{shown}");
        assert!(shown.contains("[captcha]"), "{shown}");

        std::fs::write(&file, "[captcha]\nprovider = \"turnstile\"\n").unwrap();
        let err = Settings::load(Some(&file), Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("captcha.secret"), "{err}");
        assert!(err.contains("ANSHIN_CAPTCHA__SECRET"), "{err}");
    }

    #[test]
    fn operator_details_load_from_file_and_environment_and_placeholders_are_named() {
        let d = OperatorSettings::default();
        assert_eq!(d.placeholders().len(), 6, "every default is a placeholder");
        d.check().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("anshin.toml");
        std::fs::write(
            &file,
            "[operator]\nname = \"株式会社あんしん\"\nrepresentative = \"安心 太郎\"\n\
             address = \"東京都渋谷区神宮前1-2-3\"\nphone = \"03-1234-5678\"\n\
             email = \"info@anshin.example.jp\"\nsupport_email = \"help@anshin.example.jp\"\n\
             business_hours = \"平日 10:00〜17:00\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), Some(dir.path())).unwrap();
        assert_eq!(s.operator.name, "株式会社あんしん");
        assert_eq!(
            s.operator.business_hours.as_deref(),
            Some("平日 10:00〜17:00")
        );
        assert!(s.operator.placeholders().is_empty());
        assert_eq!(
            s.operator.support_address().unwrap().as_str(),
            "help@anshin.example.jp"
        );
        // One left at its placeholder is named, by key only.
        std::fs::write(&file, "[operator]\nname = \"株式会社あんしん\"\n").unwrap();
        let s = Settings::load(Some(&file), Some(dir.path())).unwrap();
        assert_eq!(
            s.operator.placeholders(),
            [
                "operator.representative",
                "operator.address",
                "operator.phone",
                "operator.email",
                "operator.support_email"
            ]
        );
        for (text, key) in [
            (
                "[operator]\nsupport_email = \"nobody\"\n",
                "operator.support_email",
            ),
            ("[operator]\nname = \"\"\n", "operator.name"),
            ("[operator]\naddress = \"a\\nb\"\n", "operator.address"),
            (
                "[operator]\nbusiness_hours = \" \"\n",
                "operator.business_hours",
            ),
            (
                "[contact]\nmax_per_address = 0\n",
                "contact.max_per_address",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = Settings::load(Some(&file), Some(dir.path()))
                .unwrap_err()
                .to_string();
            let env = anshin_core::settings::env_name(key);
            assert!(err.contains(key) && err.contains(&env), "{text}: {err}");
        }
    }

    #[test]
    fn every_section_names_the_key_and_variable_of_a_wrong_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("anshin.toml");
        for (text, key) in [
            ("[auth]\ncode_digits = 4\n", "auth.code_digits"),
            ("[limits]\nlock_threshold = 1000\n", "limits.lock_threshold"),
            (
                "[sessions]\nidle_timeout_secs = 0\n",
                "sessions.idle_timeout_secs",
            ),
            ("[jobs]\nlease_secs = 1\n", "jobs.lease_secs"),
            (
                "[payments]\nwebhook_tolerance_secs = 1\n",
                "payments.webhook_tolerance_secs",
            ),
            ("[http]\nbody_limit_bytes = 10\n", "http.body_limit_bytes"),
            ("[keys]\nring_env = \"no spaces\"\n", "keys.ring_env"),
            ("[mail]\nfrom_address = \"nobody\"\n", "mail.from_address"),
            (
                "[audit]\ncheckpoint_every_secs = 0\n",
                "audit.checkpoint_every_secs",
            ),
            (
                "[audit]\nsecurity_email = \"nobody\"\n",
                "audit.security_email",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = Settings::load(Some(&file), Some(dir.path()))
                .unwrap_err()
                .to_string();
            let env = anshin_core::settings::env_name(key);
            assert!(err.contains(key) && err.contains(&env), "{text}: {err}");
        }
    }
}
