use std::sync::Arc;
use std::time::{Duration, Instant};

use tl_upload::wire::{ChunkStatus, CreateAssetUploadRequest, FileType, MultipartUploadStatus};
use tl_upload::{UploadError, UploadOptions, UploadSource, Uploader, WaitOptions};

use crate::support::*;

#[tokio::test]
async fn resume_after_cancel_sends_only_the_missing_chunks() {
    let sb = sandbox().bandwidth(Some(300_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "resume.mp4", 40 * CHUNK + 77);
    let opts = UploadOptions {
        max_workers: 2,
        ..options()
    };
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), opts);
    let mut progress = handle.progress();
    progress_until(&mut progress, "10 chunks acknowledged", |p| {
        p.bytes_acknowledged >= 10 * CHUNK
    })
    .await;
    handle.cancel();
    let err = handle.result().await.unwrap_err();
    let UploadError::Cancelled {
        upload_id: Some(upload_id),
    } = err
    else {
        panic!("expected a cancellation with a session, got {err:?}");
    };
    assert!(err_text_mentions_resumable(&upload_id));

    let before = c.get_status(&upload_id, 50).collect().await.unwrap();
    assert_eq!(before.status, MultipartUploadStatus::Active);
    let done: Vec<u64> = before
        .uploaded_chunks
        .iter()
        .filter(|c| c.status == ChunkStatus::Completed)
        .map(|c| c.index)
        .collect();
    assert!(
        done.len() >= 10,
        "chunks stored before the cancel were reported: {}",
        done.len()
    );
    assert!(done.len() < 41);

    sb.set_bandwidth(None);
    quiesce(&sb).await;
    sb.reset_stats();
    let r = c.resume_upload(&upload_id, &path, options()).await.unwrap();
    assert_eq!(r.upload_id, upload_id);
    assert_eq!(
        r.chunks_uploaded,
        41 - done.len() as u64,
        "only the missing chunks"
    );
    let done_bytes: u64 = done.iter().map(|i| if *i == 41 { 77 } else { CHUNK }).sum();
    assert_eq!(r.bytes_uploaded, r.total_bytes - done_bytes);
    assert_eq!(
        sb.stats().bytes_received,
        r.bytes_uploaded,
        "the sandbox saw nothing more"
    );
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

fn err_text_mentions_resumable(upload_id: &str) -> bool {
    UploadError::Cancelled {
        upload_id: Some(upload_id.to_owned()),
    }
    .to_string()
    .contains("stays resumable")
}

async fn incomplete_session(c: &tl_upload::MultipartUploadClient, size: u64) -> String {
    let req = CreateAssetUploadRequest {
        filename: "half.mp4".into(),
        file_type: FileType::Video,
        total_size: size,
        enable_hls: None,
        enable_thumbnail: None,
        user_metadata: None,
    };
    c.create(&req).await.unwrap().upload_id
}

#[tokio::test]
async fn resume_refuses_a_file_that_does_not_fit_the_session() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let id = incomplete_session(&c, 5 * CHUNK).await;
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "other.mp4", 5 * CHUNK + 1);
    let err = c.resume_upload(&id, &path, options()).await.unwrap_err();
    assert!(
        matches!(err, UploadError::SessionMismatch { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("bytes"));
    let err = c
        .resume_upload("000000000000000000000000", &path, options())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UploadError::SessionNotFound { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn resume_of_a_session_nothing_was_sent_to_uploads_everything() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let id = incomplete_session(&c, 6 * CHUNK + 3).await;
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "fresh.mp4", 6 * CHUNK + 3);
    let r = c.resume_upload(&id, &path, options()).await.unwrap();
    assert_eq!(r.chunks_uploaded, 7);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn wait_returns_for_a_completed_session_and_calls_back() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "w.mp4", 3 * CHUNK);
    let r = c.upload_file(&path, options()).await.unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = calls.clone();
    let opts = WaitOptions {
        sleep_interval: Duration::from_millis(50),
        max_wait_time: Some(Duration::from_secs(5)),
        callback: Some(Arc::new(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })),
    };
    let status = c
        .wait_for_upload_completion(&r.upload_id, opts)
        .await
        .unwrap();
    assert_eq!(status.status, MultipartUploadStatus::Completed);
    assert_eq!((status.completed_chunks, status.total_chunks), (3, 3));
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test]
async fn wait_respects_max_wait_time_on_an_incomplete_session() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let id = incomplete_session(&c, 4 * CHUNK).await;
    let started = Instant::now();
    let opts = WaitOptions {
        sleep_interval: Duration::from_millis(100),
        max_wait_time: Some(Duration::from_millis(600)),
        callback: None,
    };
    let err = c.wait_for_upload_completion(&id, opts).await.unwrap_err();
    assert!(matches!(err, UploadError::Timeout { .. }), "{err:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(600) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn wait_respects_max_wait_time_while_the_server_fails() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let id = incomplete_session(&c, 4 * CHUNK).await;
    sb.faults().fail_api(100_000, 500, None);
    let started = Instant::now();
    let opts = WaitOptions {
        sleep_interval: Duration::from_millis(100),
        max_wait_time: Some(Duration::from_millis(800)),
        callback: None,
    };
    let err = c.wait_for_upload_completion(&id, opts).await.unwrap_err();
    assert!(matches!(err, UploadError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().contains("500"),
        "the last error is named: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn wait_reports_unknown_and_expired_sessions_at_once() {
    let sb = sandbox()
        .session_ttl(Duration::from_secs(1))
        .start()
        .unwrap();
    let c = client(&sb);
    let opts = WaitOptions {
        sleep_interval: Duration::from_millis(100),
        max_wait_time: Some(Duration::from_secs(10)),
        callback: None,
    };
    let err = c
        .wait_for_upload_completion("ffffffffffffffffffffffff", opts.clone())
        .await;
    assert!(
        matches!(err, Err(UploadError::SessionNotFound { .. })),
        "{err:?}"
    );
    let id = incomplete_session(&c, 2 * CHUNK).await;
    let started = Instant::now();
    let err = c.wait_for_upload_completion(&id, opts).await.unwrap_err();
    assert!(matches!(err, UploadError::SessionExpired { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "noticed when it expired, not at the timeout"
    );
}
