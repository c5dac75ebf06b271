//! Files handed to the app from outside (its command line, a second launch): good ones are
//! queued and uploaded, refused ones wait for the UI and are handed over exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde_json::json;
use tauri::Listener;
use tl_uploader::ipc::{AddResult, ErrorCode, FILES_REFUSED_EVENT, UploadRow, UploadState};
use tl_uploader::opened;

use crate::support::{Harness, config, file, sha256};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_second_launch_queues_its_files_and_keeps_the_refused_ones_for_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), "--chunk-size 65536"));
    let (tx, refused_events) = mpsc::channel();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    app.app.listen_any(FILES_REFUSED_EVENT, move |e| {
        assert_eq!(e.payload(), "null");
        counter.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(());
    });
    let good = file(dir.path(), "from the shell.mp4", 200_000);
    let folder = dir.path().join("a folder");
    std::fs::create_dir(&folder).unwrap();

    // What the single-instance plugin passes on: the second process's argv and directory.
    let argv = [
        "/usr/bin/tl-uploader",
        "--some-toolkit-flag",
        "from the shell.mp4",
        "a folder",
    ];
    let files = opened::file_args(argv.map(str::to_owned), dir.path());
    assert_eq!(files, [good.to_string_lossy(), folder.to_string_lossy()]);
    opened::open(app.app.handle(), files);

    refused_events
        .recv_timeout(LIMIT)
        .expect("files://refused is sent");
    let refused: Vec<AddResult> = app.call("take_refused_files", json!({}));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].path, folder.to_string_lossy());
    assert_eq!(refused[0].upload, None);
    let error = refused[0].error.clone().expect("a reason");
    assert_eq!(error.code, ErrorCode::Invalid);
    assert!(error.message.contains("directory"), "{}", error.message);
    // Handed over once: a second take finds nothing.
    let again: Vec<AddResult> = app.call("take_refused_files", json!({}));
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // The good file is in the queue and is uploaded like a dropped one.
    let list: Vec<UploadRow> = app.call("list_uploads", json!({}));
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].path, good.to_string_lossy());
    let done = app.wait_state(&list[0].id, UploadState::Completed, LIMIT);
    assert_eq!(
        app.asset_sha256(done.asset_id.as_deref().unwrap()),
        sha256(&good)
    );
}

#[test]
fn an_empty_launch_queues_nothing_and_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = Harness::start(config(&dir.path().join("data"), ""));
    opened::open(
        app.app.handle(),
        opened::file_args(["tl-uploader".to_owned()], dir.path()),
    );
    let list: Vec<UploadRow> = app.call("list_uploads", json!({}));
    assert!(list.is_empty());
    let refused: Vec<AddResult> = app.call("take_refused_files", json!({}));
    assert!(refused.is_empty());
}
