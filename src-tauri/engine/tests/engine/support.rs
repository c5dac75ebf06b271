//! Shared helpers: a sandbox with small chunks, a client with short backoffs, files.

use std::time::Duration;

use tl_sandbox::{SandboxBuilder, SandboxHandle};
use tl_test_support::eventually;
use tl_upload::retry::Backoff;
use tl_upload::{
    MultipartUploadClient, ProgressReceiver, UploadError, UploadHandle, UploadOptions,
    UploadProgress, UploadResult,
};

/// A file of `len` pseudo-random bytes at `dir/name`, different for each name.
pub use tl_test_support::named_random_file as file;
/// The SHA-256 of a file, in hex.
pub use tl_test_support::sha256_file as sha256;

pub const KEY: &str = "engine-test-key";
pub const CHUNK: u64 = 64 * 1024;

/// A sandbox with 64 KiB chunks, 4 initial URLs and a short processing delay.
pub fn sandbox() -> SandboxBuilder {
    tl_test_support::sandbox(KEY, CHUNK)
        .initial_urls(4)
        .processing_delay(Duration::from_millis(50))
}

/// A client of `sandbox` whose API retries wait milliseconds, not seconds.
pub fn client(sandbox: &SandboxHandle) -> MultipartUploadClient {
    MultipartUploadClient::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .backoff(Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
        })
        .build()
        .unwrap()
}

/// Upload options with short waits, for tests.
pub fn options() -> UploadOptions {
    UploadOptions {
        retry_delay: Duration::from_millis(10),
        stall_timeout: Duration::from_secs(5),
        report_interval: Duration::from_millis(50),
        progress_interval: Duration::from_millis(20),
        ..UploadOptions::default()
    }
}

/// The sandbox's sha256 of the assembled asset, read once the asset is ready (the sandbox
/// hashes the bytes while the asset is `processing`).
pub async fn asset_sha256(client: &MultipartUploadClient, asset_id: &str) -> String {
    let what = format!("asset {asset_id} to become ready");
    eventually(&what, Duration::from_secs(20), move || async move {
        let asset = client.retrieve_asset(asset_id).await.unwrap();
        (asset.status == tl_upload::wire::AssetStatus::Ready).then(|| {
            asset.extra["sha256"]
                .as_str()
                .expect("a ready asset has sha256")
                .to_owned()
        })
    })
    .await
}

/// Waits until the sandbox has no PUT in flight, so counters read afterwards are not
/// disturbed by bodies of abandoned attempts still draining from socket buffers.
pub async fn quiesce(sandbox: &SandboxHandle) {
    eventually(
        "PUTs to drain",
        Duration::from_secs(20),
        move || async move { (sandbox.stats().puts_in_flight == 0).then_some(()) },
    )
    .await;
}

/// Every snapshot `progress` yields, until the upload ends.
pub async fn record(mut progress: ProgressReceiver) -> Vec<UploadProgress> {
    let mut seen = Vec::new();
    while let Some(snapshot) = progress.next().await {
        seen.push(snapshot);
    }
    seen
}

/// Runs `handle` to its end, with every snapshot it published from now on.
pub async fn finish(
    handle: UploadHandle,
) -> (Result<UploadResult, UploadError>, Vec<UploadProgress>) {
    let progress = handle.progress();
    tokio::join!(handle.result(), record(progress))
}

/// Reads `progress` until a snapshot satisfies `wanted`, for at most 20 s, and returns
/// that snapshot.
///
/// # Panics
///
/// When the upload ends or the time passes first, naming `what`.
pub async fn progress_until(
    progress: &mut ProgressReceiver,
    what: &str,
    mut wanted: impl FnMut(&UploadProgress) -> bool,
) -> UploadProgress {
    let wait = async {
        while let Some(snapshot) = progress.next().await {
            if wanted(&snapshot) {
                return snapshot;
            }
        }
        panic!("the upload ended before {what}: {:?}", progress.latest());
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
