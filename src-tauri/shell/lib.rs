//! The Tauri shell of TL Uploader: the window, the plugins, and the commands that connect
//! the web UI in `ui/` to the upload engine in the `tl-upload` crate.
//!
//! # Layout
//!
//! - [`ipc`]: everything that crosses to the UI (exported to TypeScript by ts-rs).
//! - `commands`: the thin `#[tauri::command]`s.
//! - [`state`]: [`AppState`], the one managed state, and [`Config`] (the environment
//!   overrides are documented there).
//! - `queue`: the uploads, one file at a time, and the task that drives them.
//! - `sessions`: file checks, resumable sessions, resuming and forgetting them.
//! - `forward`: engine progress to `upload://progress` events.
//! - [`convert`]: engine types to IPC types.
//! - [`settings`]: `settings.json`. [`keychain`]: the API key in the OS keychain.
//! - `sandbox`: the embedded local sandbox. `error`: engine errors to [`ipc::CommandError`].

mod commands;
pub mod convert;
mod error;
mod forward;
pub mod ipc;
pub mod keychain;
mod queue;
mod sandbox;
mod sessions;
pub mod settings;
pub mod state;

use tauri::{Manager, Runtime};

use ipc::{CommandError, ErrorCode};

pub use keychain::Keychain;
pub use state::{AppState, Config, Remote};

/// Builds the app on any Tauri runtime: the plugins and commands of [`register`], and in
/// setup (where the app's directories are known) [`start`] with the configuration of the
/// environment (see [`state`]).
pub fn app<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    register(builder).setup(|app| {
        start(app.handle(), Config::from_env())?;
        Ok(())
    })
}

/// The dialog plugin and the commands, in one sorted list. Tests pass a mock builder and
/// call [`start`] themselves, since the mock runtime never runs setup.
pub fn register<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            commands::add_uploads,
            commands::cancel_upload,
            commands::delete_api_key,
            commands::forget_session,
            commands::get_settings,
            commands::list_resumable,
            commands::list_uploads,
            commands::pause_upload,
            commands::remove_upload,
            commands::resume_session,
            commands::resume_upload,
            commands::save_api_key,
            commands::set_settings,
        ])
}

/// Makes the [`AppState`] from `config`, hands it to Tauri and starts the queue's task.
///
/// # Errors
///
/// The platform's directories cannot be found, or the config's server URL is not a URL.
pub fn start<R: Runtime>(app: &tauri::AppHandle<R>, config: Config) -> Result<(), CommandError> {
    let platform_dirs = || {
        let path = app.path();
        let dir = |found: tauri::Result<std::path::PathBuf>| {
            found.map_err(|e| {
                CommandError::new(
                    ErrorCode::Io,
                    format!("cannot find the app's directories: {e}"),
                )
            })
        };
        Ok((dir(path.app_data_dir())?, dir(path.app_cache_dir())?))
    };
    let state = AppState::open(config, platform_dirs)?;
    let handle = app.clone();
    state
        .queue
        .publish_to(Box::new(move |view| forward::progress(&handle, view)));
    app.manage(state);
    tauri::async_runtime::spawn(queue::run(app.clone()));
    Ok(())
}

/// Runs the desktop app. The embedded sandbox is stopped (and its chunks removed) on exit.
///
/// # Panics
///
/// When the window system cannot be initialised (no display); there is nothing to show the
/// error in, so it ends the process with Tauri's message.
pub fn run() {
    #[allow(clippy::expect_used)]
    app(tauri::Builder::default())
        .build(tauri::generate_context!())
        .expect("the TL Uploader window could not be started")
        .run(|handle, event| {
            if let tauri::RunEvent::Exit = event
                && let Some(state) = handle.try_state::<AppState>()
            {
                state.shutdown();
            }
        });
}
