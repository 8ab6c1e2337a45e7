//! HTTPS (C1): rustls with TLS 1.2 and 1.3 only and forward-secret AEAD
//! suites only, a certificate that reloads on SIGHUP without dropping
//! connections, and a self-signed certificate for the embedded default.
//!
//! What an attacker tries, and where it fails:
//! - a downgrade to TLS 1.0/1.1 or SSL: not in `protocol_versions`, the
//!   handshake fails (`tests/tls.rs`, scanned with sslyze);
//! - a CBC, RC4 or static-RSA suite: rustls implements none; the list
//!   below is also filtered to ECDHE + AEAD explicitly;
//! - reading the generated private key: written with mode 0600.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anshin_domain::{Duration, Timestamp};
use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedCipherSuite};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no usable PEM private key: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("{path}: not a readable X.509 certificate: {reason}")]
    Unparsable { path: PathBuf, reason: String },
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("TLS configuration failed: {0}")]
    Config(String),
}

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How long a generated certificate is valid: 90 days, as public CAs
/// issue, so a copied key is worth little for long.
pub const GENERATED_VALIDITY: Duration = Duration::from_micros(90 * 86_400 * 1_000_000);

/// A generated certificate with less than this left is replaced (at
/// start, on SIGHUP and by the daily check while the server runs).
pub const RENEW_BEFORE: Duration = Duration::from_micros(30 * 86_400 * 1_000_000);

/// What `ensure_self_signed` did, for the start-up message.
#[derive(Debug)]
pub struct SelfSigned {
    pub files: CertFiles,
    pub outcome: Outcome,
}

/// Whether the generated certificate was made now, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The one on disk is kept (more than [`RENEW_BEFORE`] left).
    Kept,
    /// There was none (first run).
    Created,
    /// The one on disk had less than [`RENEW_BEFORE`] left, or was expired.
    RenewedExpiring,
    /// The one on disk was not one this version issues (an older version's
    /// 1975–4096 certificate without key usages), or could not be read.
    RenewedOutdated,
}

impl Outcome {
    pub fn is_new(self) -> bool {
        self != Outcome::Kept
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Kept => "kept",
            Outcome::Created => "created",
            Outcome::RenewedExpiring => "renewed: fewer than 30 days left",
            Outcome::RenewedOutdated => "renewed: made by an older version",
        }
    }
}

/// What a certificate says about itself, as far as renewal cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// Extended Key Usage includes TLS server authentication.
    pub server_auth: bool,
}

impl CertInfo {
    /// Reads the first certificate of a PEM file.
    pub fn of_file(cert_pem: &Path) -> Result<Self, TlsError> {
        let chain = read_chain(cert_pem)?;
        let first = chain.first().ok_or_else(|| TlsError::NoCertificate {
            path: cert_pem.to_owned(),
        })?;
        Self::of_der(first.as_ref()).map_err(|reason| TlsError::Unparsable {
            path: cert_pem.to_owned(),
            reason,
        })
    }

    pub fn of_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
        let validity = cert.validity();
        let server_auth = cert
            .extended_key_usage()
            .map_err(|e| e.to_string())?
            .is_some_and(|eku| eku.value.server_auth);
        let micros = |secs: i64| Timestamp::from_micros(secs.saturating_mul(1_000_000));
        Ok(Self {
            not_before: micros(validity.not_before.timestamp()),
            not_after: micros(validity.not_after.timestamp()),
            server_auth,
        })
    }

    /// Time left at `now` (zero once expired).
    pub fn left(&self, now: Timestamp) -> Duration {
        if self.not_after <= now {
            Duration::from_micros(0)
        } else {
            self.not_after.since(now)
        }
    }

    /// Why a generated certificate must be replaced at `now`, if it must.
    fn renewal(&self, now: Timestamp) -> Option<Outcome> {
        let slack = Duration::from_secs(86_400);
        if self.left(now) < RENEW_BEFORE {
            Some(Outcome::RenewedExpiring)
        } else if !self.server_auth
            || self.not_after.since(self.not_before) > GENERATED_VALIDITY + slack
        {
            Some(Outcome::RenewedOutdated)
        } else {
            None
        }
    }
}

