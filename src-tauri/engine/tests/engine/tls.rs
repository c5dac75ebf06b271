//! HTTPS: the engine verifies the server with the system's trust store plus any roots the
//! caller adds (the same platform verifier either way), and a certificate it cannot trust
//! stops the upload at once, before anything is sent, with an error that says so.

use std::time::Duration;

use tl_upload::retry::Backoff;
use tl_upload::{ApiError, MultipartUploadClient, UploadError, UploadSource, Uploader};

use crate::support::*;

fn https_client(sb: &tl_sandbox::SandboxHandle, ca: Option<&str>) -> MultipartUploadClient {
    let mut builder = MultipartUploadClient::builder()
        .api_key(sb.api_key())
        .base_url(sb.base_url())
        .backoff(Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
        });
    if let Some(ca) = ca {
        builder = builder.trust_pem(ca.as_bytes()).unwrap();
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn an_upload_over_https_trusts_an_added_root() {
    let (ca, cert, key) = tl_test_support::throwaway_ca();
    let sb = sandbox().tls(cert, key).start().unwrap();
    assert!(sb.base_url().starts_with("https://localhost:"));
    let c = https_client(&sb, Some(&ca));
    assert_eq!(c.extra_roots(), 1);
    assert_eq!(
        c.proxy(),
        None,
        "a server on this computer is reached directly"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "tls.mp4", 5 * CHUNK + 3);
    let r = Uploader::new(None)
        .start(&c, UploadSource::NewFile(path.clone()), options())
        .result()
        .await
        .unwrap();
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
    assert_eq!(sb.stats().tls_handshakes_failed, 0);
}

#[tokio::test]
async fn a_certificate_nobody_trusts_fails_at_once_and_is_not_retried() {
    let (_, cert, key) = tl_test_support::throwaway_ca();
    let sb = sandbox().tls(cert, key).start().unwrap();
    // Another CA's root: the verifier runs with an added root, and still refuses this one.
    let (other_ca, _, _) = tl_test_support::throwaway_ca();
    for ca in [None, Some(other_ca.as_str())] {
        sb.reset_stats();
        let c = https_client(&sb, ca);
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), "tls.mp4", CHUNK);
        let e = Uploader::new(None)
            .start(&c, UploadSource::NewFile(path), options())
            .result()
            .await
            .unwrap_err();
        let UploadError::Api(ApiError::Untrusted { problem, .. }) = &e else {
            panic!("not an untrusted certificate: {e:?}");
        };
        assert!(problem.contains("does not trust"), "{problem}");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("Nothing was sent"), "{e}");
        // The server counts the failed handshake when it sees the connection close, a
        // moment after the client gave up; the upload has ended, so no more can come.
        let sb = &sb;
        tl_test_support::eventually(
            "the refused handshake to be counted",
            Duration::from_secs(10),
            move || async move { (sb.stats().tls_handshakes_failed > 0).then_some(()) },
        )
        .await;
        assert_eq!(sb.stats().tls_handshakes_failed, 1, "one try, no retries");
        assert_eq!(sb.stats().api_requests, 0);
    }
}

#[test]
fn a_bundle_without_certificates_is_refused_with_a_reason() {
    let e = MultipartUploadClient::builder()
        .trust_pem(b"not a certificate")
        .unwrap_err();
    assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
}
