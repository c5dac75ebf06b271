//! Settings: the builder a test or the CLI fills in, and the validated `Config` the server
//! runs with.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::PathBuf,
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use crate::{
    error::SandboxError,
    faults::{FaultPlan, OutageKind, OutageSpec},
};

/// The API key a builder uses unless told otherwise.
pub const DEFAULT_API_KEY: &str = "sandbox-key";
/// The chunk size of the documented examples (5 MiB).
pub const DEFAULT_CHUNK_SIZE: u64 = 5 * 1024 * 1024;
/// The documented multipart limit (4 GiB).
pub const DEFAULT_MAX_TOTAL_SIZE: u64 = 4 * 1024 * 1024 * 1024;
/// The protocol's maximum number of chunks in one session (S3's part limit).
pub const MAX_CHUNKS: u64 = 10_000;

/// Where chunk bytes go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Storage {
    /// Keep the bytes in memory until the asset is deleted. Simple and fast; uses RAM.
    #[default]
    Memory,
    /// Write each chunk to `DIR/<upload_id>/<chunk_index>.part` (direct uploads to
    /// `DIR/<asset_id>/1.part`). Paths derive only from generated ids.
    Disk(PathBuf),
    /// Keep only each chunk's length and MD5: for benchmarks with files larger than RAM.
    /// Assets then have no `sha256`.
    Discard,
}

impl FromStr for Storage {
    type Err = String;

    /// Parses `memory`, `discard` or `disk:DIR`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "memory" => Ok(Self::Memory),
            "discard" => Ok(Self::Discard),
            _ => match text.strip_prefix("disk:") {
                Some("") => Err("`disk:` needs a directory, as in `disk:/tmp/chunks`".into()),
                Some(dir) => Ok(Self::Disk(PathBuf::from(dir))),
                None => Err(format!(
                    "`{text}` is not a storage: use memory, discard or disk:DIR"
                )),
            },
        }
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Discard => f.write_str("discard"),
            Self::Disk(dir) => write!(f, "disk:{}", dir.display()),
        }
    }
}

/// The API key, kept out of `Debug` output so a logged builder never leaks it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey(pub(crate) String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Configures and starts a sandbox. Get one with [`crate::Sandbox::builder`].
///
/// Every setting has a default that matches the real service (5 MiB chunks, 1 h URLs, 24 h
/// sessions, 4 GiB limit), except the listen address, which is `127.0.0.1:0` so parallel
/// tests never collide.
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    pub(crate) api_key: ApiKey,
    pub(crate) listen: SocketAddr,
    pub(crate) allow_non_loopback: bool,
    pub(crate) chunk_size: u64,
    pub(crate) initial_urls: u32,
    pub(crate) url_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) max_total_size: u64,
    pub(crate) processing_delay: Duration,
    pub(crate) storage: Storage,
    pub(crate) bandwidth: Option<u64>,
    pub(crate) link_rate: Option<u64>,
    pub(crate) latency: Duration,
    pub(crate) faults: FaultPlan,
    pub(crate) complete_delay: Duration,
    pub(crate) early_answer: bool,
    pub(crate) outage: Option<OutageSpec>,
    pub(crate) log_requests: bool,
    pub(crate) tls: Option<TlsPem>,
    pub(crate) public_host: Option<String>,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            api_key: ApiKey(DEFAULT_API_KEY.to_owned()),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_non_loopback: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            initial_urls: 10,
            url_ttl: Duration::from_secs(3600),
            session_ttl: Duration::from_secs(86_400),
            max_total_size: DEFAULT_MAX_TOTAL_SIZE,
            processing_delay: Duration::from_secs(2),
            storage: Storage::Memory,
            bandwidth: None,
            link_rate: None,
            latency: Duration::ZERO,
            faults: FaultPlan::default(),
            complete_delay: Duration::ZERO,
            early_answer: false,
            outage: None,
            log_requests: false,
            tls: None,
            public_host: None,
        }
    }
}

