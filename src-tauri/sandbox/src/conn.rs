//! Accepted connections, wrapped so the sandbox can misbehave at the TCP level, and the link
//! emulator that shapes them.
//!
//! [`SandboxStream`] wraps each accepted `TcpStream` and adds three controls:
//! - a per-connection read limit (`--bandwidth`, bytes per second);
//! - a share of the link (`--link-rate`, bytes per second for all connections together; see
//!   the `link` module for how turns are taken);
//! - a kill switch ([`ConnControl::kill`]): after it, every read and write fails, hyper gives
//!   up on the connection and the socket is closed. The client sees a reset or an early EOF,
//!   never an HTTP response. [`ConnControl::reset`] does the same and closes with
//!   `SO_LINGER` 0, so the client always sees a reset. Handlers reach the switch through
//!   [`ConnInfo`];
//! - a freeze ([`ConnControl::freeze`], for a `blackhole` outage): reads and writes wait
//!   until it is thawed, so nothing is read or answered meanwhile.
//!
//! Each connection also counts the requests it is serving, split into those an outage hits
//! and the `/v1.3/sandbox/*` ones it spares, so that an outage that begins knows whom to
//! reset or freeze. The listener closes its port during a `refuse` outage and binds the same
//! address again afterwards (see the `outage` module).
//!
//! With HTTPS (the `tls` module), the TLS session sits on top of the [`SandboxStream`]: the
//! limits pace the ciphertext, and the kill switch, reset and freeze act on the TCP
//! connection under it.
//!
//! Both limits are read from shared atomics ([`Shaping`]) on every poll, so a change applies
//! to open connections at once (within one slice of a few milliseconds). With both off, a
//! read goes straight to the socket: two relaxed loads are the whole cost.
//!
//! # What the emulator models
//!
//! - **A shared bottleneck.** `--link-rate` is the capacity of the path that every upload
//!   crosses: the uplink of a home or office, or the narrowest hop of a long path. Connections
//!   that compete for it get equal shares (four busy connections get a quarter each), and
//!   one alone gets all of it.
//! - **What one connection can do.** `--bandwidth` caps each connection on its own, whatever
//!   the link has left. It stands for the window-over-round-trip limit of a single TCP
//!   connection on a long path, the reason real uploads open several connections. A
//!   connection gets the smaller of its cap and its share of the link.
//! - **A request's round trip.** `--latency-ms` delays every request once, before its body is
//!   read and before it is answered (in the server's middleware, not here), like the round
//!   trips of a request's setup.
//! - **A small window.** On a real path a sender cannot have more than about a window of data
//!   unacknowledged, so its own count of bytes written stays close to what the far end has
//!   received. Loopback is nothing like that: its 64 KiB segments make the client's kernel
//!   grow a send buffer of megabytes, which swallows a throttled body in a blink, and a client
//!   that measures its rate by what it has written sees a rate that is not there. So a
//!   connection accepted while any limit is on gets a receive buffer of [`WINDOW_RTT`] of its
//!   rate (the window of a path with a 20 ms round trip, at least [`MIN_WINDOW`]), and
//!   the listener advertises an Ethernet MSS of 1460 bytes while shaping is on (Linux only).
//!   The MSS does most of the work: the client's kernel sizes its send buffer in segments, and
//!   the receive window then bounds how many segments it ever needs. What remains is the
//!   client's own send buffer, which only the client can size.
//!
//! # What it does not model
//!
//! - No packet loss and no retransmissions: every byte arrives, once, in order.
//! - No delay of the body's segments: the link paces the bytes, but a segment is not held
//!   for a round trip, and acknowledgements come back at loopback speed.
//! - No queueing delay that grows with load: a busier link gives each connection less rate,
//!   not more latency, and there is no buffer that fills up.
//! - No slow start and no congestion control: a new connection reads at its full share from
//!   its first byte.
//! - Only request bodies (and headers) read by the server are shaped: responses are not.
//! - The window and the MSS are set when a connection is accepted (the MSS at its handshake):
//!   connections opened before shaping was switched on keep loopback's.

use std::{
    future::Future as _,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use axum::{extract::connect_info::Connected, serve::IncomingStream};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpSocket, TcpStream},
    sync::watch,
    time::{Instant, Sleep},
};

use crate::{
    faults::OutageKind,
    link::{IDLE_CREDIT, Link},
    outage::{OutageSwitch, Window, sleep_until},
};

/// The largest single limited read.
const MAX_READ: usize = 64 * 1024;

