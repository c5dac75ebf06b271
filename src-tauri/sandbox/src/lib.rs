//! `tl-sandbox`: a local HTTP (or HTTPS) server that speaks the TwelveLabs multipart upload protocol,
//! storage side included.
//!
//! It is the test server of every crate in this workspace, the app's offline default, and the
//! benchmark target. It issues its own signed, expiring presigned URLs that point back at
//! itself, answers chunk PUTs with an `ETag`, checks reported proofs and sizes, assembles the
//! asset and serves it (with a `sha256` of the assembled bytes) from `GET /v1.3/assets/{id}`.
//! The official SDKs' `upload_file` works against it unchanged.
//!
//! ```no_run
//! let sandbox = tl_sandbox::Sandbox::builder()
//!     .chunk_size(1024 * 1024)
//!     .initial_urls(5)
//!     .start()?;
//! println!("base URL: {}, key: {}", sandbox.base_url(), sandbox.api_key());
//! sandbox.faults().fail_puts(2, 503); // the next two chunk PUTs fail
//! # Ok::<(), tl_sandbox::SandboxError>(())
//! ```
//!
//! # Endpoints
//!
//! Under `/v1.3` (all need `x-api-key`): the five multipart endpoints
//! (`GET|POST /assets/multipart-uploads`, `GET|POST /assets/multipart-uploads/{upload_id}`,
//! `POST /assets/multipart-uploads/{upload_id}/presigned-urls`), the assets
//! (`GET|POST /assets`, `GET|DELETE /assets/{asset_id}`) and the sandbox's own extension
//! (`GET /sandbox/stats`, `POST /sandbox/stats/reset`, `GET|POST /sandbox/faults`,
//! `GET|POST /sandbox/outage`).
//! Chunk bytes go to `PUT /storage/{upload_id}/{chunk_index}`, authorised by the URL's
//! signature instead of the key.
//!
//! # Misbehaviours
//!
//! Besides the counted faults of [`FaultPlan`] (`--fail-puts`, `--drop-puts-after`,
//! `--stall-puts`, `--omit-etag`, `--fail-api`, `--corrupt-puts`: the next N requests of a
//! kind), the sandbox can:
//!
//! - hold a finished session `active` for a while (`--complete-delay`,
//!   [`SandboxBuilder::complete_delay`], [`SandboxHandle::set_complete_delay`],
//!   `"complete_delay_secs"` in `POST /v1.3/sandbox/faults`) before it is `completed` and its
//!   asset exists;
//! - answer a refused chunk PUT before reading its body and close the connection with the
//!   body unread, as S3 does (`--early-answer`, [`SandboxBuilder::early_answer`],
//!   [`SandboxHandle::set_early_answer`], `"early_answer"`);
//! - stand for a network outage of a few seconds, of kind [`OutageKind`] `refuse`,
//!   `blackhole` or `reset` (`--outage KIND:SECS[@AFTER_SECS]`, [`SandboxBuilder::outage`],
//!   [`SandboxHandle::start_outage`] and [`SandboxHandle::end_outage`],
//!   `POST /v1.3/sandbox/outage`). Outages spare `/v1.3/sandbox/*`, though no new connection
//!   gets through a `refuse`.
//!
//! [`Stats::faults_fired`] counts how many times each of them fired.
//!
//! # HTTPS
//!
//! With a certificate chain and its key ([`SandboxBuilder::tls`], PEM bytes; `--tls-cert FILE
//! --tls-key FILE`), the sandbox serves HTTPS instead of HTTP: [`SandboxHandle::url`], the
//! presigned chunk URLs and the asset URLs say `https://`, with the host `localhost` on a
//! loopback address (what a local certificate names) unless [`SandboxBuilder::public_host`]
//! (`--public-host`) says otherwise. TLS sits on top of the shaped TCP stream, so the link
//! emulation, the outages and the connection faults act as over HTTP; handshakes run off the
//! accept loop, within ten seconds, and the failed ones are counted in
//! [`Stats::tls_handshakes_failed`]. The `tls` module has the details.
//!
//! # Link emulation
//!
//! The sandbox can stand for a slow or distant network, so that uploads behave as they would
//! on one (all on the request bodies the server reads; responses are not shaped):
//!
//! - `--link-rate` ([`SandboxBuilder::link_rate`], [`SandboxHandle::set_link_rate`],
//!   `"link_rate"` in `POST /v1.3/sandbox/faults`): a capacity shared by all connections,
//!   split fairly between those that compete for it;
//! - `--bandwidth` ([`SandboxBuilder::bandwidth`], [`SandboxHandle::set_bandwidth`],
//!   `"bandwidth"`): a cap on each connection, standing for what one TCP connection gets
//!   through its window over the path's round trip;
//! - `--latency-ms` ([`SandboxBuilder::latency`], [`SandboxHandle::set_latency`],
//!   `"latency_ms"`): a delay once per request, before its body is read;
//! - while a rate limit is on, new connections get a small receive window and an Ethernet
//!   MSS, so a client's count of bytes written stays close to what the server has read.
//!
//! It does not lose packets, delay the body's segments by a round trip, add queueing delay
//! that grows with load, or make new connections slow-start. The `conn` module has the
//! details.
//!
//! # Layout
//!
//! - [`config`]: [`SandboxBuilder`] and [`Storage`]; validation into the internal config.
//! - `handle`: [`SandboxBuilder::start`] (own thread, own runtime) and [`SandboxHandle`].
//! - [`cli`]: [`cli::SandboxArgs`], the flags shared by `tl-sandbox` and `tlup sandbox`.
//! - [`embedded`]: [`embedded::EmbeddedSandbox`], the sandbox the app and `tlup` start inside
//!   themselves when there is no real server: defaults, chunk directory, cleanup.
//! - `server`: shared state, route table, middleware (outages, key, faults, latency), serve
//!   loop.
//! - `routes`: handlers: `uploads` (multipart API), `chunks` (storage PUT), `assets`,
//!   `admin` (stats, faults, outages).
//! - `session`, `asset`, `store`: the domain: sessions and their chunks, assets, and the
//!   locked maps that hold them.
//! - `storage`: where chunk bytes go (memory, disk, discard), streamed and committed whole.
//! - `signing`: HMAC-signed presigned URLs. `clock`: time and expiry arithmetic.
//! - `conn`: the wrapped TCP stream (rate limits, small window, kill switch, reset, freeze),
//!   the listener (which closes and re-binds its port for a `refuse` outage) and what the
//!   link emulator models. `link`: the shared link's timetable.
//! - `tls`: the rustls settings from PEM, and the listener that does TLS handshakes on top of
//!   the `conn` listener (HTTPS only).
//! - `outage`: the outage switch, its schedule and what each kind does and does not model.
//! - [`faults`]: [`FaultPlan`] and the live [`Faults`]. [`stats`]: [`Stats`] counters.
//! - `wire`: the JSON response types. `extract`: request parsing with JSON errors.
//! - [`error`]: [`SandboxError`] and the wire error shapes.

#![warn(missing_docs, missing_debug_implementations)]

mod asset;
pub mod cli;
mod clock;
pub mod config;
mod conn;
pub mod embedded;
pub mod error;
mod extract;
pub mod faults;
mod handle;
mod link;
mod outage;
mod routes;
mod server;
mod session;
mod signing;
pub mod stats;
mod storage;
mod store;
mod tls;
mod wire;

pub use config::{SandboxBuilder, Storage};
pub use error::SandboxError;
pub use faults::{FaultPlan, Faults, OutageKind};
pub use handle::SandboxHandle;
pub use stats::{FaultsFired, Stats};

/// A fresh random API key (128 bits, hex), for a sandbox that only its embedding process
/// talks to, as `tlup` and the app do when there is no real key.
pub fn random_api_key() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    format!("sandbox-{}", hex::encode(bytes))
}

/// Entry point: `Sandbox::builder()...start()`.
#[derive(Debug, Clone, Copy)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with the defaults described on [`SandboxBuilder`].
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_keys_are_random_and_hex() {
        let (a, b) = (super::random_api_key(), super::random_api_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), "sandbox-".len() + 32);
        assert!(a["sandbox-".len()..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
