//! Typed settings: defaults, then an optional TOML file (`--config`), then
//! `ANSHIN_<SECTION>__<KEY>` environment variables, then `--data-dir`.
//! Everything is validated at start so a wrong value stops the process with
//! a message naming the key, instead of failing later under load.
//!
//! Secrets (the database password, the SMTP password) live in types whose
//! `Debug` and `Serialize` redact them, so `anshin config show` and logs
//! cannot leak them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::i18n::Lang;

/// Top-level sections; environment variables outside them are ignored so
/// that unrelated `ANSHIN_*` variables (test settings, say) do not break
/// the strict parsing below.
const SECTIONS: &[&str] = &[
    "listen", "site", "database", "tls", "http", "sessions", "log", "mail", "keys", "auth",
    "limits", "captcha", "waf",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Everything the embedded default writes: SQLite file, generated TLS
    /// certificate, keys, mail outbox.
    pub data_dir: PathBuf,
    pub listen: Listen,
    pub site: Site,
    pub database: Database,
    pub tls: Tls,
    pub http: Http,
    pub sessions: Sessions,
    pub log: Log,
    pub keys: Keys,
    pub auth: Auth,
    pub mail: crate::mail::MailSettings,
    pub limits: Limits,
    /// Bot challenges (C7).
    pub captcha: crate::challenge::CaptchaSettings,
    pub waf: Waf,
}

/// Login limits and lockout (C8), checked before any password hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Consecutive failures (password and code together) that lock an
    /// account; at most 100 (NIST SP 800-63B).
    pub lock_threshold: i64,
    /// Lock durations after the 1st, 2nd, 3rd and later locks in a row.
    pub lock_delays_secs: [u64; 4],
    /// Window of the per-address, per-network and global failure counts.
    pub window_secs: u64,
    /// Failures allowed per client address (IPv4 /32, IPv6 /128) per window.
    pub max_failures_per_ip: i64,
    /// Failures allowed per IPv4 /24 or IPv6 /64 per window.
    pub max_failures_per_network: i64,
    /// Failures allowed site-wide per window (credential stuffing ceiling).
    pub max_failures_global: i64,
    /// A password login needs a solved bot challenge (C7) once its client
    /// address has this many failures in the window, or its account this
    /// many consecutive failures; below `lock_threshold`.
    pub challenge_after_failures: i64,
    /// Site-wide failures per window that make attack level 1; each
    /// doubling adds a level (at most 6). From level 1, every password
    /// login needs a challenge, and challenges get harder per level.
    pub attack_level_step: i64,
    /// How long the unlock link mailed to a locked account's owner works.
    pub unlock_link_ttl_secs: u64,
    /// A throttled login's 429 is held this long first (no CPU: the
    /// connection waits), so a client that ignores Retry-After cannot turn
    /// cheap refusals into a flood; at most 10 000. 0: answer at once.
    pub throttled_delay_ms: u64,
    /// Proxies whose `X-Forwarded-For` is believed; the client address is
    /// the last one in that header not in this list. Empty: the peer.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// The web application firewall (C6): OWASP CRS run in-process by
/// `anshin-waf` in front of every route of the public site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waf {
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
pub struct Keys {
    /// The key ring file; unset means `<data-dir>/keys/keyring`, created on
    /// first run. Several instances must point at the same ring.
    pub file: Option<PathBuf>,
    /// Name of an environment variable holding the ring's text, instead of
    /// a file (for secret stores that inject variables). Wins over `file`.
    pub ring_env: Option<String>,
}