/// The round trip whose window a shaped connection gets (see the module docs).
const WINDOW_RTT: Duration = Duration::from_millis(20);

/// The smallest window: enough segments that delayed ACKs never stall the sender.
const MIN_WINDOW: usize = 32 * 1024;

/// The largest window asked for (Linux caps it at `net.core.rmem_max` anyway).
const MAX_WINDOW: usize = 4 * 1024 * 1024;

/// The MSS a shaped listener advertises: Ethernet's, as on a real path, instead of
/// loopback's 64 KiB (see the module docs).
#[cfg(target_os = "linux")]
const SHAPED_MSS: u32 = 1460;

/// The per-connection controls: a kill switch (optionally a reset), a freeze, and gauges of
/// the requests it is serving, which an outage reads to decide whom it hits.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    killed: AtomicBool,
    /// Close with `SO_LINGER` 0 (an RST) rather than as the stack pleases.
    reset: AtomicBool,
    /// Reads and writes wait (a `blackhole` outage), until thawed or killed.
    frozen: AtomicBool,
    /// Requests under way that an outage hits (everything but `/v1.3/sandbox/*`).
    api_busy: AtomicU32,
    /// `/v1.3/sandbox/*` requests under way, which an outage spares.
    admin_busy: AtomicU32,
    wakers: Mutex<Vec<Waker>>,
}

impl ConnControl {
    /// Makes every further read and write on the connection fail, and wakes whoever waits
    /// on it so the failure is noticed now rather than on the next byte.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    /// Kills the connection so that its socket is closed with an RST (`SO_LINGER` 0): the
    /// peer sees "connection reset", whatever is left in either direction.
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.kill();
    }

    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Makes reads and writes wait until [`thaw`](Self::thaw) (or a kill).
    pub(crate) fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Ends a freeze and wakes whoever waits.
    pub(crate) fn thaw(&self) {
        if self.frozen.swap(false, Ordering::SeqCst) {
            self.wake_all();
        }
    }

    /// Counts a request under way until the guard drops; `spared` for `/v1.3/sandbox/*`.
    pub(crate) fn busy(self: &Arc<Self>, spared: bool) -> Busy {
        let gauge = if spared {
            &self.admin_busy
        } else {
            &self.api_busy
        };
        gauge.fetch_add(1, Ordering::SeqCst);
        Busy {
            control: self.clone(),
            spared,
        }
    }

    /// Whether a request an outage hits is under way.
    pub(crate) fn serves_api(&self) -> bool {
        self.api_busy.load(Ordering::SeqCst) > 0
    }

    /// Whether a `/v1.3/sandbox/*` request is under way.
    pub(crate) fn serves_admin(&self) -> bool {
        self.admin_busy.load(Ordering::SeqCst) > 0
    }

    fn wake_all(&self) {
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        wakers.into_iter().for_each(Waker::wake);
    }

    /// `Ready(Err)` once killed, `Pending` while frozen, else `Ready(Ok)`; the waker is kept
    /// either way, so a kill or a thaw is noticed at once.
    fn poll_check(&self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_error()));
        }
        {
            let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                // Bounded: hyper polls a connection from at most a reader and a writer.
                if wakers.len() >= 4 {
                    wakers.remove(0);
                }
                wakers.push(cx.waker().clone());
            }
        }
        // Checked after the waker is in place, so a thaw or kill in between is not lost.
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_error()));
        }
        if self.frozen.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

/// The error of every read and write after a kill.
fn killed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection dropped by fault injection",
    )
}

