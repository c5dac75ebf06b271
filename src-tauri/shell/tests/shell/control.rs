//! Pause, resume and cancel on a throttled upload; pausing one upload lets the next take the
//! link and resuming it disturbs nothing; a cancelled upload shows up among the resumable
//! sessions and `resume_session` completes it with only the missing chunks.

use std::time::{Duration, Instant};

use serde_json::json;
use tl_uploader::ipc::{
    AddResult, CommandError, ErrorCode, ResumeState, SessionRow, UploadRow, UploadState,
};

use crate::support::{Harness, config, file, sha256, states};

const LIMIT: Duration = Duration::from_secs(60);

/// 64 chunks of 32 KiB at 250 KB/s per connection: about a second at eight chunks at once,
/// the automatic parallelism's start.
const THROTTLED: &str = "--chunk-size 32768 --bandwidth 250000 --processing-delay 0.2";

#[test]
fn pause_holds_the_chunks_and_resume_finishes_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), THROTTLED));
    let path = file(dir.path(), "long.mp4", 64 * 32768);
    let u = app.add(&path);
    app.wait_for(&u.id, LIMIT, |u| u.completed_chunks >= 3);
    let paused: UploadRow = app.call("pause_upload", json!({ "id": u.id }));
    assert_eq!(paused.state, UploadState::Paused);
    // The chunks in flight at the pause finish; then nothing moves.
    std::thread::sleep(Duration::from_millis(1200));
    let before = app.upload(&u.id);
    std::thread::sleep(Duration::from_millis(800));
    let after = app.upload(&u.id);
    assert_eq!(after.state, UploadState::Paused);
    assert_eq!(before.completed_chunks, after.completed_chunks);
    assert!(after.in_flight.is_empty(), "{:?}", after.in_flight);
    assert!(after.completed_chunks < 64);
    // Pausing twice is harmless.
    let again: UploadRow = app.call("pause_upload", json!({ "id": u.id }));
    assert_eq!(again.state, UploadState::Paused);

    let resumed: UploadRow = app.call("continue_upload", json!({ "id": u.id }));
    assert_eq!(resumed.state, UploadState::Uploading);
    let done = app.wait_state(&u.id, UploadState::Completed, LIMIT);
    assert_eq!(done.completed_chunks, 64);
    assert_eq!(app.asset_sha256(&done.asset_id.unwrap()), sha256(&path));
    // The UI heard of the pause at once and of the resume.
    let states: Vec<UploadState> = app.events_of(&u.id).iter().map(|e| e.view.state).collect();
    let paused_at = states
        .iter()
        .position(|s| *s == UploadState::Paused)
        .unwrap();
    assert!(states[paused_at..].contains(&UploadState::Uploading));
}

