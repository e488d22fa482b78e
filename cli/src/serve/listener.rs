//! Accepting connections and serving HTTP/1 on them, with the timeout `axum::serve` does
//! not set: a client has `--header-timeout-seconds` to send a request's headers (and an
//! idle connection is closed after as long), so that stalled connections cannot pile up
//! until the server runs out of file descriptors. (The body's deadline is the router's:
//! [`super::body`].) Each request carries its client's address as axum's
//! [`ConnectInfo`], for the logs.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// After a failed accept (out of file descriptors, most often), wait this long before the
/// next: the failure repeats at once otherwise.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// At most one log line about failed accepts this often: they come in bursts.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How long a shutdown waits for the requests in flight: they are short, and whatever a
/// request was doing is safe to interrupt.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_accept_log: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                if last_accept_log.is_none_or(|at| at.elapsed() >= ACCEPT_LOG_INTERVAL) {
                    tracing::warn!(error = %err, "cannot accept connections; retrying");
                    last_accept_log = Some(Instant::now());
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let progress = Arc::new(Progress::default());
        let io = TokioIo::new(Counted {
            stream,
            progress: Arc::clone(&progress),
        });
        let router = router.clone();
        let answered = Arc::clone(&progress);
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            let answered = Arc::clone(&answered);
            async move {
                let response = router.oneshot(request).await;
                answered.answered();
                response
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                log_ended(&err, peer, &progress, header_timeout);
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::info!("closing the connections still open");
        }
    }
}

/// Errors of one connection that `accept` reports: the next accept is fine.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A connection that ended with an error: a timeout while a request's headers were
/// arriving is worth a warning; one on an idle connection is routine.
fn log_ended(err: &hyper::Error, peer: SocketAddr, progress: &Progress, timeout: Duration) {
    let seconds = timeout.as_secs();
    if !err.is_timeout() {
        tracing::debug!(%peer, error = %err, "a connection ended with an error");
        return;
    }
    let received = progress.read.load(Ordering::Relaxed);
    let pending = received
        - progress
            .at_last_answer
            .load(Ordering::Relaxed)
            .min(received);
    if pending > 0 {
        tracing::warn!(
            %peer,
            pending_bytes = pending,
            "closed a connection: its request's headers did not arrive within {seconds} s"
        );
    } else if received == 0 {
        tracing::info!(%peer, "closed a connection that sent nothing within {seconds} s");
    } else {
        tracing::debug!(%peer, "closed a connection idle for {seconds} s");
    }
}

/// What a connection has received, and how much of it before its last answer.
#[derive(Debug, Default)]
struct Progress {
    read: AtomicU64,
    at_last_answer: AtomicU64,
}

impl Progress {
    fn answered(&self) {
        self.at_last_answer
            .store(self.read.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// The connection's stream, counting the bytes read from it.
struct Counted {
    stream: TcpStream,
    progress: Arc<Progress>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        self.progress
            .read
            .fetch_add(u64::try_from(read).unwrap_or(u64::MAX), Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
