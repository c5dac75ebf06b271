//! Certificates for HTTPS tests, and the TLS side of their clients.
//!
//! ```no_run
//! let (ca_pem, cert_pem, key_pem) = tl_test_support::throwaway_ca();
//! let sandbox = tl_test_support::sandbox("key", 1 << 20).tls(cert_pem, key_pem).start()?;
//! assert!(sandbox.base_url().starts_with("https://localhost:"));
//! // A client that trusts the throwaway CA, and nothing else:
//! let config = tl_test_support::tls_client_config(&ca_pem);
//! // reqwest::Client::builder().tls_backend_preconfigured(config).build()?
//! # Ok::<(), tl_sandbox::SandboxError>(())
//! ```
//!
//! Everything uses rustls's ring provider given explicitly, never a process-wide default,
//! except [`install_ring_provider`], which is there for clients that insist on one.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, pem::PemObject as _};

/// A fresh certificate authority and a server certificate it signed, as PEM:
/// `(ca_pem, leaf_cert_pem, leaf_key_pem)`.
///
/// The leaf is for `localhost`, `127.0.0.1` and `::1` (so it fits the `https://localhost:PORT`
/// URLs of a sandbox with [`tls`](tl_sandbox::SandboxBuilder::tls), and a client that dials
/// the address), with the `serverAuth` extended key usage; `leaf_key_pem` is its PKCS#8
/// ECDSA P-256 key. Give `leaf_cert_pem` and `leaf_key_pem` to the server
/// (`SandboxBuilder::tls`, or files for `--tls-cert` and `--tls-key`), and `ca_pem` to the
/// client as its only trusted root ([`tls_client_config`], or the client's own setting for
/// extra roots). Each call makes a new CA, so a client given another call's `ca_pem` does
/// not trust this leaf: that is how a test makes an untrusting client.
///
/// The CA's key is thrown away: nothing else can ever be signed by it.
///
/// # Panics
///
/// If key generation or signing fails (it does not with the ring provider).
pub fn throwaway_ca() -> (String, String, String) {
    throwaway_ca_for(&["localhost", "127.0.0.1", "::1"])
}

/// As [`throwaway_ca`], with a leaf for `names` (host names or IP addresses; the first is
/// its common name): for a sandbox whose [`public_host`](tl_sandbox::SandboxBuilder::public_host)
/// is another name.
///
/// # Panics
///
/// If `names` is empty, or key generation or signing fails.
pub fn throwaway_ca_for(names: &[&str]) -> (String, String, String) {
    assert!(!names.is_empty(), "a leaf needs at least one name");
    let ca_key = KeyPair::generate().expect("a CA key is generated");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    // A name of its own: a client looks for its issuer by name, and should find none in
    // another call's CA rather than a CA whose signature does not match.
    let tag = hex::encode(&ca_key.public_key_raw()[1..9]);
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("TL Uploader throwaway test CA {tag}"),
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca
        .self_signed(&ca_key)
        .expect("the CA certificate is signed");
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().expect("a leaf key is generated");
    let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut leaf = CertificateParams::new(owned).expect("leaf parameters");
    leaf.distinguished_name.push(DnType::CommonName, names[0]);
    leaf.is_ca = IsCa::NoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("the leaf certificate is signed");
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

/// rustls client settings that trust the certificates in `ca_pem` and nothing else (not the
/// system's roots), with the ring provider and ALPN `http/1.1`. For reqwest 0.13:
/// `reqwest::Client::builder().tls_backend_preconfigured(tls_client_config(&ca_pem))`.
///
/// # Panics
///
/// If `ca_pem` holds no certificate, or one rustls cannot use as a root.
pub fn tls_client_config(ca_pem: &str) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.expect("the CA PEM parses");
        roots
            .add(cert)
            .expect("the CA certificate is a usable root");
    }
    assert!(!roots.is_empty(), "the CA PEM holds no certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Installs rustls's ring provider as the process-wide default, if none is installed yet;
/// calling it again (from any thread, any test) does nothing. reqwest 0.13, as the workspace
/// builds it (`rustls-no-provider`), panics when a client is built without one; call this
/// before `reqwest::Client::new()` or `builder().build()` in a test that has no provider of
/// its own.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use rustls::pki_types::ServerName;

    use super::*;

    /// `GET /v1.3/assets/multipart-uploads` over TLS to `addr`, as `localhost`; the
    /// response text, or the I/O error (a failed handshake among them).
    fn get_over_tls(
        config: rustls::ClientConfig,
        addr: std::net::SocketAddr,
    ) -> std::io::Result<String> {
        let name = ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = rustls::StreamOwned::new(connection, TcpStream::connect(addr)?);
        write!(
            tls,
            "GET /v1.3/assets/multipart-uploads HTTP/1.1\r\nHost: localhost\r\n\
             x-api-key: tls-key\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer)?;
        Ok(answer)
    }

    #[test]
    fn the_leaf_serves_https_to_clients_that_trust_its_ca_only() {
        let (ca_pem, cert_pem, key_pem) = throwaway_ca();
        assert!(
            ca_pem.starts_with("-----BEGIN CERTIFICATE-----"),
            "{ca_pem}"
        );
        assert!(key_pem.contains("PRIVATE KEY-----"));
        let server = crate::sandbox("tls-key", 1 << 20)
            .tls(cert_pem, key_pem)
            .start()
            .unwrap();
        assert!(server.url().starts_with("https://localhost:"), "{server:?}");

        let answer = get_over_tls(tls_client_config(&ca_pem), server.addr()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

        let (other_ca, _, _) = throwaway_ca();
        let refused = get_over_tls(tls_client_config(&other_ca), server.addr()).unwrap_err();
        assert!(
            refused.to_string().contains("UnknownIssuer"),
            "another CA's client does not trust the leaf: {refused}"
        );
        crate::wait_until(
            "the failed handshake to be counted",
            std::time::Duration::from_secs(10),
            || server.stats().tls_handshakes_failed == 1,
        );
    }
}