/// Makes sure `<data-dir>/tls/` holds a current self-signed certificate
/// for `localhost`, `127.0.0.1` and `::1`: creates one on first run, and
/// replaces it when fewer than [`RENEW_BEFORE`] are left at `now` or when
/// it is not one this version would issue. The directory is the generated
/// certificate's own: an operator's certificate is configured with
/// `tls.cert` and `tls.key` and never passes through here.
pub fn ensure_self_signed(data_dir: &Path, now: Timestamp) -> Result<SelfSigned, TlsError> {
    let dir = data_dir.join("tls");
    let files = CertFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let outcome = if files.cert.exists() && files.key.exists() {
        match CertInfo::of_file(&files.cert) {
            Ok(info) => match info.renewal(now) {
                None => {
                    return Ok(SelfSigned {
                        files,
                        outcome: Outcome::Kept,
                    });
                }
                Some(why) => why,
            },
            Err(e) => {
                tracing::warn!(error = %e, "generated certificate unreadable; making a new one");
                Outcome::RenewedOutdated
            }
        }
    } else {
        Outcome::Created
    };
    fs::create_dir_all(&dir).map_err(|source| TlsError::Write {
        path: dir.clone(),
        source,
    })?;
    let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
    let (cert_pem, key_pem) = generate(now)?;
    // New files beside the old, then renamed over them: a reload that
    // runs meanwhile sees the old pair or (after both renames) the new.
    let tmp_key = dir.join("key.pem.new");
    let tmp_cert = dir.join("cert.pem.new");
    write_private(&tmp_key, key_pem.as_bytes())?;
    fs::write(&tmp_cert, cert_pem).map_err(|source| TlsError::Write {
        path: tmp_cert.clone(),
        source,
    })?;
    for (from, to) in [(&tmp_key, &files.key), (&tmp_cert, &files.cert)] {
        fs::rename(from, to).map_err(|source| TlsError::Write {
            path: to.clone(),
            source,
        })?;
    }
    Ok(SelfSigned { files, outcome })
}

/// A fresh self-signed certificate (PEM) and its new private key (PEM,
/// ECDSA P-256): valid from `now` for [`GENERATED_VALIDITY`], for
/// `localhost`, `127.0.0.1` and `::1`, with the extensions a TLS server
/// certificate carries (Key Usage digitalSignature, Extended Key Usage
/// serverAuth, basic constraints CA:FALSE, subject and authority key
/// identifiers).
pub fn generate(now: Timestamp) -> Result<(String, String), TlsError> {
    use rcgen::{
        CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
        KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let at = |t: Timestamp| {
        time::OffsetDateTime::from_unix_timestamp(t.secs())
            .map_err(|e| TlsError::Generate(e.to_string()))
    };
    let mut params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(err)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "anshin self-signed");
    params.not_before = at(now)?;
    params.not_after = at(now + GENERATED_VALIDITY)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes a file readable by its owner only (0600), created that way so
/// that no other user can read it even for an instant.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)
}

