//! Progress to the UI: the engine's snapshots become `upload://progress` events, and facts
//! that change the list of resumable sessions become `sessions://changed`.
//!
//! The engine publishes a snapshot every 100 ms (its `progress_interval`) and at once on
//! every phase change (a subscription never misses one), so forwarding each one gives
//! about 10 events a second per upload plus the state changes. A snapshot that changes
//! nothing in the view (a paused upload ticking) is not sent again.

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tl_upload::ProgressReceiver;

use crate::ipc::{SESSIONS_CHANGED_EVENT, UPLOAD_PROGRESS_EVENT, UploadRow};
use crate::state::AppState;

/// Sends an upload's view to the UI: the queue's sink (see `queue`).
pub(crate) fn progress<R: Runtime>(app: &AppHandle<R>, view: &UploadRow) {
    // Emitting fails only when the app is going away; there is no one left to tell.
    let _ = app.emit(UPLOAD_PROGRESS_EVENT, view);
}

/// Tells the UI to list the resumable sessions again.
pub(crate) fn sessions_changed<R: Runtime>(app: &AppHandle<R>) {
    let _ = app.emit(SESSIONS_CHANGED_EVENT, ());
}

/// Folds upload `id`'s progress into the queue's view until the upload ends; the queue
/// publishes each view that changed.
pub(crate) async fn follow<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    mut progress: ProgressReceiver,
) {
    while let Some(snapshot) = progress.next().await {
        let Some(state) = app.try_state::<AppState>() else {
            return;
        };
        if state.queue.progress(&id, &snapshot) {
            sessions_changed(&app);
        }
    }
}
