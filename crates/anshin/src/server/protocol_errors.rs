//! The answers hyper writes itself, sent as the site's own.
//!
//! On HTTP/1.1, hyper answers some requests without calling the
//! application: a head it cannot parse gets `400 Bad Request`; a head
//! larger than its buffer (64 KiB) or with more than 100 fields,
//! `431 Request Header Fields Too Large`; a target over 64 KiB,
//! `414 URI Too Long`. Each is the same few bytes (status line,
//! `connection: close`, `content-length: 0`, `date`), without HSTS,
//! `X-Content-Type-Options` or a request id, and the connection closes. A
//! head that does not arrive in time gets no answer at all (the
//! connection just closes), so it needs nothing here. Every other
//! status (408, 413, 415 …) comes from the middleware stack and is dressed
//! there.
//!
//! [`Dressed`] wraps the connection below hyper and replaces exactly those
//! writes with the answer `web::common::errors::protocol_error` makes: same
//! status, a request id (logged), the security headers and the generic
//! page. Why at the connection and not by raising hyper's limits and
//! checking in a middleware: a malformed head never reaches a middleware,
//! and a raised limit still ends in hyper's own answer. Why it cannot
//! touch one of our responses: a write is replaced only when it is,
//! byte for byte, one of hyper's three answers, a head with no other
//! field than those three; ours always carry the security headers and a
//! request id. If hyper ever changes those bytes, nothing is replaced and
//! `tests/api/http_edges.rs` fails.
//!
//! HTTP/2 has one such answer too: h2 refuses a header list over the
//! advertised `SETTINGS_MAX_HEADER_LIST_SIZE` with a bare 431 that is
//! HPACK-coded and cannot be rewritten. That setting is twice our own
//! head limit, which `web::common::head` enforces with the generic 431,
//! so only a client that ignores the advertised setting meets h2's.
//!
//! What an attacker tries (each a test in `tests/api/http_edges.rs`): an
//! oversized head, too many fields, a malformed header line or request
//! line, two different `Content-Length`s; each gets the dressed answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{StatusCode, header};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Makes the site's answer for a status hyper chose.
pub type Render = Arc<dyn Fn(StatusCode) -> http::Response<Vec<u8>> + Send + Sync>;

/// Longer writes cannot be one of hyper's answers (about 120 bytes).
const MAX_AUTOMATIC: usize = 256;

/// A connection whose hyper-made answers are replaced (module docs).
pub struct Dressed<IO> {
    io: IO,
    render: Option<Render>,
    /// Our answer, still to be written, and how much of it is out.
    out: Vec<u8>,
    written: usize,
}

impl<IO> std::fmt::Debug for Dressed<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dressed")
            .field("pending", &(self.out.len() - self.written))
            .finish_non_exhaustive()
    }
}

impl<IO> Dressed<IO> {
    /// Wraps `io`; without `render` it passes everything through.
    pub fn new(io: IO, render: Option<Render>) -> Self {
        Self {
            io,
            render,
            out: Vec::new(),
            written: 0,
        }
    }
}

