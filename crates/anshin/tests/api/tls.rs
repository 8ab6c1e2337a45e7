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
