//! What becomes of the rest of a request body that nobody read: it is read
//! and thrown away for a short while, so the client gets the answer.
//!
//! A refusal often comes before the body is read: the body limit answers
//! 413 from `Content-Length`, the WAF stops at the limit, a Host or CSRF
//! check refuses on the head alone. Dropping the unread body then breaks
//! the answer on both protocols:
//! - HTTP/2: once the response is out and nobody holds the request
//!   stream, h2 resets it (`RST_STREAM(NO_ERROR)`, RFC 9113 §8.1), often
//!   in the same TLS record as the response. Clients that still upload
//!   may lose the response (curl 7.88 reports "stream closed" and no
//!   status), and one blocked on flow control can never finish sending.
//! - HTTP/1.1: hyper closes the connection with unread bytes in the
//!   socket, the kernel answers the client's next segment with a TCP RST,
//!   and the client's write fails (`EPIPE`) before it reads the response:
//!   the "lingering close" problem of RFC 9112 §9.6.
//!
//! So the request body handed to the application is [`Drained`]: dropped
//! unfinished, it reads on in a task of its own and discards the bytes,
//! until the client ends the body, or [`MAX_BYTES`] have passed, or no data
//! came for [`IDLE`], or [`MAX_TIME`] is over. Then the stream closes as
//! usual (or is reset long after the response went out). What an attacker
//! can do with it: make us read and discard at most 64 MiB for at most
//! 10 s per refused request, which a plain upload to the body limit
//! already lets them do in part; nothing is kept in memory.
//!
//! A client that sent `Expect: 100-continue` and whose body we never
//! asked for has not sent it (hyper sends "100 Continue" only when the
//! body is first read): that body is not drained, and the answer is final.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Buf as _;

/// Most bytes thrown away after an early answer.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Longest time spent throwing them away.
pub const MAX_TIME: Duration = Duration::from_secs(10);
/// Longest wait for the next piece of an abandoned body.
pub const IDLE: Duration = Duration::from_secs(1);

/// A request body that drains itself when dropped unread (module docs).
#[derive(Debug)]
pub struct Drained<B>
where
    B: Body + Send + Unpin + 'static,
{
    inner: Option<B>,
    /// The client waits for "100 Continue" before it sends the body.
    expect_continue: bool,
    polled: bool,
}

impl<B> Drained<B>
where
    B: Body + Send + Unpin + 'static,
{
    pub fn new(inner: B, expect_continue: bool) -> Self {
        Self {
            inner: Some(inner),
            expect_continue,
            polled: false,
        }
    }
}

/// Whether the request head asks for "100 Continue" (RFC 9110 §10.1.1).
pub fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

impl<B> Body for Drained<B>
where
    B: Body + Send + Unpin + 'static,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.polled = true;
        match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(B::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), B::size_hint)
    }
}

impl<B> Drop for Drained<B>
where
    B: Body + Send + Unpin + 'static,
{
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() || (self.expect_continue && !self.polled) {
            return;
        }
        // Outside a runtime (never in the server) the body is just dropped.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let (bytes, ended) = discard(body).await;
                tracing::debug!(bytes, ended, "discarded the unread rest of a request body");
            });
        }
    }
}

/// Reads and discards what is left of `body` within the limits above.
/// Returns the bytes thrown away and whether the body reached its end.
pub async fn discard<B>(mut body: B) -> (u64, bool)
where
    B: Body + Unpin,
{
    let deadline = tokio::time::Instant::now() + MAX_TIME;
    let mut seen = 0u64;
    while seen <= MAX_BYTES {
        let wait = (tokio::time::Instant::now() + IDLE).min(deadline);
        match tokio::time::timeout_at(wait, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.remaining() as u64;
                }
            }
            Ok(None) => return (seen, true),
            Ok(Some(Err(_))) | Err(_) => return (seen, false),
        }
    }
    (seen, false)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::StreamExt as _;
    use http_body_util::StreamBody;
    use hyper::body::Bytes;

    use super::*;

    type Chunk = Result<Frame<Bytes>, std::convert::Infallible>;

    /// A body of `n` chunks of `size` bytes that counts the chunks read,
    /// then ends (or, with `hang`, never ends and never sends again).
    fn counted(
        n: usize,
        size: usize,
        hang: bool,
    ) -> (
        StreamBody<impl futures_util::Stream<Item = Chunk> + Send + Unpin + 'static>,
        Arc<AtomicUsize>,
    ) {
        let read = Arc::new(AtomicUsize::new(0));
        let r = read.clone();
        let chunk = Bytes::from(vec![b'a'; size]);
        let data = futures_util::stream::iter(0..n).map(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(Frame::data(chunk.clone()))
        });
        let tail = if hang {
            futures_util::stream::pending().left_stream()
        } else {
            futures_util::stream::empty().right_stream()
        };
        (StreamBody::new(data.chain(tail)), read)
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn an_unread_body_is_read_to_its_end_after_the_drop() {
        let (body, read) = counted(3, 10, false);
        drop(Drained::new(body, false));
        settle().await;
        assert_eq!(read.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_body_awaiting_100_continue_is_not_asked_for() {
        let (body, read) = counted(3, 10, false);
        drop(Drained::new(body, true));
        settle().await;
        assert_eq!(read.load(Ordering::SeqCst), 0, "no 100 Continue provoked");
        // Once the application started reading, the client is sending.
        let (body, read) = counted(3, 10, false);
        let mut d = Drained::new(body, true);
        let _ = d.frame().await;
        drop(d);
        settle().await;
        assert_eq!(read.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn draining_stops_after_the_byte_budget() {
        let chunk = 1024 * 1024;
        let (body, read) = counted(1000, chunk, false);
        let (seen, ended) = discard(body).await;
        assert!(!ended);
        assert!(
            seen > MAX_BYTES && seen <= MAX_BYTES + chunk as u64,
            "{seen}"
        );
        assert_eq!(read.load(Ordering::SeqCst) as u64, seen / chunk as u64);
    }

    #[tokio::test]
    async fn draining_stops_when_the_client_goes_quiet() {
        let (body, _) = counted(2, 10, true);
        let started = tokio::time::Instant::now();
        let (seen, ended) = discard(body).await;
        assert_eq!((seen, ended), (20, false));
        let waited = started.elapsed();
        assert!(waited >= IDLE && waited < IDLE * 3, "{waited:?}");
    }
}