impl SandboxBuilder {
    /// The key every `/v1.3` call must send as `x-api-key` (default `sandbox-key`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = ApiKey(key.into());
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Allows a non-loopback listen address. Off by default: the sandbox has no real
    /// security and would accept uploads from the whole network.
    pub fn allow_non_loopback(mut self, yes: bool) -> Self {
        self.allow_non_loopback = yes;
        self
    }

    /// The smallest chunk size a session gets (default 5 MiB). A session's chunk size is
    /// raised above this when needed to stay within 10,000 chunks.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// How many presigned URLs `create` returns (default 10). Small values make clients
    /// exercise the presigned-urls endpoint.
    pub fn initial_urls(mut self, n: u32) -> Self {
        self.initial_urls = n;
        self
    }

    /// Lifetime of each presigned URL (default 1 h).
    pub fn url_ttl(mut self, d: Duration) -> Self {
        self.url_ttl = d;
        self
    }

    /// Lifetime of an upload session (default 24 h); after it the session is `expired`.
    pub fn session_ttl(mut self, d: Duration) -> Self {
        self.session_ttl = d;
        self
    }

    /// The largest `total_size` a session may declare (default 4 GiB).
    pub fn max_total_size(mut self, bytes: u64) -> Self {
        self.max_total_size = bytes;
        self
    }

    /// How long a completed asset stays `processing` before it is `ready` (default 2 s).
    pub fn processing_delay(mut self, d: Duration) -> Self {
        self.processing_delay = d;
        self
    }

    /// Where chunk bytes are kept (default [`Storage::Memory`]).
    pub fn storage(mut self, s: Storage) -> Self {
        self.storage = s;
        self
    }

    /// Per-connection read limit on request bodies, in bytes per second (`None` or `Some(0)`:
    /// unlimited): what one TCP connection gets through its window over the path's round
    /// trip. While any limit is on, new connections also get a small receive window (see
    /// [`link_rate`](Self::link_rate)). Adjustable later with
    /// [`crate::SandboxHandle::set_bandwidth`].
    pub fn bandwidth(mut self, bytes_per_sec: Option<u64>) -> Self {
        self.bandwidth = bytes_per_sec;
        self
    }

    /// Total read capacity shared by all connections' request bodies, in bytes per second
    /// (`None` or `Some(0)`: unlimited): the uplink of a home or office, or the bottleneck
    /// of a long path. Competing connections get equal shares; a [`bandwidth`](Self::bandwidth)
    /// limit still caps each one. Adjustable later with
    /// [`crate::SandboxHandle::set_link_rate`].
    ///
    /// While either limit is on, connections accepted get a receive buffer of about 20 ms of
    /// the smaller rate (at least 32 KiB) and, on Linux, an Ethernet-sized MSS, so that a
    /// client cannot have much more written than the server has read. No packet loss, no
    /// per-round-trip delay of the body, no queueing delay and no slow start are modelled.
    pub fn link_rate(mut self, bytes_per_sec: Option<u64>) -> Self {
        self.link_rate = bytes_per_sec;
        self
    }

    /// Delay added to every request before its body is read and it is answered (default
    /// none): once per request, not per round trip of the body.
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// Faults pending from the start. Adjustable later with [`crate::SandboxHandle::faults`].
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// How long a session stays `active` after its last chunk is reported, before it is
    /// `completed` and its asset exists (default none: at once). Meanwhile everything agrees:
    /// every chunk is listed completed, the status and the incomplete-sessions listing say
    /// `active`, and `GET /assets/{id}` is a 404; the completing report already carries the
    /// asset's `url`. Adjustable later with [`crate::SandboxHandle::set_complete_delay`]; a
    /// session keeps the delay it had when its last chunk was reported.
    pub fn complete_delay(mut self, d: Duration) -> Self {
        self.complete_delay = d;
        self
    }

