//! Settings: the sandbox without a key, choices saved atomically to `settings.json`, bad
//! values refused, and no key ever written there.

use serde_json::{Value, json};
use tl_uploader::ipc::{CommandError, Endpoint, ErrorCode, MediaType, Settings};

use crate::support::{Harness, config};

#[test]
fn without_a_key_the_app_uses_its_own_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = Harness::start(config(&data, ""));
    let s: Settings = app.call("get_settings", json!({}));
    assert_eq!(s.endpoint, Endpoint::Sandbox);
    assert!(!s.has_api_key);
    assert!(!s.keychain_available);
    assert_eq!((s.max_workers, s.file_type), (5, MediaType::Video));
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

#[test]
fn settings_are_checked_saved_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = Harness::start(config(&data, ""));
    let e: CommandError = app
        .invoke::<Settings>(
            "set_settings",
            json!({ "settings": { "endpoint": "sandbox", "maxWorkers": 0, "fileType": "video" } }),
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("1–16"), "{}", e.message);
    let e: CommandError = app
        .invoke::<Settings>(
            "set_settings",
            json!({ "settings": { "endpoint": "twelvelabs", "maxWorkers": 4, "fileType": "video" } }),
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("API key"), "{}", e.message);

    let s: Settings = app.call(
        "set_settings",
        json!({ "settings": { "endpoint": "sandbox", "maxWorkers": 12, "fileType": "audio" } }),
    );
    assert_eq!((s.max_workers, s.file_type), (12, MediaType::Audio));
    let saved: Value =
        serde_json::from_slice(&std::fs::read(data.join("settings.json")).unwrap()).unwrap();
    assert_eq!(
        saved,
        json!({ "endpoint": "sandbox", "maxWorkers": 12, "fileType": "audio" })
    );
    drop(app);
    // A new run reads them back.
    let app = Harness::start(config(&data, ""));
    let s: Settings = app.call("get_settings", json!({}));
    assert_eq!((s.max_workers, s.file_type), (12, MediaType::Audio));
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