impl<IO: AsyncWrite + Unpin> Dressed<IO> {
    /// Writes what is left of our answer.
    fn poll_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.out.get(self.written..).filter(|r| !r.is_empty()) {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.out = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Takes hyper's answer in `bytes` if it is one; our answer is then
    /// queued and goes out before anything else.
    fn take_automatic(&mut self, cx: &mut Context<'_>, bytes: &[u8]) -> Option<io::Result<()>> {
        let render = self.render.as_ref()?;
        let auto = Automatic::parse(bytes)?;
        self.out = auto.dressed(&render(auto.status));
        self.written = 0;
        match self.poll_out(cx) {
            Poll::Ready(Err(e)) => Some(Err(e)),
            // Pending: the rest goes out on the next write, flush or
            // shutdown, which hyper always does after its answer.
            _ => Some(Ok(())),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Dressed<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Dressed<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_out(cx))?;
        if let Some(taken) = this.take_automatic(cx, buf) {
            return Poll::Ready(taken.map(|()| buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_out(cx))?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if this.render.is_some() && total <= MAX_AUTOMATIC {
            let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(taken) = this.take_automatic(cx, &joined) {
                return Poll::Ready(taken.map(|()| total));
            }
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_out(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_out(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// One of hyper's own answers, as it wrote it.
#[derive(Debug, PartialEq, Eq)]
struct Automatic<'a> {
    status: StatusCode,
    status_line: &'a str,
    date: Option<&'a str>,
}

impl<'a> Automatic<'a> {
    /// `bytes` if they are exactly one of hyper's answers (see
    /// `hyper::proto::h1::role::Server::on_error`).
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() > MAX_AUTOMATIC || !bytes.starts_with(b"HTTP/1.1 4") {
            return None;
        }
        let head = std::str::from_utf8(bytes).ok()?.strip_suffix("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next()?;
        let status = match status_line {
            "HTTP/1.1 400 Bad Request" => StatusCode::BAD_REQUEST,
            "HTTP/1.1 414 URI Too Long" => StatusCode::URI_TOO_LONG,
            "HTTP/1.1 431 Request Header Fields Too Large" => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            _ => return None,
        };
        let mut date = None;
        for line in lines {
            match line {
                "connection: close" | "content-length: 0" => {}
                // An IMF-fixdate is 29 characters.
                l if l.len() == 35 && l.starts_with("date: ") => date = Some(l),
                _ => return None,
            }
        }
        Some(Self {
            status,
            status_line,
            date,
        })
    }

    /// Our answer as HTTP/1.1 bytes, with hyper's status line and date;
    /// the connection still closes after it.
    fn dressed(&self, res: &http::Response<Vec<u8>>) -> Vec<u8> {
        let body = res.body();
        let mut out = Vec::with_capacity(body.len() + 1024);
        out.extend_from_slice(self.status_line.as_bytes());
        out.extend_from_slice(b"\r\nconnection: close\r\n");
        for (name, value) in res.headers() {
            if name == header::CONTENT_LENGTH || name == header::CONNECTION {
                continue;
            }
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        if let Some(date) = self.date {
            out.extend_from_slice(date.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
connection: close\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 22:58:37 GMT\r\n\r\n";

    fn render() -> Render {
        Arc::new(|status| {
            let mut res = http::Response::new(b"<p>generic</p>".to_vec());
            *res.status_mut() = status;
            res.headers_mut()
                .insert("strict-transport-security", "max-age=1".parse().unwrap());
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, "999".parse().unwrap());
            res
        })
    }

    #[test]
    fn recognises_exactly_hypers_answers() {
        let a = Automatic::parse(HYPER_431).unwrap();
        assert_eq!(a.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(a.date, Some("date: Fri, 04 Dec 2026 22:58:37 GMT"));
        let bad = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            Automatic::parse(bad).unwrap().status,
            StatusCode::BAD_REQUEST
        );
        for other in [
            // Ours: any other field.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: 1\r\n\r\n"[..],
            // A body, or a head not ended.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nx",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            // Another status, or not at the start.
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"xHTTP/1.1 400 Bad Request\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 10\r\n\r\n",
        ] {
            assert!(
                Automatic::parse(other).is_none(),
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[tokio::test]
    async fn replaces_hypers_answer_and_passes_the_rest() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let mut dressed = Dressed::new(client, Some(render()));
        dressed.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        dressed.write_all(HYPER_431).await.unwrap();
        dressed.shutdown().await.unwrap();
        drop(dressed);
        let mut got = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut server, &mut got)
            .await
            .unwrap();
        assert_eq!(
            got,
            "HTTP/1.1 200 OK\r\n\r\n\
             HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
             strict-transport-security: max-age=1\r\ncontent-length: 14\r\n\
             date: Fri, 04 Dec 2026 22:58:37 GMT\r\n\r\n<p>generic</p>"
        );
        // Without a renderer, nothing is replaced.
        let (client, mut server) = tokio::io::duplex(1024);
        let mut plain = Dressed::new(client, None);
        plain.write_all(HYPER_431).await.unwrap();
        drop(plain);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut server, &mut got)
            .await
            .unwrap();
        assert_eq!(got, HYPER_431);
    }
}