    /// Answers a chunk PUT that will be refused (expired URL, bad signature, unknown or
    /// finished session, an injected `fail_puts` status) before its body is read, then
    /// closes the connection with the body unread, as S3 does (default off: the sandbox
    /// reads the rest of the body and throws it away, so the client always sees the answer).
    /// The kernel then resets the connection, so a client still sending a large body
    /// usually sees a broken pipe or a reset instead of the status. Adjustable later with
    /// [`crate::SandboxHandle::set_early_answer`].
    pub fn early_answer(mut self, yes: bool) -> Self {
        self.early_answer = yes;
        self
    }

    /// An outage of `kind` that begins `after` the server starts and lasts `duration` (see
    /// [`OutageKind`]; `/v1.3/sandbox/*` calls are spared, except that a `refuse` lets no new
    /// connection in). One planned outage at most; later ones come from
    /// [`crate::SandboxHandle::start_outage`].
    pub fn outage(mut self, kind: OutageKind, duration: Duration, after: Duration) -> Self {
        self.outage = Some(OutageSpec {
            kind,
            duration,
            after,
        });
        self
    }

    /// Logs one line per request to stderr (method, path without query, status, time).
    /// Off by default so parallel tests stay quiet.
    pub fn log_requests(mut self, yes: bool) -> Self {
        self.log_requests = yes;
        self
    }

    /// Serves HTTPS instead of HTTP, with `cert_chain_pem` (PEM: the leaf certificate first,
    /// then any intermediates) and its private key `key_pem` (PEM: PKCS#8, PKCS#1 or SEC1).
    /// Default: plain HTTP.
    ///
    /// The handle's URLs and every presigned URL are then `https://`, on the host
    /// `localhost` when the listen address is a loopback (or unspecified) address, since
    /// that is the name certificates for a local server carry; [`public_host`](Self::public_host)
    /// names another. Only TLS 1.2 and 1.3 and ALPN `http/1.1` are offered. The PEM is parsed
    /// by [`start`](Self::start), which fails with [`SandboxError::Tls`] if it holds no
    /// certificate or key, or a key that does not match the certificate.
    pub fn tls(mut self, cert_chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some(TlsPem {
            cert_chain: cert_chain_pem.into(),
            key: key_pem.into(),
            cert_origin: "the TLS certificate chain".to_owned(),
            key_origin: "the TLS private key".to_owned(),
        });
        self
    }

    /// As [`tls`](Self::tls), with the PEM read from the files `--tls-cert` and `--tls-key`
    /// named, so that an error about either names its file.
    pub(crate) fn tls_files(
        mut self,
        cert_chain_pem: Vec<u8>,
        cert_path: &std::path::Path,
        key_pem: Vec<u8>,
        key_path: &std::path::Path,
    ) -> Self {
        self.tls = Some(TlsPem {
            cert_chain: cert_chain_pem,
            key: key_pem,
            cert_origin: format!("--tls-cert `{}`", cert_path.display()),
            key_origin: format!("--tls-key `{}`", key_path.display()),
        });
        self
    }

    /// The host name (or IP address) in the URLs the sandbox hands out: the handle's
    /// [`url`](crate::SandboxHandle::url), presigned chunk URLs, asset URLs. Default: the
    /// listen address (`127.0.0.1` for a wildcard one), or `localhost` with
    /// [`tls`](Self::tls) on a loopback address. The port is always the one listened on. It
    /// changes only what URLs say, not where the server listens: the name must reach it.
    pub fn public_host(mut self, host: impl Into<String>) -> Self {
        self.public_host = Some(host.into());
        self
    }

