//! The HTTP stack's view of the network: which proxy a URL goes through, and what a TLS
//! failure means for the user.
//!
//! Every client of the engine is one `reqwest` client with rustls (ring) and the platform
//! verifier: HTTPS trusts what the operating system trusts (the Keychain on macOS, the
//! Windows certificate store, the system bundle on Linux, which honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`), plus any roots the caller adds. Proxies come from `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (and their lower-case forms), then from the
//! macOS and Windows system settings — through the same matcher `reqwest` uses, so what
//! [`proxy_for`] reports is what the requests do.

use std::error::Error as StdError;
use std::fmt;
use std::sync::OnceLock;

use hyper_util::client::proxy::matcher::Matcher;

/// Installs ring as the process's rustls crypto provider unless one is installed already.
/// Every client the engine builds calls it; code that builds its own `reqwest` client in
/// the same process (tests, tools) calls it first.
pub fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: some provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether `url` names this computer (`localhost`, `127.0.0.0/8`, `::1`).
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The proxy requests to a URL go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInfo {
    /// The proxy as `scheme://host:port`, never with credentials.
    pub url: String,
    /// The host and port alone.
    pub host: String,
    /// Where the setting came from.
    pub source: ProxySource,
}

/// Where a proxy setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxySource {
    /// An environment variable, such as `HTTPS_PROXY`.
    Environment(&'static str),
    /// The operating system's proxy settings (macOS, Windows).
    System,
}

impl fmt::Display for ProxySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment(name) => write!(f, "from {name}"),
            Self::System => f.write_str("from the system's proxy settings"),
        }
    }
}

impl fmt::Display for ProxyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.url, self.source)
    }
}

/// The process's proxy rules, read once, as `reqwest` reads them when a client is built.
fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(Matcher::from_system)
}

/// The proxy requests to `url` go through, or `None` when they go direct (no proxy set,
/// `NO_PROXY` names the host, or the host is this computer, which the engine's clients
/// always reach directly). Credentials in the setting are never returned.
pub fn proxy_for(url: &str) -> Option<ProxyInfo> {
    if reqwest::Url::parse(url).is_ok_and(|u| is_loopback(&u)) {
        return None;
    }
    let uri: http::Uri = url.parse().ok()?;
    let intercept = matcher().intercept(&uri)?;
    let proxy = intercept.uri();
    let host = proxy.host()?;
    let scheme = proxy.scheme_str().unwrap_or("http");
    let port = proxy
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Some(ProxyInfo {
        url: format!("{scheme}://{host}"),
        host,
        source: source_of(uri.scheme_str().unwrap_or("https")),
    })
}

/// Which variable the matcher took the proxy of a `scheme` URL from, in its own order.
fn source_of(scheme: &str) -> ProxySource {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let cgi = std::env::var_os("REQUEST_METHOD").is_some();
    let own: &[&'static str] = match scheme {
        "https" => &["HTTPS_PROXY", "https_proxy"],
        // A CGI environment's HTTP_PROXY is a request header, which the matcher ignores.
        "http" if !cgi => &["HTTP_PROXY", "http_proxy"],
        _ => &[],
    };
    own.iter()
        .chain(&["ALL_PROXY", "all_proxy"])
        .find(|name| set(name))
        .map_or(ProxySource::System, |name| ProxySource::Environment(name))
}

/// What was wrong with a server's certificate, when `error` (or one of its causes) is a
/// certificate that could not be verified; `None` for every other failure.
pub(crate) fn certificate_problem(error: &(dyn StdError + 'static)) -> Option<String> {
    if let Some(problem) = rustls_problem(error) {
        return Some(problem);
    }
    // An io::Error hides its payload from `source()` (it returns the payload's source), and
    // the layers of a connector nest io::Errors: look inside each.
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && let Some(problem) = certificate_problem(inner)
    {
        return Some(problem);
    }
    certificate_problem(error.source()?)
}

fn rustls_problem(e: &(dyn StdError + 'static)) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = e.downcast_ref::<rustls::Error>()? else {
        return None;
    };
    Some(match cert {
        C::UnknownIssuer => "it was issued by an authority this computer does not trust".to_owned(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "it is not valid yet (is this computer's clock right?)".to_owned()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it was issued for another host name".to_owned()
        }
        C::Revoked => "it has been revoked".to_owned(),
        C::BadSignature => "its signature is invalid".to_owned(),
        other => format!("it could not be verified: {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_issuer_is_found_under_the_layers_that_wrap_it() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        // As a connector nests them: an io::Error whose payload is an io::Error.
        let io = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let problem = certificate_problem(&Outer(io)).expect("a certificate problem");
        assert!(problem.contains("does not trust"), "{problem}");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(certificate_problem(&Outer(refused)), None);
    }
}
