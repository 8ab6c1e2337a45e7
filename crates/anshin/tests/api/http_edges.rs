//! The edges of HTTP on the public listener, on both protocols (HTTP/1.1
//! and HTTP/2, which browsers speak): oversized bodies, Host checks,
//! responses hyper writes itself, and bodiless API requests (CSRF).

use std::sync::Arc;

use anshin_testkit::reqwest::{self, StatusCode, header};
use anshin_testkit::{Backend, TestApp, backends, cookie_pair, set_cookie};
use h2::client::SendRequest;
use hyper::body::Bytes;
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

backends!(
    oversized_bodies_get_the_413_on_both_protocols,
    early_413_lets_an_http2_client_finish_its_upload,
    early_413_lets_an_http11_client_finish_its_upload,
    c01_answers_hyper_would_make_carry_hsts_and_the_generic_page,
    c01_http2_head_over_the_limit_gets_the_generic_431,
    host_must_name_this_site_on_both_protocols,
    host_is_the_configured_base_url_only,
);

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A raw TLS connection to the site offering one ALPN protocol.
async fn tls(app: &TestApp, alpn: &[u8]) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&app.cert_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(app.public_addr)
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// A raw HTTP/2 connection (the h2 crate shows resets that reqwest hides).
async fn h2_client(app: &TestApp) -> SendRequest<Bytes> {
    let io = tls(app, b"h2").await;
    let (client, conn) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client.ready().await.unwrap()
}

/// Sends `body` on an HTTP/2 stream as flow control allows, then ends it.
async fn h2_upload(send: &mut h2::SendStream<Bytes>, mut body: Bytes) -> Result<(), h2::Error> {
    while !body.is_empty() {
        send.reserve_capacity(body.len().min(256 * 1024));
        let n = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(n) => n?,
            None => return Err(h2::Error::from(h2::Reason::CANCEL)),
        };
        send.send_data(body.split_to(n.min(body.len())), false)?;
    }
    send.send_data(Bytes::new(), true)
}

