//! The app on Tauri's mock runtime, driven through its IPC like the UI drives it, with a
//! real embedded sandbox on `127.0.0.1:0` and a real journal in a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::{App, Listener, Manager, WebviewWindow, WebviewWindowBuilder};
use tl_test_support::poll_blocking;
use tl_uploader::ipc::{
    CommandError, SESSIONS_CHANGED_EVENT, Settings, UPLOAD_PROGRESS_EVENT, UploadRow, UploadState,
};
use tl_uploader::{AppState, Config, Keychain};

use crate::request::invoke_request;

/// The sha256 of the file at `path`, in hex.
pub use tl_test_support::sha256_file as sha256;

/// One `upload://progress` event and when it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub view: UploadRow,
}

/// A running app.
pub struct Harness {
    pub app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    pub events: Arc<Mutex<Vec<Seen>>>,
    pub sessions_changed: Arc<Mutex<usize>>,
}

/// A config with the data in `data_dir`, no keychain, and these sandbox flags.
pub fn config(data_dir: &Path, sandbox_args: &str) -> Config {
    Config {
        data_dir: Some(data_dir.to_path_buf()),
        remote: None,
        base_url: None,
        sandbox_args: sandbox_args.split_whitespace().map(str::to_owned).collect(),
        keychain: Keychain::disabled(),
    }
}

impl Harness {
    /// Starts the app with `config`.
    pub fn start(config: Config) -> Self {
        let app = tl_uploader::register(mock_builder())
            .build(mock_context(noop_assets()))
            .expect("the app builds on the mock runtime");
        tl_uploader::start(app.handle(), config, None).expect("the state starts");
        let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("a mock window");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        app.listen_any(UPLOAD_PROGRESS_EVENT, move |e| {
            let view: UploadRow = serde_json::from_str(e.payload()).expect("a progress payload");
            sink.lock().unwrap().push(Seen {
                at: Instant::now(),
                view,
            });
        });
        let sessions_changed = Arc::new(Mutex::new(0));
        let count = sessions_changed.clone();
        app.listen_any(SESSIONS_CHANGED_EVENT, move |e| {
            assert_eq!(e.payload(), "null");
            *count.lock().unwrap() += 1;
        });
        Self {
            app,
            webview,
            events,
            sessions_changed,
        }
    }

    /// Invokes `cmd` with `args` (camelCase names, as the UI sends them).
    pub fn invoke<T: DeserializeOwned>(&self, cmd: &str, args: Value) -> Result<T, CommandError> {
        match tauri::test::get_ipc_response(&self.webview, invoke_request(cmd, args)) {
            Ok(body) => Ok(body.deserialize().expect("the command's answer")),
            Err(value) => Err(serde_json::from_value(value.clone())
                .unwrap_or_else(|_| panic!("{cmd} rejected with a non-CommandError: {value}"))),
        }
    }

    /// Invokes `cmd`, which must succeed.
    pub fn call<T: DeserializeOwned>(&self, cmd: &str, args: Value) -> T {
        self.invoke(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e:?}"))
    }

    /// Sets the link settings (on the sandbox, for video): `parallel` as the UI sends it
    /// (`"auto"` or `{ "fixed": n }`), the bandwidth limit in bytes per second, the files at
    /// once.
    pub fn set_link(&self, parallel: Value, limit: Option<u64>, files: u32) -> Settings {
        self.call(
            "set_settings",
            json!({ "settings": {
                "endpoint": "sandbox",
                "parallelChunks": parallel,
                "bandwidthLimit": limit,
                "filesAtOnce": files,
                "fileType": "video",
            } }),
        )
    }

    /// What the engine's link is doing now.
    pub fn link(&self) -> tl_upload::LinkStatus {
        self.app.state::<AppState>().uploader().link_status()
    }

    /// Queues `path` and returns its upload.
    pub fn add(&self, path: &Path) -> UploadRow {
        let results: Vec<tl_uploader::ipc::AddResult> =
            self.call("add_uploads", json!({ "paths": [path] }));
        let result = results.into_iter().next().unwrap();
        assert_eq!(result.error, None);
        result.upload.unwrap()
    }

    /// Upload `id` as `list_uploads` shows it.
    pub fn upload(&self, id: &str) -> UploadRow {
        let all: Vec<UploadRow> = self.call("list_uploads", json!({}));
        all.into_iter()
            .find(|u| u.id == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
    }

    /// Polls upload `id` until `done` holds, for at most `limit`.
    pub fn wait_for(
        &self,
        id: &str,
        limit: Duration,
        done: impl Fn(&UploadRow) -> bool,
    ) -> UploadRow {
        let what = format!("upload {id}");
        // Not done yet is an "error" that carries the last view (boxed: it is large), for
        // the message.
        let found = poll_blocking(&what, limit, Duration::from_millis(20), || {
            let u = self.upload(id);
            if done(&u) {
                Ok(Some(u))
            } else {
                Err(Box::new(u))
            }
        });
        found.unwrap_or_else(|timeout| {
            let u = timeout.last_error.as_ref().expect("a last view");
            panic!(
                "{timeout}; last: {:?} {:?} {}/{} chunks",
                u.state, u.error, u.completed_chunks, u.total_chunks
            )
        })
    }

    /// Waits until upload `id` is in `state`.
    pub fn wait_state(&self, id: &str, state: UploadState, limit: Duration) -> UploadRow {
        self.wait_for(id, limit, |u| {
            assert!(
                u.state != UploadState::Failed || state == UploadState::Failed,
                "upload failed: {:?}",
                u.error
            );
            u.state == state
        })
    }

    /// The events of upload `id`.
    pub fn events_of(&self, id: &str) -> Vec<Seen> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.view.id == id)
            .cloned()
            .collect()
    }

    /// The sha256 the server computed for `asset_id`.
    pub fn asset_sha256(&self, asset_id: &str) -> String {
        let state = self.app.state::<AppState>();
        let (_, client) = state.client().unwrap();
        let asset = tauri::async_runtime::block_on(client.retrieve_asset(asset_id)).unwrap();
        assert_eq!(asset.status.to_string(), "ready");
        asset.extra["sha256"].as_str().unwrap().to_owned()
    }
}

/// A file of `len` pseudo-random bytes at `dir/name`, different for each name.
pub fn file(dir: &Path, name: &str, len: usize) -> PathBuf {
    tl_test_support::named_random_file(dir, name, len as u64)
}

/// The states an upload's events went through, without repeats in a row.
pub fn states(events: &[Seen]) -> Vec<UploadState> {
    let mut out: Vec<UploadState> = Vec::new();
    for e in events {
        if out.last() != Some(&e.view.state) {
            out.push(e.view.state);
        }
    }
    out
}

/// Whether, at some event, uploads `a` and `b` both had chunks in flight (each as its last
/// event before that moment showed it).
pub fn both_in_flight(events: &[Seen], a: &str, b: &str) -> bool {
    let (mut in_a, mut in_b) = (false, false);
    for e in events {
        if e.view.id == a {
            in_a = !e.view.in_flight.is_empty();
        } else if e.view.id == b {
            in_b = !e.view.in_flight.is_empty();
        }
        if in_a && in_b {
            return true;
        }
    }
    false
}

/// Whether `wanted` appears in `seen` in order (other items may come between).
pub fn in_order(seen: &[UploadState], wanted: &[UploadState]) -> bool {
    let mut it = seen.iter();
    wanted.iter().all(|w| it.any(|s| s == w))
}
