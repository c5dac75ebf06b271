use tl_upload::{ChunkState, UploadError, UploadPhase, UploadSource, Uploader};

use crate::support::*;

async fn round_trip(len: u64) -> tl_upload::UploadResult {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), &format!("clip-{len}.mp4"), len);
    let result = c.upload_file(&path, options()).await.unwrap();
    assert_eq!(result.total_bytes, len);
    assert_eq!(result.total_chunks, len.div_ceil(CHUNK));
    assert_eq!(result.chunks_uploaded, result.total_chunks);
    assert_eq!(result.bytes_uploaded, len);
    assert!(
        result.asset_url.is_some(),
        "the final report carries the asset URL"
    );
    assert_eq!(asset_sha256(&c, &result.asset_id).await, sha256(&path));
    result
}

#[tokio::test]
async fn one_byte() {
    round_trip(1).await;
}

#[tokio::test]
async fn exactly_one_chunk() {
    round_trip(CHUNK).await;
}

#[tokio::test]
async fn exact_multiple_of_the_chunk_size() {
    round_trip(5 * CHUNK).await;
}

#[tokio::test]
async fn odd_remainder() {
    round_trip(3 * CHUNK + 12_345).await;
}

#[tokio::test]
async fn several_hundred_chunks() {
    let r = round_trip(300 * CHUNK + 7).await;
    assert_eq!(r.total_chunks, 301);
}

#[tokio::test]
async fn empty_file_is_a_clear_error_and_creates_no_session() {
    let sb = sandbox().start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "empty.mp4", 0);
    let err = client(&sb).upload_file(&path, options()).await.unwrap_err();
    assert!(matches!(err, UploadError::EmptyFile { .. }), "{err:?}");
    assert!(err.to_string().contains("is empty"));
    assert_eq!(sb.stats().sessions_created, 0);
}

#[tokio::test]
async fn progress_is_monotonic_and_ends_complete() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "p.mp4", 40 * CHUNK + 5);
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path), options());
    let (result, seen) = finish(handle).await;
    result.unwrap();
    assert!(seen.len() >= 3, "snapshots: {}", seen.len());
    for pair in seen.windows(2) {
        assert!(
            pair[1].percentage >= pair[0].percentage,
            "progress went backwards"
        );
        assert!(pair[1].completed_chunks >= pair[0].completed_chunks);
    }
    let last = seen.last().unwrap();
    assert_eq!(last.status, UploadPhase::Completed);
    assert_eq!(last.percentage, 100.0);
    assert_eq!(last.completed_chunks, 41);
    assert!(last.chunks.iter().all(|c| *c == ChunkState::Done));
    assert!(seen.iter().any(|p| p.status == UploadPhase::Uploading));
    assert!(seen.iter().any(|p| p.status == UploadPhase::Confirming));
}

#[tokio::test]
async fn waits_for_the_asset_when_asked() {
    let sb = sandbox()
        .processing_delay(std::time::Duration::from_millis(300))
        .start()
        .unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "ready.mp4", 3 * CHUNK);
    let opts = tl_upload::UploadOptions {
        wait_for_ready: true,
        ..options()
    };
    let r = c.upload_file(&path, opts).await.unwrap();
    let asset = r.asset.expect("asset when wait_for_ready");
    assert_eq!(asset.status, tl_upload::wire::AssetStatus::Ready);
    assert_eq!(asset.id, r.asset_id);
    assert_eq!(asset.extra["sha256"], sha256(&path));
}
