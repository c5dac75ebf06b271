//! Adding files: good ones reach `completed` with the server holding the same bytes, bad ones
//! are refused one by one with a reason, and uploads share the link in the order added: a
//! later one waits as queued while the files-at-once setting is full and takes the slots the
//! earlier ones leave.

use std::time::Duration;

use serde_json::json;
use tl_upload::Parallelism;
use tl_uploader::ipc::{AddResult, CommandError, ErrorCode, UploadRow, UploadState};

use crate::support::{Harness, both_in_flight, config, file, in_order, sha256, states};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_good_file_reaches_completed_with_the_same_bytes_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(
        &dir.path().join("data"),
        "--chunk-size 65536 --processing-delay 0.3",
    ));
    let path = file(dir.path(), "clip one.mp4", 300_000);
    let queued = app.add(&path);
    assert_eq!(queued.state, UploadState::Queued);
    assert_eq!(queued.file_name, "clip one.mp4");
    assert_eq!(queued.total_bytes, 300_000);
    assert_eq!(queued.path, path.to_string_lossy());
    let done = app.wait_state(&queued.id, UploadState::Completed, LIMIT);
    assert_eq!(done.error, None);
    assert_eq!(done.percentage, 100.0);
    assert_eq!((done.total_chunks, done.completed_chunks), (5, 5));
    assert_eq!(done.chunks, "ddddd");
    assert!(done.in_flight.is_empty());
    assert!(done.upload_id.is_some());
    let asset_id = done.asset_id.clone().unwrap();
    assert_eq!(app.asset_sha256(&asset_id), sha256(&path));

    // Every state the upload went through reached the UI, in order.
    let seen = states(&app.events_of(&queued.id));
    let path_taken = [
        UploadState::Queued,
        UploadState::Starting,
        UploadState::Uploading,
        UploadState::Confirming,
        UploadState::Processing,
        UploadState::Completed,
    ];
    assert!(in_order(&seen, &path_taken), "{seen:?}");
    assert_eq!(seen.first(), Some(&UploadState::Queued));
    assert_eq!(seen.last(), Some(&UploadState::Completed));
    assert!(*app.sessions_changed.lock().unwrap() >= 2);

    // The journal recorded it and knows it finished: nothing to resume.
    let resumable: Vec<serde_json::Value> = app.call("list_resumable", json!({}));
    assert!(resumable.is_empty(), "{resumable:?}");

    // A finished upload can be removed from the list.
    app.call::<()>("remove_upload", json!({ "id": queued.id }));
    let left: Vec<UploadRow> = app.call("list_uploads", json!({}));
    assert!(left.is_empty());
}

#[test]
fn directories_empty_and_missing_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), "--chunk-size 65536"));
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let missing = dir.path().join("missing.mp4");
    let good = file(dir.path(), "good.mp4", 1000);
    let results: Vec<AddResult> = app.call(
        "add_uploads",
        json!({ "paths": [dir.path(), empty, missing, good] }),
    );
    let codes: Vec<Option<ErrorCode>> = results
        .iter()
        .map(|r| r.error.as_ref().map(|e| e.code))
        .collect();
    assert_eq!(
        codes,
        [
            Some(ErrorCode::Invalid),
            Some(ErrorCode::Invalid),
            Some(ErrorCode::NotFound),
            None
        ]
    );
    let messages: Vec<&str> = results[..3]
        .iter()
        .map(|r| r.error.as_ref().unwrap().message.as_str())
        .collect();
    assert!(
        messages[0].contains("is a directory; choose a video file"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("is empty (0 bytes)"),
        "{}",
        messages[1]
    );
    assert!(messages[2].contains("no such file"), "{}", messages[2]);
    assert!(results[..3].iter().all(|r| r.upload.is_none()));
    let queued = results[3].upload.clone().unwrap();
    let listed: Vec<UploadRow> = app.call("list_uploads", json!({}));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, queued.id);
    app.wait_state(&queued.id, UploadState::Completed, LIMIT);
}

#[test]
fn uploads_share_the_link_and_a_later_one_waits_as_queued_for_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(
        &dir.path().join("data"),
        "--chunk-size 32768 --processing-delay 0",
    ));
    // Eight chunks at once and 150 KB/s for everything: the first file (6 chunks) leaves two
    // slots free, and both files together take about four seconds.
    app.set_link(json!({ "fixed": 8 }), Some(150_000), 1);
    let link = app.link();
    assert_eq!(
        (link.parallelism, link.rate_limit),
        (Parallelism::Fixed(8), Some(150_000))
    );
    let paths = [
        file(dir.path(), "short.mov", 6 * 32768),
        file(dir.path(), "long.mov", 12 * 32768),
    ];
    let results: Vec<AddResult> = app.call("add_uploads", json!({ "paths": paths }));
    let [a, b] = [0, 1].map(|i| results[i].upload.clone().unwrap().id);

    // One file at a time: the second waits in the engine's queue, without a session. Both
    // rows come from one listing, so a slow machine cannot let the first finish between them.
    let (first, waiting) = tl_test_support::poll_blocking(
        "the first file to have chunks in flight",
        LIMIT,
        Duration::from_millis(20),
        || {
            let rows: Vec<UploadRow> = app.call("list_uploads", json!({}));
            let row = |id: &str| rows.iter().find(|u| u.id == id).cloned().unwrap();
            let (first, second) = (row(&a), row(&b));
            Ok::<_, String>((!first.in_flight.is_empty()).then_some((first, second)))
        },
    )
    .unwrap();
    assert_eq!(first.parallelism, 8);
    assert_eq!(waiting.state, UploadState::Queued);
    assert_eq!((waiting.upload_id, waiting.bytes_sent), (None, 0));

    // Two at once, applied while the first runs: the second takes the slots it leaves.
    app.set_link(json!({ "fixed": 8 }), Some(150_000), 2);
    let second = app.wait_for(&b, LIMIT, |u| !u.in_flight.is_empty());
    assert!(second.upload_id.is_some());
    for (id, path) in [&a, &b].into_iter().zip(&paths) {
        let done = app.wait_state(id, UploadState::Completed, LIMIT);
        assert_eq!(app.asset_sha256(&done.asset_id.unwrap()), sha256(path));
    }

    let events = app.events.lock().unwrap().clone();
    assert!(
        both_in_flight(&events, &a, &b),
        "the two files never had chunks in flight together"
    );
    // Every row showed the link's level while it sent.
    for e in events
        .iter()
        .filter(|e| e.view.state == UploadState::Uploading)
    {
        assert_eq!(e.view.parallelism, 8, "{:?}", e.view.id);
    }
    // The second showed queued until the engine let it start.
    let seen = states(&app.events_of(&b));
    assert_eq!(seen.first(), Some(&UploadState::Queued), "{seen:?}");
    assert!(
        in_order(
            &seen,
            &[
                UploadState::Queued,
                UploadState::Starting,
                UploadState::Uploading
            ]
        ),
        "{seen:?}"
    );
}

#[test]
fn unknown_ids_and_wrong_states_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), "--processing-delay 0"));
    let e: CommandError = app
        .invoke::<UploadRow>("pause_upload", json!({ "id": "upload-999" }))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let path = file(dir.path(), "small.mp4", 2000);
    let u = app.add(&path);
    app.wait_state(&u.id, UploadState::Completed, LIMIT);
    let e = app
        .invoke::<UploadRow>("cancel_upload", json!({ "id": u.id }))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("it is completed"), "{}", e.message);
    let e = app
        .invoke::<UploadRow>("pause_upload", json!({ "id": u.id }))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
}
