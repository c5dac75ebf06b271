//! Settings: the sandbox without a key, choices saved atomically to `settings.json`, bad
//! values refused, the link's settings given to the engine at start and on every change,
//! an older file's parallelism carried over, keeping the computer awake on by default and
//! kept when a caller leaves it out, and no key ever written there.

use serde_json::{Value, json};
use tl_upload::Parallelism;
use tl_uploader::ipc::{CommandError, Endpoint, ErrorCode, MediaType, ParallelChunks, Settings};

use crate::support::{Harness, config};

/// The choices of `s` that these tests set.
fn choices(s: &Settings) -> (ParallelChunks, Option<u64>, u32, MediaType) {
    (
        s.parallel_chunks,
        s.bandwidth_limit,
        s.files_at_once,
        s.file_type,
    )
}

/// What the round-trip test chooses.
const CHOSEN: (ParallelChunks, Option<u64>, u32, MediaType) = (
    ParallelChunks::Fixed(12),
    Some(5_000_000),
    2,
    MediaType::Audio,
);

#[test]
fn without_a_key_the_app_uses_its_own_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = Harness::start(config(&data, ""));
    let s: Settings = app.call("get_settings", json!({}));
    assert_eq!(s.endpoint, Endpoint::Sandbox);
    assert!(!s.has_api_key);
    assert!(!s.keychain_available);
    assert_eq!(
        (
            s.parallel_chunks,
            s.bandwidth_limit,
            s.files_at_once,
            s.file_type
        ),
        (ParallelChunks::Auto, None, 3, MediaType::Video)
    );
    assert!(s.keep_awake, "the computer is kept awake by default");
    let link = app.link();
    assert_eq!(
        (link.parallelism, link.rate_limit),
        (Parallelism::Auto, None)
    );
    assert!(
        s.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        s.base_url
    );
    assert!(s.base_url.ends_with("/v1.3"), "{}", s.base_url);
    assert_eq!(
        s.journal_path,
        data.join("journal.sqlite3").to_string_lossy()
    );
    assert!(data.join("journal.sqlite3").is_file());
    // The sandbox keeps its chunks under the data directory's cache, not in the data.
    assert!(data.join("cache").is_dir());
    // The same sandbox serves every call.
    let again: Settings = app.call("get_settings", json!({}));
    assert_eq!(again.base_url, s.base_url);
}

/// `set_settings` with these fields.
fn set(app: &Harness, settings: Value) -> Result<Settings, CommandError> {
    app.invoke("set_settings", json!({ "settings": settings }))
}

#[test]
fn settings_are_checked_saved_applied_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = Harness::start(config(&data, ""));
    let good = json!({
        "endpoint": "sandbox",
        "parallelChunks": { "fixed": 12 },
        "bandwidthLimit": 5_000_000,
        "filesAtOnce": 2,
        "fileType": "audio",
    });
    let with = |key: &str, value: Value| {
        let mut s = good.clone();
        s[key] = value;
        s
    };
    let e = set(&app, with("parallelChunks", json!({ "fixed": 0 }))).unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(
        e.message.contains("from 1 to 64, or Automatic"),
        "{}",
        e.message
    );
    let e = set(&app, with("bandwidthLimit", json!(999))).unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("at least 10 KB/s"), "{}", e.message);
    let e = set(&app, with("filesAtOnce", json!(9))).unwrap_err();
    assert!(
        e.message.contains("files at once must be 1–8"),
        "{}",
        e.message
    );
    let e = set(&app, with("endpoint", json!("twelvelabs"))).unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("API key"), "{}", e.message);
    // Nothing refused reached the engine or the file.
    assert_eq!(app.link().parallelism, Parallelism::Auto);
    assert!(!data.join("settings.json").exists());

    let s = set(&app, good.clone()).unwrap();
    assert_eq!(choices(&s), CHOSEN);
    let link = app.link();
    assert_eq!(
        (link.parallelism, link.level, link.rate_limit),
        (Parallelism::Fixed(12), 12, Some(5_000_000))
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(data.join("settings.json")).unwrap()).unwrap();
    let mut kept = good.clone();
    // Left out, so as it was: on.
    kept["keepAwake"] = json!(true);
    assert_eq!(saved, kept);
    drop(app);
    // A new run reads them back and gives them to the engine before any upload.
    let app = Harness::start(config(&data, ""));
    let s: Settings = app.call("get_settings", json!({}));
    assert_eq!(choices(&s), CHOSEN);
    let link = app.link();
    assert_eq!(
        (link.parallelism, link.rate_limit),
        (Parallelism::Fixed(12), Some(5_000_000))
    );
    // Back to automatic and no limit.
    let mut automatic = with("parallelChunks", json!("auto"));
    automatic["bandwidthLimit"] = Value::Null;
    let s = set(&app, automatic).unwrap();
    assert_eq!(
        (s.parallel_chunks, s.bandwidth_limit),
        (ParallelChunks::Auto, None)
    );
    let link = app.link();
    assert_eq!(
        (link.parallelism, link.rate_limit),
        (Parallelism::Auto, None)
    );
}