#[test]
fn pausing_one_upload_lets_the_next_take_the_link_and_resuming_it_goes_on_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), THROTTLED));
    let big = file(dir.path(), "big.mp4", 64 * 32768);
    let small = file(dir.path(), "small.mp4", 64 * 32768 - 1000);
    let results: Vec<AddResult> = app.call("add_uploads", json!({ "paths": [big, small] }));
    let [first, second] = [0, 1].map(|i| results[i].upload.clone().unwrap().id);
    // The first wants more chunks than the link has slots, so the second waits for it.
    app.wait_for(&first, LIMIT, |u| u.completed_chunks >= 3);
    let waiting = app.upload(&second);
    assert_eq!(
        (waiting.state, waiting.upload_id),
        (UploadState::Queued, None)
    );

    let paused: UploadRow = app.call("pause_upload", json!({ "id": first }));
    assert_eq!(paused.state, UploadState::Paused);
    // Paused, the first wants no slots: the second opens its session and takes the link.
    let settled = app.wait_for(&first, LIMIT, |u| u.in_flight.is_empty());
    let going = app.wait_for(&second, LIMIT, |u| u.completed_chunks >= 1);
    // The second's progress is the clock: while it sends four more chunks, the first holds.
    app.wait_for(&second, LIMIT, |u| {
        u.completed_chunks >= going.completed_chunks + 4
    });
    // (Stored chunks may still be reported meanwhile; bytes on the wire may not grow.)
    let held = app.upload(&first);
    assert_eq!(held.state, UploadState::Paused);
    assert_eq!(held.bytes_sent, settled.bytes_sent);
    assert!(held.completed_chunks >= 3 && held.completed_chunks < 64);

    // Resumed while the second sends, it goes on at once with its session: nothing waits
    // for the second to finish.
    let resumed_at = Instant::now();
    let resumed: UploadRow = app.call("continue_upload", json!({ "id": first }));
    assert_eq!(resumed.state, UploadState::Uploading);
    assert_eq!(resumed.upload_id, held.upload_id);
    let moving = app.wait_for(&first, LIMIT, |u| u.bytes_sent > held.bytes_sent);
    assert_ne!(moving.state, UploadState::Paused);

    let second_done = app.wait_state(&second, UploadState::Completed, LIMIT);
    let first_done = app.wait_state(&first, UploadState::Completed, LIMIT);
    assert_eq!(
        app.asset_sha256(&second_done.asset_id.unwrap()),
        sha256(&small)
    );
    assert_eq!(
        app.asset_sha256(&first_done.asset_id.unwrap()),
        sha256(&big)
    );
    assert_eq!(
        first_done.upload_id, held.upload_id,
        "one session throughout"
    );

    // From the events: once its chunks in flight were in, the paused first sent nothing
    // until it was resumed, and it was never shown as queued again.
    let events = app.events_of(&first);
    let settled_at = events
        .iter()
        .position(|e| e.view.state == UploadState::Paused && e.view.in_flight.is_empty())
        .unwrap();
    let sent = events[settled_at].view.bytes_sent;
    let still: Vec<_> = events[settled_at..]
        .iter()
        .filter(|e| e.at < resumed_at)
        .map(|e| &e.view)
        .collect();
    assert!(still.iter().all(|v| v.state == UploadState::Paused));
    assert!(
        still
            .iter()
            .all(|v| v.bytes_sent == sent && v.in_flight.is_empty())
    );
    let after_pause = states(&events[settled_at..]);
    assert!(
        !after_pause.contains(&UploadState::Queued),
        "{after_pause:?}"
    );
}

#[test]
fn a_cancelled_upload_is_resumable_and_resume_session_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), THROTTLED));
    let path = file(dir.path(), "cut short.mp4", 64 * 32768);
    let u = app.add(&path);
    app.wait_for(&u.id, LIMIT, |u| u.completed_chunks >= 5);
    let changed_before = *app.sessions_changed.lock().unwrap();
    app.call::<UploadRow>("cancel_upload", json!({ "id": u.id }));
    let cancelled = app.wait_state(&u.id, UploadState::Cancelled, LIMIT);
    let error = cancelled.error.clone().unwrap();
    assert_eq!(error.code, ErrorCode::Cancelled);
    assert!(
        error.message.contains("stays resumable"),
        "{}",
        error.message
    );
    assert!(cancelled.in_flight.is_empty());
    assert!(!cancelled.chunks.contains('u'), "{}", cancelled.chunks);
    assert!(*app.sessions_changed.lock().unwrap() > changed_before);
    let upload_id = cancelled.upload_id.clone().unwrap();

    let sessions: Vec<SessionRow> = app.call("list_resumable", json!({}));
    let s = sessions
        .iter()
        .find(|s| s.upload_id == upload_id)
        .unwrap_or_else(|| panic!("{upload_id} not in {sessions:?}"));
    assert_eq!(s.state, ResumeState::Resumable);
    assert!(s.in_journal && !s.active);
    assert_eq!(s.file_name.as_deref(), Some("cut short.mp4"));
    assert_eq!(s.file_path.as_deref(), Some(&*path.to_string_lossy()));
    assert_eq!((s.total_bytes, s.total_chunks), (64 * 32768, 64));
    assert!(
        s.chunks_done >= 5 && s.chunks_done < 64,
        "{}",
        s.chunks_done
    );

    let resumed: UploadRow = app.call(
        "resume_session",
        json!({ "uploadId": upload_id, "path": null }),
    );
    assert_ne!(resumed.id, u.id);
    assert_eq!(resumed.upload_id.as_deref(), Some(&*upload_id));
    assert_eq!(resumed.total_bytes, 64 * 32768);
    // While it is queued or running, it is active and cannot be resumed twice.
    let e: CommandError = app
        .invoke::<UploadRow>("resume_session", json!({ "uploadId": upload_id }))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    let done = app.wait_state(&resumed.id, UploadState::Completed, LIMIT);
    assert_eq!(done.upload_id.as_deref(), Some(&*upload_id));
    assert_eq!(app.asset_sha256(&done.asset_id.unwrap()), sha256(&path));
    let sessions: Vec<SessionRow> = app.call("list_resumable", json!({}));
    assert!(sessions.iter().all(|s| s.upload_id != upload_id));
}

