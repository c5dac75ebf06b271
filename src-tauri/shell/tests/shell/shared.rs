//! The app and `tlup` on one journal and one server: what one forgets the other sees
//! forgotten, and a session forgotten in the app can still be finished by `tlup`, because
//! both go through the engine's one rule for listing, resuming and forgetting.
//!
//! `tlup` is the real binary, built beside this test by `cargo test --workspace` (or
//! `cargo build -p tlup`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tl_sandbox::{Sandbox, SandboxHandle};
use tl_uploader::ipc::{SessionRow, UploadRow, UploadState};
use tl_uploader::state::JOURNAL_FILE;

use crate::restart::remote_config;
use crate::support::{Harness, file, sha256};

const LIMIT: Duration = Duration::from_secs(60);

/// The `tlup` binary of this build: next to the directory of this test binary.
fn tlup_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join(format!("tlup{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p tlup` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// Runs tlup against `server` with the app's journal; returns (exit code, stdout, stderr).
fn tlup(server: &SandboxHandle, journal: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tlup_bin())
        .env_remove("TLUP_JOURNAL")
        .env("TWELVELABS_API_KEY", server.api_key())
        .env("TWELVELABS_BASE_URL", server.base_url())
        .arg("--journal")
        .arg(journal)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ids `tlup --json resume` offers.
fn offered_by_tlup(server: &SandboxHandle, journal: &Path) -> Vec<String> {
    let (code, stdout, stderr) = tlup(server, journal, &["--json", "resume"]);
    assert_eq!(code, 0, "{stderr}");
    let sessions: Vec<Value> = match stdout.trim() {
        "" => Vec::new(),
        text => serde_json::from_str(text).unwrap(),
    };
    let mut ids: Vec<String> = sessions
        .iter()
        .map(|s| s["upload_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The ids the app offers in its incomplete-sessions list.
fn offered_by_app(app: &Harness) -> Vec<String> {
    let sessions: Vec<SessionRow> = app.call("list_resumable", json!({}));
    let mut ids: Vec<String> = sessions.into_iter().map(|s| s.upload_id).collect();
    ids.sort();
    ids
}

fn server() -> SandboxHandle {
    Sandbox::builder()
        .chunk_size(32768)
        .bandwidth(Some(250_000))
        .processing_delay(Duration::from_millis(100))
        .start()
        .unwrap()
}

fn app_on(data: &Path, server: &SandboxHandle) -> Harness {
    Harness::start(remote_config(data, server))
}

/// Starts an upload of `path` in the app and cancels it once a few chunks are in; returns
/// its session.
fn start_and_cancel(app: &Harness, path: &Path) -> String {
    let u = app.add(path);
    app.wait_for(&u.id, LIMIT, |u| u.completed_chunks >= 3);
    app.call::<UploadRow>("cancel_upload", json!({ "id": u.id }));
    let stopped = app.wait_state(&u.id, UploadState::Cancelled, LIMIT);
    app.call::<()>("remove_upload", json!({ "id": u.id }));
    stopped.upload_id.unwrap()
}

#[test]
fn a_session_forgotten_in_the_app_is_finished_by_tlup_resume_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let journal = data.join(JOURNAL_FILE);
    let server = server();
    let path = file(dir.path(), "forgotten in the app.mp4", 40 * 32768);
    let app = app_on(&data, &server);
    let id = start_and_cancel(&app, &path);
    assert_eq!(offered_by_app(&app), std::slice::from_ref(&id));
    assert_eq!(
        offered_by_tlup(&server, &journal),
        std::slice::from_ref(&id)
    );

    app.call::<()>("forget_session", json!({ "uploadId": id }));
    assert!(offered_by_app(&app).is_empty());
    assert!(offered_by_tlup(&server, &journal).is_empty());

    // Named with its file, tlup takes the forgotten session up again and finishes it.
    let file_arg = path.to_string_lossy().into_owned();
    let (code, stdout, stderr) = tlup(
        &server,
        &journal,
        &["--json", "resume", &id, &file_arg, "--wait"],
    );
    assert_eq!(code, 0, "{stderr}");
    let result: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "result")
        .unwrap();
    assert_eq!(result["upload_id"], id.as_str());
    assert!(
        result["chunks_uploaded"].as_u64().unwrap() < 40,
        "only the missing chunks are sent: {result}"
    );
    let asset_id = result["asset_id"].as_str().unwrap();
    assert_eq!(app.asset_sha256(asset_id), sha256(&path));
    assert!(offered_by_app(&app).is_empty());
}

#[test]
fn a_session_forgotten_with_tlup_is_offered_by_the_app_exactly_as_by_tlup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let journal = data.join(JOURNAL_FILE);
    let server = server();
    let app = app_on(&data, &server);
    let kept = start_and_cancel(&app, &file(dir.path(), "kept.mp4", 40 * 32768));
    let gone = start_and_cancel(&app, &file(dir.path(), "gone.mp4", 40 * 32768));
    let mut both = vec![kept.clone(), gone.clone()];
    both.sort();
    assert_eq!(offered_by_app(&app), both);
    assert_eq!(offered_by_tlup(&server, &journal), both);

    let (code, stdout, stderr) = tlup(&server, &journal, &["forget", &gone]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("forgot session {gone}")),
        "{stdout}"
    );
    assert_eq!(offered_by_app(&app), std::slice::from_ref(&kept));
    assert_eq!(
        offered_by_tlup(&server, &journal),
        std::slice::from_ref(&kept)
    );

    // Forgetting it again, from either side, is a no-op both agree on.
    let (code, _, stderr) = tlup(&server, &journal, &["forget", &gone]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("already forgotten"), "{stderr}");
    app.call::<()>("forget_session", json!({ "uploadId": gone }));
    assert_eq!(offered_by_app(&app), offered_by_tlup(&server, &journal));
}