/// The status, headers and body of an HTTP/2 response.
async fn h2_response(
    res: h2::client::ResponseFuture,
) -> Result<(http::StatusCode, http::HeaderMap, String), h2::Error> {
    let res = res.await?;
    let (parts, mut body) = res.into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    Ok((
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// Reads one HTTP/1.1 response (with a Content-Length): head and body.
async fn h1_response<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<(String, String)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed after {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
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
    s.read_exact(&mut body).await?;
    Ok((head, String::from_utf8_lossy(&body).into_owned()))
}

/// The value of a header in an HTTP/1.1 head, lowercased name.
fn h1_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// An HTTPS client for one protocol that trusts the test certificate.
fn client(app: &TestApp, h2: bool) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&app.cert_pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none());
    let b = if h2 {
        b.http2_prior_knowledge()
    } else {
        b.http1_only()
    };
    b.build().unwrap()
}

fn chunks(
    data: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}

/// A JSON document of about `size` bytes.
fn big_json(size: usize) -> Vec<u8> {
    format!(
        r#"{{"email":"a@b.example","display_name":"{}"}}"#,
        "x".repeat(size)
    )
    .into_bytes()
}

/// Reqwest on each protocol, a body with a length and a streamed one, to
/// the JSON API and to a form, 1.1 MB and 30 MB: the generic 413 each time.
async fn oversized_bodies_get_the_413_on_both_protocols(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (session, token) = {
        let res = app
            .client
            .get(app.url("/settings/language"))
            .send()
            .await
            .unwrap();
        let cookie = cookie_pair(set_cookie(&res, "__Host-anshin_session").unwrap());
        let body = res.text().await.unwrap();
        let marker = "name=\"csrf_token\" value=\"";
        let start = body.find(marker).unwrap() + marker.len();
        let token = body[start..start + body[start..].find('"').unwrap()].to_owned();
        (cookie, token)
    };
    let mut failures = Vec::new();
    for h2 in [false, true] {
        let c = client(&app, h2);
        let proto = if h2 { "HTTP/2" } else { "HTTP/1.1" };
        for size in [1100 * 1024, 30 * 1024 * 1024] {
            for streamed in [false, true] {
                for (path, api) in [("/api/v1/signup", true), ("/settings/language", false)] {
                    let what = format!(
                        "{proto} {path} {size} bytes {}",
                        if streamed {
                            "streamed"
                        } else {
                            "with a length"
                        }
                    );
                    let data = if api {
                        big_json(size)
                    } else {
                        format!("csrf_token={token}&lang={}", "x".repeat(size)).into_bytes()
                    };
                    let body = if streamed {
                        reqwest::Body::wrap_stream(chunks(data))
                    } else {
                        reqwest::Body::from(data)
                    };
                    let ct = if api {
                        "application/json"
                    } else {
                        "application/x-www-form-urlencoded"
                    };
                    let res = c
                        .post(app.url(path))
                        .header(header::CONTENT_TYPE, ct)
                        .header(header::COOKIE, &session)
                        .body(body)
                        .send()
                        .await;
                    failures.extend(
                        check_413(res, h2, api)
                            .await
                            .err()
                            .map(|e| format!("{what}: {e}")),
                    );
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    app.stop().await;
}

/// The generic 413 with the request id, on the protocol asked for.
async fn check_413(
    res: Result<reqwest::Response, reqwest::Error>,
    h2: bool,
    api: bool,
) -> Result<(), String> {
    let res = res.map_err(|e| format!("no response: {e:?}"))?;
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return Err(format!("status {}", res.status()));
    }
    let want = if h2 {
        reqwest::Version::HTTP_2
    } else {
        reqwest::Version::HTTP_11
    };
    if res.version() != want {
        return Err(format!("version {:?}", res.version()));
    }
    if res.headers().get("strict-transport-security").is_none() {
        return Err("no HSTS".into());
    }
    let id = res
        .headers()
        .get("x-request-id")
        .ok_or("no request id")?
        .to_str()
        .unwrap()
        .to_owned();
    let text = res.text().await.map_err(|e| format!("body cut: {e:?}"))?;
    if !text.contains(&id) {
        return Err(format!("no request id in the body: {text}"));
    }
    let generic = if api {
        serde_json::from_str::<serde_json::Value>(&text)
            .is_ok_and(|j| j["error"] == "payload_too_large")
    } else {
        text.contains("413")
    };
    if !generic {
        return Err(format!("not the generic body: {text}"));
    }
    Ok(())
}

/// HTTP/2: the server answers 413 on the head; the client keeps sending
/// (flow control permitting) and must be able to finish the upload and
/// read the answer, without the stream being reset under it.
async fn early_413_lets_an_http2_client_finish_its_upload(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut client = h2_client(&app).await;
    for (path, ct) in [
        ("/api/v1/signup", "application/json"),
        ("/settings/language", "application/x-www-form-urlencoded"),
    ] {
        let body = Bytes::from(big_json(1100 * 1024));
        let req = http::Request::post(app.url(path))
            .header(header::CONTENT_TYPE, ct)
            .header(header::CONTENT_LENGTH, body.len())
            .body(())
            .unwrap();
        let (res, mut send) = client.send_request(req, false).unwrap();
        let upload = h2_upload(&mut send, body).await;
        let (status, headers, text) = h2_response(res).await.unwrap();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let id = headers["x-request-id"].to_str().unwrap();
        assert!(text.contains(id), "{path}: {text}");
        upload.unwrap_or_else(|e| panic!("{path}: upload cut off: {e:?}"));
        client = client.ready().await.unwrap();
    }
    app.stop().await;
}

/// HTTP/1.1: the same, with a 30 MB upload: the server must not close
/// the connection under a client that is still sending.
async fn early_413_lets_an_http11_client_finish_its_upload(b: Backend) {
    let app = TestApp::spawn(b).await;
    let size = 30 * 1024 * 1024;
    let io = tls(&app, b"http/1.1").await;
    let (mut rd, mut wr) = tokio::io::split(io);
    let head = format!(
        "POST /api/v1/signup HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {size}\r\n\r\n",
        app.origin.trim_start_matches("https://")
    );
    let reader = tokio::spawn(async move { h1_response(&mut rd).await });
    let mut sent = wr.write_all(head.as_bytes()).await;
    let chunk = vec![b' '; 64 * 1024];
    let mut left = size;
    while sent.is_ok() && left > 0 {
        let n = left.min(chunk.len());
        sent = wr.write_all(&chunk[..n]).await;
        left -= n;
    }
    let (head, body) = reader.await.unwrap().expect("a response");
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    let id = h1_header(&head, "x-request-id").expect("request id");
    assert!(body.contains(id), "{body}");
    sent.unwrap_or_else(|e| panic!("upload cut off after {} bytes: {e}", size - left));
    app.stop().await;
}

/// The security headers and request id of an HTTP/1.1 error answer, and
/// its generic page showing the id; returns the id.
fn assert_dressed_h1(what: &str, head: &str, body: &str, status: u16) -> String {
    assert!(
        head.starts_with(&format!("HTTP/1.1 {status} ")),
        "{what}: {head}"
    );
    let hsts = h1_header(head, "strict-transport-security")
        .unwrap_or_else(|| panic!("{what}: no HSTS in {head}"));
    assert!(hsts.contains("max-age=63072000"), "{what}: {hsts}");
    assert_eq!(
        h1_header(head, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert!(
        h1_header(head, "content-security-policy").is_some(),
        "{what}"
    );
    assert!(h1_header(head, "server").is_none(), "{what}");
    let id = h1_header(head, "x-request-id")
        .unwrap_or_else(|| panic!("{what}: no request id in {head}"))
        .to_owned();
    assert!(
        h1_header(head, "content-type").is_some_and(|c| c.starts_with("text/html")),
        "{what}: {head}"
    );
    assert!(
        body.contains(&id) && body.contains(&status.to_string()),
        "{what}: not the generic page: {body}"
    );
    id
}

/// Every answer the public listener writes over HTTP/1.1 carries the
/// security headers, a request id and the generic page: those hyper
/// makes itself (400, 431), and those of the middleware (408, 413).
async fn c01_answers_hyper_would_make_carry_hsts_and_the_generic_page(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.http.request_timeout_secs = 1;
        s.http.header_timeout_secs = 2;
    })
    .await;
    let host = app.origin.trim_start_matches("https://").to_owned();
    let many: String = (0..120).map(|i| format!("X-F{i}: a\r\n")).collect();
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "head over 64 KiB",
            format!(
                "GET / HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\n\r\n",
                "a".repeat(70_000)
            ),
            431,
        ),
        (
            "over 100 fields",
            format!("GET / HTTP/1.1\r\nHost: {host}\r\n{many}\r\n"),
            431,
        ),
        (
            "malformed header line",
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nBad Header\r\n\r\n"),
            400,
        ),
        (
            "control character in the target",
            format!("GET /\x01 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            400,
        ),
        (
            "two different Content-Lengths",
            format!(
                "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
            ),
            400,
        ),
        (
            "body over the limit",
            format!(
                "POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 2000000\r\n\r\n"
            ),
            413,
        ),
        (
            "body too slow (request timeout)",
            format!(
                "POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 10\r\n\r\nab"
            ),
            408,
        ),
    ];
    for (what, request, status) in cases {
        let mut io = tls(&app, b"http/1.1").await;
        io.write_all(request.as_bytes()).await.unwrap();
        let (head, body) = h1_response(&mut io)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let id = assert_dressed_h1(what, &head, &body, status);
        if status == 400 || status == 431 {
            // The id on the page finds the refusal in the log.
            let logs = anshin_testkit::captured_logs();
            assert!(
                logs.lines()
                    .any(|l| l.contains(&id) && l.contains("request refused by the HTTP parser")),
                "{what}: {id} not logged"
            );
        }
    }
    // A head that never completes gets no answer at all (slowloris): the
    // connection closes after the header timeout, without a byte.
    let mut io = tls(&app, b"http/1.1").await;
    io.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\nX-A: ").as_bytes())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), io.read_to_end(&mut got))
        .await
        .expect("closed by the header timeout");
    // (Closed without a TLS close_notify, hence UnexpectedEof.)
    let closed = match read {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::UnexpectedEof,
    };
    assert!(closed && got.is_empty(), "{got:?}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    app.stop().await;
}

/// HTTP/2: a head over our 64 KiB limit (and under h2's own, which is
/// twice that) gets the generic 431 with HSTS and a request id.
async fn c01_http2_head_over_the_limit_gets_the_generic_431(b: Backend) {
    let app = TestApp::spawn(b).await;
    let client = h2_client(&app).await;
    for (what, name) in [("one big header", "x-big"), ("a big cookie", "cookie")] {
        let mut client = client.clone().ready().await.unwrap();
        let req = http::Request::get(app.url("/"))
            .header(name, "a".repeat(90_000))
            .body(())
            .unwrap();
        let (res, _) = client.send_request(req, true).unwrap();
        let (status, headers, text) = h2_response(res)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(
            status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{what}"
        );
        assert!(
            headers.contains_key("strict-transport-security"),
            "{what}: {headers:?}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        let id = headers["x-request-id"].to_str().unwrap();
        assert!(text.contains(id) && text.contains("431"), "{what}: {text}");
    }
    app.stop().await;
}

/// Sends one HTTP/1.1 request on a fresh connection; returns the status
/// code, the head and the body.
async fn h1_exchange(app: &TestApp, request: &str) -> (u16, String, String) {
    let mut io = tls(app, b"http/1.1").await;
    io.write_all(request.as_bytes()).await.unwrap();
    let (head, body) = h1_response(&mut io)
        .await
        .unwrap_or_else(|e| panic!("{request:?}: {e}"));
    let status = head[9..12].parse().unwrap();
    (status, head, body)
}

/// RFC 9112 §3.2 and RFC 9110 §7.4: a malformed host is a 400, another
/// host a 421; both with the generic body. HTTP/1.1 and HTTP/2.
async fn host_must_name_this_site_on_both_protocols(b: Backend) {
    let app = TestApp::spawn(b).await;
    let port = app.public_addr.port();
    let ours = format!("127.0.0.1:{port}");
    let get = |target: &str, hosts: &[&str]| {
        let fields: String = hosts.iter().map(|h| format!("Host: {h}\r\n")).collect();
        format!("GET {target} HTTP/1.1\r\n{fields}Connection: close\r\n\r\n")
    };
    let localhost = format!("localhost:{port}");
    let v6 = format!("[::1]:{port}");
    let upper = format!("LOCALHOST:{port}");
    let absolute = format!("https://{ours}/");
    let other_port = format!("127.0.0.1:{}", port.wrapping_add(1));
    let with_user = format!("user@{ours}");
    let cases: Vec<(&str, String, u16)> = vec![
        ("our host", get("/", &[&ours]), 200),
        ("localhost", get("/", &[&localhost]), 200),
        ("IPv6 loopback", get("/", &[&v6]), 200),
        ("upper case", get("/", &[&upper]), 200),
        ("absolute form, ours", get(&absolute, &[&ours]), 200),
        ("two Host fields", get("/", &[&ours, &ours]), 400),
        (
            "two different Host fields",
            get("/", &[&ours, "evil.example"]),
            400,
        ),
        ("no Host", get("/", &[]), 400),
        ("userinfo", get("/", &[&with_user]), 400),
        (
            "absolute form contradicting Host",
            get("https://evil.example/", &[&ours]),
            400,
        ),
        ("another host", get("/", &["evil.example"]), 421),
        (
            "our address without its port",
            get("/", &["127.0.0.1"]),
            421,
        ),
        ("another port", get("/", &[&other_port]), 421),
        (
            "absolute form, another host",
            get("https://evil.example/", &["evil.example"]),
            421,
        ),
    ];
    for (what, request, want) in cases {
        let (status, head, body) = h1_exchange(&app, &request).await;
        assert_eq!(status, want, "{what}: {head}");
        if want != 200 {
            assert_dressed_h1(what, &head, &body, want);
        }
    }
    // The API answers in JSON with the stable code.
    let (status, head, body) = h1_exchange(&app, &get("/api/v1/me", &["evil.example"])).await;
    assert_eq!(status, 421, "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "misdirected_request");
    assert_eq!(
        json["request_id"].as_str(),
        h1_header(&head, "x-request-id")
    );
    let (status, _, body) = h1_exchange(&app, &get("/api/v1/me", &[&ours, &ours])).await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_host"), "{body}");

    // HTTP/2: `:authority` is the host; a `Host` beside it must agree.
    let client = h2_client(&app).await;
    for (what, uri, host, want) in [
        ("ours", app.url("/"), None, 200),
        (
            "another :authority",
            "https://evil.example/".to_owned(),
            None,
            421,
        ),
        (
            "Host contradicting :authority",
            app.url("/"),
            Some("evil.example"),
            400,
        ),
    ] {
        let mut client = client.clone().ready().await.unwrap();
        let mut req = http::Request::get(uri);
        if let Some(h) = host {
            req = req.header(header::HOST, h);
        }
        let (res, _) = client.send_request(req.body(()).unwrap(), true).unwrap();
        let (status, headers, text) = h2_response(res)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(status.as_u16(), want, "{what}");
        if want != 200 {
            assert!(headers.contains_key("strict-transport-security"), "{what}");
            let id = headers["x-request-id"].to_str().unwrap();
            assert!(text.contains(id), "{what}: {text}");
        }
    }
    app.stop().await;
}

/// With `site.base_url` set, its host is the only one (the listener's
/// own address no longer is).
async fn host_is_the_configured_base_url_only(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.site.base_url = Some(url::Url::parse("https://shop.example.test").unwrap());
    })
    .await;
    let port = app.public_addr.port();
    for (host, want) in [
        ("shop.example.test".to_owned(), 200),
        ("Shop.Example.Test:443".to_owned(), 200),
        (format!("127.0.0.1:{port}"), 421),
        (format!("localhost:{port}"), 421),
        ("shop.example.test:8443".to_owned(), 421),
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let (status, head, _) = h1_exchange(&app, &request).await;
        assert_eq!(status, want, "{host}: {head}");
    }
    app.stop().await;
}
