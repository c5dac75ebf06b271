//! The Tauri shell of TL Uploader: the window, the plugins, and the commands that connect
//! the web UI in `ui/` to the upload engine in the `tl-upload` crate.
//!
//! # Layout
//!
//! - [`ipc`]: everything that crosses to the UI (exported to TypeScript by ts-rs).
//! - `commands`: the thin `#[tauri::command]`s.
//! - [`state`]: [`AppState`], the one managed state, and [`Config`] (the environment
//!   overrides are documented there).
//! - `queue`: the uploads in the order added, and the task that hands them to the engine.
//! - [`awake`]: the computer kept awake while an upload runs (when the setting says so).
//! - `sessions`: file checks, resumable sessions, resuming and forgetting them.
//! - `forward`: engine progress to `upload://progress` events.
//! - [`convert`]: engine types to IPC types.
//! - [`settings`]: `settings.json`. [`keychain`]: the API key in the OS keychain.
//! - `sandbox`: the embedded local sandbox. `error`: engine errors to [`ipc::CommandError`].
//! - [`desktop`]: single instance, window state and the log file, for the real app only.
//! - [`opened`]: files from the command line, a second launch, or macOS's Open With.

pub mod awake;
mod commands;
pub mod convert;
pub mod desktop;
mod error;
mod forward;
pub mod ipc;
pub mod keychain;
pub mod opened;
mod queue;
mod sandbox;
mod sessions;
pub mod settings;
pub mod state;

use tauri::{Manager, Runtime};

use ipc::{CommandError, ErrorCode};

pub use keychain::Keychain;
pub use state::{AppState, Config, Dirs, Remote};

/// Builds the real app: the [`desktop`] plugins, the plugins and commands of [`register`],
/// and in setup (where the app's directories are known) [`start`] with the configuration of
/// the environment (see [`state`]), then the files named on the command line.
pub fn app<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    let config = Config::from_env();
    let log_dir = desktop::log_dir(&config);
    register(desktop::plugins(builder, &config, log_dir.clone())).setup(move |app| {
        log::info!(
            "TL Uploader {} starting (pid {})",
            app.package_info().version,
            std::process::id()
        );
        start(app.handle(), config, log_dir)?;
        let cwd = std::env::current_dir().unwrap_or_default();
        opened::open(app.handle(), opened::file_args(std::env::args(), &cwd));
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
            commands::continue_upload,
            commands::delete_api_key,
            commands::forget_session,
            commands::get_settings,
            commands::list_resumable,
            commands::list_uploads,
            commands::pause_upload,
            commands::quit,
            commands::remove_upload,
            commands::resume_session,
            commands::save_api_key,
            commands::set_settings,
            commands::take_refused_files,
            commands::ui_ready,
        ])
}

/// Makes the [`AppState`] from `config`, hands it to Tauri and starts the queue's task and
/// the one that keeps the computer awake while uploads run.
/// `log_dir` is where the logger writes, when not Tauri's `app_log_dir`.
///
/// # Errors
///
/// The platform's directories cannot be found, or the config's server URL is not a URL.
pub fn start<R: Runtime>(
    app: &tauri::AppHandle<R>,
    config: Config,
    log_dir: Option<std::path::PathBuf>,
) -> Result<(), CommandError> {
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
        Ok(Dirs {
            data: dir(path.app_data_dir())?,
            cache: dir(path.app_cache_dir())?,
            logs: match log_dir {
                Some(logs) => logs,
                None => dir(path.app_log_dir())?,
            },
        })
    };
    let state = AppState::open(config, platform_dirs)?;
    let handle = app.clone();
    state
        .queue
        .publish_to(Box::new(move |view| forward::progress(&handle, view)));
    let (running, keep_awake) = (state.queue.running(), state.keep_awake());
    app.manage(state);
    tauri::async_runtime::spawn(queue::run(app.clone()));
    tauri::async_runtime::spawn(awake::run(running, keep_awake));
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
        .run(|handle, event| match event {
            tauri::RunEvent::Exit => {
                if let Some(state) = handle.try_state::<AppState>() {
                    state.shutdown();
                }
                log::info!("TL Uploader exits");
            }
            // The Finder's Open With (and a file dropped on the Dock icon) comes as an event.
            #[cfg(target_os = "macos")]
            tauri::RunEvent::Opened { urls } => {
                let paths = urls
                    .iter()
                    .filter_map(|url| url.to_file_path().ok())
                    .map(|path| path.to_string_lossy().into_owned())
                    .collect();
                opened::open(handle, paths);
            }
            _ => {}
        });
}
