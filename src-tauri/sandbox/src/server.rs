//! The HTTP server: shared state, the route table, the cross-cutting middleware (outages,
//! API key, API faults, latency, version header) and the serve loop with its graceful
//! shutdown.

use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, DefaultBodyLimit, OriginalUri, Request, State},
    http::{HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use http_body_util::BodyExt as _;
use tokio::sync::watch;

use crate::{
    clock,
    config::Config,
    conn::{ConnInfo, SandboxListener, Shaping},
    error::ApiError,
    faults::{Faults, OutageKind},
    outage::{self, OutageSwitch, RESET_AFTER},
    routes,
    signing::Signer,
    stats::Counters,
    storage::ChunkStorage,
    store::Store,
    tls::TlsListener,
    wire::{PresignedUrl, Timestamp},
};

/// How long a graceful shutdown waits for in-flight requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Everything a request handler can reach. One per sandbox; nothing is global.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// `http://HOST:PORT` (`https://` with TLS), the origin that presigned URLs point at.
    pub(crate) public_url: String,
    pub(crate) signer: Signer,
    pub(crate) store: Store,
    pub(crate) storage: ChunkStorage,
    pub(crate) faults: Faults,
    pub(crate) stats: Arc<Counters>,
    /// The link limits (per connection and shared), read by every connection.
    pub(crate) shaping: Arc<Shaping>,
    /// The outage switch, read by the listener and the outage middleware.
    pub(crate) outage: Arc<OutageSwitch>,
    latency_micros: AtomicU64,
    complete_delay_micros: AtomicU64,
    early_answer: AtomicBool,
}

/// A duration in whole microseconds, saturated, for an atomic setting.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The state type of every handler.
pub(crate) type App = Arc<Shared>;

impl Shared {
    pub(crate) fn new(config: Config, local: SocketAddr, storage: ChunkStorage) -> Self {
        let stats = Arc::new(Counters::default());
        let outage = OutageSwitch::new(config.outage, std::time::Instant::now(), stats.clone());
        Self {
            public_url: config.public_url(local),
            signer: Signer::random(),
            store: Store::default(),
            storage,
            faults: Faults::new(config.faults.clone()),
            stats,
            shaping: Arc::new(Shaping::new(config.bandwidth, config.link_rate)),
            outage: Arc::new(outage),
            latency_micros: AtomicU64::new(micros(config.latency)),
            complete_delay_micros: AtomicU64::new(micros(config.complete_delay)),
            early_answer: AtomicBool::new(config.early_answer),
            config,
        }
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_micros.load(Ordering::Relaxed))
    }

    pub(crate) fn set_latency(&self, d: Duration) {
        self.latency_micros.store(micros(d), Ordering::Relaxed);
    }

    /// How long a session stays `active` after its last chunk is reported.
    pub(crate) fn complete_delay(&self) -> Duration {
        Duration::from_micros(self.complete_delay_micros.load(Ordering::Relaxed))
    }

    pub(crate) fn set_complete_delay(&self, d: Duration) {
        self.complete_delay_micros
            .store(micros(d), Ordering::Relaxed);
    }

    /// Whether refused chunk PUTs are answered before their body is read.
    pub(crate) fn early_answer(&self) -> bool {
        self.early_answer.load(Ordering::Relaxed)
    }

    pub(crate) fn set_early_answer(&self, yes: bool) {
        self.early_answer.store(yes, Ordering::Relaxed);
    }

    pub(crate) fn set_bandwidth(&self, bytes_per_sec: Option<u64>) {
        self.shaping.set_bandwidth(bytes_per_sec);
    }

    pub(crate) fn set_link_rate(&self, bytes_per_sec: Option<u64>) {
        self.shaping.set_link_rate(bytes_per_sec);
    }

    /// A presigned URL for one chunk, valid for `url_ttl` from `now`.
    pub(crate) fn presign(
        &self,
        upload_id: &str,
        chunk_index: u32,
        now: time::OffsetDateTime,
    ) -> PresignedUrl {
        let expires = clock::expiry_secs(now, self.config.url_ttl);
        Counters::add(&self.stats.urls_issued, 1);
        PresignedUrl {
            chunk_index,
            url: format!(
                "{}{}",
                self.public_url,
                self.signer.path_and_query(upload_id, chunk_index, expires)
            ),
            expires_at: Timestamp(clock::from_unix(expires)),
        }
    }
}

/// The route table.
pub(crate) fn router(app: App) -> Router {
    let api = Router::new()
        .route(
            "/assets/multipart-uploads",
            get(routes::uploads::list_incomplete).post(routes::uploads::create),
        )
        .route(
            "/assets/multipart-uploads/{upload_id}",
            get(routes::uploads::status).post(routes::uploads::report),
        )
        .route(
            "/assets/multipart-uploads/{upload_id}/presigned-urls",
            post(routes::uploads::presigned_urls),
        )
        .route(
            "/assets",
            get(routes::assets::list)
                .post(routes::assets::create)
                // The form handler streams the file and enforces its own limit.
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/assets/{asset_id}",
            get(routes::assets::retrieve).delete(routes::assets::delete),
        )
        .route_layer(middleware::from_fn_with_state(app.clone(), api_gate));
    let admin = Router::new()
        .route("/sandbox/stats", get(routes::admin::stats))
        .route("/sandbox/stats/reset", post(routes::admin::reset_stats))
        .route(
            "/sandbox/sink",
            put(routes::admin::sink).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/sandbox/faults",
            get(routes::admin::faults).post(routes::admin::set_faults),
        )
        .route(
            "/sandbox/outage",
            get(routes::admin::outage).post(routes::admin::set_outage),
        );
    let v13 = api
        .merge(admin)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), require_api_key))
        .layer(middleware::map_response(api_version));
    Router::new()
        .nest("/v1.3", v13)
        .route(
            "/storage/{upload_id}/{chunk_index}",
            put(routes::chunks::put_chunk),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), latency_and_log))
        // Outermost: a request is judged by the outage on when it arrives.
        .layer(middleware::from_fn_with_state(app.clone(), outage_gate))
        .with_state(app)
}

