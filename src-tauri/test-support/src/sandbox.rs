//! Test sandboxes, and their assets once the sandbox has processed them.

use std::io::{Error, Result};
use std::time::Duration;

use serde_json::Value;
use tl_sandbox::{Sandbox, SandboxBuilder};

use crate::http::get_json;
use crate::wait::poll;

/// How often the asset helpers ask the sandbox.
const EVERY: Duration = Duration::from_millis(20);

/// A sandbox builder for tests: on `127.0.0.1:0` (the builder's default, so parallel tests
/// never collide), requiring `key`, cutting files into `chunk_size`-byte chunks, and making
/// assets ready as soon as their bytes are checked (no processing delay). Callers add their
/// own settings and `start()` it.
pub fn sandbox(key: &str, chunk_size: u64) -> SandboxBuilder {
    Sandbox::builder()
        .api_key(key)
        .chunk_size(chunk_size)
        .processing_delay(Duration::ZERO)
}

/// Polls `GET {base_url}/assets/{asset_id}` until the asset has left `processing` (it is
/// `ready` or `failed`) and returns its JSON. Answers other than 200 count as "not yet".
///
/// # Errors
///
/// When `limit` passes first; the last failed request is the error's source.
pub async fn settled_asset(
    base_url: &str,
    key: &str,
    asset_id: &str,
    limit: Duration,
) -> Result<Value> {
    settle(base_url, asset_id, limit, |url| get_json(url, key)).await
}

/// Polls the asset's URL with `get` until the asset has left `processing`.
async fn settle(
    base_url: &str,
    asset_id: &str,
    limit: Duration,
    get: impl Fn(&str) -> Result<(u16, Value)>,
) -> Result<Value> {
    let url = format!("{}/assets/{asset_id}", base_url.trim_end_matches('/'));
    let (url, get) = (url.as_str(), &get);
    let what = format!("asset {asset_id} to leave processing");
    let settled = poll(&what, limit, EVERY, move || async move {
        let (status, body) = get(url)?;
        if status != 200 {
            return Err(Error::other(format!("GET {url}: {status} {body}")));
        }
        Ok((body["status"] != "processing").then_some(body))
    });
    Ok(settled.await?)
}

/// As [`settled_asset`] for a sandbox serving HTTPS: connects to `addr` and trusts only the
/// certificates in `ca_pem` (see [`throwaway_ca`](crate::throwaway_ca)).
///
/// # Errors
///
/// As [`settled_asset`].
pub async fn settled_asset_over_tls(
    base_url: &str,
    addr: std::net::SocketAddr,
    key: &str,
    asset_id: &str,
    ca_pem: &str,
    limit: Duration,
) -> Result<Value> {
    let tls = std::sync::Arc::new(crate::tls_client_config(ca_pem));
    settle(base_url, asset_id, limit, |url| {
        crate::http::get_json_over_tls(url, addr, key, tls.clone())
    })
    .await
}

/// The SHA-256 the sandbox computed over an asset's assembled bytes, once it is `ready`
/// ([`settled_asset`]).
///
/// # Errors
///
/// When the asset does not settle within `limit`, fails, or has no `sha256`.
pub async fn ready_asset_sha256(
    base_url: &str,
    key: &str,
    asset_id: &str,
    limit: Duration,
) -> Result<String> {
    let asset = settled_asset(base_url, key, asset_id, limit).await?;
    match (asset["status"].as_str(), asset["sha256"].as_str()) {
        (Some("ready"), Some(sha)) => Ok(sha.to_owned()),
        _ => Err(Error::other(format!(
            "asset {asset_id} is not ready with a sha256: {asset}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn an_unknown_asset_times_out_with_the_servers_answer() {
        let server = sandbox("asset-key", 1 << 20).start().unwrap();
        assert_eq!(server.api_key(), "asset-key");
        assert!(server.addr().ip().is_loopback(), "{server:?}");
        let error = ready_asset_sha256(
            &server.base_url(),
            "asset-key",
            "0123456789abcdef01234567",
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TimedOut, "{error}");
        assert!(
            error.to_string().contains("0123456789abcdef01234567"),
            "{error}"
        );
        let cause = error.source().map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains(": 404 "), "{cause}");
    }
}
