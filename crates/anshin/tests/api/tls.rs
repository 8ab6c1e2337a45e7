//! C1: TLS 1.2 and 1.3 only, forward-secret AEAD suites only, proved twice:
//! with rustls clients pinned to each version, and with a real TLS scanner
//! (sslyze) that tries SSL 2/3, TLS 1.0/1.1 and every cipher suite.

use std::sync::Arc;

use anshin_testkit::{Backend, TestApp};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn handshake(
    app: &TestApp,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(rustls::ProtocolVersion, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&app.cert_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(app.public_addr)
        .await
        .unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let get = format!(
        "GET / HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        app.public_addr.port()
    );
    tls.write_all(get.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    tls.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let (_, conn) = tls.get_ref();
    Ok((
        conn.protocol_version().unwrap(),
        format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite()),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_tls12_and_tls13_handshakes_succeed_with_strong_suites() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (v, suite) = handshake(&app, &[&rustls::version::TLS13]).await.unwrap();
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_3);
    assert!(suite.starts_with("TLS13_"), "{suite}");
    let (v, suite) = handshake(&app, &[&rustls::version::TLS12]).await.unwrap();
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_2);
    assert!(
        suite.contains("ECDHE") && (suite.contains("GCM") || suite.contains("CHACHA20")),
        "{suite}"
    );
    app.stop().await;
}

fn accepted(report: &serde_json::Value, scan: &str) -> Vec<String> {
    let result = &report["server_scan_results"][0]["scan_result"][scan];
    assert_eq!(result["status"], "COMPLETED", "{scan}: {result}");
    result["result"]["accepted_cipher_suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["cipher_suite"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_tls_scanner_finds_no_weak_protocol_or_cipher() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // sslyze blocks for a few seconds; keep the server's runtime free.
    let probe = Sslyze(app.public_addr.port());
    let report = tokio::task::spawn_blocking(move || probe.scan())
        .await
        .unwrap();
    assert_eq!(
        report["server_scan_results"][0]["scan_status"], "COMPLETED",
        "{report}"
    );
    for weak in [
        "ssl_2_0_cipher_suites",
        "ssl_3_0_cipher_suites",
        "tls_1_0_cipher_suites",
        "tls_1_1_cipher_suites",
    ] {
        assert!(
            accepted(&report, weak).is_empty(),
            "{weak} accepted: {:?}",
            accepted(&report, weak)
        );
    }
    let tls12 = accepted(&report, "tls_1_2_cipher_suites");
    assert!(!tls12.is_empty(), "TLS 1.2 offered");
    for suite in &tls12 {
        assert!(suite.contains("ECDHE"), "not forward secret: {suite}");
        assert!(
            suite.contains("GCM") || suite.contains("CHACHA20_POLY1305"),
            "not AEAD: {suite}"
        );
        assert!(!suite.contains("CBC") && !suite.contains("RC4") && !suite.contains("3DES"));
    }
    assert!(
        !accepted(&report, "tls_1_3_cipher_suites").is_empty(),
        "TLS 1.3 offered"
    );
    app.stop().await;
}

/// sslyze pointed at a local port (by name, so SNI is sent).
struct Sslyze(u16);

impl Sslyze {
    fn scan(&self) -> serde_json::Value {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("scan.json");
        let status = std::process::Command::new("sslyze")
            .args([
                "--sslv2",
                "--sslv3",
                "--tlsv1",
                "--tlsv1_1",
                "--tlsv1_2",
                "--tlsv1_3",
            ])
            .arg(format!("--json_out={}", out.display()))
            .arg(format!("localhost:{}", self.0))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("sslyze is installed (pip install sslyze; scripts/test does it)");
        assert!(status.code().is_some(), "sslyze was killed");
        serde_json::from_slice(&std::fs::read(out).expect("sslyze wrote its report")).unwrap()
    }
}

// ---- the generated certificate (issue 19, item 4) ----

const DAY: i64 = 86_400;

/// The certificate the server presents in a handshake (trusting `pem`).
async fn served_der(addr: std::net::SocketAddr, pem: &[u8]) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("the server presents the certificate trusted here");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn first_der(pem: &[u8]) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem)
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// Now, in seconds, from the real clock (certificates are dated by it).
fn real_now() -> i64 {
    use anshin_core::clock::Clock as _;
    anshin_core::clock::SystemClock.now().secs()
}

/// Asserts what a TLS server certificate we generate must say: valid 90
/// days from about now, Key Usage digitalSignature (critical), Extended
/// Key Usage serverAuth, not a CA, subject and authority key identifiers
/// (equal, it signs itself), and the three local names.
fn assert_generated_certificate(der: &[u8]) {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let v = cert.validity();
    let (from, to) = (v.not_before.timestamp(), v.not_after.timestamp());
    assert_eq!(to - from, 90 * DAY, "valid for 90 days");
    assert!(
        (from - real_now()).abs() < 3600,
        "valid from now, not 1975: {}",
        v.not_before
    );
    let ku = cert.key_usage().unwrap().expect("Key Usage");
    assert!(ku.critical, "Key Usage is critical");
    assert!(ku.value.digital_signature());
    assert!(!ku.value.key_cert_sign(), "signs no certificates");
    let eku = cert
        .extended_key_usage()
        .unwrap()
        .expect("Extended Key Usage");
    assert!(eku.value.server_auth);
    assert!(!eku.value.client_auth && !eku.value.code_signing);
    let bc = cert
        .basic_constraints()
        .unwrap()
        .expect("Basic Constraints");
    assert!(!bc.value.ca, "not a CA");
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            _ => {}
        }
    }
    let ski = ski.expect("Subject Key Identifier");
    assert_eq!(ski.len(), 20);
    assert_eq!(
        aki.as_ref(),
        Some(&ski),
        "Authority Key Identifier = its own"
    );
    let san = cert.subject_alternative_name().unwrap().expect("SAN");
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => (*d).to_owned(),
            GeneralName::IPAddress(ip) => format!("{ip:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"localhost".to_owned()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_the_generated_certificate_is_valid_90_days_with_server_extensions() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served = served_der(app.public_addr, &app.cert_pem).await;
    assert_eq!(served, first_der(&app.cert_pem), "serves the file it wrote");
    assert_generated_certificate(&served);
    app.stop().await;
}

