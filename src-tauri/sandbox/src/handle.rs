//! Starting a sandbox on its own thread, and the handle that controls and stops it.
//!
//! The server runs on a dedicated OS thread with its own two-worker tokio runtime. That makes
//! [`SandboxBuilder::start`] callable from plain sync code and from inside any runtime
//! (a `current_thread` `#[tokio::test]` included): the caller's runtime never has to drive
//! the server, so a test that blocks its own thread cannot starve it.

use std::{
    fmt,
    net::SocketAddr,
    sync::{Arc, mpsc},
    thread::JoinHandle,
    time::Duration,
};

use tokio::sync::watch;

use crate::{
    config::SandboxBuilder,
    conn::SandboxListener,
    error::SandboxError,
    faults::{Faults, OutageKind},
    server::{self, Shared},
    stats::Stats,
    storage::ChunkStorage,
};

impl SandboxBuilder {
    /// Binds, starts the server thread, and returns once the server accepts connections.
    ///
    /// # Errors
    ///
    /// [`SandboxError::NonLoopback`] for a non-loopback address without
    /// [`allow_non_loopback`](Self::allow_non_loopback), [`SandboxError::Bind`] if the
    /// address cannot be bound, [`SandboxError::StorageDir`] if a `disk:` directory cannot
    /// be created, [`SandboxError::InvalidSetting`] for unusable values,
    /// [`SandboxError::Tls`] for a certificate or key that cannot be used.
    pub fn start(self) -> Result<SandboxHandle, SandboxError> {
        let config = self.validate()?;
        let storage = ChunkStorage::open(&config.storage)?;
        // Bind here, on the caller's thread, so bind errors come back synchronously and the
        // port is known before the server thread exists.
        let bind = |source| SandboxError::Bind {
            addr: config.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(config.listen).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let shared = Arc::new(Shared::new(config, addr, storage));

        let (stop_tx, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
        let app = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tl-sandbox-{}", addr.port()))
            .spawn(move || run_server(listener, app, stop_rx, ready_tx))
            .map_err(SandboxError::Runtime)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(SandboxError::Runtime(e));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(SandboxError::Runtime(std::io::Error::other(
                    "the server thread stopped before it was ready",
                )));
            }
        }
        Ok(SandboxHandle {
            addr,
            shared,
            stop: stop_tx,
            thread: Some(thread),
        })
    }
}

/// The body of the server thread.
fn run_server(
    listener: std::net::TcpListener,
    app: Arc<Shared>,
    stop: watch::Receiver<bool>,
    ready: mpsc::Sender<std::io::Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tl-sandbox-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).and_then(|listener| {
            // Before `ready`: the listener's socket options must be in place for the
            // first client's handshake.
            SandboxListener::new(listener, app.shaping.clone(), app.outage.clone())
        });
        match listener {
            Ok(listener) => {
                let _ = ready.send(Ok(()));
                server::serve(listener, app, stop).await;
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        }
    });
    // Background work (asset checks) is abandoned, not awaited: the sandbox is going away.
    runtime.shutdown_timeout(Duration::from_millis(200));
}

/// A running sandbox. Dropping it stops the server and joins its thread.
pub struct SandboxHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("addr", &self.addr)
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's origin, `http://127.0.0.1:PORT`; with TLS `https://localhost:PORT` (on
    /// a loopback address), and the host of [`SandboxBuilder::public_host`] when set.
    pub fn url(&self) -> String {
        self.shared.public_url.clone()
    }

    /// The base URL a client uses: [`url()`](Self::url) + `/v1.3`.
    pub fn base_url(&self) -> String {
        format!("{}/v1.3", self.shared.public_url)
    }

    /// The API key the server requires.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key.0
    }

    /// The traffic counters now.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Zeroes the counters (the in-flight peak restarts from the current in-flight count).
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// The live fault controls.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Changes the per-connection read limit; open connections follow at once.
    pub fn set_bandwidth(&self, bytes_per_sec: Option<u64>) {
        self.shared.set_bandwidth(bytes_per_sec);
    }

    /// Changes the capacity shared by all connections; open connections follow within a
    /// few milliseconds.
    pub fn set_link_rate(&self, bytes_per_sec: Option<u64>) {
        self.shared.set_link_rate(bytes_per_sec);
    }

    /// Changes the delay added to every request.
    pub fn set_latency(&self, d: Duration) {
        self.shared.set_latency(d);
    }

    /// Changes how long a session stays `active` after its last chunk is reported (see
    /// [`SandboxBuilder::complete_delay`]); sessions completed already keep theirs.
    pub fn set_complete_delay(&self, d: Duration) {
        self.shared.set_complete_delay(d);
    }

    /// Turns the early answer to refused chunk PUTs on or off (see
    /// [`SandboxBuilder::early_answer`]).
    pub fn set_early_answer(&self, yes: bool) {
        self.shared.set_early_answer(yes);
    }

    /// Starts an outage of `kind` now, for `duration`, replacing any other (see
    /// [`OutageKind`]). Returns once it is in force: open connections it hits are reset or
    /// frozen and, for [`OutageKind::Refuse`], the port is closed (waiting at most two
    /// seconds for the listener).
    pub fn start_outage(&self, kind: OutageKind, duration: Duration) {
        self.shared.outage.start(kind, duration, Duration::ZERO);
        self.shared.outage.wait_for_listener();
    }

    /// Ends the outage on (or cancels a planned one). Returns once the server accepts
    /// connections again (waiting at most two seconds for the port to be bound again).
    pub fn end_outage(&self) {
        self.shared.outage.end();
        self.shared.outage.wait_for_listener();
    }

    /// The outage on now, if any, and how long it has left.
    pub fn outage(&self) -> Option<(OutageKind, Duration)> {
        let now = std::time::Instant::now();
        let window = self.shared.outage.window(now)?;
        (window.starts <= now).then(|| (window.kind, window.ends.saturating_duration_since(now)))
    }

    /// Stops accepting connections, lets in-flight requests finish (for up to two seconds)
    /// and joins the server thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // Requests held by a blackhole would hold up the graceful shutdown.
        self.shared.outage.end();
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
