//! The commands the UI invokes. Each one converts its arguments, asks the state, the queue
//! or the engine, and maps errors to [`CommandError`]; the work lives elsewhere. Changes of
//! an upload reach the UI as `upload://progress` events from the queue itself.
//!
//! Argument names are snake_case here and camelCase on the JS side (`uploadId`). Commands
//! that touch the disk, the network or the keychain are async, so they run on the async
//! runtime instead of the window's main thread.

use std::path::PathBuf;

use tauri::{AppHandle, Runtime, State};

use crate::forward;
use crate::ipc::{
    AddResult, CommandError, ErrorCode, SessionRow, Settings, SettingsInput, UploadRow,
};
use crate::sessions;
use crate::state::AppState;

/// Queues an upload per acceptable path; refuses directories, empty, missing and unreadable
/// files one by one, saying why.
#[tauri::command]
pub async fn add_uploads(
    state: State<'_, AppState>,
    paths: Vec<String>,
) -> Result<Vec<AddResult>, CommandError> {
    Ok(sessions::add_paths(&state, paths).await)
}

/// Hands over, once, the files given on the command line (or by a second launch) that
/// could not be queued, so the UI can say why; `files://refused` announces new ones.
#[tauri::command]
pub fn take_refused_files(state: State<'_, AppState>) -> Vec<AddResult> {
    state.take_refused()
}

/// Pauses an upload: chunks in flight finish, no new one starts.
#[tauri::command]
pub fn pause_upload(state: State<'_, AppState>, id: String) -> Result<UploadRow, CommandError> {
    state.queue.pause(&id)
}

/// Resumes a paused upload, or queues a cancelled or failed one again (resuming its session
/// when it has one).
#[tauri::command]
pub async fn continue_upload(
    state: State<'_, AppState>,
    id: String,
) -> Result<UploadRow, CommandError> {
    let retry = sessions::retry_source(&state, &state.queue.view(&id)?).await?;
    state.queue.resume(&id, retry)
}

/// Cancels an upload. Its session stays resumable until it expires.
#[tauri::command]
pub fn cancel_upload<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<UploadRow, CommandError> {
    let view = state.queue.cancel(&id)?;
    forward::sessions_changed(&app);
    Ok(view)
}

/// Removes a completed, failed or cancelled upload from the list.
#[tauri::command]
pub fn remove_upload(state: State<'_, AppState>, id: String) -> Result<(), CommandError> {
    state.queue.remove(&id)
}

/// The uploads, oldest first.
#[tauri::command]
pub fn list_uploads(state: State<'_, AppState>) -> Vec<UploadRow> {
    state.queue.list()
}

/// The unfinished sessions of the endpoint in use, from the journal and the server.
#[tauri::command]
pub async fn list_resumable(state: State<'_, AppState>) -> Result<Vec<SessionRow>, CommandError> {
    sessions::list(&state).await
}

/// Queues the resumption of a session, with `path` as its file when it moved or when only
/// the server knows the session.
#[tauri::command]
pub async fn resume_session<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    upload_id: String,
    path: Option<String>,
) -> Result<UploadRow, CommandError> {
    let path = path.filter(|p| !p.trim().is_empty()).map(PathBuf::from);
    let view = sessions::queue_resume(&state, &upload_id, path).await?;
    forward::sessions_changed(&app);
    Ok(view)
}

/// Gives a session up: it is no longer offered for resuming.
#[tauri::command]
pub async fn forget_session<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    upload_id: String,
) -> Result<(), CommandError> {
    sessions::forget(&state, &upload_id).await?;
    forward::sessions_changed(&app);
    Ok(())
}

/// The settings (starting the local sandbox when it is the endpoint).
#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings, CommandError> {
    state.settings()
}

/// Changes the settings. The endpoint and the media type apply to uploads that start from
/// now; the parallelism, the bandwidth limit and the files at once apply at once, to
/// running uploads too.
#[tauri::command]
pub async fn set_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: SettingsInput,
) -> Result<Settings, CommandError> {
    let settings = state.set_settings(&settings)?;
    forward::sessions_changed(&app);
    Ok(settings)
}

/// Stores the API key in the OS keychain and switches to the TwelveLabs endpoint.
#[tauri::command]
pub async fn save_api_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    key: String,
) -> Result<Settings, CommandError> {
    let client = state.client_for_key(&key)?;
    let keychain = state.keychain().clone();
    let key = key.trim().to_owned();
    blocking(move || keychain.set(&key)).await?;
    let settings = state.use_key(client)?;
    forward::sessions_changed(&app);
    Ok(settings)
}

/// Removes the API key from the OS keychain and goes back to the local sandbox.
#[tauri::command]
pub async fn delete_api_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Settings, CommandError> {
    let keychain = state.keychain().clone();
    blocking(move || keychain.delete()).await?;
    let settings = state.forget_key()?;
    forward::sessions_changed(&app);
    Ok(settings)
}

/// Runs a keychain call on the blocking pool: it may wait on D-Bus or an unlock prompt.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("the keychain call stopped: {e}"),
        )
    })?
}

/// Quits the app (Ctrl+Q), the way closing the window does: the window's size and place are
/// saved, and unfinished uploads stay resumable from the journal.
#[tauri::command]
pub fn quit<R: Runtime>(app: AppHandle<R>) {
    log::info!("quit from the window");
    app.exit(0);
}

/// The page has loaded and shown its first view. With `TL_UPLOADER_EXIT_WHEN_READY=1` (see
/// [`crate::state`]) the app then says so on stdout and exits with code 0: a startup check
/// that the window really brings its page up.
#[tauri::command]
pub fn ui_ready<R: Runtime>(app: AppHandle<R>) {
    log::info!("the window's page is ready");
    if std::env::var_os("TL_UPLOADER_EXIT_WHEN_READY").is_some_and(|v| v == "1") {
        println!("tl-uploader: ui ready");
        app.exit(0);
    }
}