#[test]
fn keeping_the_computer_awake_round_trips_and_a_caller_that_leaves_it_out_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = Harness::start(config(&data, ""));
    let input = |keep_awake: Option<bool>| {
        let mut s = json!({
            "endpoint": "sandbox",
            "parallelChunks": "auto",
            "bandwidthLimit": null,
            "filesAtOnce": 3,
            "fileType": "video",
        });
        if let Some(on) = keep_awake {
            s["keepAwake"] = json!(on);
        }
        s
    };
    let s = set(&app, input(Some(false))).unwrap();
    assert!(!s.keep_awake);
    let saved: Value =
        serde_json::from_slice(&std::fs::read(data.join("settings.json")).unwrap()).unwrap();
    assert_eq!(saved["keepAwake"], json!(false));
    // An older caller (or a script) that does not know the setting leaves it as it is.
    let s = set(&app, input(None)).unwrap();
    assert!(!s.keep_awake);
    let mut with_null = input(None);
    with_null["keepAwake"] = Value::Null;
    assert!(!set(&app, with_null).unwrap().keep_awake);
    drop(app);
    // A new run reads it back.
    let app = Harness::start(config(&data, ""));
    let s: Settings = app.call("get_settings", json!({}));
    assert!(!s.keep_awake);
    assert!(set(&app, input(Some(true))).unwrap().keep_awake);
    let s: Settings = app.call("get_settings", json!({}));
    assert!(s.keep_awake);
}

#[test]
fn an_older_files_parallel_chunks_carry_over_and_its_default_becomes_automatic() {
    let dir = tempfile::tempdir().unwrap();
    for (workers, wanted, level) in [
        (5, ParallelChunks::Auto, None),
        (8, ParallelChunks::Fixed(8), Some(8)),
    ] {
        let data = dir.path().join(format!("data-{workers}"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("settings.json"),
            format!(r#"{{"endpoint": "sandbox", "maxWorkers": {workers}, "fileType": "image"}}"#),
        )
        .unwrap();
        let app = Harness::start(config(&data, ""));
        let s: Settings = app.call("get_settings", json!({}));
        assert_eq!(s.parallel_chunks, wanted, "maxWorkers {workers}");
        assert_eq!((s.file_type, s.files_at_once), (MediaType::Image, 3));
        let link = app.link();
        match level {
            Some(n) => assert_eq!((link.parallelism, link.level), (Parallelism::Fixed(n), n)),
            None => assert_eq!(link.parallelism, Parallelism::Auto),
        }
    }
}

#[test]
fn without_a_keychain_a_key_is_refused_and_written_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = Harness::start(config(&data, ""));
    let secret = "tlk_never_on_disk_0123456789";
    let e: CommandError = app
        .invoke::<Settings>("save_api_key", json!({ "key": secret }))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Io);
    assert!(e.message.contains("keychain"), "{}", e.message);
    assert!(!e.message.contains(secret));
    let e: CommandError = app
        .invoke::<Settings>("save_api_key", json!({ "key": "  " }))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    let s: Settings = app.call("get_settings", json!({}));
    assert!(!s.has_api_key);
    assert_eq!(s.endpoint, Endpoint::Sandbox);
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the key",
            entry.display()
        );
    }
    // Deleting a key that is not there is fine and lands on the sandbox.
    let s: Settings = app.call("delete_api_key", json!({}));
    assert_eq!(s.endpoint, Endpoint::Sandbox);
}

/// Every file under `dir`.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
