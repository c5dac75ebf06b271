//! [`AppState`], the one managed state: where the app keeps its files, the settings, the
//! client of the endpoint in use, the journal, the embedded sandbox and the queue.
//!
//! Locks are `std::sync::Mutex`es held for a few field updates; nothing awaits while holding
//! one. Clients are cheap clones (an `Arc` inside), so callers copy one out and use it
//! after the lock is gone.
//!
//! # Environment
//!
//! Read once at startup by [`Config::from_env`], for tests and power users:
//!
//! - `TL_UPLOADER_DATA_DIR`: where `settings.json` and `journal.sqlite3` live (and the
//!   embedded sandbox's chunks under `cache/`, the logs under `logs/`, the window's size
//!   and place in `window-state.json`). It also makes a separate single instance, so apps
//!   with different data directories run side by side. Default: each platform's own
//!   directories (see [`Dirs`]).
//! - `TWELVELABS_API_KEY` + `TWELVELABS_BASE_URL`: when both are set, the TwelveLabs endpoint
//!   is that server with that key, instead of the keychain's key and the public API; without
//!   a keychain key the app then starts on that endpoint. End-to-end tests use it to point
//!   the app at a separately started `tl-sandbox` that outlives an app restart. The key alone
//!   is ignored, so a key exported for other tools never silently replaces the saved one.
//! - `TWELVELABS_BASE_URL` alone: the base URL used with the keychain's key.
//! - `TL_UPLOADER_SANDBOX_ARGS`: extra `tl-sandbox` flags for the embedded sandbox, split at
//!   whitespace, e.g. `--chunk-size 1048576 --bandwidth 2000000` for throttled tests.
//! - `TL_UPLOADER_EXIT_WHEN_READY=1`: read by the `ui_ready` command instead, when the page
//!   says it has shown its first view: the app prints `tl-uploader: ui ready` to stdout and
//!   exits with code 0. `src-tauri/scripts/check-fresh-clone.sh` uses it to prove that the
//!   README's run command brings the page up.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tl_upload::api::net::ProxySource;
use tl_upload::{ConfigError, DEFAULT_BASE_URL, Journal, MultipartUploadClient, Uploader};
use tokio::sync::watch;

use crate::ipc::{AddResult, CommandError, Endpoint, ProxyRoute, Settings, SettingsInput};
use crate::keychain::Keychain;
use crate::queue::Queue;
use crate::sandbox::{self, EmbeddedSandbox};
use crate::settings::{SETTINGS_FILE, StoredSettings};

/// The journal's file name in a data directory given with `TL_UPLOADER_DATA_DIR`; otherwise
/// the app shares `tlup`'s journal ([`Journal::open_default`]).
pub const JOURNAL_FILE: &str = "journal.sqlite3";

/// How long startup waits for the keychain before going on without the key.
const KEYCHAIN_STARTUP_LIMIT: Duration = Duration::from_secs(5);

/// Where the app keeps its files.
///
/// | | Linux | macOS | Windows |
/// |---|---|---|---|
/// | data | `~/.local/share/ID` | `~/Library/Application Support/ID` | `%APPDATA%\ID` |
/// | cache | `~/.cache/ID` | `~/Library/Caches/ID` | `%LOCALAPPDATA%\ID` |
/// | logs | `~/.local/state/ID/logs` | `~/Library/Logs/ID` | `%LOCALAPPDATA%\ID\logs` |
///
/// `ID` is the app identifier, `io.tluploader.desktop`; the XDG variables
/// (`XDG_DATA_HOME`, `XDG_CACHE_HOME`, `XDG_STATE_HOME`) move the Linux ones. The window's
/// size and place are kept in the config directory (`~/.config/ID` on Linux, the data
/// directory elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// Settings and the journal.
    pub data: PathBuf,
    /// The embedded sandbox's chunks.
    pub cache: PathBuf,
    /// The log files.
    pub logs: PathBuf,
}

impl Dirs {
    /// Everything under one directory: what `TL_UPLOADER_DATA_DIR` asks for.
    pub fn under(dir: &Path) -> Self {
        Self {
            data: dir.to_path_buf(),
            cache: dir.join("cache"),
            logs: dir.join("logs"),
        }
    }
}

