use std::time::Duration;

use tl_upload::{ChunkState, UploadOptions, UploadPhase, UploadSource, Uploader};

use crate::support::*;

#[tokio::test]
async fn never_more_than_max_workers_in_flight() {
    // A throttled link keeps PUTs in flight long enough to overlap fully.
    let sb = sandbox().bandwidth(Some(400_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "window.mp4", 24 * CHUNK);
    let opts = UploadOptions {
        max_workers: 3,
        ..options()
    };
    let r = c.upload_file(&path, opts).await.unwrap();
    assert_eq!(
        sb.stats().puts_in_flight_peak,
        3,
        "the window is full and never exceeded"
    );
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn one_stalled_chunk_does_not_stop_the_others() {
    let sb = sandbox().start().unwrap();
    sb.faults().stall_puts(1, Duration::from_secs(2));
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "stall.mp4", 30 * CHUNK);
    let opts = UploadOptions {
        max_workers: 4,
        stall_timeout: Duration::from_secs(20),
        ..options()
    };
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path), opts);
    let (r, seen) = finish(handle).await;
    let r = r.unwrap();
    assert_eq!(r.retries, 0, "the stalled chunk finished on its own");
    let overtaken = seen.into_iter().any(|p| {
        p.status == UploadPhase::Uploading
            && p.chunks.iter().filter(|c| c.is_stored()).count() == 29
            && p.chunks
                .iter()
                .any(|c| matches!(c, ChunkState::Uploading { .. }))
    });
    assert!(
        overtaken,
        "29 chunks were stored while the stalled one was still in flight"
    );
}
