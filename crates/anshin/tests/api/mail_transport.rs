//! Mail transports against real receivers: the file outbox on disk and a
//! real SMTP server process (aiosmtpd) on loopback, plain, STARTTLS and
//! implicit TLS. These carry the one-time codes (C11) and the login
//! notices (C9): they reach the member only as the member's own mail
//! server received them, over verified TLS unless the relay is on
//! loopback. No database is involved, so each test runs once.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anshin_core::mail::{
    FileTransport, MailSettings, Mailbox, OutgoingMail, SmtpSettings, SmtpTls, SmtpTransport,
    Transport, TransportErrorKind, TransportKind, transport_from_settings,
};
use anshin_testkit::smtp::{SinkTls, SmtpSink, free_port};
use mail_parser::MessageParser;

fn mail(id: &str, to: &str) -> OutgoingMail {
    OutgoingMail {
        message_id: id.into(),
        from: Mailbox::new(
            Some("安心".into()),
            "no-reply@shop.example.jp".parse().unwrap(),
        ),
        to: to.into(),
        subject: "確認コード 402913".into(),
        text: "確認コードは 402913 です。".into(),
        html: "<p>確認コードは <b>402913</b> です。</p>".into(),
        date_micros: 1_795_000_000_000_000,
    }
}

/// The names in a directory, sorted.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn smtp_settings(port: u16, tls: SmtpTls) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls,
        username: None,
        password: None,
        ca_file: None,
        timeout_secs: 5,
    }
}

/// Checks one received message: headers, both parts, and (from aiosmtpd's
/// `X-RcptTo`) the envelope recipient.
fn assert_is_our_mail(raw: &[u8], id: &str, to: &str) {
    let parsed = MessageParser::default().parse(raw).unwrap();
    assert_eq!(parsed.subject(), Some("確認コード 402913"));
    assert_eq!(
        parsed.message_id(),
        Some(format!("{id}@shop.example.jp").as_str())
    );
    assert_eq!(
        parsed.to().unwrap().first().unwrap().address(),
        Some(to),
        "To header"
    );
    assert_eq!(
        parsed.body_text(0).unwrap().trim_end(),
        "確認コードは 402913 です。"
    );
    assert_eq!(
        parsed.body_html(0).unwrap().trim_end(),
        "<p>確認コードは <b>402913</b> です。</p>"
    );
    let envelope_to = parsed
        .header_raw("X-RcptTo")
        .expect("aiosmtpd records the envelope recipient");
    assert_eq!(envelope_to.trim(), to, "envelope recipient");
}

#[tokio::test]
async fn c11_file_transport_writes_one_private_file_per_message_id_even_when_sent_twice() {
    let data = tempfile::tempdir().unwrap();
    let settings = MailSettings::default();
    assert_eq!(settings.transport, TransportKind::File);
    let transport = transport_from_settings(&settings, data.path()).unwrap();
    assert_eq!(transport.name(), "file");

    let outbox = data.path().join("mail").join("outbox");
    let m = mail("0193aa00bb11cc22dd33ee44ff556677", "buyer@example.com");
    transport.send(&m).await.unwrap();
    // A worker that crashed before marking the row sent delivers again.
    transport.send(&m).await.unwrap();
    let other = mail("0193aa00bb11cc22dd33ee44ff556688", "other@example.com");
    transport.send(&other).await.unwrap();

    let mode = std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "outbox directory mode {mode:o}");
    let names = file_names(&outbox);
    assert_eq!(
        names,
        [
            "0193aa00bb11cc22dd33ee44ff556677.eml",
            "0193aa00bb11cc22dd33ee44ff556688.eml"
        ],
        "exactly one file per message id, no temporary files left"
    );
    for name in &names {
        let mode = std::fs::metadata(outbox.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} mode {mode:o}");
    }
    let raw = std::fs::read(outbox.join(&names[0])).unwrap();
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("確認コード 402913"));
    assert_eq!(
        parsed.message_id(),
        Some("0193aa00bb11cc22dd33ee44ff556677@shop.example.jp")
    );
    assert_eq!(
        parsed.body_text(0).unwrap().trim_end(),
        "確認コードは 402913 です。"
    );
    assert_eq!(
        parsed.body_html(0).unwrap().trim_end(),
        "<p>確認コードは <b>402913</b> です。</p>"
    );
}