/// How the app is set up; [`Config::from_env`] for the real app, literals in tests.
#[derive(Debug, Clone)]
pub struct Config {
    /// `TL_UPLOADER_DATA_DIR`; `None` for the platform's directories.
    pub data_dir: Option<PathBuf>,
    /// `TWELVELABS_API_KEY` + `TWELVELABS_BASE_URL`.
    pub remote: Option<Remote>,
    /// `TWELVELABS_BASE_URL`: the TwelveLabs base URL (the public API when `None`).
    pub base_url: Option<String>,
    /// `TL_UPLOADER_SANDBOX_ARGS`, split into words.
    pub sandbox_args: Vec<String>,
    /// Where the API key is kept.
    pub keychain: Keychain,
}

/// A server and key given from outside, which take the TwelveLabs endpoint's place.
#[derive(Clone)]
pub struct Remote {
    /// The API key.
    pub api_key: String,
    /// The base URL, `.../v1.3`.
    pub base_url: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl Config {
    /// The configuration the environment describes (see the module docs).
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let base_url = var("TWELVELABS_BASE_URL");
        let remote = match (var("TWELVELABS_API_KEY"), &base_url) {
            (Some(api_key), Some(url)) => Some(Remote {
                api_key,
                base_url: url.clone(),
            }),
            _ => None,
        };
        Self {
            data_dir: var("TL_UPLOADER_DATA_DIR").map(PathBuf::from),
            remote,
            base_url,
            sandbox_args: var("TL_UPLOADER_SANDBOX_ARGS")
                .map(|a| sandbox::split_args(&a))
                .unwrap_or_default(),
            keychain: Keychain::app(),
        }
    }
}

/// The managed state.
#[derive(Debug)]
pub struct AppState {
    data_dir: PathBuf,
    cache_dir: PathBuf,
    log_dir: PathBuf,
    keychain: Keychain,
    sandbox_args: Vec<String>,
    /// The TwelveLabs base URL for the keychain's key.
    base_url: String,
    /// The client of `TWELVELABS_API_KEY` + `TWELVELABS_BASE_URL`, which wins over the key.
    env_remote: Option<MultipartUploadClient>,
    /// The journal, or why it cannot be used (uploads then run without one).
    journal: Result<Journal, CommandError>,
    /// Starts every upload of the app, recording into the journal; its link (parallelism,
    /// bandwidth limit, files at once) follows the settings.
    uploader: Uploader,
    conn: Mutex<Conn>,
    /// Started on first need and kept until exit, so an upload that began on it can finish
    /// after the user switches to TwelveLabs.
    sandbox: Mutex<Option<EmbeddedSandbox>>,
    /// Whether the keychain answered at startup (or took a key since); asking again could
    /// block for as long as the OS takes to give up.
    keychain_available: AtomicBool,
    /// The uploads.
    pub(crate) queue: Queue,
    /// The "keep the computer awake" setting, for the task that holds the guard (see
    /// [`crate::awake`]).
    keep_awake: watch::Sender<bool>,
    /// Files given on the command line that could not be queued, until the UI takes them.
    refused: Mutex<Vec<AddResult>>,
}

#[derive(Debug)]
struct Conn {
    settings: StoredSettings,
    /// The TwelveLabs client, when there is a key.
    remote: Option<MultipartUploadClient>,
    /// Whether the keychain holds a key.
    keychain_key: bool,
}