/// Writes a certificate of ours dated `days_ago` into `<dir>/tls/`, as an
/// earlier run would have left it; returns its PEM.
fn leave_generated(dir: &std::path::Path, days_ago: i64) -> String {
    let then = anshin_domain::Timestamp::from_micros((real_now() - days_ago * DAY) * 1_000_000);
    let (cert, key) = anshin::tls::generate(then).unwrap();
    std::fs::create_dir_all(dir.join("tls")).unwrap();
    std::fs::write(dir.join("tls/cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("tls/key.pem"), &key).unwrap();
    cert
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_a_generated_certificate_with_fewer_than_30_days_left_is_renewed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // 70 days old: 20 days left.
    let old = leave_generated(dir.path(), 70);
    let data_dir = dir.path().to_owned();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.data_dir = data_dir).await;
    let served = served_der(app.public_addr, &app.cert_pem).await;
    assert_ne!(
        served,
        first_der(old.as_bytes()),
        "the old one is not served"
    );
    assert_generated_certificate(&served);
    let logs = anshin_testkit::captured_logs();
    let fp = anshin::tls::fingerprint(&dir.path().join("tls/cert.pem")).unwrap();
    assert!(
        logs.lines()
            .any(|l| l.contains("renewed: fewer than 30 days left") && l.contains(&fp)),
        "the renewal is logged with the new fingerprint {fp}"
    );
    app.stop().await;

    // One with more than 30 days left is kept.
    let dir = tempfile::tempdir().unwrap();
    let kept = leave_generated(dir.path(), 50);
    let data_dir = dir.path().to_owned();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.data_dir = data_dir).await;
    let served = served_der(app.public_addr, kept.as_bytes()).await;
    assert_eq!(served, first_der(kept.as_bytes()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_a_configured_certificate_is_never_replaced_even_when_it_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    // The operator's certificate: 10 days left, no extensions of ours.
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let now = time::OffsetDateTime::from_unix_timestamp(real_now()).unwrap();
    params.not_before = now - time::Duration::days(80);
    params.not_after = now + time::Duration::days(10);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("op.crt"), dir.path().join("op.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (c, k) = (cert_path.clone(), key_path.clone());
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.tls.cert = Some(c);
        s.tls.key = Some(k);
    })
    .await;
    let served = served_der(app.public_addr, cert.pem().as_bytes()).await;
    assert_eq!(served, cert.der().to_vec(), "the operator's, as configured");
    assert_eq!(std::fs::read_to_string(&cert_path).unwrap(), cert.pem());
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        key.serialize_pem()
    );
    assert!(
        !app.data_dir.join("tls").exists(),
        "no certificate generated beside it"
    );
    assert!(
        anshin_testkit::captured_logs()
            .lines()
            .any(|l| l.contains("configured certificate expires soon")
                && l.contains(cert_path.to_str().unwrap())),
        "the operator is warned"
    );
    app.stop().await;
}

