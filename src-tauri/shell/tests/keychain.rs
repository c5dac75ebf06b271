//! The API key in the REAL OS keychain (the Secret Service on Linux). On a headless machine
//! run it inside `src-tauri/shell/tests/keyring-session.sh`, which provides a D-Bus session
//! with an unlocked GNOME Keyring:
//!
//! ```sh
//! src-tauri/shell/tests/keyring-session.sh cargo test -p tl-uploader --test keychain
//! ```
//!
//! Without a reachable keychain these tests FAIL, unless `TL_UPLOADER_SKIP_KEYCHAIN_TEST` is
//! set (for a plain `cargo test` on a machine without one). Each test uses its own entry, so
//! the user's saved key is never touched.

#[path = "shell/request.rs"]
mod request;

use std::path::Path;

use serde_json::{Value, json};
use tauri::Manager;
use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use tl_uploader::ipc::{Endpoint, Settings};
use tl_uploader::{AppState, Config, Keychain};

/// Whether to skip, and otherwise a keychain entry of this test, checked to be reachable.
fn keychain(test: &str) -> Option<Keychain> {
    if std::env::var_os("TL_UPLOADER_SKIP_KEYCHAIN_TEST").is_some() {
        eprintln!("TL_UPLOADER_SKIP_KEYCHAIN_TEST is set: not testing the keychain");
        return None;
    }
    let service = format!("tl-uploader-test-{test}-{}", std::process::id());
    let k = Keychain::new(&service, "api-key");
    assert!(
        k.available(),
        "no OS keychain is reachable: run this test inside \
         src-tauri/shell/tests/keyring-session.sh (or set TL_UPLOADER_SKIP_KEYCHAIN_TEST)"
    );
    Some(k)
}

#[test]
fn a_key_is_stored_read_back_and_deleted() {
    let Some(k) = keychain("roundtrip") else {
        return;
    };
    assert_eq!(k.get().unwrap(), None);
    let key = "tlk_test-äö-🔑-0123456789";
    k.set(key).unwrap();
    assert_eq!(k.get().unwrap().as_deref(), Some(key));
    // A second save replaces the first.
    k.set("tlk_second").unwrap();
    assert_eq!(k.get().unwrap().as_deref(), Some("tlk_second"));
    k.delete().unwrap();
    assert_eq!(k.get().unwrap(), None);
    // Deleting what is not there is fine.
    k.delete().unwrap();
}

fn app(data: &Path, keychain: Keychain) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = tl_uploader::register(mock_builder())
        .build(mock_context(noop_assets()))
        .unwrap();
    let config = Config {
        data_dir: Some(data.to_path_buf()),
        remote: None,
        base_url: None,
        sandbox_args: Vec::new(),
        keychain,
    };
    tl_uploader::start(app.handle(), config, None).unwrap();
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

fn call(webview: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> String {
    let body = tauri::test::get_ipc_response(webview, request::invoke_request(cmd, args))
        .unwrap_or_else(|e| panic!("{cmd} failed: {e}"));
    body.deserialize::<Value>().unwrap().to_string()
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

#[test]
fn save_api_key_keeps_the_key_in_the_keychain_only() {
    let Some(k) = keychain("commands") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret = "tlk_only_in_the_keychain_5f3a9c";
    {
        let (_app, webview) = app(&data, k.clone());
        let before: Settings =
            serde_json::from_str(&call(&webview, "get_settings", json!({}))).unwrap();
        assert!(before.keychain_available && !before.has_api_key);
        assert_eq!(before.endpoint, Endpoint::Sandbox);
        let answer = call(
            &webview,
            "save_api_key",
            json!({ "key": format!(" {secret} ") }),
        );
        assert!(!answer.contains(secret), "the key crossed IPC: {answer}");
        let saved: Settings = serde_json::from_str(&answer).unwrap();
        assert!(saved.has_api_key);
        assert_eq!(saved.endpoint, Endpoint::Twelvelabs);
        assert_eq!(saved.base_url, tl_upload::DEFAULT_BASE_URL);
        assert_eq!(k.get().unwrap().as_deref(), Some(secret));
        let settings = call(&webview, "get_settings", json!({}));
        assert!(!settings.contains(secret));
    }
    // Nothing in the data directory holds the key, settings.json least of all.
    let settings_json = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(!settings_json.contains(secret), "{settings_json}");
    assert!(settings_json.contains("twelvelabs"), "{settings_json}");
    for (path, bytes) in files(&data) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the key",
            path.display()
        );
    }

    // The next run finds the key in the keychain.
    let (app2, webview) = app(&data, k.clone());
    let s: Settings = serde_json::from_str(&call(&webview, "get_settings", json!({}))).unwrap();
    assert!(s.has_api_key);
    assert_eq!(s.endpoint, Endpoint::Twelvelabs);
    assert!(app2.state::<AppState>().client().is_ok());
    let s: Settings = serde_json::from_str(&call(&webview, "delete_api_key", json!({}))).unwrap();
    assert!(!s.has_api_key);
    assert_eq!(s.endpoint, Endpoint::Sandbox);
    assert!(
        s.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        s.base_url
    );
    assert_eq!(k.get().unwrap(), None);
}
