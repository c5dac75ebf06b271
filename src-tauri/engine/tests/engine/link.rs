//! The process's link: the bandwidth limit, slots shared across files, the automatic
//! parallelism, and racing a straggler at the end.

use std::time::{Duration, Instant};

use tl_upload::{Parallelism, UploadOptions, UploadPhase, UploadSource, Uploader};

use crate::support::*;

#[tokio::test]
async fn the_bandwidth_limit_holds_within_five_percent() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let len = 128 * CHUNK; // 8 MiB: about three seconds at the limit
    let path = file(dir.path(), "limited.mp4", len);
    let uploader = Uploader::new(None);
    let limit = 2_500_000;
    uploader.set_rate_limit(Some(limit));
    let started = Instant::now();
    let r = uploader
        .start(&c, UploadSource::NewFile(path.clone()), options())
        .result()
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let rate = len as f64 / seconds;
    let error = (rate - limit as f64) / limit as f64;
    assert!(
        error.abs() < 0.05,
        "{rate:.0} B/s against a limit of {limit} B/s ({:+.1} %)",
        error * 100.0
    );
    assert_eq!(sb.stats().bytes_received, len, "no attempt was repeated");
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn a_changed_limit_applies_to_the_running_upload() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let len = 96 * CHUNK; // 6 MiB
    let path = file(dir.path(), "changed.mp4", len);
    let uploader = Uploader::new(None);
    uploader.set_rate_limit(Some(1_000_000));
    let started = Instant::now();
    let handle = uploader.start(&c, UploadSource::NewFile(path), options());
    let mut progress = handle.progress();
    let at = progress_until(&mut progress, "a quarter sent", |p| p.bytes_sent >= len / 4).await;
    let slow_part = started.elapsed().as_secs_f64();
    uploader.set_rate_limit(Some(4_000_000));
    handle.result().await.unwrap();
    let fast_part = started.elapsed().as_secs_f64() - slow_part;
    let rest = (len - at.bytes_sent) as f64;
    // At 1 MB/s the rest would take over four seconds; at 4 MB/s about one.
    assert!(
        fast_part < rest / 4_000_000.0 * 1.3 + 0.2,
        "the rest took {fast_part:.2} s"
    );
    assert!(
        fast_part > rest / 4_000_000.0 * 0.8,
        "the rest took {fast_part:.2} s, faster than the new limit allows"
    );
}

#[tokio::test]
async fn files_share_the_slots_and_the_next_one_fills_what_the_first_leaves() {
    // A per-connection cap keeps chunk PUTs in flight long enough to overlap.
    let sb = sandbox().bandwidth(Some(300_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(None);
    uploader.set_parallelism(Parallelism::Fixed(6)).unwrap();
    // Six files of three chunks: no file alone can fill six slots.
    let paths: Vec<_> = (0..6)
        .map(|i| file(dir.path(), &format!("clip-{i}.mp4"), 3 * CHUNK))
        .collect();
    let handles: Vec<_> = paths
        .iter()
        .map(|p| uploader.start(&c, UploadSource::NewFile(p.clone()), options()))
        .collect();
    let mut watchers: Vec<_> = handles.iter().map(|h| h.progress()).collect();
    // The second file gets chunks in flight while the first still has some.
    let first = watchers.remove(0);
    let mut second = watchers.remove(0);
    let seen_second = progress_until(&mut second, "the second file uploading", |p| {
        p.chunks_in_flight > 0
    })
    .await;
    assert_eq!(seen_second.parallelism, 6);
    let first_now = first.latest();
    assert!(
        first_now.status != UploadPhase::Completed || first_now.completed_chunks < 3,
        "the second file started before the first was done: {first_now:?}"
    );
    let mut finished = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        let r = h.result().await.unwrap();
        assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&paths[i]));
        finished.push(r);
    }
    let stats = sb.stats();
    assert_eq!(
        stats.puts_in_flight_peak, 6,
        "the slots were full, never exceeded"
    );
    assert_eq!(stats.sessions_created, 6);
}

#[tokio::test]
async fn a_queued_upload_says_so_and_can_be_cancelled_before_its_turn() {
    let sb = sandbox().bandwidth(Some(200_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(None);
    uploader.set_parallelism(Parallelism::Fixed(2)).unwrap();
    let big = file(dir.path(), "big.mp4", 40 * CHUNK);
    let later = file(dir.path(), "later.mp4", 2 * CHUNK);
    let last = file(dir.path(), "last.mp4", 2 * CHUNK);
    let first = uploader.start(&c, UploadSource::NewFile(big), options());
    progress_until(&mut first.progress(), "the first file uploading", |p| {
        p.chunks_in_flight == 2
    })
    .await;
    let queued = uploader.start(&c, UploadSource::NewFile(later), options());
    let after = uploader.start(&c, UploadSource::NewFile(last.clone()), options());
    let mut progress = queued.progress();
    progress_until(&mut progress, "the queued phase", |p| {
        p.status == UploadPhase::Queued
    })
    .await;
    queued.cancel();
    assert!(queued.result().await.unwrap_err().is_cancelled());
    // The one behind it is not stuck behind a cancelled upload.
    first.cancel();
    let r = after.result().await.unwrap();
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&last));
    assert_eq!(
        sb.stats().sessions_created,
        2,
        "the cancelled one never made a session"
    );
}

#[tokio::test]
async fn automatic_parallelism_grows_while_goodput_grows() {
    // Every connection is capped and the link is not: more chunks in flight move more.
    let sb = sandbox().bandwidth(Some(150_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "grow.mp4", 160 * CHUNK);
    let uploader = Uploader::new(None);
    let handle = uploader.start(&c, UploadSource::NewFile(path.clone()), options());
    let mut progress = handle.progress();
    let grown = progress_until(&mut progress, "the level above its start", |p| {
        p.parallelism >= 16
    })
    .await;
    assert!(grown.chunks_in_flight > 8, "{grown:?}");
    let r = handle.result().await.unwrap();
    assert!(sb.stats().puts_in_flight_peak > 8);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn a_straggler_at_the_end_is_raced_by_a_copy_instead_of_waited_for() {
    let sb = sandbox().start().unwrap();
    // The first PUT hangs for 20 s; the watchdog would wait 30 s for it.
    sb.faults().stall_puts(1, Duration::from_secs(20));
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "tail.mp4", 12 * CHUNK);
    let opts = UploadOptions {
        stall_timeout: Duration::from_secs(30),
        ..options()
    };
    let started = Instant::now();
    let r = Uploader::new(None)
        .start(&c, UploadSource::NewFile(path.clone()), opts)
        .result()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a copy stored the stalled chunk: {:?}",
        started.elapsed()
    );
    assert_eq!(r.copies_raced, 1);
    assert_eq!(r.retries, 0, "a racing copy is not a retry");
    assert_eq!(r.chunks_uploaded, 12);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}
