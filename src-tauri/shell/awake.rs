//! Keeping the computer awake while uploads run: the engine's [`KeepAwake`] guard, held
//! exactly while the setting is on and at least one upload of the queue is running.
//!
//! "Running" is moving or about to move data: starting, uploading, confirming, or waiting
//! for the network (it goes on by itself when the network is back, which a sleeping
//! computer never sees). Queued, paused, processing and finished uploads need no awake
//! computer: nothing of theirs is lost by a sleep.
//!
//! The queue says whether anything runs on a `watch` channel whenever its lock is released
//! ([`Queue::running`](crate::queue::Queue::running)); the settings say whether the user
//! wants it. One task ([`run`]) follows both and takes or gives back the guard, off the
//! async workers, since asking the system may wait on D-Bus for a moment. A system that
//! cannot be asked is logged once as a warning; uploads never notice.

use tl_upload::awake::KeepAwake;
use tokio::sync::watch;

use crate::ipc::UploadState;

/// What the system shows as holding the computer awake.
const APP_NAME: &str = "TL Uploader";

/// Why, as the system shows it.
const REASON: &str = "Uploading video files";

/// Whether an upload in `state` keeps the computer awake (see the module docs).
pub fn keeps_awake(state: UploadState) -> bool {
    matches!(
        state,
        UploadState::Starting
            | UploadState::Uploading
            | UploadState::Confirming
            | UploadState::WaitingForNetwork
    )
}

/// Whether the guard should be held: the setting is on and an upload in `states` runs.
pub fn wanted(enabled: bool, states: impl IntoIterator<Item = UploadState>) -> bool {
    enabled && states.into_iter().any(keeps_awake)
}

/// Holds the guard while `running` (from the queue) and `enabled` (the setting) are both
/// true, until either sender is gone (the app exits). Started once, in setup.
pub(crate) async fn run(mut running: watch::Receiver<bool>, mut enabled: watch::Receiver<bool>) {
    let mut guard: Option<KeepAwake> = None;
    let mut warned = false;
    loop {
        let want = *enabled.borrow_and_update() && *running.borrow_and_update();
        if want && guard.is_none() {
            let asked =
                tauri::async_runtime::spawn_blocking(|| KeepAwake::acquire(APP_NAME, REASON)).await;
            match asked {
                Ok(Ok(held)) => {
                    log::info!("keeping the computer awake while uploads run");
                    guard = Some(held);
                }
                Ok(Err(why)) if !warned => {
                    warned = true;
                    log::warn!("cannot keep the computer awake while uploading: {why}");
                }
                Ok(Err(why)) => log::debug!("cannot keep the computer awake: {why}"),
                Err(e) => log::warn!("the request to keep the computer awake stopped: {e}"),
            }
        } else if !want && let Some(held) = guard.take() {
            // Giving it back joins its holding thread: a moment, but not on a worker.
            let _ = tauri::async_runtime::spawn_blocking(move || drop(held)).await;
            log::info!("no upload is running: the computer may sleep when idle again");
        }
        tokio::select! {
            changed = running.changed() => if changed.is_err() { break },
            changed = enabled.changed() => if changed.is_err() { break },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_running_uploads_keep_the_computer_awake_and_only_when_wanted() {
        use UploadState::*;
        for state in [Starting, Uploading, Confirming, WaitingForNetwork] {
            assert!(keeps_awake(state), "{state:?}");
        }
        for state in [Queued, Paused, Processing, Completed, Failed, Cancelled] {
            assert!(!keeps_awake(state), "{state:?}");
        }
        assert!(!wanted(true, []), "an empty queue");
        assert!(!wanted(true, [Queued, Paused, Completed, Processing]));
        assert!(wanted(true, [Paused, WaitingForNetwork, Completed]));
        assert!(wanted(true, [Queued, Uploading]));
        assert!(
            !wanted(false, [Uploading, Confirming]),
            "the setting is off"
        );
    }
}
