use std::time::{Duration, Instant};

use tl_upload::{UploadError, UploadOptions};

use crate::support::*;

/// Uploads a 12-chunk file through `sb` and checks the bytes arrived intact.
async fn heals(sb: &tl_sandbox::SandboxHandle, opts: UploadOptions) -> tl_upload::UploadResult {
    let c = client(sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "fault.mp4", 11 * CHUNK + 999);
    let r = c.upload_file(&path, opts).await.unwrap();
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
    r
}

#[tokio::test]
async fn chunk_puts_answered_500_are_retried() {
    let sb = sandbox().start().unwrap();
    sb.faults().fail_puts(3, 500);
    let r = heals(&sb, options()).await;
    assert!(r.retries >= 3, "retries: {}", r.retries);
    assert_eq!(
        r.bytes_uploaded, r.total_bytes,
        "failed attempts are not counted as uploaded"
    );
}

#[tokio::test]
async fn connections_dropped_mid_body_are_retried() {
    let sb = sandbox().start().unwrap();
    sb.faults().drop_puts_after(2, 10_000);
    let r = heals(&sb, options()).await;
    assert!(r.retries >= 2, "retries: {}", r.retries);
}

#[tokio::test]
async fn a_stalled_put_is_abandoned_after_the_stall_timeout_and_retried() {
    let sb = sandbox().start().unwrap();
    sb.faults().stall_puts(1, Duration::from_secs(8));
    let started = Instant::now();
    // One chunk in flight at a time: chunks are still waiting, so no copy races the stalled
    // one and only the watchdog can end it.
    let opts = UploadOptions {
        stall_timeout: Duration::from_millis(700),
        max_workers: 1,
        ..options()
    };
    let r = heals(&sb, opts).await;
    assert!(r.retries >= 1);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the watchdog, not the stall, ended it"
    );
}

#[tokio::test]
async fn a_missing_etag_is_retried() {
    let sb = sandbox().start().unwrap();
    sb.faults().omit_etag(2);
    let r = heals(&sb, options()).await;
    assert!(r.retries >= 2);
}

#[tokio::test]
async fn urls_that_expire_mid_upload_are_replaced() {
    // 2 s URLs on a link slow enough that the upload takes several seconds: URLs minted
    // ahead go stale and must be replaced, before use or after a 403.
    let sb = sandbox()
        .url_ttl(Duration::from_secs(2))
        .bandwidth(Some(150_000))
        .start()
        .unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "slow.mp4", 40 * CHUNK);
    let started = Instant::now();
    // Five chunks at a time, so the URLs minted ahead wait long enough to go stale.
    let opts = UploadOptions {
        max_workers: 5,
        ..options()
    };
    let r = c.upload_file(&path, opts).await.unwrap();
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the link was throttled"
    );
    assert!(r.urls_refreshed > 0, "urls_refreshed: {}", r.urls_refreshed);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn api_5xx_is_retried() {
    let sb = sandbox().start().unwrap();
    sb.faults().fail_api(2, 503, None);
    heals(&sb, options()).await;
}

#[tokio::test]
async fn api_429_waits_for_retry_after() {
    let sb = sandbox().start().unwrap();
    sb.faults().fail_api(1, 429, Some(Duration::from_secs(1)));
    let started = Instant::now();
    heals(&sb, options()).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn one_url_from_create_means_the_rest_are_minted() {
    let sb = sandbox().initial_urls(1).start().unwrap();
    let r = heals(&sb, options()).await;
    assert_eq!(r.total_chunks, 12);
    assert!(sb.stats().urls_issued >= 12);
}

#[tokio::test]
async fn a_permanently_failing_storage_ends_in_a_chunk_error() {
    let sb = sandbox().start().unwrap();
    sb.faults().fail_puts(10_000, 500);
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "doomed.mp4", 3 * CHUNK);
    let opts = UploadOptions {
        max_retries: 2,
        ..options()
    };
    let err = c.upload_file(&path, opts).await.unwrap_err();
    match &err {
        UploadError::Chunk {
            index, attempts, ..
        } => {
            assert!((1..=3).contains(index));
            assert_eq!(*attempts, 3);
        }
        other => panic!("expected a chunk error, got {other:?}"),
    }
    assert!(err.is_retryable(), "a 500 could heal later");
    assert_eq!(err.request(), Some("upload_chunk"));
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("X-Tl-Signature") && !text.contains(KEY),
        "{text}"
    );
}

#[tokio::test]
async fn a_4xx_from_storage_is_not_retried() {
    let sb = sandbox().start().unwrap();
    sb.faults().fail_puts(10_000, 400);
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "bad.mp4", CHUNK);
    let err = c.upload_file(&path, options()).await.unwrap_err();
    assert!(
        matches!(err, UploadError::Chunk { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_wrong_key_is_named_without_leaking_it() {
    let sb = sandbox().start().unwrap();
    let c = tl_upload::MultipartUploadClient::builder()
        .api_key("wrong-secret-key")
        .base_url(sb.base_url())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "k.mp4", 10);
    let err = c.upload_file(&path, options()).await.unwrap_err();
    assert!(matches!(err, UploadError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("API key was rejected"));
    assert!(!format!("{err} {err:?}").contains("wrong-secret-key"));
}

#[tokio::test]
async fn a_file_over_the_server_limit_is_named() {
    let sb = sandbox().max_total_size(1000).start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "big.mp4", 1001);
    let err = client(&sb).upload_file(&path, options()).await.unwrap_err();
    assert!(
        matches!(err, UploadError::FileTooLarge { size: 1001, .. }),
        "{err:?}"
    );
}
