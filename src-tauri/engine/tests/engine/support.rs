//! Shared helpers: a sandbox with small chunks, a client with short backoffs, files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tl_sandbox::{Sandbox, SandboxBuilder, SandboxHandle};
use tl_upload::retry::Backoff;
use tl_upload::{MultipartUploadClient, UploadOptions, UploadProgress};

pub const KEY: &str = "engine-test-key";
pub const CHUNK: u64 = 64 * 1024;

/// A sandbox with 64 KiB chunks, 4 initial URLs and a short processing delay.
pub fn sandbox() -> SandboxBuilder {
    Sandbox::builder()
        .api_key(KEY)
        .chunk_size(CHUNK)
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

/// A file of `len` pseudo-random bytes (different for each name).
pub fn file(dir: &Path, name: &str, len: u64) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut state: u64 = name.bytes().fold(0x9E37_79B9_7F4A_7C15, |s, b| {
        s.rotate_left(5) ^ u64::from(b)
    });
    let mut left = len;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        let n = left.min(8) as usize;
        f.write_all(&bytes[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
    path
}

pub fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The sandbox's sha256 of the assembled asset, read once the asset is ready (the sandbox
/// hashes the bytes while the asset is `processing`).
pub async fn asset_sha256(client: &MultipartUploadClient, asset_id: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let asset = client.retrieve_asset(asset_id).await.unwrap();
        if asset.status == tl_upload::wire::AssetStatus::Ready {
            return asset.extra["sha256"]
                .as_str()
                .expect("a ready asset has sha256")
                .to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "asset {asset_id} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the sandbox has no PUT in flight, so counters read afterwards are not
/// disturbed by bodies of abandoned attempts still draining from socket buffers.
pub async fn quiesce(sandbox: &SandboxHandle) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sandbox.stats().puts_in_flight > 0 {
        assert!(std::time::Instant::now() < deadline, "PUTs never drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Collects every progress snapshot an upload publishes.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<UploadProgress>>>);

impl Recorder {
    pub fn callback(&self) -> tl_upload::ProgressCallback {
        let seen = self.0.clone();
        Arc::new(move |p: &UploadProgress| seen.lock().unwrap().push(p.clone()))
    }

    pub fn all(&self) -> Vec<UploadProgress> {
        self.0.lock().unwrap().clone()
    }
}
