//! Progress to the UI: the engine's snapshots become `upload://progress` events, and facts
//! that change the list of resumable sessions become `sessions://changed`.
//!
//! The engine publishes a snapshot every 100 ms (its `progress_interval`) and at once on
//! every phase change, so forwarding each one gives about 10 events a second per upload plus
//! the state changes. A snapshot identical to the last one sent (a paused upload ticking) is
//! not sent again.

use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tl_upload::{PauseSwitch, ProgressCallback};

use crate::convert;
use crate::ipc::{SESSIONS_CHANGED_EVENT, UPLOAD_PROGRESS_EVENT, UploadProgress};
use crate::state::AppState;

/// Sends an upload's view to the UI: the queue's sink (see `queue`).
pub(crate) fn progress<R: Runtime>(app: &AppHandle<R>, view: &UploadProgress) {
    // Emitting fails only when the app is going away; there is no one left to tell.
    let _ = app.emit(UPLOAD_PROGRESS_EVENT, view);
}

/// Tells the UI to list the resumable sessions again.
pub(crate) fn sessions_changed<R: Runtime>(app: &AppHandle<R>) {
    let _ = app.emit(SESSIONS_CHANGED_EVENT, ());
}

/// The engine callback of upload `id`: folds each snapshot into the queue's view, which the
/// queue publishes when it changed. It runs on the engine's tasks, so it does nothing else.
pub(crate) fn callback<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    pause: PauseSwitch,
) -> ProgressCallback {
    Arc::new(move |snapshot: &tl_upload::UploadProgress| {
        let Some(state) = app.try_state::<AppState>() else {
            return;
        };
        let (_, new_session) = state.queue.update(&id, |view| {
            convert::apply(view, snapshot, pause.is_paused())
        });
        if new_session {
            sessions_changed(&app);
        }
    })
}