    /// Checks every setting; the server only ever sees a valid [`Config`].
    pub(crate) fn validate(self) -> Result<Config, SandboxError> {
        if !self.listen.ip().is_loopback() && !self.allow_non_loopback {
            return Err(SandboxError::NonLoopback { addr: self.listen });
        }
        let invalid = |name, reason: &str| SandboxError::InvalidSetting {
            name,
            reason: reason.to_owned(),
        };
        if self.api_key.0.is_empty() {
            return Err(invalid("api_key", "the API key must not be empty"));
        }
        if self.chunk_size == 0 {
            return Err(invalid("chunk_size", "must be at least 1 byte"));
        }
        if self.max_total_size == 0 {
            return Err(invalid("max_total_size", "must be at least 1 byte"));
        }
        const HUNDRED_YEARS: Duration = Duration::from_secs(100 * 366 * 86_400);
        for (name, d) in [
            ("url_ttl", self.url_ttl),
            ("session_ttl", self.session_ttl),
            ("processing_delay", self.processing_delay),
            ("latency", self.latency),
            ("complete_delay", self.complete_delay),
            (
                "outage",
                self.outage
                    .map_or(Duration::ZERO, |o| o.duration.max(o.after)),
            ),
        ] {
            if d > HUNDRED_YEARS {
                return Err(invalid(name, "must be at most 100 years"));
            }
        }
        let public_host = self
            .public_host
            .map(|host| url_host(&host).ok_or_else(|| invalid("public_host", PUBLIC_HOST_RULE)))
            .transpose()?;
        let tls = self
            .tls
            .as_ref()
            .map(crate::tls::server_config)
            .transpose()?;
        Ok(Config {
            api_key: self.api_key,
            listen: self.listen,
            chunk_size: self.chunk_size,
            initial_urls: self.initial_urls,
            url_ttl: self.url_ttl,
            session_ttl: self.session_ttl,
            max_total_size: self.max_total_size,
            processing_delay: self.processing_delay,
            storage: self.storage,
            bandwidth: self.bandwidth.unwrap_or(0),
            link_rate: self.link_rate.unwrap_or(0),
            latency: self.latency,
            faults: self.faults,
            complete_delay: self.complete_delay,
            early_answer: self.early_answer,
            outage: self.outage,
            log_requests: self.log_requests,
            tls,
            public_host,
        })
    }
}

/// What [`SandboxBuilder::public_host`] accepts.
const PUBLIC_HOST_RULE: &str =
    "must be a host name (letters, digits, `-`, `.`, `_`) or an IP address, without a port";

/// `host` as it goes into a URL (an IPv6 address in brackets), `None` if it is not a host
/// name or an IP address.
fn url_host(host: &str) -> Option<String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(v6) = bare.parse::<std::net::Ipv6Addr>() {
        return Some(format!("[{v6}]"));
    }
    let name_like = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    name_like.then(|| host.to_owned())
}

/// PEM bytes of a certificate chain and its private key, and what to call each in errors.
/// Its `Debug` output leaves the key out.
#[derive(Clone)]
pub(crate) struct TlsPem {
    pub(crate) cert_chain: Vec<u8>,
    pub(crate) key: Vec<u8>,
    pub(crate) cert_origin: String,
    pub(crate) key_origin: String,
}

impl fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPem")
            .field(
                "cert_chain",
                &format_args!("<{} bytes>", self.cert_chain.len()),
            )
            .field("key", &"<redacted>")
            .field("cert_origin", &self.cert_origin)
            .field("key_origin", &self.key_origin)
            .finish()
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) api_key: ApiKey,
    pub(crate) listen: SocketAddr,
    pub(crate) chunk_size: u64,
    pub(crate) initial_urls: u32,
    pub(crate) url_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) max_total_size: u64,
    pub(crate) processing_delay: Duration,
    pub(crate) storage: Storage,
    /// Bytes per second per connection; 0 means unlimited.
    pub(crate) bandwidth: u64,
    /// Bytes per second shared by all connections; 0 means unlimited.
    pub(crate) link_rate: u64,
    pub(crate) latency: Duration,
    pub(crate) faults: FaultPlan,
    pub(crate) complete_delay: Duration,
    pub(crate) early_answer: bool,
    pub(crate) outage: Option<OutageSpec>,
    pub(crate) log_requests: bool,
    /// HTTPS when set.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// The host of public URLs, ready for a URL (IPv6 in brackets), when one was given.
    pub(crate) public_host: Option<String>,
}

