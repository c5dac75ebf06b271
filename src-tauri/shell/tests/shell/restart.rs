//! A server given from outside (`TWELVELABS_API_KEY` + `TWELVELABS_BASE_URL`) that outlives
//! the app: a session left unfinished by one run is listed at the next run's start and
//! completes from the journal.

use std::time::Duration;

use serde_json::json;
use tl_sandbox::Sandbox;
use tl_uploader::ipc::{Endpoint, ResumeState, SessionRow, Settings, UploadRow, UploadState};
use tl_uploader::{Config, Keychain, Remote};

use crate::support::{Harness, file, sha256};

const LIMIT: Duration = Duration::from_secs(60);

pub(crate) fn remote_config(data: &std::path::Path, server: &tl_sandbox::SandboxHandle) -> Config {
    Config {
        data_dir: Some(data.to_path_buf()),
        remote: Some(Remote {
            api_key: server.api_key().to_owned(),
            base_url: server.base_url(),
        }),
        base_url: Some(server.base_url()),
        sandbox_args: Vec::new(),
        keychain: Keychain::disabled(),
    }
}

#[test]
fn a_session_from_an_earlier_run_is_listed_at_start_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Sandbox::builder()
        .chunk_size(32768)
        .bandwidth(Some(250_000))
        .processing_delay(Duration::from_millis(200))
        .start()
        .unwrap();
    let path = file(dir.path(), "across runs.mp4", 48 * 32768);

    let first = Harness::start(remote_config(&data, &server));
    let s: Settings = first.call("get_settings", json!({}));
    assert_eq!(s.endpoint, Endpoint::Twelvelabs);
    assert_eq!(s.base_url, server.base_url());
    assert!(s.has_api_key);
    let u = first.add(&path);
    first.wait_for(&u.id, LIMIT, |u| u.completed_chunks >= 4);
    first.call::<UploadRow>("cancel_upload", json!({ "id": u.id }));
    let stopped = first.wait_state(&u.id, UploadState::Cancelled, LIMIT);
    let upload_id = stopped.upload_id.unwrap();
    drop(first);

    // The next run, as the UI does at startup, lists what it can resume.
    let second = Harness::start(remote_config(&data, &server));
    let listed: Vec<UploadRow> = second.call("list_uploads", json!({}));
    assert!(listed.is_empty());
    let sessions: Vec<SessionRow> = second.call("list_resumable", json!({}));
    let s = sessions
        .iter()
        .find(|s| s.upload_id == upload_id)
        .unwrap_or_else(|| panic!("{upload_id} not in {sessions:?}"));
    assert_eq!(s.state, ResumeState::Resumable);
    assert!(s.in_journal && !s.active);
    let chunks_before = server.stats();
    let resumed: UploadRow = second.call("resume_session", json!({ "uploadId": upload_id }));
    let done = second.wait_state(&resumed.id, UploadState::Completed, LIMIT);
    assert_eq!(done.total_chunks, 48);
    assert_eq!(second.asset_sha256(&done.asset_id.unwrap()), sha256(&path));
    // Only the missing chunks went up again.
    let sent = server.stats().puts_completed - chunks_before.puts_completed;
    assert!(sent < 48, "{sent} chunks sent again");
}

#[test]
fn a_server_only_session_resumes_with_its_file_and_can_be_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let server = Sandbox::builder()
        .chunk_size(32768)
        .bandwidth(Some(250_000))
        .processing_delay(Duration::from_millis(200))
        .start()
        .unwrap();
    let path = file(dir.path(), "elsewhere.mp4", 40 * 32768);
    let other = file(dir.path(), "forgotten.mp4", 40 * 32768);
    // Two sessions started from one data directory...
    let first = Harness::start(remote_config(&dir.path().join("one"), &server));
    let mut ids = Vec::new();
    for p in [&path, &other] {
        let u = first.add(p);
        first.wait_for(&u.id, LIMIT, |u| u.completed_chunks >= 2);
        first.call::<UploadRow>("cancel_upload", json!({ "id": u.id }));
        ids.push(
            first
                .wait_state(&u.id, UploadState::Cancelled, LIMIT)
                .upload_id
                .unwrap(),
        );
    }
    // ... are only on the server for an app with another journal.
    let second = Harness::start(remote_config(&dir.path().join("two"), &server));
    let sessions: Vec<SessionRow> = second.call("list_resumable", json!({}));
    for id in &ids {
        let s = sessions.iter().find(|s| &s.upload_id == id).unwrap();
        assert_eq!(s.state, ResumeState::NeedsFile);
        assert!(!s.in_journal && s.file_path.is_none());
    }
    second.call::<()>("forget_session", json!({ "uploadId": ids[1] }));
    let resumed: UploadRow = second.call(
        "resume_session",
        json!({ "uploadId": ids[0], "path": path }),
    );
    let done = second.wait_state(&resumed.id, UploadState::Completed, LIMIT);
    assert_eq!(second.asset_sha256(&done.asset_id.unwrap()), sha256(&path));
    let sessions: Vec<SessionRow> = second.call("list_resumable", json!({}));
    assert!(
        sessions.iter().all(|s| !ids.contains(&s.upload_id)),
        "{sessions:?}"
    );
}