/// Sign-up, e-mail codes (C11), passwords (C12, C14) and re-authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Digits of an e-mail code (6 to 10).
    pub code_digits: u8,
    /// How long a code is valid.
    pub code_ttl_secs: u64,
    /// Verification attempts per code; a new code keeps the count.
    pub code_max_attempts: i64,
    /// Codes that may be requested per address within the window below.
    pub code_requests_per_window: i64,
    pub code_request_window_secs: u64,
    /// Minimum password length in characters (NIST SP 800-63B: 15 when the
    /// password is the only factor).
    pub password_min_chars: usize,
    /// Argon2id cost (OWASP minimum: 19456 KiB, 2 iterations, 1 lane).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; more wait their turn, so a flood
    /// of logins cannot take every core.
    pub max_concurrent_hashes: usize,
    /// Changing e-mail, password or bank details needs a login or fresh
    /// code within this many seconds.
    pub recent_auth_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// The HTTPS site.
    pub public: SocketAddr,
    /// Plain HTTP that only redirects to the HTTPS site.
    pub redirect: SocketAddr,
    /// Health and readiness, plain HTTP, for loopback or a private network.
    pub ops: SocketAddr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The public origin, e.g. `https://shop.example.jp`. Used for
    /// redirects and the CSRF origin check. Unset: derived from the public
    /// listener (`https://localhost:<port>` for a wildcard address).
    pub base_url: Option<url::Url>,
    /// Language when neither the cookie nor `Accept-Language` decides.
    pub default_language: Lang,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`; unset means
    /// `sqlite://<data-dir>/anshin.db`.
    pub url: Option<DatabaseUrl>,
    /// Pool size per app instance.
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain; unset means a self-signed one in `<data-dir>/tls/`.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
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
pub struct Sessions {
    /// A session unused this long ends.
    pub idle_timeout_secs: u64,
    /// A session ends this long after it began, however active.
    pub absolute_lifetime_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
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
            listen: Listen {
                public: SocketAddr::from(([127, 0, 0, 1], 8443)),
                redirect: SocketAddr::from(([127, 0, 0, 1], 8080)),
                ops: SocketAddr::from(([127, 0, 0, 1], 9090)),
            },
            site: Site {
                base_url: None,
                default_language: Lang::Ja,
            },
            database: Database {
                url: None,
                max_connections: 10,
            },
            tls: Tls {
                cert: None,
                key: None,
            },
            http: Http {
                body_limit_bytes: 1024 * 1024,
                tls_handshake_timeout_secs: 10,
                header_timeout_secs: 15,
                request_timeout_secs: 30,
                shutdown_grace_secs: 8,
            },
            sessions: Sessions {
                idle_timeout_secs: 2 * 60 * 60,
                absolute_lifetime_secs: 14 * 24 * 60 * 60,
            },
            log: Log {
                level: "info".into(),
                format: LogFormat::Json,
            },
            keys: Keys {
                file: None,
                ring_env: None,
            },
            auth: Auth {
                code_digits: 6,
                code_ttl_secs: 600,
                code_max_attempts: 5,
                code_requests_per_window: 5,
                code_request_window_secs: 600,
                password_min_chars: 15,
                argon2_memory_kib: 19_456,
                argon2_iterations: 2,
                argon2_parallelism: 1,
                max_concurrent_hashes: 2,
                recent_auth_secs: 600,
            },
            mail: crate::mail::MailSettings::default(),
            limits: Limits {
                lock_threshold: 10,
                lock_delays_secs: [60, 300, 900, 3600],
                window_secs: 900,
                max_failures_per_ip: 30,
                max_failures_per_network: 100,
                max_failures_global: 2000,
                challenge_after_failures: 3,
                attack_level_step: 100,
                unlock_link_ttl_secs: 86_400,
                throttled_delay_ms: 1000,
                trusted_proxies: Vec::new(),
            },
            captcha: crate::challenge::CaptchaSettings::default(),
            waf: Waf {
                mode: WafMode::Block,
                paranoia_level: 1,
                inbound_anomaly_threshold: 5,
                crs_setup: PathBuf::from("/etc/modsecurity/crs/crs-setup.conf"),
                crs_rules: PathBuf::from("/usr/share/modsecurity-crs/rules"),
                tuning: true,
                exclusions: Vec::new(),
            },
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
    #[error("invalid configuration: {key} (env {env}): {reason}")]
    Invalid {
        key: &'static str,
        env: &'static str,
        reason: String,
    },
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

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, env, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                env,
                reason: reason.to_owned(),
            })
        };
        let l = &self.listen;
        if l.public == l.redirect && l.public.port() != 0 {
            return invalid(
                "listen.redirect",
                "ANSHIN_LISTEN__REDIRECT",
                "same address as listen.public",
            );
        }
        if (l.ops == l.public || l.ops == l.redirect) && l.ops.port() != 0 {
            return invalid(
                "listen.ops",
                "ANSHIN_LISTEN__OPS",
                "same address as another listener",
            );
        }
        if let Some(url) = &self.site.base_url {
            if url.scheme() != "https" {
                return invalid(
                    "site.base_url",
                    "ANSHIN_SITE__BASE_URL",
                    "must start with https://",
                );
            }
            if url.host_str().is_none() || url.path() != "/" || url.query().is_some() {
                return invalid(
                    "site.base_url",
                    "ANSHIN_SITE__BASE_URL",
                    "must be an origin such as https://shop.example.jp (no path or query)",
                );
            }
        }
        if self.database.max_connections == 0 {
            return invalid(
                "database.max_connections",
                "ANSHIN_DATABASE__MAX_CONNECTIONS",
                "must be at least 1",
            );
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return invalid(
                "tls.cert",
                "ANSHIN_TLS__CERT",
                "tls.cert and tls.key must be set together",
            );
        }
        let h = &self.http;
        if !(1024..=64 * 1024 * 1024).contains(&h.body_limit_bytes) {
            return invalid(
                "http.body_limit_bytes",
                "ANSHIN_HTTP__BODY_LIMIT_BYTES",
                "must be between 1024 and 67108864",
            );
        }
        for (key, env, v) in [
            (
                "http.tls_handshake_timeout_secs",
                "ANSHIN_HTTP__TLS_HANDSHAKE_TIMEOUT_SECS",
                h.tls_handshake_timeout_secs,
            ),
            (
                "http.header_timeout_secs",
                "ANSHIN_HTTP__HEADER_TIMEOUT_SECS",
                h.header_timeout_secs,
            ),
            (
                "http.request_timeout_secs",
                "ANSHIN_HTTP__REQUEST_TIMEOUT_SECS",
                h.request_timeout_secs,
            ),
        ] {
            if !(1..=3600).contains(&v) {
                return invalid(key, env, "must be between 1 and 3600 seconds");
            }
        }
        if h.shutdown_grace_secs > 60 {
            return invalid(
                "http.shutdown_grace_secs",
                "ANSHIN_HTTP__SHUTDOWN_GRACE_SECS",
                "must be at most 60 seconds",
            );
        }
        let s = &self.sessions;
        if s.idle_timeout_secs == 0 || s.idle_timeout_secs > s.absolute_lifetime_secs {
            return invalid(
                "sessions.idle_timeout_secs",
                "ANSHIN_SESSIONS__IDLE_TIMEOUT_SECS",
                "must be at least 1 and at most sessions.absolute_lifetime_secs",
            );
        }
        let a = &self.auth;
        if !(6..=10).contains(&a.code_digits) {
            return invalid(
                "auth.code_digits",
                "ANSHIN_AUTH__CODE_DIGITS",
                "must be between 6 and 10",
            );
        }
        if !(60..=3600).contains(&a.code_ttl_secs) {
            return invalid(
                "auth.code_ttl_secs",
                "ANSHIN_AUTH__CODE_TTL_SECS",
                "must be between 60 and 3600",
            );
        }
        if !(1..=10).contains(&a.code_max_attempts) {
            return invalid(
                "auth.code_max_attempts",
                "ANSHIN_AUTH__CODE_MAX_ATTEMPTS",
                "must be between 1 and 10",
            );
        }
        if a.code_requests_per_window < 1 || a.code_request_window_secs == 0 {
            return invalid(
                "auth.code_requests_per_window",
                "ANSHIN_AUTH__CODE_REQUESTS_PER_WINDOW",
                "must be at least 1 (and the window at least 1 second)",
            );
        }
        if !(15..=64).contains(&a.password_min_chars) {
            return invalid(
                "auth.password_min_chars",
                "ANSHIN_AUTH__PASSWORD_MIN_CHARS",
                "must be between 15 (NIST SP 800-63B, single factor) and 64",
            );
        }
        if let Err(e) = anshin_vault::PasswordParams::new(
            a.argon2_memory_kib,
            a.argon2_iterations,
            a.argon2_parallelism,
        ) {
            return invalid(
                "auth.argon2_memory_kib",
                "ANSHIN_AUTH__ARGON2_MEMORY_KIB",
                &e.to_string(),
            );
        }
        if a.max_concurrent_hashes == 0 {
            return invalid(
                "auth.max_concurrent_hashes",
                "ANSHIN_AUTH__MAX_CONCURRENT_HASHES",
                "must be at least 1",
            );
        }
        let l = &self.limits;
        if !(3..=100).contains(&l.lock_threshold) {
            return invalid(
                "limits.lock_threshold",
                "ANSHIN_LIMITS__LOCK_THRESHOLD",
                "must be between 3 and 100 (NIST SP 800-63B: at most 100 failures without a lock)",
            );
        }
        if l.lock_delays_secs.iter().any(|d| *d == 0 || *d > 86_400) || l.window_secs == 0 {
            return invalid(
                "limits.lock_delays_secs",
                "ANSHIN_LIMITS__LOCK_DELAYS_SECS",
                "delays must be between 1 and 86400 seconds",
            );
        }
        if l.max_failures_per_ip < 1 || l.max_failures_per_network < 1 || l.max_failures_global < 1
        {
            return invalid(
                "limits.max_failures_per_ip",
                "ANSHIN_LIMITS__MAX_FAILURES_PER_IP",
                "limits must be at least 1",
            );
        }
        if !(1..l.lock_threshold).contains(&l.challenge_after_failures) {
            return invalid(
                "limits.challenge_after_failures",
                "ANSHIN_LIMITS__CHALLENGE_AFTER_FAILURES",
                "must be at least 1 and below limits.lock_threshold",
            );
        }
        if l.throttled_delay_ms > 10_000 {
            return invalid(
                "limits.throttled_delay_ms",
                "ANSHIN_LIMITS__THROTTLED_DELAY_MS",
                "must be at most 10000 (10 s)",
            );
        }
        if l.attack_level_step < 1 {
            return invalid(
                "limits.attack_level_step",
                "ANSHIN_LIMITS__ATTACK_LEVEL_STEP",
                "must be at least 1",
            );
        }
        let w = &self.waf;
        if !(1..=4).contains(&w.paranoia_level) {
            return invalid(
                "waf.paranoia_level",
                "ANSHIN_WAF__PARANOIA_LEVEL",
                "must be between 1 and 4",
            );
        }
        if !(1..=1000).contains(&w.inbound_anomaly_threshold) {
            return invalid(
                "waf.inbound_anomaly_threshold",
                "ANSHIN_WAF__INBOUND_ANOMALY_THRESHOLD",
                "must be between 1 and 1000",
            );
        }
        for e in &w.exclusions {
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
                    "ANSHIN_WAF__EXCLUSIONS",
                    "path_prefix must start with / and hold only letters, digits and / - _ . ~",
                );
            }
            if e.rule_ids.is_empty() || e.rule_ids.iter().any(|id| !(1..=9_999_999).contains(id)) {
                return invalid(
                    "waf.exclusions",
                    "ANSHIN_WAF__EXCLUSIONS",
                    "rule_ids must list rule ids between 1 and 9999999",
                );
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(
                "log.level",
                "ANSHIN_LOG__LEVEL",
                "not a valid filter (try info or debug)",
            );
        }
        if let Err(e) = self.mail.check() {
            return Err(ConfigError::Invalid {
                key: e.key,
                env: e.env,
                reason: e.reason,
            });
        }
        self.captcha.check()?;
        Ok(())
    }

    /// The key ring file in effect.
    pub fn keys_file(&self) -> PathBuf {
        self.keys
            .file
            .clone()
            .unwrap_or_else(|| crate::keys::default_path(&self.data_dir))
    }

    /// The Argon2id parameters (validated at load).
    pub fn password_params(&self) -> anshin_vault::PasswordParams {
        let a = &self.auth;
        anshin_vault::PasswordParams::new(
            a.argon2_memory_kib,
            a.argon2_iterations,
            a.argon2_parallelism,
        )
        .unwrap_or_else(|_| anshin_vault::PasswordParams::owasp_minimum())
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
        for bad in [
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
    fn effective_toml_has_default_database_url() {
        let s = Settings::default();
        let text = s.effective_toml().unwrap();
        assert!(text.contains("sqlite://./data/anshin.db"), "{text}");
    }
}