/// SHA-256 fingerprint of the first certificate in a PEM file, as
/// colon-separated hex (the form browsers show).
pub fn fingerprint(cert_pem: &Path) -> Result<String, TlsError> {
    let chain = read_chain(cert_pem)?;
    let first = chain.first().ok_or_else(|| TlsError::NoCertificate {
        path: cert_pem.to_owned(),
    })?;
    let digest = Sha256::digest(first.as_ref());
    Ok(digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// Whether the first certificate of a PEM file is self-signed (its
/// issuer is its subject): what the self-scan flags on a public site.
pub fn is_self_signed(cert_pem: &Path) -> Result<bool, TlsError> {
    let chain = read_chain(cert_pem)?;
    let first = chain.first().ok_or_else(|| TlsError::NoCertificate {
        path: cert_pem.to_owned(),
    })?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(first.as_ref()).map_err(|e| TlsError::Unparsable {
            path: cert_pem.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(cert.issuer().as_raw() == cert.subject().as_raw())
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn load_certified_key(
    files: &CertFiles,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key_bytes = fs::read(&files.key).map_err(|source| TlsError::Read {
        path: files.key.clone(),
        source,
    })?;
    let bad_key = |reason: String| TlsError::BadKey {
        path: files.key.clone(),
        reason,
    };
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| bad_key(e.to_string()))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad_key(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| bad_key(format!("does not match the certificate: {e}")))?;
    Ok(certified)
}

/// Where the served certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// The operator's files (`tls.cert`, `tls.key`): read, never written.
    Configured(CertFiles),
    /// The self-signed certificate in `<data-dir>/tls/`, which the server
    /// makes and renews itself.
    Generated { data_dir: PathBuf },
}

impl CertSource {
    /// The files to serve, after making or renewing the generated
    /// certificate if it is due at `now` (logged with its fingerprint).
    pub fn prepare(&self, now: Timestamp) -> Result<CertFiles, TlsError> {
        match self {
            CertSource::Configured(files) => {
                warn_if_expiring(files, now);
                Ok(files.clone())
            }
            CertSource::Generated { data_dir } => {
                let made = ensure_self_signed(data_dir, now)?;
                log_generated(&made)?;
                Ok(made.files)
            }
        }
    }
}

fn log_generated(made: &SelfSigned) -> Result<(), TlsError> {
    let fp = fingerprint(&made.files.cert)?;
    let not_after = CertInfo::of_file(&made.files.cert)?.not_after;
    tracing::info!(
        cert = %made.files.cert.display(),
        created = made.outcome.is_new(),
        outcome = made.outcome.as_str(),
        sha256 = %fp,
        not_after = not_after.secs(),
        "using self-signed certificate for localhost"
    );
    Ok(())
}

/// An operator's certificate is never replaced; one that runs out within
/// [`RENEW_BEFORE`] is reported at every start, SIGHUP and daily check.
fn warn_if_expiring(files: &CertFiles, now: Timestamp) {
    match CertInfo::of_file(&files.cert) {
        Ok(info) if info.left(now) < RENEW_BEFORE => tracing::warn!(
            cert = %files.cert.display(),
            days_left = info.left(now).secs() / 86_400,
            "the configured certificate expires soon; install a new one and send SIGHUP"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the configured certificate's validity"),
    }
}

/// Serves the current certificate; [`CertResolver::reload`] swaps it
/// atomically. Handshakes in progress keep the key they started with, and
/// established connections are not touched at all.
#[derive(Debug)]
pub struct CertResolver {
    source: CertSource,
    files: CertFiles,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    /// Prepares the source at `now` (see [`CertSource::prepare`]) and
    /// loads its certificate.
    pub fn new(
        source: CertSource,
        now: Timestamp,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let files = source.prepare(now)?;
        let key = load_certified_key(&files, &provider)?;
        Ok(Self {
            source,
            files,
            provider,
            current: ArcSwap::from_pointee(key),
        })
    }

    /// Re-reads the files. On error the old certificate stays in service.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = load_certified_key(&self.files, &self.provider)?;
        self.current.store(Arc::new(key));
        Ok(())
    }

    /// SIGHUP: renews the generated certificate if it is due at `now`,
    /// then re-reads the files (an operator's new ones, or the renewed).
    pub fn refresh(&self, now: Timestamp) -> Result<(), TlsError> {
        self.source.prepare(now)?;
        self.reload()
    }

    /// The daily check: renews (and serves) the generated certificate
    /// when it is due at `now`; for an operator's, only warns when it runs
    /// out soon. True if a new certificate is now served.
    pub fn renew_if_due(&self, now: Timestamp) -> Result<bool, TlsError> {
        match &self.source {
            CertSource::Configured(files) => {
                warn_if_expiring(files, now);
                Ok(false)
            }
            CertSource::Generated { data_dir } => {
                let made = ensure_self_signed(data_dir, now)?;
                if !made.outcome.is_new() {
                    return Ok(false);
                }
                log_generated(&made)?;
                self.reload()?;
                Ok(true)
            }
        }
    }

    pub fn files(&self) -> &CertFiles {
        &self.files
    }

    /// The certificate served now (DER).
    pub fn served(&self) -> CertificateDer<'static> {
        self.current
            .load()
            .cert
            .first()
            .cloned()
            .unwrap_or_else(|| CertificateDer::from(Vec::new()))
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The process-wide crypto provider: aws-lc-rs with only forward-secret
/// AEAD suites. TLS 1.3 suites are all AEAD with (EC)DHE; for TLS 1.2 we
/// keep ECDHE with AES-GCM or ChaCha20-Poly1305.
pub fn provider() -> CryptoProvider {
    let base = rustls::crypto::aws_lc_rs::default_provider();
    let cipher_suites: Vec<SupportedCipherSuite> = base
        .cipher_suites
        .iter()
        .copied()
        .filter(is_strong)
        .collect();
    CryptoProvider {
        cipher_suites,
        ..base
    }
}

fn is_strong(suite: &SupportedCipherSuite) -> bool {
    let name = format!("{:?}", suite.suite());
    match suite {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(_) => {
            name.contains("ECDHE") && (name.contains("_GCM_") || name.contains("CHACHA20_POLY1305"))
        }
    }
}

/// Installs [`provider`] as the process default, once. rustls panics at
/// run time if two providers are linked and none is chosen (CRATES.md).
pub fn install_default_provider() {
    let _ = provider().install_default();
}

/// The rustls server configuration: TLS 1.2 and 1.3 only, ALPN h2 and
/// http/1.1, certificate from the resolver. The server's suite order
/// decides (strongest first, as `provider()` lists them), not the
/// client's: the dynamic scan's testssl.sh (C3) reports a server without
/// its own cipher order as a finding.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ignore_client_order = true;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c01_only_forward_secret_aead_suites_are_offered() {
        let p = provider();
        assert!(!p.cipher_suites.is_empty());
        for s in &p.cipher_suites {
            let name = format!("{:?}", s.suite());
            assert!(!name.contains("CBC"), "{name}");
            assert!(
                !name.contains("_SHA\"") && !name.ends_with("_SHA"),
                "{name}"
            );
            if let SupportedCipherSuite::Tls12(_) = s {
                assert!(name.contains("ECDHE"), "{name}");
            }
        }
    }

    /// 2026-06-01T00:00:00Z, a moment the unit tests move from.
    const NOW: Timestamp = Timestamp::from_micros(1_780_272_000_000_000);

    fn days(n: i64) -> Duration {
        Duration::from_micros(n * 86_400 * 1_000_000)
    }

    #[test]
    fn c01_self_signed_key_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_self_signed(dir.path(), NOW).unwrap();
        assert_eq!(first.outcome, Outcome::Created);
        let mode = fs::metadata(&first.files.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let fp1 = fingerprint(&first.files.cert).unwrap();
        let again = ensure_self_signed(dir.path(), NOW + days(59)).unwrap();
        assert_eq!(again.outcome, Outcome::Kept);
        assert_eq!(fp1, fingerprint(&again.files.cert).unwrap());
        assert_eq!(fp1.len(), 32 * 3 - 1);
    }

    #[test]
    fn c01_generated_certificate_is_valid_90_days_for_tls_servers() {
        let dir = tempfile::tempdir().unwrap();
        let made = ensure_self_signed(dir.path(), NOW).unwrap();
        let info = CertInfo::of_file(&made.files.cert).unwrap();
        assert_eq!(info.not_before, NOW);
        assert_eq!(info.not_after, NOW + days(90));
        assert!(info.server_auth);
    }

    #[test]
    fn c01_generated_certificate_is_renewed_with_fewer_than_30_days_left() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_self_signed(dir.path(), NOW).unwrap();
        let fp1 = fingerprint(&first.files.cert).unwrap();
        let key1 = fs::read(&first.files.key).unwrap();
        // 60 days later: exactly 30 left, kept; a day later, renewed.
        assert_eq!(
            ensure_self_signed(dir.path(), NOW + days(60))
                .unwrap()
                .outcome,
            Outcome::Kept
        );
        let renewed = ensure_self_signed(dir.path(), NOW + days(61)).unwrap();
        assert_eq!(renewed.outcome, Outcome::RenewedExpiring);
        assert_ne!(fingerprint(&renewed.files.cert).unwrap(), fp1);
        assert_ne!(fs::read(&renewed.files.key).unwrap(), key1, "a new key");
        let mode = fs::metadata(&renewed.files.key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the renewed key is private too");
        let info = CertInfo::of_file(&renewed.files.cert).unwrap();
        assert_eq!(info.not_after, NOW + days(61) + days(90));
        // Long expired (a server that was off for a year): renewed too.
        let late = ensure_self_signed(dir.path(), NOW + days(500)).unwrap();
        assert_eq!(late.outcome, Outcome::RenewedExpiring);
        // The renewed pair loads (key matches certificate).
        CertResolver::new(
            CertSource::Configured(late.files.clone()),
            NOW + days(500),
            Arc::new(provider()),
        )
        .unwrap();
    }

    #[test]
    fn c01_an_older_versions_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        fs::create_dir_all(&tls).unwrap();
        // What earlier versions generated: valid 1975-4096, no key usages.
        let old = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        fs::write(tls.join("cert.pem"), old.cert.pem()).unwrap();
        fs::write(tls.join("key.pem"), old.signing_key.serialize_pem()).unwrap();
        let made = ensure_self_signed(dir.path(), NOW).unwrap();
        assert_eq!(made.outcome, Outcome::RenewedOutdated);
        let info = CertInfo::of_file(&made.files.cert).unwrap();
        assert_eq!(info.not_after, NOW + days(90));
        assert!(info.server_auth);
        // Garbage in the generated slot is replaced, not served.
        fs::write(tls.join("cert.pem"), "garbage").unwrap();
        assert_eq!(
            ensure_self_signed(dir.path(), NOW).unwrap().outcome,
            Outcome::RenewedOutdated
        );
    }

    #[test]
    fn c01_a_configured_certificate_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generate(NOW - days(85)).unwrap();
        let files = CertFiles {
            cert: dir.path().join("op-cert.pem"),
            key: dir.path().join("op-key.pem"),
        };
        fs::write(&files.cert, &cert).unwrap();
        fs::write(&files.key, &key).unwrap();
        let r = CertResolver::new(
            CertSource::Configured(files.clone()),
            NOW,
            Arc::new(provider()),
        )
        .unwrap();
        assert!(!r.renew_if_due(NOW).unwrap());
        r.refresh(NOW).unwrap();
        assert_eq!(fs::read_to_string(&files.cert).unwrap(), cert);
        assert_eq!(fs::read_to_string(&files.key).unwrap(), key);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn c01_the_daily_check_renews_and_serves_the_generated_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let r = CertResolver::new(
            CertSource::Generated {
                data_dir: dir.path().to_owned(),
            },
            NOW,
            Arc::new(provider()),
        )
        .unwrap();
        let first = r.served();
        assert!(!r.renew_if_due(NOW + days(10)).unwrap());
        assert_eq!(r.served(), first);
        assert!(r.renew_if_due(NOW + days(61)).unwrap());
        let now_served = r.served();
        assert_ne!(now_served, first);
        let info = CertInfo::of_der(now_served.as_ref()).unwrap();
        assert_eq!(info.not_before, NOW + days(61));
    }

    #[test]
    fn resolver_keeps_old_certificate_when_reload_fails() {
        let dir = tempfile::tempdir().unwrap();
        let s = ensure_self_signed(dir.path(), NOW).unwrap();
        let r = CertResolver::new(
            CertSource::Configured(s.files.clone()),
            NOW,
            Arc::new(provider()),
        )
        .unwrap();
        fs::write(&s.files.cert, "garbage").unwrap();
        assert!(r.reload().is_err());
        assert!(!r.current.load().cert.is_empty());
    }
}
