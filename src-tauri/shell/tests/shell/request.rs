//! The IPC request the UI would send, for Tauri's mock runtime. Shared by the `shell` and
//! `keychain` test binaries (the latter includes this file by path).

use serde_json::Value;

/// An invoke of `cmd` with `args` (camelCase names, as the UI sends them) from the app's
/// own page.
pub fn invoke_request(cmd: &str, args: Value) -> tauri::webview::InvokeRequest {
    tauri::webview::InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().expect("a valid URL"),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    }
}