impl Config {
    /// The origin that the handle's URLs and presigned URLs name, for a server bound to
    /// `local`: `http://HOST:PORT`, or `https://` with TLS (see
    /// [`SandboxBuilder::public_host`] for the host).
    pub(crate) fn public_url(&self, local: SocketAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let port = local.port();
        if let Some(host) = &self.public_host {
            return format!("{scheme}://{host}:{port}");
        }
        let ip = local.ip();
        if self.tls.is_some() && (ip.is_loopback() || ip.is_unspecified()) {
            // What a certificate for a local server names.
            return format!("{scheme}://localhost:{port}");
        }
        // A wildcard bind is reachable on loopback; URLs must name an address clients use.
        let host = match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("{scheme}://{}", SocketAddr::new(host, port))
    }

    /// The chunk size of a session of `total_size` bytes: the configured size, raised so the
    /// session never has more than [`MAX_CHUNKS`] chunks.
    pub(crate) fn session_chunk_size(&self, total_size: u64) -> u64 {
        self.chunk_size.max(total_size.div_ceil(MAX_CHUNKS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_parses_and_prints() {
        for text in ["memory", "discard", "disk:/tmp/x"] {
            assert_eq!(
                text.parse::<Storage>().map(|s| s.to_string()),
                Ok(text.into())
            );
        }
        assert!("disk:".parse::<Storage>().is_err());
        assert!("s3".parse::<Storage>().is_err());
    }

    #[test]
    fn chunk_size_grows_to_stay_within_ten_thousand_chunks() {
        let config = SandboxBuilder::default()
            .chunk_size(100)
            .validate()
            .unwrap();
        assert_eq!(config.session_chunk_size(1_000), 100);
        assert_eq!(config.session_chunk_size(1_000_000), 100);
        assert_eq!(config.session_chunk_size(1_000_001), 101);
        assert!(1_000_001u64.div_ceil(101) <= MAX_CHUNKS);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let builder = SandboxBuilder::default()
            .api_key("hunter2")
            .tls("cert", "-----BEGIN PRIVATE KEY-----\nsecret");
        let debug = format!("{builder:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("secret"),
            "{debug}"
        );
    }

    #[test]
    fn public_hosts_are_names_or_addresses() {
        assert_eq!(url_host("localhost").as_deref(), Some("localhost"));
        assert_eq!(
            url_host("sandbox.example_1-a").as_deref(),
            Some("sandbox.example_1-a")
        );
        assert_eq!(url_host("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(url_host("::1").as_deref(), Some("[::1]"));
        assert_eq!(url_host("[::1]").as_deref(), Some("[::1]"));
        for bad in ["", "host:80", "a/b", "a b", "[nonsense]", "user@host"] {
            assert_eq!(url_host(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn public_urls_follow_tls_and_the_public_host() {
        let at = |ip: [u8; 4]| SocketAddr::from((ip, 4443));
        let plain = SandboxBuilder::default().validate().unwrap();
        assert_eq!(
            plain.public_url(at([127, 0, 0, 1])),
            "http://127.0.0.1:4443"
        );
        assert_eq!(plain.public_url(at([0, 0, 0, 0])), "http://127.0.0.1:4443");
        let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 4443));
        assert_eq!(plain.public_url(v6), "http://[::1]:4443");

        let mut tls = plain.clone();
        tls.tls = Some(Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new())),
        ));
        assert_eq!(tls.public_url(at([127, 0, 0, 1])), "https://localhost:4443");
        assert_eq!(tls.public_url(at([0, 0, 0, 0])), "https://localhost:4443");
        assert_eq!(
            tls.public_url(at([192, 168, 1, 2])),
            "https://192.168.1.2:4443"
        );
        tls.public_host = Some("sandbox.test".to_owned());
        assert_eq!(
            tls.public_url(at([127, 0, 0, 1])),
            "https://sandbox.test:4443"
        );
    }

    #[test]
    fn non_loopback_needs_consent() {
        let any = SocketAddr::from(([0, 0, 0, 0], 0));
        let refused = SandboxBuilder::default().listen(any).validate();
        assert!(matches!(refused, Err(SandboxError::NonLoopback { .. })));
        assert!(
            SandboxBuilder::default()
                .listen(any)
                .allow_non_loopback(true)
                .validate()
                .is_ok()
        );
    }
}