#[test]
fn a_queued_upload_can_be_paused_cancelled_retried_and_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), THROTTLED));
    let first = app.add(&file(dir.path(), "first.mp4", 64 * 32768));
    let second = app.add(&file(dir.path(), "second.mp4", 40 * 32768));
    // The second waits behind the first; paused while queued, it waits paused.
    let p: UploadRow = app.call("pause_upload", json!({ "id": second.id }));
    assert_eq!(p.state, UploadState::Paused);
    app.call::<UploadRow>("cancel_upload", json!({ "id": second.id }));
    let c = app.wait_state(&second.id, UploadState::Cancelled, LIMIT);
    assert!(
        c.error
            .unwrap()
            .message
            .contains("before a session was created")
    );
    assert_eq!(c.upload_id, None);

    // Cancel the first mid-way, then forget its session.
    app.wait_for(&first.id, LIMIT, |u| u.completed_chunks >= 2);
    app.call::<UploadRow>("cancel_upload", json!({ "id": first.id }));
    let cancelled = app.wait_state(&first.id, UploadState::Cancelled, LIMIT);
    let upload_id = cancelled.upload_id.unwrap();
    let listed = |app: &Harness| -> bool {
        let sessions: Vec<SessionRow> = app.call("list_resumable", json!({}));
        sessions.iter().any(|s| s.upload_id == upload_id)
    };
    assert!(listed(&app));
    app.call::<()>("forget_session", json!({ "uploadId": upload_id }));
    assert!(!listed(&app));

    // A cancelled upload without a session starts over when resumed.
    let again: UploadRow = app.call("continue_upload", json!({ "id": second.id }));
    assert_eq!((again.state, again.error), (UploadState::Queued, None));
    let done = app.wait_state(&second.id, UploadState::Completed, LIMIT);
    assert_eq!(done.completed_chunks, 40);
    app.call::<()>("remove_upload", json!({ "id": first.id }));
    app.call::<()>("remove_upload", json!({ "id": second.id }));
    assert!(
        app.call::<Vec<UploadRow>>("list_uploads", json!({}))
            .is_empty()
    );
}

#[test]
fn a_session_unknown_to_the_app_needs_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), "--processing-delay 0"));
    let started = Instant::now();
    let e: CommandError = app
        .invoke::<UploadRow>("resume_session", json!({ "uploadId": "nope" }))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("choose its file"), "{}", e.message);
    let path = file(dir.path(), "x.mp4", 100);
    let u: UploadRow = app.call(
        "resume_session",
        json!({ "uploadId": "nope", "path": path }),
    );
    let failed = app.wait_state(&u.id, UploadState::Failed, LIMIT);
    let error = failed.error.unwrap();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert!(error.message.contains("nope"), "{}", error.message);
    assert!(started.elapsed() < LIMIT);
}
