//! The real world: a platform slow to confirm, networks that vanish, storage that hangs up
//! early, bytes that arrive damaged. Each is a knob of the sandbox; each must end in a
//! completed upload with the right bytes, or in a clear, resumable error.

use std::time::{Duration, Instant};

use tl_sandbox::OutageKind;
use tl_upload::{UploadError, UploadOptions, UploadPhase, UploadSource, Uploader};

use crate::support::*;

/// Options for outage tests: no chunk retries allowed (so surviving an outage proves it
/// spent none), a short stall limit (so a blackhole is noticed in a second), and probes at
/// most a second apart.
fn patient() -> UploadOptions {
    UploadOptions {
        max_retries: 0,
        stall_timeout: Duration::from_secs(1),
        probe_interval: Duration::from_secs(1),
        max_workers: 4,
        ..options()
    }
}

// Patient confirmation ----------------------------------------------------------------------

/// The session turns `completed` only `delay` after its last report; the upload waits for
/// it in the `Confirming` phase and succeeds.
async fn confirms_after(delay: Duration) {
    let sb = sandbox().complete_delay(delay).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "slow-confirm.mp4", 4 * CHUNK);
    let started = Instant::now();
    let (r, seen) =
        finish(Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), options())).await;
    let r = r.unwrap_or_else(|e| panic!("a {delay:?} completion delay failed the upload: {e}"));
    assert!(
        started.elapsed() >= delay,
        "the upload ended before the session could be complete"
    );
    if !delay.is_zero() {
        assert!(
            seen.iter().any(|p| p.status == UploadPhase::Confirming),
            "the wait is shown as confirming"
        );
    }
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instant_completion_is_confirmed() {
    confirms_after(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_five_seconds_late_is_waited_for() {
    confirms_after(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_thirty_seconds_late_is_waited_for() {
    confirms_after(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_never_confirms_gets_a_resumable_error_naming_its_status() {
    let sb = sandbox()
        .complete_delay(Duration::from_secs(3600))
        .start()
        .unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "never.mp4", 3 * CHUNK);
    let opts = UploadOptions {
        confirm_timeout: Duration::from_secs(2),
        ..options()
    };
    let err = c.upload_file(&path, opts).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            UploadError::NotConfirmed {
                completed: 3,
                total: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        message.contains("`active`") && message.contains("resume"),
        "the error says what the server reported and what to do: {message}"
    );
    assert!(err.is_retryable() && err.upload_id().is_some());
}

// Waiting for the network -------------------------------------------------------------------

/// A file of 16 chunks through a sandbox throttled to a few seconds' upload; once some
/// chunks are stored, the network goes away (`kind`) for `outage`. The upload waits, shows
/// it, goes on by itself, and completes with the right bytes, no retry spent.
async fn survives(kind: OutageKind, outage: Duration) {
    let sb = sandbox().bandwidth(Some(120_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "outage.mp4", 16 * CHUNK);
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), patient());
    let mut progress = handle.progress();
    let before = progress_until(&mut progress, "four chunks stored", |p| {
        p.bytes_acknowledged >= 4 * CHUNK
    })
    .await;
    let in_flight = u64::from(before.chunks_in_flight.max(4));
    sb.start_outage(kind, outage);
    let offline = progress_until(&mut progress, "the upload to wait for the network", |p| {
        p.status == UploadPhase::WaitingForNetwork
    })
    .await;
    assert!(
        offline.offline_since_ms.is_some(),
        "the wait says since when: {offline:?}"
    );
    let (r, _) = tokio::join!(handle.result(), record(progress));
    let r = r.unwrap_or_else(|e| panic!("{kind:?} outage of {outage:?} failed the upload: {e}"));
    assert!(r.outages >= 1, "{r:?}");
    assert_eq!(r.retries, 0, "time offline spends no retries: {r:?}");
    assert!(
        r.chunks_resent_after_outage <= in_flight * r.outages,
        "only chunks in flight when the network went are sent again: {r:?}"
    );
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_for_a_while_are_waited_out() {
    survives(OutageKind::Refuse, Duration::from_secs(6)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_network_for_a_while_is_waited_out() {
    survives(OutageKind::Blackhole, Duration::from_secs(6)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset_mid_body_for_a_while_are_waited_out() {
    survives(OutageKind::Reset, Duration::from_secs(6)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_limit_ends_the_wait_and_the_session_stays_resumable() {
    let sb = sandbox().bandwidth(Some(120_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "limit.mp4", 12 * CHUNK);
    let opts = UploadOptions {
        offline_limit: Some(Duration::from_secs(2)),
        ..patient()
    };
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), opts);
    let mut progress = handle.progress();
    // Reported, so the server's record (all a journal-less resume has) lists them.
    progress_until(&mut progress, "two chunks reported", |p| {
        p.completed_chunks >= 2
    })
    .await;
    sb.start_outage(OutageKind::Refuse, Duration::from_secs(30));
    let err = handle.result().await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, UploadError::NetworkLost { .. }), "{err:?}");
    assert!(
        message.contains("no network") && message.contains("resum"),
        "{message}"
    );
    let upload_id = err
        .upload_id()
        .expect("the error names the session")
        .to_owned();
    sb.end_outage();
    let r = c.resume_upload(&upload_id, &path, options()).await.unwrap();
    assert_eq!(r.upload_id, upload_id);
    assert!(
        r.chunks_uploaded < 12,
        "the resume sent only what was missing: {r:?}"
    );
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

// Storage that hangs up early ---------------------------------------------------------------

/// 5 MiB chunks whose URLs often expire on the way: two seconds of latency per request
/// against a two-second URL life, two chunks at a time. The storage answers an expired PUT
/// before reading its body and closes the connection, so the sender mostly sees a broken
/// pipe. With no retries allowed the upload still succeeds: a transport failure after the
/// URL's expiry is an expiry, cured by a fresh URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_to_expired_urls_on_large_bodies_cost_no_retries() {
    const BIG: u64 = 5 * 1024 * 1024;
    let sb = tl_test_support::sandbox(KEY, BIG)
        .url_ttl(Duration::from_secs(2))
        .latency(Duration::from_secs(2))
        .early_answer(true)
        .start()
        .unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "early.mp4", 10 * BIG);
    let opts = UploadOptions {
        max_retries: 0,
        max_workers: 2,
        stall_timeout: Duration::from_secs(20),
        ..options()
    };
    let r = c
        .upload_file(&path, opts)
        .await
        .unwrap_or_else(|e| panic!("early answers failed the upload: {e}"));
    let fired = sb.stats().faults_fired.early_answer;
    assert!(fired >= 1, "no PUT met an expired URL: {:?}", sb.stats());
    assert!(r.urls_refreshed >= fired, "{r:?}");
    assert_eq!(r.retries, 0, "an expired URL is no failed attempt: {r:?}");
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

// Integrity ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_stored_damaged_are_detected_and_sent_again() {
    let sb = sandbox().start().unwrap();
    sb.faults().corrupt_puts(3);
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "damaged.mp4", 10 * CHUNK + 17);
    let (r, seen) =
        finish(Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), options())).await;
    let r = r.unwrap();
    assert_eq!(sb.stats().faults_fired.corrupt_puts, 3);
    assert_eq!(r.damaged_chunks, 3, "{r:?}");
    assert!(seen.iter().any(|p| p.damaged_chunks > 0));
    assert_eq!(
        asset_sha256(&c, &r.asset_id).await,
        sha256(&path),
        "no damaged chunk was reported"
    );
}
