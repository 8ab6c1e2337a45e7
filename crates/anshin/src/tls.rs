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

/// What `ensure_self_signed` did, for the start-up message.
#[derive(Debug)]
pub struct SelfSigned {
    pub files: CertFiles,
    pub created: bool,
}

/// Makes sure `<data-dir>/tls/` holds a self-signed certificate for
/// `localhost` and `127.0.0.1`, creating one on first run.
pub fn ensure_self_signed(data_dir: &Path) -> Result<SelfSigned, TlsError> {
    let dir = data_dir.join("tls");
    let files = CertFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(SelfSigned {
            files,
            created: false,
        });
    }
    fs::create_dir_all(&dir).map_err(|source| TlsError::Write {
        path: dir.clone(),
        source,
    })?;
    let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
    let generated = rcgen::generate_simple_self_signed(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&files.key, generated.signing_key.serialize_pem().as_bytes())?;
    fs::write(&files.cert, generated.cert.pem()).map_err(|source| TlsError::Write {
        path: files.cert.clone(),
        source,
    })?;
    Ok(SelfSigned {
        files,
        created: true,
    })
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

/// Serves the current certificate; [`CertResolver::reload`] swaps it
/// atomically. Handshakes in progress keep the key they started with, and
/// established connections are not touched at all.
#[derive(Debug)]
pub struct CertResolver {
    files: CertFiles,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    pub fn new(files: CertFiles, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let key = load_certified_key(&files, &provider)?;
        Ok(Self {
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

    pub fn files(&self) -> &CertFiles {
        &self.files
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
/// http/1.1, certificate from the resolver.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
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

    #[test]
    fn c01_self_signed_key_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_self_signed(dir.path()).unwrap();
        assert!(first.created);
        let mode = fs::metadata(&first.files.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let fp1 = fingerprint(&first.files.cert).unwrap();
        let again = ensure_self_signed(dir.path()).unwrap();
        assert!(!again.created);
        assert_eq!(fp1, fingerprint(&again.files.cert).unwrap());
        assert_eq!(fp1.len(), 32 * 3 - 1);
    }

    #[test]
    fn resolver_keeps_old_certificate_when_reload_fails() {
        let dir = tempfile::tempdir().unwrap();
        let s = ensure_self_signed(dir.path()).unwrap();
        let r = CertResolver::new(s.files.clone(), Arc::new(provider())).unwrap();
        fs::write(&s.files.cert, "garbage").unwrap();
        assert!(r.reload().is_err());
        assert!(!r.current.load().cert.is_empty());
    }
}