#[tokio::test]
async fn c11_file_transport_keeps_the_first_file_and_refuses_bad_mail_permanently() {
    let data = tempfile::tempdir().unwrap();
    let transport = FileTransport::new(data.path().join("outbox")).unwrap();
    let first = mail("0193aa00bb11cc22dd33ee44ff556699", "buyer@example.com");
    transport.send(&first).await.unwrap();
    let path = transport.path_for(&first.message_id).unwrap();
    let before = std::fs::read(&path).unwrap();
    // Same id, different content: the existing file wins (the id is what
    // the outbox row and the worker agree on).
    let mut again = first.clone();
    again.text = "changed".into();
    transport.send(&again).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let mut bad = mail("../escape", "buyer@example.com");
    let err = transport.send(&bad).await.unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Permanent, "{err}");
    bad.message_id = "0193aa00bb11cc22dd33ee44ff5566aa".into();
    bad.to = "no at sign".into();
    let err = transport.send(&bad).await.unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Permanent, "{err}");
    assert!(!err.message.contains("no at sign"), "{err}");
    assert!(!data.path().join("escape.eml").exists());
    assert_eq!(std::fs::read_dir(transport.dir()).unwrap().count(), 1);
}

/// A batch (what the delivery worker hands the file transport at once):
/// each mail answered in order, one file per good message id, a repeat
/// keeps the first copy, bad mail refused permanently without stopping
/// the rest, no temporary file left; delivering the batch again (a worker
/// that crashed before marking it sent) changes nothing.
#[tokio::test]
async fn c11_file_transport_delivers_a_batch_answering_for_each_mail() {
    let data = tempfile::tempdir().unwrap();
    let transport = FileTransport::new(data.path().join("outbox")).unwrap();
    assert!(transport.idempotent(), "one copy per message id");
    let first = mail("0193aa00bb11cc22dd33ee44ff5566b1", "buyer@example.com");
    transport.send(&first).await.unwrap();
    let before = std::fs::read(transport.path_for(&first.message_id).unwrap()).unwrap();
    let mut repeat = first.clone();
    repeat.text = "changed".into();
    let mut bad_address = mail("0193aa00bb11cc22dd33ee44ff5566b3", "buyer@example.com");
    bad_address.to = "no at sign".into();
    let batch = vec![
        mail("0193aa00bb11cc22dd33ee44ff5566b0", "a@example.com"),
        repeat,
        mail("../escape", "b@example.com"),
        bad_address,
        mail("0193aa00bb11cc22dd33ee44ff5566b4", "c@example.com"),
    ];
    for round in 0..2 {
        let outcomes = transport.send_many(&batch).await;
        assert_eq!(
            outcomes.len(),
            batch.len(),
            "round {round}: one answer per mail"
        );
        assert!(outcomes[0].is_ok() && outcomes[1].is_ok() && outcomes[4].is_ok());
        for i in [2, 3] {
            let err = outcomes[i].as_ref().unwrap_err();
            assert_eq!(
                err.kind,
                TransportErrorKind::Permanent,
                "round {round}: {err}"
            );
            assert!(!err.message.contains("no at sign"), "{err}");
        }
        let names = file_names(transport.dir());
        assert_eq!(
            names,
            [
                "0193aa00bb11cc22dd33ee44ff5566b0.eml",
                "0193aa00bb11cc22dd33ee44ff5566b1.eml",
                "0193aa00bb11cc22dd33ee44ff5566b4.eml",
            ],
            "round {round}: one file per good message id, nothing else"
        );
        assert_eq!(
            std::fs::read(transport.path_for(&first.message_id).unwrap()).unwrap(),
            before,
            "the first copy is kept"
        );
    }
    let raw = std::fs::read(
        transport
            .path_for("0193aa00bb11cc22dd33ee44ff5566b4")
            .unwrap(),
    )
    .unwrap();
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        parsed.to().unwrap().first().unwrap().address(),
        Some("c@example.com")
    );
    assert!(transport.send_many(&[]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c11_smtp_transport_delivers_to_a_real_smtp_server() {
    let sink = SmtpSink::start();
    let settings = MailSettings {
        transport: TransportKind::Smtp,
        smtp: smtp_settings(sink.port, SmtpTls::None),
        ..MailSettings::default()
    };
    let transport = transport_from_settings(&settings, Path::new("/nonexistent")).unwrap();
    assert_eq!(transport.name(), "smtp");

    let id = "0193bb00bb11cc22dd33ee44ff556677";
    transport
        .send(&mail(id, "recipient@example.net"))
        .await
        .unwrap();
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    assert_is_our_mail(&messages[0], id, "recipient@example.net");

    // A second mail through the same transport (and its connection pool).
    let id2 = "0193bb00bb11cc22dd33ee44ff556688";
    transport
        .send(&mail(id2, "second@example.net"))
        .await
        .unwrap();
    let messages = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 2);
    let second = messages
        .iter()
        .find(|m| String::from_utf8_lossy(m).contains(id2))
        .expect("second mail");
    assert_is_our_mail(second, id2, "second@example.net");
}

#[tokio::test]
async fn c11_smtp_transport_to_a_closed_port_is_a_transient_error() {
    let port = free_port();
    let transport = SmtpTransport::new(&smtp_settings(port, SmtpTls::None)).unwrap();
    let err = transport
        .send(&mail(
            "0193cc00bb11cc22dd33ee44ff556677",
            "buyer@example.com",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Transient, "{err}");
    assert!(err.is_transient());
    assert!(!err.message.contains("buyer@example.com"), "{err}");
}

#[tokio::test]
async fn c11_smtp_transport_refuses_to_compose_invalid_mail_permanently() {
    let sink = SmtpSink::start();
    let transport = SmtpTransport::new(&smtp_settings(sink.port, SmtpTls::None)).unwrap();
    let err = transport
        .send(&mail("0193cc00bb11cc22dd33ee44ff556688", "not-an-address"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Permanent, "{err}");
    assert!(sink.messages().is_empty());
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM
/// files; the certificate doubles as the `ca_file`.
fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c11_smtp_transport_delivers_over_required_starttls_trusting_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    // aiosmtpd with --tlscert requires STARTTLS before MAIL FROM, so a
    // delivery proves the connection was upgraded.
    let sink = SmtpSink::start_with(SinkTls::StartTls {
        cert: cert.clone(),
        key,
    });
    let mut settings = smtp_settings(sink.port, SmtpTls::Starttls);
    settings.ca_file = Some(cert);
    let transport = SmtpTransport::new(&settings).unwrap();
    let id = "0193dd00bb11cc22dd33ee44ff556677";
    transport.send(&mail(id, "tls@example.net")).await.unwrap();
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_is_our_mail(&messages[0], id, "tls@example.net");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c11_smtp_transport_refuses_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let sink = SmtpSink::start_with(SinkTls::StartTls { cert, key });
    // No ca_file: the self-signed certificate is not trusted, and there is
    // no switch to skip verification.
    let transport = SmtpTransport::new(&smtp_settings(sink.port, SmtpTls::Starttls)).unwrap();
    let err = transport
        .send(&mail("0193dd00bb11cc22dd33ee44ff556688", "tls@example.net"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Transient, "{err}");
    assert!(
        sink.messages().is_empty(),
        "nothing delivered in clear text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c11_smtp_transport_delivers_over_implicit_tls_trusting_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let sink = SmtpSink::start_with(SinkTls::Implicit {
        cert: cert.clone(),
        key,
    });
    let mut settings = smtp_settings(sink.port, SmtpTls::Implicit);
    settings.ca_file = Some(cert);
    let transport = SmtpTransport::new(&settings).unwrap();
    let id = "0193ee00bb11cc22dd33ee44ff556677";
    transport
        .send(&mail(id, "smtps@example.net"))
        .await
        .unwrap();
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_is_our_mail(&messages[0], id, "smtps@example.net");
}

#[test]
fn c11_plaintext_smtp_to_a_remote_host_is_refused_at_configuration() {
    let settings = MailSettings {
        transport: TransportKind::Smtp,
        smtp: SmtpSettings {
            host: "smtp.example.jp".into(),
            ..smtp_settings(25, SmtpTls::None)
        },
        ..MailSettings::default()
    };
    let err = transport_from_settings(&settings, Path::new("/nonexistent")).unwrap_err();
    assert!(err.to_string().contains("mail.smtp.tls"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c11_smtp_5xx_reply_is_a_permanent_error_without_the_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    // This server answers MAIL FROM without STARTTLS with
    // "530 Must issue a STARTTLS command first": a real 5xx reply.
    let sink = SmtpSink::start_with(SinkTls::StartTls { cert, key });
    let transport = SmtpTransport::new(&smtp_settings(sink.port, SmtpTls::None)).unwrap();
    let err = transport
        .send(&mail(
            "0193ff00bb11cc22dd33ee44ff556677",
            "buyer@example.com",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Permanent, "{err}");
    assert!(err.message.contains("530"), "{err}");
    assert!(!err.message.contains("buyer@example.com"), "{err}");
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c11_starttls_is_required_so_a_server_without_it_gets_nothing() {
    // A plain server that does not offer STARTTLS: no downgrade to clear
    // text; the relay can be fixed, so the worker retries (transient).
    let sink = SmtpSink::start();
    let transport = SmtpTransport::new(&smtp_settings(sink.port, SmtpTls::Starttls)).unwrap();
    let err = transport
        .send(&mail(
            "0193ff00bb11cc22dd33ee44ff556688",
            "buyer@example.com",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Transient, "{err}");
    assert!(err.message.to_lowercase().contains("starttls"), "{err}");
    assert!(sink.messages().is_empty(), "mail sent in clear text");
}

/// The test kit's SMTP sink is trusted to be the only receiver of a
/// test's mail. If its port was taken by another test's sink before its
/// own aiosmtpd bound it, a connection to the port still succeeds (the
/// other sink answers) and the mails would be delivered there, sent and
/// never seen: the start must notice that the listener is not its own
/// and fail with aiosmtpd's error instead.
#[test]
#[should_panic(expected = "aiosmtpd exited")]
fn a_sink_whose_port_another_sink_holds_fails_to_start_rather_than_share_it() {
    let first = SmtpSink::start();
    let _second = SmtpSink::start_at(first.port, SinkTls::None);
}