/// Whether sslyze can run here. Locally a missing sslyze skips the scan
/// with a message; in CI (`CI` set; `scripts/setup --test` installs it) it
/// is a failure.
fn sslyze_available(test: &str) -> bool {
    let found = std::process::Command::new("sslyze")
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: sslyze is not installed (scripts/setup --test installs it)"
        );
        eprintln!(
            "SKIPPED {test}: sslyze is not installed here (pip install sslyze, or scripts/setup --test)"
        );
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_sslyze_sees_the_90_day_certificate_and_its_extensions() {
    let test = "c01_sslyze_sees_the_90_day_certificate_and_its_extensions";
    if !sslyze_available(test) {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    let port = app.public_addr.port();
    let report = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("scan.json");
        let status = std::process::Command::new("sslyze")
            .arg("--certinfo")
            .arg(format!("--json_out={}", out.display()))
            .arg(format!("localhost:{port}"))
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.code().is_some(), "sslyze was killed");
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(out).unwrap()).unwrap()
    })
    .await
    .unwrap();
    let info = &report["server_scan_results"][0]["scan_result"]["certificate_info"];
    assert_eq!(info["status"], "COMPLETED", "{info}");
    let leaf = &info["result"]["certificate_deployments"][0]["received_certificate_chain"][0];
    // `2026-12-05T00:34:00Z`, as sslyze writes it.
    let day = |field: &str| {
        let text = leaf[field].as_str().unwrap();
        let n: Vec<i64> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap())
            .collect();
        let date = time::Date::from_calendar_date(
            n[0] as i32,
            time::Month::try_from(n[1] as u8).unwrap(),
            n[2] as u8,
        )
        .unwrap();
        date.with_hms(n[3] as u8, n[4] as u8, n[5] as u8)
            .unwrap()
            .assume_utc()
            .unix_timestamp()
    };
    assert_eq!(
        day("not_valid_after") - day("not_valid_before"),
        90 * DAY,
        "{leaf}"
    );
    assert_eq!(
        leaf["subject_alternative_name"]["dns_names"],
        serde_json::json!(["localhost"])
    );
    // sslyze prints no key usages: read them from the certificate it got.
    let pem = leaf["as_pem"].as_str().unwrap();
    assert_eq!(first_der(pem.as_bytes()), first_der(&app.cert_pem));
    assert_generated_certificate(&first_der(pem.as_bytes()));
    app.stop().await;
}