impl AppState {
    /// Opens the settings and the journal in the data directory and reads the key from the
    /// keychain. `platform_dirs` gives the platform's directories, asked for only when the
    /// config names no data directory.
    ///
    /// # Errors
    ///
    /// A [`CommandError`] when the platform's directories are unknown or the environment's
    /// server URL is not a URL. A journal that cannot be opened is not fatal: uploads run
    /// without it and listing sessions reports why.
    pub fn open(
        config: Config,
        platform_dirs: impl FnOnce() -> Result<Dirs, CommandError>,
    ) -> Result<Self, CommandError> {
        let dirs = match &config.data_dir {
            Some(dir) => Dirs::under(dir),
            None => platform_dirs()?,
        };
        let (data_dir, cache_dir, log_dir) = (dirs.data, dirs.cache, dirs.logs);
        let settings = StoredSettings::load(&data_dir.join(SETTINGS_FILE));
        let journal = open_journal(config.data_dir.as_deref());
        let uploader = Uploader::new(journal.as_ref().ok().cloned());
        if let Err(e) = settings.apply_to(&uploader) {
            // `load` keeps every value in range, so this is a bug; the engine's defaults hold.
            log::error!("the link settings were refused: {}", e.message);
        }
        let base_url = config
            .base_url
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let env_remote = match &config.remote {
            Some(r) => Some(client(&r.api_key, &r.base_url)?),
            None => None,
        };
        let probe = config.keychain.probe(KEYCHAIN_STARTUP_LIMIT);
        let mut keychain_key = false;
        let mut remote = env_remote.clone();
        match probe.key {
            Ok(Some(key)) => {
                keychain_key = true;
                if remote.is_none() {
                    remote = client(&key, &base_url).ok();
                }
            }
            Ok(None) => {}
            // The message names the keychain's trouble, never the key.
            Err(e) => log::warn!("the keychain cannot be read: {}", e.message),
        }
        Ok(Self {
            data_dir,
            cache_dir,
            log_dir,
            keychain: config.keychain,
            sandbox_args: config.sandbox_args,
            base_url,
            env_remote,
            uploader,
            journal,
            conn: Mutex::new(Conn {
                settings,
                remote,
                keychain_key,
            }),
            sandbox: Mutex::new(None),
            keychain_available: AtomicBool::new(probe.available),
            queue: Queue::default(),
            keep_awake: watch::Sender::new(settings.keep_awake),
            refused: Mutex::new(Vec::new()),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        // The guarded data is plain values, consistent after any panic.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the refused ones of `results` for the UI (see [`Self::take_refused`]).
    pub(crate) fn keep_refused(&self, results: &[AddResult]) {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused.extend(results.iter().filter(|r| r.error.is_some()).cloned());
    }

    /// The refused files kept since the last call, oldest first.
    pub fn take_refused(&self) -> Vec<AddResult> {
        std::mem::take(&mut *self.refused.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The keychain entry of the API key.
    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    /// The journal.
    ///
    /// # Errors
    ///
    /// Why it could not be opened.
    pub fn journal(&self) -> Result<Journal, CommandError> {
        self.journal.clone()
    }

    /// The engine's uploader, which every upload of the app goes through.
    pub fn uploader(&self) -> &Uploader {
        &self.uploader
    }

    /// The endpoint in use and its client, starting the embedded sandbox when that is the
    /// endpoint and it is not running yet.
    ///
    /// # Errors
    ///
    /// Why the sandbox could not start.
    pub fn client(&self) -> Result<(Endpoint, MultipartUploadClient), CommandError> {
        {
            let conn = self.conn();
            if let (Endpoint::Twelvelabs, Some(c)) = (conn.settings.endpoint, &conn.remote) {
                return Ok((Endpoint::Twelvelabs, c.clone()));
            }
        }
        let mut sandbox = self.sandbox.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = sandbox.as_ref() {
            return Ok((Endpoint::Sandbox, s.client().clone()));
        }
        let started = EmbeddedSandbox::start(&self.cache_dir, &self.sandbox_args)?;
        let c = started.client().clone();
        *sandbox = Some(started);
        Ok((Endpoint::Sandbox, c))
    }

    /// Whether the setting asks to keep the computer awake while uploads run, updated on
    /// every change.
    pub(crate) fn keep_awake(&self) -> watch::Receiver<bool> {
        self.keep_awake.subscribe()
    }

    /// The stored settings.
    pub fn stored_settings(&self) -> StoredSettings {
        self.conn().settings
    }

    /// The settings as the UI shows them.
    ///
    /// # Errors
    ///
    /// Why the sandbox could not start, in sandbox mode.
    pub fn settings(&self) -> Result<Settings, CommandError> {
        let (endpoint, client) = self.client()?;
        let conn = self.conn();
        Ok(Settings {
            endpoint,
            has_api_key: conn.keychain_key || self.env_remote.is_some(),
            parallel_chunks: conn.settings.parallel_chunks,
            bandwidth_limit: conn.settings.bandwidth_limit,
            files_at_once: conn.settings.files_at_once,
            file_type: conn.settings.file_type,
            keep_awake: conn.settings.keep_awake,
            base_url: client.base_url().to_owned(),
            proxy: client.proxy().map(|p| ProxyRoute {
                host: p.host.clone(),
                source: match p.source {
                    ProxySource::Environment(name) => name.to_owned(),
                    ProxySource::System => "system".to_owned(),
                },
            }),
            journal_path: match &self.journal {
                Ok(journal) => journal.path().to_string_lossy().into_owned(),
                Err(e) => e.message.clone(),
            },
            log_dir: self.log_dir.to_string_lossy().into_owned(),
            keychain_available: self.keychain_available.load(Ordering::Relaxed),
        })
    }

    /// Changes and saves the settings. A new endpoint applies to uploads that start from
    /// now on; the parallelism, the bandwidth limit, the files at once and keeping the
    /// computer awake apply at once, to running uploads too.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Invalid`] for values out of range or TwelveLabs without a key;
    /// [`ErrorCode::Io`] when the file cannot be written (nothing changes then).
    pub fn set_settings(&self, input: &SettingsInput) -> Result<Settings, CommandError> {
        {
            let mut conn = self.conn();
            let new = StoredSettings::from_input(input, &conn.settings)?;
            if new.endpoint == Endpoint::Twelvelabs && conn.remote.is_none() {
                return Err(CommandError::invalid(
                    "save a TwelveLabs API key first; until then uploads go to the local sandbox",
                ));
            }
            new.save(&self.data_dir.join(SETTINGS_FILE))?;
            new.apply_to(&self.uploader)?;
            self.keep_awake.send_replace(new.keep_awake);
            conn.settings = new;
        }
        self.settings()
    }

    /// A client for `key` on the TwelveLabs endpoint, to check the key before it is stored.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Invalid`] for a key the client refuses (empty, control characters).
    pub fn client_for_key(&self, key: &str) -> Result<MultipartUploadClient, CommandError> {
        if key.trim().is_empty() {
            return Err(CommandError::invalid(
                "the API key is empty; paste your key",
            ));
        }
        client(key.trim(), &self.base_url)
    }

    /// Switches to the TwelveLabs endpoint with `remote`, the client of a key just stored in
    /// the keychain (the environment's server still wins when it is set).
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Io`] when the settings cannot be written.
    pub fn use_key(&self, remote: MultipartUploadClient) -> Result<Settings, CommandError> {
        {
            self.keychain_available.store(true, Ordering::Relaxed);
            let mut conn = self.conn();
            conn.keychain_key = true;
            conn.remote = Some(self.env_remote.clone().unwrap_or(remote));
            conn.settings.endpoint = Endpoint::Twelvelabs;
            conn.settings.save(&self.data_dir.join(SETTINGS_FILE))?;
        }
        self.settings()
    }

    /// Goes back to the sandbox after the key was deleted from the keychain.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Io`] when the settings cannot be written; why the sandbox cannot start.
    pub fn forget_key(&self) -> Result<Settings, CommandError> {
        {
            let mut conn = self.conn();
            conn.keychain_key = false;
            conn.remote = self.env_remote.clone();
            conn.settings.endpoint = Endpoint::Sandbox;
            conn.settings.save(&self.data_dir.join(SETTINGS_FILE))?;
        }
        self.settings()
    }

    /// Stops the embedded sandbox and removes its chunks; called when the app exits.
    pub fn shutdown(&self) {
        let sandbox = self
            .sandbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(sandbox);
    }
}

/// A client for `key` at `base_url`.
fn client(key: &str, base_url: &str) -> Result<MultipartUploadClient, CommandError> {
    MultipartUploadClient::builder()
        .api_key(key)
        .base_url(base_url)
        .build()
        .map_err(|e| match e {
            tl_upload::ApiError::Config(ConfigError::ApiKeyControlCharacters) => {
                CommandError::invalid("the API key contains control characters; paste it again")
            }
            tl_upload::ApiError::Config(ConfigError::MissingApiKey) => {
                CommandError::invalid("the API key is empty; paste your key")
            }
            other => CommandError::from(other),
        })
}

/// The journal: the one `tlup` uses too (taking in a journal an earlier version left in
/// the app's data directory), or the one in `data_dir` when the environment names one.
fn open_journal(data_dir: Option<&Path>) -> Result<Journal, CommandError> {
    match data_dir {
        Some(dir) => Journal::open(dir.join(JOURNAL_FILE)).map_err(CommandError::from),
        None => Journal::open_default()?.ok_or_else(|| {
            CommandError::new(
                crate::ipc::ErrorCode::Io,
                "this system has no data directory for the upload journal",
            )
        }),
    }
}
