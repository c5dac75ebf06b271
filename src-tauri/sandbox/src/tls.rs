//! HTTPS (`--tls-cert`, `--tls-key`, [`crate::SandboxBuilder::tls`]): a TLS layer on top of
//! the shaped TCP stream.
//!
//! Each connection is a rustls server session over a [`SandboxStream`], so everything the
//! sandbox does to connections keeps acting at the TCP level, under TLS:
//!
//! - the link emulator (`--bandwidth`, `--link-rate`, the small window and MSS) paces the
//!   **TCP bytes**, that is the ciphertext: TLS records (21 to 29 bytes of framing and tag
//!   per record of up to 16 KiB of request) and the handshake count against the rate. The
//!   stats (`bytes_received` and the rest) count **plaintext** request-body bytes, as over
//!   HTTP;
//! - a kill makes the TLS layer fail at once, without a `close_notify`; a reset (an outage's,
//!   a dropped PUT's) closes the TCP socket with an RST; a freeze (`blackhole`) leaves the
//!   TLS layer waiting on a silent socket;
//! - a `refuse` outage closes the port as over HTTP, and resets connections still in their
//!   handshake with the others.
//!
//! The handshake runs off the accept loop: each accepted connection gets a task that has
//! [`HANDSHAKE_TIMEOUT`] to finish it, and the listener hands the finished ones to the server
//! as they come, so a slow or stuck client delays no other. A handshake that fails (a client
//! that does not trust the certificate, a client speaking plain HTTP, a timeout) closes its
//! connection and is counted in [`crate::Stats::tls_handshakes_failed`] (and logged with
//! `--log-requests`); the listener carries on. At most [`MAX_HANDSHAKES`] handshakes are under
//! way at once; further connections wait in the kernel's backlog meanwhile.
//!
//! The server offers TLS 1.2 and 1.3 (rustls's safe defaults, with the ring provider, never
//! a process-wide default provider) and ALPN `http/1.1` only; it asks for no client
//! certificate. With TLS off none of this exists: connections are served as plain
//! [`SandboxStream`]s, with no wrapper in between.

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::connect_info::Connected,
    serve::{IncomingStream, Listener},
};
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use tokio::task::JoinSet;
use tokio_rustls::{TlsAcceptor, server::TlsStream};

use crate::{
    config::TlsPem,
    conn::{ConnInfo, SandboxListener, SandboxStream},
    error::SandboxError,
    stats::Counters,
};

/// How long a client has to finish its TLS handshake after its connection is accepted.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most TLS handshakes under way at once.
pub(crate) const MAX_HANDSHAKES: usize = 1024;

/// The rustls server settings for a certificate chain and its key (see the module docs).
///
/// # Errors
///
/// [`SandboxError::Tls`], naming the PEM at fault (its file, from the command line), when
/// the chain holds no certificate, the key PEM no key, either is not valid PEM, the key is
/// of a kind ring cannot use, or the key does not belong to the first certificate.
pub(crate) fn server_config(pem: &TlsPem) -> Result<Arc<ServerConfig>, SandboxError> {
    let cert_error = |reason: String| SandboxError::Tls {
        what: pem.cert_origin.clone(),
        reason,
    };
    let key_error = |reason: String| SandboxError::Tls {
        what: pem.key_origin.clone(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&pem.cert_chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("it is not valid PEM ({e})")))?;
    if chain.is_empty() {
        return Err(cert_error(
            "it holds no certificate (no `-----BEGIN CERTIFICATE-----` section)".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem.key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => key_error(
            "it holds no private key (no `-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or \
             `EC PRIVATE KEY` section)"
                .to_owned(),
        ),
        e => key_error(format!("it is not valid PEM ({e})")),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SandboxError::Tls {
            what: "the TLS protocol versions".to_owned(),
            reason: e.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => SandboxError::Tls {
                what: format!("{} with {}", pem.key_origin, pem.cert_origin),
                reason: "the private key does not belong to the certificate (the first one of \
                         the chain)"
                    .to_owned(),
            },
            rustls::Error::InvalidCertificate(e) => {
                cert_error(format!("its first certificate cannot be used ({e})"))
            }
            e => key_error(format!("the key cannot be used ({e})")),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What a handshake task ends with: the connection, or why there is none.
type Handshake = Result<(TlsStream<SandboxStream>, SocketAddr), (SocketAddr, String)>;

/// A [`SandboxListener`] whose connections come out with their TLS handshake done.
pub(crate) struct TlsListener {
    inner: SandboxListener,
    acceptor: TlsAcceptor,
    /// The handshakes under way; dropping the listener (at shutdown) aborts them.
    handshakes: JoinSet<Handshake>,
    stats: Arc<Counters>,
    log: bool,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("inner", &self.inner)
            .field("handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Serves TLS with `config` on `inner`'s connections; failed handshakes are counted in
    /// `stats`, and logged to stderr when `log`.
    pub(crate) fn new(
        inner: SandboxListener,
        config: Arc<ServerConfig>,
        stats: Arc<Counters>,
        log: bool,
    ) -> Self {
        Self {
            inner,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
            stats,
            log,
        }
    }

    fn failed(&self, addr: SocketAddr, reason: &str) {
        Counters::add(&self.stats.tls_handshakes_failed, 1);
        if self.log {
            eprintln!("tl-sandbox: TLS handshake with {addr} failed: {reason}");
        }
    }
}

/// The handshake of one connection, within [`HANDSHAKE_TIMEOUT`].
async fn handshake(acceptor: TlsAcceptor, stream: SandboxStream, addr: SocketAddr) -> Handshake {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Ok((tls, addr)),
        Ok(Err(e)) => Err((addr, e.to_string())),
        Err(_) => Err((
            addr,
            format!("not finished within {} s", HANDSHAKE_TIMEOUT.as_secs()),
        )),
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<SandboxStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            // Both branches are cancel-safe: a connection accepted is in the set before the
            // next await, and `join_next` loses nothing when dropped.
            tokio::select! {
                biased;
                Some(done) = self.handshakes.join_next() => match done {
                    Ok(Ok(connection)) => return connection,
                    Ok(Err((addr, reason))) => self.failed(addr, &reason),
                    // Aborted (only at shutdown) or panicked: the connection is gone.
                    Err(_) => {}
                },
                (stream, addr) = self.inner.accept(), if self.handshakes.len() < MAX_HANDSHAKES => {
                    self.handshakes.spawn(handshake(self.acceptor.clone(), stream, addr));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Self {
            control: stream.io().get_ref().0.control().clone(),
        }
    }
}
