//! The `anshin` binary as operators run it: signals, exit codes, the
//! command line. Each test starts its own process on free ports.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anshin_testkit::process::ServerProcess;
use anshin_testkit::{client_for, reqwest};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_anshin");

async fn tls_stream(
    addr: std::net::SocketAddr,
    cert_pem: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Reads one HTTP/1.1 response with a Content-Length (or none) from the
/// stream; returns the status line.
async fn read_response<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.unwrap();
        assert!(
            n == 1,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    head.lines().next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_slow_request_finish_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(Path::new(BIN), dir.path(), &[]);
    let mut tls = tls_stream(server.public, &server.cert_pem()).await;
    let body = br#"{"lang":"en"}"#;
    let head = format!(
        "PUT /api/v1/preferences/language HTTP/1.1\r\nHost: localhost:{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.public.port(),
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    // A slow client: the body trickles in over ~2.5 s, and SIGTERM arrives
    // after the first byte.
    tls.write_all(&body[..1]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent_at = Instant::now();
    server.signal("TERM");
    server.wait_for_line("SIGTERM received");
    for b in &body[1..] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tls.write_all(&[*b]).await.unwrap();
        tls.flush().await.unwrap();
    }
    let status = read_response(&mut tls).await;
    assert_eq!(
        status, "HTTP/1.1 204 No Content",
        "the in-flight request completed"
    );
    let exit = tokio::task::spawn_blocking(move || {
        let s = server.wait_exit(Duration::from_secs(10));
        (s, server)
    })
    .await
    .unwrap();
    let (exit, server) = exit;
    let exit = exit.expect("exited within 10 s of SIGTERM");
    assert!(exit.success(), "exit status {exit}");
    assert!(sent_at.elapsed() < Duration::from_secs(10));
    // New connections were refused once shutdown began.
    assert!(tokio::net::TcpStream::connect(server.public).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    // The operator's certificate, configured (`tls.cert`, `tls.key`).
    let certs = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (certs.path().join("site.crt"), certs.path().join("site.key"));
    let first = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&key_path, first.signing_key.serialize_pem()).unwrap();
    std::fs::write(&cert_path, first.cert.pem()).unwrap();
    let server = ServerProcess::start(
        Path::new(BIN),
        dir.path(),
        &[
            ("ANSHIN_TLS__CERT", cert_path.to_str().unwrap()),
            ("ANSHIN_TLS__KEY", key_path.to_str().unwrap()),
        ],
    );
    let old_pem = first.cert.pem().into_bytes();
    let mut kept = tls_stream(server.public, &old_pem).await;
    let get = format!(
        "GET / HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
        server.public.port()
    );
    let get = get.as_bytes();
    kept.write_all(get).await.unwrap();
    assert_eq!(read_response(&mut kept).await, "HTTP/1.1 200 OK");

    // The operator installs a new certificate and sends SIGHUP.
    let fresh = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&key_path, fresh.signing_key.serialize_pem()).unwrap();
    std::fs::write(&cert_path, fresh.cert.pem()).unwrap();
    server.signal("HUP");
    server.wait_for_line("certificate reloaded");

    // The connection opened before the reload still works.
    kept.write_all(get).await.unwrap();
    assert_eq!(read_response(&mut kept).await, "HTTP/1.1 200 OK");
    // New connections get the new certificate, and only it.
    let url = format!("https://localhost:{}/", server.public.port());
    let new_client = client_for(fresh.cert.pem().as_bytes());
    assert_eq!(
        new_client.get(&url).send().await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    assert!(
        client_for(&old_pem).get(&url).send().await.is_err(),
        "old certificate still served"
    );
    // The operator's files are theirs: nothing was rewritten.
    assert_eq!(
        std::fs::read_to_string(&cert_path).unwrap(),
        fresh.cert.pem()
    );
    assert!(!dir.path().join("tls").exists(), "nothing generated");
}

/// A generated certificate that ran low while the server was up is
/// renewed by SIGHUP (as by the daily check), logged with its new
/// fingerprint, and served to new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_sighup_renews_a_generated_certificate_with_fewer_than_30_days_left() {
    use anshin_core::clock::Clock as _;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(Path::new(BIN), dir.path(), &[]);
    let url = format!("https://localhost:{}/", server.public.port());
    // The generated certificate as it would be 65 days on: 25 days left.
    let now = anshin_core::clock::SystemClock.now();
    let aged = now - anshin_domain::Duration::from_secs(65 * 86_400);
    let (cert, key) = anshin::tls::generate(aged).unwrap();
    std::fs::write(dir.path().join("tls/key.pem"), &key).unwrap();
    std::fs::write(dir.path().join("tls/cert.pem"), &cert).unwrap();
    server.signal("HUP");
    server.wait_for_line("certificate reloaded");
    let renewed = server.cert_pem();
    assert_ne!(renewed, cert.as_bytes(), "renewed on disk");
    let fp = anshin::tls::fingerprint(&dir.path().join("tls/cert.pem")).unwrap();
    let line = server.wait_for_line("renewed: fewer than 30 days left");
    assert!(
        line.contains(&fp),
        "logged with the new fingerprint: {line}"
    );
    assert_eq!(
        client_for(&renewed)
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        reqwest::StatusCode::OK,
        "the renewed certificate is served"
    );
    assert!(
        client_for(cert.as_bytes()).get(&url).send().await.is_err(),
        "the aged one is not"
    );
    let info = anshin::tls::CertInfo::of_file(&dir.path().join("tls/cert.pem")).unwrap();
    assert_eq!(info.not_after.since(info.not_before).secs(), 90 * 86_400);
}

#[test]
fn c01_first_run_generates_a_private_key_and_prints_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(Path::new(BIN), dir.path(), &[]);
    let line = server.wait_for_line("self-signed certificate");
    let fp = line
        .split("\"sha256\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(fp.len(), 95, "SHA-256 as colon hex: {fp}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

fn anshin(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("ANSHIN_DATABASE__URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn config_show_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("anshin.toml");
    std::fs::write(
        &file,
        "[http]\nbody_limit_bytes = 2048\n[log]\nlevel = \"debug\"\n",
    )
    .unwrap();
    let out = anshin(
        &[
            "config",
            "show",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            "/srv/anshin",
        ],
        &[
            (
                "ANSHIN_DATABASE__URL",
                "postgres://app:hunter2-secret@db.internal:5432/anshin?sslpassword=p4ss",
            ),
            ("ANSHIN_LISTEN__PUBLIC", "0.0.0.0:443"),
            ("ANSHIN_MAIL__TRANSPORT", "smtp"),
            ("ANSHIN_MAIL__SMTP__HOST", "smtp.example.jp"),
            ("ANSHIN_MAIL__SMTP__USERNAME", "relay-user"),
            ("ANSHIN_MAIL__SMTP__PASSWORD", "smtp-hunter3"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("hunter2-secret") && !text.contains("p4ss"),
        "{text}"
    );
    assert!(
        !text.contains("smtp-hunter3"),
        "SMTP password shown: {text}"
    );
    assert!(text.contains("password = \"[redacted]\""), "{text}");
    assert!(text.contains("host = \"smtp.example.jp\""), "{text}");
    assert!(text.contains("db.internal"), "{text}");
    assert!(
        text.contains("public = \"0.0.0.0:443\""),
        "env wins: {text}"
    );
    assert!(
        text.contains("body_limit_bytes = 2048"),
        "file applies: {text}"
    );
    assert!(text.contains("data_dir = \"/srv/anshin\""), "{text}");
    assert!(
        text.contains("redirect = \"127.0.0.1:8080\""),
        "defaults shown: {text}"
    );
    let parsed: toml::Value = toml::from_str(&text).unwrap();
    assert!(parsed.get("tls").is_some());
}

#[test]
fn bad_configuration_fails_fast_naming_the_key() {
    for (env, value, key) in [
        (
            "ANSHIN_LISTEN__PUBLIC",
            "not-an-address",
            "ANSHIN_LISTEN__PUBLIC",
        ),
        (
            "ANSHIN_HTTP__BODY_LIMIT_BYTES",
            "12",
            "ANSHIN_HTTP__BODY_LIMIT_BYTES",
        ),
        ("ANSHIN_DATABASE__URL", "mysql://x", "ANSHIN_DATABASE__URL"),
        (
            "ANSHIN_TLS__CERT",
            "/tmp/only-a-cert.pem",
            "ANSHIN_TLS__CERT",
        ),
        ("ANSHIN_LOG__FORMAT", "xml", "ANSHIN_LOG__FORMAT"),
        (
            "ANSHIN_SITE__BASE_URL",
            "http://plain.example",
            "ANSHIN_SITE__BASE_URL",
        ),
        (
            "ANSHIN_MAIL__FROM_ADDRESS",
            "nobody",
            "ANSHIN_MAIL__FROM_ADDRESS",
        ),
        ("ANSHIN_MAIL__SMTP__TLS", "plain", "ANSHIN_MAIL__SMTP__TLS"),
    ] {
        let out = anshin(&["config", "show"], &[(env, value)]);
        assert!(!out.status.success(), "{env}={value} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(key),
            "{env}={value}: error does not name {key}: {err}"
        );
        let serve = anshin(
            &["serve", "--data-dir", "/nonexistent/should-not-be-created"],
            &[(env, value)],
        );
        assert!(!serve.status.success());
    }
    let out = anshin(&["config", "show", "--config", "/no/such/file.toml"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.toml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_embedded_migrations_on_both_databases() {
    use anshin_store::Store;
    let dir = tempfile::tempdir().unwrap();
    let out = anshin(
        &["migrate", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lite = anshin_store_sqlite::SqliteStore::open_file(&dir.path().join("anshin.db"))
        .await
        .unwrap();
    assert!(lite.schema_status().await.unwrap().is_current());
    lite.close().await;

    let db = anshin_store_postgres::scratch::ScratchDatabase::create()
        .await
        .unwrap();
    let out = anshin(
        &["migrate"],
        &[
            ("ANSHIN_DATABASE__URL", db.url()),
            ("ANSHIN_DATA_DIR", dir.path().to_str().unwrap()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pg = anshin_store_postgres::PostgresStore::connect_lazy(db.url(), 1).unwrap();
    assert!(pg.schema_status().await.unwrap().is_current());
    pg.close().await;
}

/// A command whose reader went away before it wrote (`anshin config show |
/// head -0`, or a pager quit early) ends normally: no panic, exit 0. Its
/// output was written with `println!`, which panics on a broken pipe.
#[test]
fn a_command_whose_reader_went_away_exits_cleanly_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["config", "show"])
        .env("ANSHIN_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The read end goes before the child can write: every write fails
    // with a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?}: {err}", out.status);
}