/// Guard of [`ConnControl::busy`].
#[derive(Debug)]
pub(crate) struct Busy {
    control: Arc<ConnControl>,
    spared: bool,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let gauge = if self.spared {
            &self.control.admin_busy
        } else {
            &self.control.api_busy
        };
        gauge.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sets `SO_LINGER` 0, so that closing the socket sends an RST instead of a FIN.
pub(crate) fn linger_zero(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
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

/// The link settings: read by every connection on every poll, changed by the setters, and
/// watched by the listener.
#[derive(Debug)]
pub(crate) struct Shaping {
    /// Per-connection read limit in bytes/s (0: none).
    bandwidth: AtomicU64,
    /// The capacity all connections share.
    link: Link,
    /// Whether any limit is on, for the listener (see [`SHAPED_MSS`]).
    shaped: watch::Sender<bool>,
}

impl Shaping {
    /// Shaping with a per-connection limit and a link rate, in bytes/s (0: none).
    pub(crate) fn new(bandwidth: u64, link_rate: u64) -> Self {
        Self {
            bandwidth: AtomicU64::new(bandwidth),
            link: Link::new(link_rate),
            shaped: watch::Sender::new(bandwidth > 0 || link_rate > 0),
        }
    }

    /// The per-connection read limit in bytes/s, 0 when unlimited.
    pub(crate) fn bandwidth(&self) -> u64 {
        self.bandwidth.load(Ordering::Relaxed)
    }

    /// The shared link's rate in bytes/s, 0 when unlimited.
    pub(crate) fn link_rate(&self) -> u64 {
        self.link.rate()
    }

    /// Changes the per-connection limit (`None` or `Some(0)`: unlimited).
    pub(crate) fn set_bandwidth(&self, bytes_per_sec: Option<u64>) {
        self.bandwidth
            .store(bytes_per_sec.unwrap_or(0), Ordering::Relaxed);
        self.publish();
    }

    /// Changes the link's rate (`None` or `Some(0)`: unlimited).
    pub(crate) fn set_link_rate(&self, bytes_per_sec: Option<u64>) {
        self.link.set_rate(bytes_per_sec.unwrap_or(0));
        self.publish();
    }

    /// Tells the listener whether any limit is on. Decided under the channel's lock, so
    /// that of two setters racing, the last to publish sees both changes.
    fn publish(&self) {
        self.shaped.send_if_modified(|old| {
            let shaped = self.bandwidth() > 0 || self.link_rate() > 0;
            std::mem::replace(old, shaped) != shaped
        });
    }

    /// The receive buffer for a connection accepted now, `None` when nothing is limited.
    fn window(&self) -> Option<usize> {
        [self.bandwidth(), self.link_rate()]
            .into_iter()
            .filter(|&rate| rate > 0)
            .min()
            .map(window_for)
    }
}

/// The receive buffer of a connection shaped to `rate` bytes/s: the traffic of
/// [`WINDOW_RTT`] at that rate, within [`MIN_WINDOW`] and [`MAX_WINDOW`].
fn window_for(rate: u64) -> usize {
    let bytes = u128::from(rate) * WINDOW_RTT.as_nanos() / 1_000_000_000;
    usize::try_from(bytes)
        .unwrap_or(MAX_WINDOW)
        .clamp(MIN_WINDOW, MAX_WINDOW)
}

/// Gives connections accepted from now on an Ethernet-sized MSS when `shaped`, the
/// interface's own (64 KiB on loopback) when not. Best effort, and Linux only: elsewhere
/// the option is not known to reach the handshake.
fn clamp_mss(listener: &TcpListener, shaped: bool) {
    #[cfg(target_os = "linux")]
    {
        let mss = if shaped { SHAPED_MSS } else { 0 };
        let _ = socket2::SockRef::from(listener).set_tcp_mss(mss);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (listener, shaped);
}

/// The listener: a `TcpListener` whose connections come out wrapped, and that closes and
/// re-binds its port for a `refuse` outage.
#[derive(Debug)]
pub(crate) struct SandboxListener {
    /// `None` while a `refuse` outage has the port closed.
    inner: Option<TcpListener>,
    /// The address bound at the start, bound again after a `refuse` outage.
    addr: SocketAddr,
    shaping: Arc<Shaping>,
    shaped: watch::Receiver<bool>,
    outage: Arc<OutageSwitch>,
    outage_changed: watch::Receiver<Option<Window>>,
    /// Whether the last re-bind failed (it is retried, and logged once).
    rebind_failed: bool,
}

/// How often a failed re-bind after a `refuse` outage is retried.
const REBIND_RETRY: Duration = Duration::from_millis(50);

impl SandboxListener {
    pub(crate) fn new(
        inner: TcpListener,
        shaping: Arc<Shaping>,
        outage: Arc<OutageSwitch>,
    ) -> io::Result<Self> {
        let mut shaped = shaping.shaped.subscribe();
        clamp_mss(&inner, *shaped.borrow_and_update());
        Ok(Self {
            addr: inner.local_addr()?,
            inner: Some(inner),
            shaping,
            shaped,
            outage_changed: outage.subscribe(),
            outage,
            rebind_failed: false,
        })
    }

    /// Closes the port while a `refuse` outage is on, and binds it again once it is over.
    fn follow_outage(&mut self, now: std::time::Instant) {
        let refusing = self.outage.active(now) == Some(OutageKind::Refuse);
        if refusing {
            if self.inner.take().is_some() {
                self.outage.set_listening(false);
            }
            return;
        }
        if self.inner.is_some() {
            return;
        }
        match rebind(self.addr) {
            Ok(listener) => {
                clamp_mss(&listener, *self.shaped.borrow());
                self.inner = Some(listener);
                self.rebind_failed = false;
                self.outage.set_listening(true);
            }
            Err(e) => {
                if !self.rebind_failed {
                    eprintln!(
                        "tl-sandbox: cannot listen on {} again after the outage: {e}; retrying",
                        self.addr
                    );
                }
                self.rebind_failed = true;
            }
        }
    }
}

/// Binds `addr` again, with `SO_REUSEADDR` where it means "despite connections in
/// TIME_WAIT" (not on Windows, where it lets another socket steal the port).
fn rebind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts on `listener`, or waits forever when there is none.
async fn accept_on(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

impl axum::serve::Listener for SandboxListener {
    type Io = SandboxStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SandboxStream, SocketAddr) {
        loop {
            let now = std::time::Instant::now();
            self.follow_outage(now);
            let wake_at = match (self.rebind_failed, self.outage.next_transition(now)) {
                (true, _) => Some(now + REBIND_RETRY),
                (false, next) => next,
            };
            tokio::select! {
                accepted = accept_on(self.inner.as_ref()) => match accepted {
                    Ok((stream, addr)) => {
                        if self.outage.active(std::time::Instant::now())
                            == Some(OutageKind::Refuse)
                        {
                            // Accepted just before the port closed: reset, as the rest were.
                            linger_zero(&stream);
                            self.outage.count_connection();
                            continue;
                        }
                        // Small responses (ETags, JSON) should not wait for Nagle.
                        let _ = stream.set_nodelay(true);
                        if let Some(window) = self.shaping.window() {
                            let _ = socket2::SockRef::from(&stream).set_recv_buffer_size(window);
                        }
                        let stream = SandboxStream::new(stream, self.shaping.clone());
                        self.outage.register(&stream.control);
                        return (stream, addr);
                    }
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                },
                // Shaping went on or off: the next handshakes follow at once.
                Ok(()) = self.shaped.changed() => {
                    if let Some(listener) = &self.inner {
                        clamp_mss(listener, *self.shaped.borrow_and_update());
                    }
                }
                // An outage was started or ended: the loop follows it.
                Ok(()) = self.outage_changed.changed() => {}
                () = sleep_until(wake_at) => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// A token bucket for the read side. Refilled from elapsed time at the current rate.
#[derive(Debug)]
struct Throttle {
    tokens: f64,
    last: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

/// A connection's turn on the shared link: the slice it booked and has not read yet.
#[derive(Debug, Default)]
struct LinkTurn {
    left: usize,
    ready_at: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
}

/// An accepted connection with rate limits and a kill switch.
#[derive(Debug)]
pub(crate) struct SandboxStream {
    inner: TcpStream,
    control: Arc<ConnControl>,
    shaping: Arc<Shaping>,
    throttle: Throttle,
    turn: LinkTurn,
    /// Limited reads go through here (no unsafe `ReadBuf` tricks).
    scratch: Vec<u8>,
}

impl SandboxStream {
    fn new(inner: TcpStream, shaping: Arc<Shaping>) -> Self {
        Self {
            inner,
            control: Arc::default(),
            shaping,
            throttle: Throttle {
                tokens: 0.0,
                last: Instant::now(),
                sleep: None,
            },
            turn: LinkTurn::default(),
            scratch: Vec::new(),
        }
    }

    /// The connection's controls (kill, reset, freeze, busy gauges).
    pub(crate) fn control(&self) -> &Arc<ConnControl> {
        &self.control
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

    /// Forgets the bucket, for when the limit is off.
    fn idle(&mut self) {
        self.tokens = 0.0;
        self.sleep = None;
    }
}

impl LinkTurn {
    /// How many bytes the link lets this connection read now (at most `want`, booked as
    /// one slice); `Pending`, with a timer armed, until the slice is due.
    fn poll_turn(
        &mut self,
        cx: &mut Context<'_>,
        link: &Link,
        rate: u64,
        want: usize,
    ) -> Poll<usize> {
        let now = Instant::now();
        // A slice left unread well past its time belonged to an idle connection: that link
        // time is gone, as it would be on a real link, and the connection books anew.
        let stale = self
            .ready_at
            .is_some_and(|at| now.saturating_duration_since(at) > IDLE_CREDIT);
        if self.left == 0 || stale {
            let booking = link.book(rate, want, now);
            self.left = booking.bytes;
            self.ready_at = Some(booking.ready_at);
        }
        let ready_at = self.ready_at.unwrap_or(now);
        if ready_at <= now {
            self.sleep = None;
            return Poll::Ready(self.left);
        }
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(ready_at)));
        if sleep.deadline() != ready_at {
            sleep.as_mut().reset(ready_at);
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.sleep = None;
                Poll::Ready(self.left)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Counts `n` bytes read out of the booked slice.
    fn consume(&mut self, n: usize) {
        self.left = self.left.saturating_sub(n);
        if self.left == 0 {
            self.ready_at = None;
        }
    }

    /// Forgets the booking, for when the link limit is off.
    fn idle(&mut self) {
        if self.ready_at.is_some() || self.sleep.is_some() {
            *self = Self::default();
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
        if let Err(e) = std::task::ready!(this.control.poll_check(cx)) {
            return Poll::Ready(Err(e));
        }
        let cap = this.shaping.bandwidth();
        let link_rate = this.shaping.link_rate();
        if cap == 0 && link_rate == 0 {
            this.throttle.idle();
            this.turn.idle();
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let mut allowed = usize::MAX;
        if cap > 0 {
            match this.throttle.poll_allowance(cx, cap) {
                Poll::Ready(n) => allowed = n,
                Poll::Pending => return Poll::Pending,
            }
        } else {
            this.throttle.idle();
        }
        if link_rate > 0 {
            match this
                .turn
                .poll_turn(cx, &this.shaping.link, link_rate, allowed)
            {
                Poll::Ready(n) => allowed = allowed.min(n),
                Poll::Pending => return Poll::Pending,
            }
        } else {
            this.turn.idle();
        }
        let allowed = allowed.clamp(1, buf.remaining().max(1)).min(MAX_READ);
        this.scratch.resize(allowed, 0);
        let mut limited = ReadBuf::new(&mut this.scratch);
        match Pin::new(&mut this.inner).poll_read(cx, &mut limited) {
            Poll::Ready(Ok(())) => {
                let got = limited.filled().len();
                buf.put_slice(limited.filled());
                if cap > 0 {
                    this.throttle.tokens -= got as f64;
                }
                if link_rate > 0 {
                    this.turn.consume(got);
                }
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
        if let Err(e) = std::task::ready!(this.control.poll_check(cx)) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = std::task::ready!(this.control.poll_check(cx)) {
            return Poll::Ready(Err(e));
        }
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
        if let Err(e) = std::task::ready!(this.control.poll_check(cx)) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Drop for SandboxStream {
    fn drop(&mut self) {
        if self.control.reset.load(Ordering::SeqCst) {
            linger_zero(&self.inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_twenty_milliseconds_of_the_rate_within_bounds() {
        assert_eq!(window_for(4_000_000), 80_000);
        assert_eq!(window_for(1_500_000), MIN_WINDOW);
        assert_eq!(window_for(1), MIN_WINDOW);
        assert_eq!(window_for(1_000_000_000), MAX_WINDOW);
        assert_eq!(window_for(u64::MAX), MAX_WINDOW);
    }

    #[test]
    fn shaping_follows_the_smaller_rate_and_tells_the_listener_when_it_turns() {
        let shaping = Shaping::new(0, 0);
        let mut shaped = shaping.shaped.subscribe();
        assert!(!*shaped.borrow_and_update());
        assert_eq!(shaping.window(), None);

        shaping.set_bandwidth(Some(4_000_000));
        assert!(shaped.has_changed().unwrap());
        assert!(*shaped.borrow_and_update());
        assert_eq!(shaping.window(), Some(80_000));

        shaping.set_link_rate(Some(2_000_000));
        assert_eq!(
            (shaping.bandwidth(), shaping.link_rate()),
            (4_000_000, 2_000_000)
        );
        assert_eq!(shaping.window(), Some(40_000));
        assert!(
            !shaped.has_changed().unwrap(),
            "still shaped: nothing to tell"
        );

        shaping.set_bandwidth(Some(0));
        assert_eq!(shaping.window(), Some(40_000));
        shaping.set_link_rate(None);
        assert!(shaped.has_changed().unwrap());
        assert!(!*shaped.borrow_and_update());
        assert_eq!(shaping.window(), None);
    }
}
