//! Accepted connections, wrapped so the sandbox can misbehave at the TCP level.
//!
//! [`SandboxStream`] wraps each accepted `TcpStream` and adds two controls:
//! - a read-rate limit (per connection, bytes per second), read from a shared atomic on every
//!   poll so a change applies to open connections at once;
//! - a kill switch ([`ConnControl::kill`]): after it, every read and write fails, hyper gives
//!   up on the connection and the socket is closed. The client sees a reset or an early EOF,
//!   never an HTTP response. Handlers reach the switch through [`ConnInfo`].

use std::{
    future::Future as _,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use axum::{extract::connect_info::Connected, serve::IncomingStream};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::{Instant, Sleep},
};

/// The per-connection kill switch.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    killed: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl ConnControl {
    /// Makes every further read and write on the connection fail, and wakes whoever waits
    /// on it so the failure is noticed now rather than on the next byte.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        wakers.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    fn check(&self, cx: &Context<'_>) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection dropped by fault injection",
            ));
        }
        let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            // Bounded: hyper polls a connection from at most a reader and a writer.
            if wakers.len() >= 4 {
                wakers.remove(0);
            }
            wakers.push(cx.waker().clone());
        }
        Ok(())
    }
}

/// What a handler knows about its connection (via `ConnectInfo<ConnInfo>`).
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    pub(crate) control: Arc<ConnControl>,
}

impl Connected<IncomingStream<'_, SandboxListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, SandboxListener>) -> Self {
        Self {
            control: stream.io().control.clone(),
        }
    }
}

/// The listener: a `TcpListener` whose connections come out wrapped.
#[derive(Debug)]
pub(crate) struct SandboxListener {
    inner: TcpListener,
    bandwidth: Arc<AtomicU64>,
}

impl SandboxListener {
    pub(crate) fn new(inner: TcpListener, bandwidth: Arc<AtomicU64>) -> Self {
        Self { inner, bandwidth }
    }
}

impl axum::serve::Listener for SandboxListener {
    type Io = SandboxStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SandboxStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Small responses (ETags, JSON) should not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    return (SandboxStream::new(stream, self.bandwidth.clone()), addr);
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A token bucket for the read side. Refilled from elapsed time at the current rate.
#[derive(Debug)]
struct Throttle {
    tokens: f64,
    last: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    scratch: Vec<u8>,
}

/// An accepted connection with a rate limit and a kill switch.
#[derive(Debug)]
pub(crate) struct SandboxStream {
    inner: TcpStream,
    control: Arc<ConnControl>,
    bandwidth: Arc<AtomicU64>,
    throttle: Throttle,
}

impl SandboxStream {
    fn new(inner: TcpStream, bandwidth: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            control: Arc::default(),
            bandwidth,
            throttle: Throttle {
                tokens: 0.0,
                last: Instant::now(),
                sleep: None,
                scratch: Vec::new(),
            },
        }
    }
}

impl Throttle {
    /// How many bytes may be read now at `rate` bytes/s; `Pending` (with a timer armed) if
    /// none. Bursts are capped at 1/20 s of traffic so the limit holds over short spans.
    fn poll_allowance(&mut self, cx: &mut Context<'_>, rate: u64) -> Poll<usize> {
        let rate_f = rate as f64;
        let burst = (rate_f / 20.0).max(1.0);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate_f).min(burst);
        // Wait for a worthwhile slice rather than waking for every byte.
        let slice = burst.min(16_384.0);
        if self.tokens >= slice {
            self.sleep = None;
            return Poll::Ready(self.tokens as usize);
        }
        let wait = Duration::from_secs_f64((slice - self.tokens) / rate_f);
        let deadline = now + wait;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        sleep.as_mut().reset(deadline);
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.sleep = None;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for SandboxStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.control.check(cx)?;
        let rate = this.bandwidth.load(Ordering::Relaxed);
        if rate == 0 {
            this.throttle.tokens = 0.0;
            this.throttle.sleep = None;
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let allowed = match this.throttle.poll_allowance(cx, rate) {
            Poll::Ready(n) => n.clamp(1, buf.remaining().max(1)),
            Poll::Pending => return Poll::Pending,
        };
        // Read at most `allowed` bytes through a scratch buffer (no unsafe ReadBuf tricks).
        let throttle = &mut this.throttle;
        throttle.scratch.resize(allowed.min(64 * 1024), 0);
        let mut limited = ReadBuf::new(&mut throttle.scratch);
        match Pin::new(&mut this.inner).poll_read(cx, &mut limited) {
            Poll::Ready(Ok(())) => {
                let got = limited.filled().len();
                buf.put_slice(limited.filled());
                throttle.tokens -= got as f64;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for SandboxStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.control.check(cx)?;
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.control.check(cx)?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.control.check(cx)?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