/// Serves `listener` (made with [`SandboxListener::new`] from `app`'s shaping), over TLS
/// when the config has it, until `shutdown` turns true (or its sender is dropped), then
/// stops accepting, lets in-flight requests finish for up to [`SHUTDOWN_GRACE`], and returns.
pub(crate) async fn serve(listener: SandboxListener, app: App, shutdown: watch::Receiver<bool>) {
    tokio::spawn(outage::supervise(Arc::downgrade(&app.outage)));
    let service = router(app.clone()).into_make_service_with_connect_info::<ConnInfo>();
    let mut signal = shutdown.clone();
    let stop = async move {
        let _ = signal.wait_for(|&stop| stop).await;
    };
    // Boxed once per server, so each arm keeps its own concrete connection type: plain
    // connections are served as they are, with nothing wrapped around them.
    let server: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> =
        match app.config.tls.clone() {
            None => Box::pin(
                axum::serve(listener, service)
                    .with_graceful_shutdown(stop)
                    .into_future(),
            ),
            Some(tls) => {
                let listener =
                    TlsListener::new(listener, tls, app.stats.clone(), app.config.log_requests);
                Box::pin(
                    axum::serve(listener, service)
                        .with_graceful_shutdown(stop)
                        .into_future(),
                )
            }
        };
    let mut deadline = shutdown;
    let grace = async move {
        let _ = deadline.wait_for(|&stop| stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        _ = server => {}
        () = grace => {}
    }
}

/// Whether a path is one of the sandbox's own endpoints, which outages spare.
fn is_admin_path(path: &str) -> bool {
    path == "/v1.3/sandbox" || path.starts_with("/v1.3/sandbox/")
}

/// Applies the outage on when a request arrives (see the `outage` module): holds it in
/// silence, reads part of it and resets the connection, or resets at once. Marks the
/// connection busy meanwhile, so an outage that begins later finds it.
async fn outage_gate(State(app): State<App>, req: Request, next: Next) -> Response {
    let spared = is_admin_path(req.uri().path());
    let control = req
        .extensions()
        .get::<ConnectInfo<ConnInfo>>()
        .map(|ConnectInfo(info)| info.control.clone());
    // Before the check: an outage that begins after it sees this connection busy.
    let _busy = control.as_ref().map(|c| c.busy(spared));
    if spared {
        return next.run(req).await;
    }
    let mut counted = false;
    loop {
        let kind = app.outage.active(std::time::Instant::now());
        if kind.is_some() && !counted {
            app.outage.count_request();
            counted = true;
        }
        match kind {
            None => return next.run(req).await,
            Some(OutageKind::Blackhole) => outage::wait_out_blackhole(&app.outage).await,
            Some(cut) => {
                if cut == OutageKind::Reset {
                    read_part(req.into_body()).await;
                }
                if let Some(control) = &control {
                    control.reset();
                    app.outage.count_connection();
                }
                // Never delivered: the connection is gone.
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
}

/// Reads at most [`RESET_AFTER`] bytes of a body (less if it ends or breaks first).
async fn read_part(mut body: Body) {
    let mut seen = 0u64;
    while seen < RESET_AFTER {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}

/// Every `/v1.3` call needs the configured `x-api-key`.
async fn require_api_key(State(app): State<App>, req: Request, next: Next) -> Response {
    let sent = req.headers().get("x-api-key").map(HeaderValue::as_bytes);
    match sent {
        Some(key) if constant_time_eq(key, app.config.api_key.0.as_bytes()) => next.run(req).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Counts API calls and applies `fail_api` faults (not on `/v1.3/sandbox/*`, which the
/// tests themselves use to steer the sandbox).
async fn api_gate(State(app): State<App>, req: Request, next: Next) -> Response {
    Counters::add(&app.stats.api_requests, 1);
    match app.faults.take_api() {
        None => next.run(req).await,
        Some((status, retry_after)) => {
            Counters::add(&app.stats.fired.fail_api, 1);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status.as_u16() {
                429 => "too_many_requests",
                500..=599 => "internal_server_error",
                _ => "injected_fault",
            };
            ApiError::new(
                status,
                code,
                format!("fault injected by the sandbox (status {})", status.as_u16()),
            )
            .with_retry_after(retry_after)
            .into_response()
        }
    }
}

/// Adds the configured latency and, when enabled, logs the request to stderr. The log line
/// has the path only: queries carry URL signatures, and headers carry the API key.
async fn latency_and_log(State(app): State<App>, req: Request, next: Next) -> Response {
    let latency = app.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if !app.config.log_requests {
        return next.run(req).await;
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = tokio::time::Instant::now();
    let response = next.run(req).await;
    eprintln!(
        "tl-sandbox: {method} {path} -> {} ({:.1} ms)",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

async fn api_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("x-api-version", HeaderValue::from_static("1.3"));
    response
}

async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "resource_not_exist",
        format!("no such endpoint: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Compares secrets without an early exit, so timing does not reveal a matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
