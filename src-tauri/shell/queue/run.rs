//! The runner: one task for the app's life that hands each queued upload to the engine as
//! soon as it is queued, in the order added (the engine's admission decides when it really
//! starts; see the queue), follows it on a task of its own, and records how it ended.

use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};
use tl_upload::{MultipartUploadClient, UploadHandle, UploadOptions, UploadResult, UploadSource};

use super::Turn;
use crate::forward;
use crate::ipc::{CommandError, ErrorCode, UploadRow, UploadState};
use crate::state::AppState;

/// How long the app waits for an uploaded file's asset to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Hands queued uploads to the engine until the app exits. Started once, in setup, after
/// the state is managed.
pub(crate) async fn run<R: Runtime>(app: AppHandle<R>) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    loop {
        let turns = state.queue.take_queued();
        if turns.is_empty() {
            state.queue.wait().await;
            continue;
        }
        // One after the other, here: the engine orders uploads by when they were started.
        for turn in turns {
            hand_over(&app, &state, turn);
        }
        forward::sessions_changed(&app);
    }
}

/// Starts `turn` in the engine and follows it to its end on a task of its own.
fn hand_over<R: Runtime>(app: &AppHandle<R>, state: &AppState, turn: Turn) {
    let (client, handle) = match start(state, &turn) {
        Ok(started) => started,
        Err(error) => {
            conclude(app, state, &turn, Err(error));
            return;
        }
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let outcome = follow(&app, &turn, handle).await;
        if let Some(state) = app.try_state::<AppState>() {
            conclude(&app, &state, &turn, outcome.map(|result| (client, result)));
        }
    });
}

/// Starts `turn` in the engine, on the endpoint and with the media type of the moment.
fn start(
    state: &AppState,
    turn: &Turn,
) -> Result<(MultipartUploadClient, UploadHandle), CommandError> {
    let (endpoint, client) = state.client()?;
    let settings = state.stored_settings();
    log::info!(
        "{}: {} {} on {endpoint:?} at {}",
        turn.id,
        match turn.source {
            UploadSource::NewFile(_) => "uploading",
            UploadSource::Journal { .. } | UploadSource::Server { .. } => "resuming",
        },
        turn.path.display(),
        client.base_url(),
    );
    // The link (parallelism, bandwidth, files at once) is the uploader's; the per-upload cap
    // on chunks in flight stays the engine's default, so one file may use the whole link.
    let options = UploadOptions {
        file_type: settings.engine_file_type(),
        ..UploadOptions::default()
    };
    let handle =
        state
            .uploader()
            .start_with(turn.controls.clone(), &client, turn.source.clone(), options);
    Ok((client, handle))
}

/// Forwards `handle`'s progress to the queue until the upload ends, and gives its result.
async fn follow<R: Runtime>(
    app: &AppHandle<R>,
    turn: &Turn,
    handle: UploadHandle,
) -> Result<UploadResult, CommandError> {
    // The last snapshot is folded in before the runner records the end, so a late one
    // never overwrites the final state.
    let forwarding = tauri::async_runtime::spawn(forward::follow(
        app.clone(),
        turn.id.clone(),
        handle.progress(),
    ));
    let result = handle.result().await;
    let _ = forwarding.await;
    Ok(result?)
}

/// Records how `turn` ended, tells the UI, and for a transferred file starts waiting for
/// its asset beside the uploads still sending.
fn conclude<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    turn: &Turn,
    outcome: Result<(MultipartUploadClient, UploadResult), CommandError>,
) {
    match outcome {
        Ok((client, result)) => {
            log::info!(
                "{}: all {} chunks are in after {:.1} s (upload {}, asset {}; {} chunks and \
                 {} bytes sent by this run, {} retries, {} URL refreshes, {} copies raced)",
                turn.id,
                result.total_chunks,
                result.elapsed_seconds,
                result.upload_id,
                result.asset_id,
                result.chunks_uploaded,
                result.bytes_uploaded,
                result.retries,
                result.urls_refreshed,
                result.copies_raced,
            );
            let asset_id = result.asset_id.clone();
            state.queue.finish(&turn.id, |v| {
                v.state = UploadState::Processing;
                v.upload_id = Some(result.upload_id.clone());
                v.asset_id = Some(result.asset_id.clone());
                v.asset_url = result.asset_url.clone();
                v.total_chunks = result.total_chunks;
                v.completed_chunks = result.total_chunks;
                v.bytes_sent = result.total_bytes;
                v.bytes_acknowledged = result.total_bytes;
                v.percentage = 100.0;
                v.eta_seconds = None;
                v.offline_since_ms = None;
                v.in_flight.clear();
                v.error = None;
            });
            tauri::async_runtime::spawn(wait_ready(app.clone(), turn.id.clone(), client, asset_id));
        }
        Err(error) => {
            if error.code == ErrorCode::Cancelled {
                log::info!("{}: cancelled", turn.id);
            } else {
                log::warn!("{}: failed ({:?}): {}", turn.id, error.code, error.message);
            }
            state.queue.finish(&turn.id, |v| stopped(v, error));
        }
    }
    forward::sessions_changed(app);
}

/// Marks a view as stopped by `error`: cancelled or failed, with nothing in flight.
fn stopped(v: &mut UploadRow, error: CommandError) {
    v.state = match error.code {
        ErrorCode::Cancelled => UploadState::Cancelled,
        _ => UploadState::Failed,
    };
    v.error = Some(error);
    v.bytes_per_second = 0.0;
    v.eta_seconds = None;
    v.offline_since_ms = None;
    v.in_flight.clear();
    v.chunks = v
        .chunks
        .chars()
        .map(|c| if matches!(c, 'u' | 'r') { 'p' } else { c })
        .collect();
}

/// Waits for the asset of a transferred upload, then marks it completed (or failed).
async fn wait_ready<R: Runtime>(
    app: AppHandle<R>,
    id: String,
    client: MultipartUploadClient,
    asset_id: String,
) {
    let outcome = client.wait_for_asset(&asset_id, READY_TIMEOUT).await;
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    match &outcome {
        Ok(_) => log::info!("{id}: asset {asset_id} is ready"),
        Err(e) => log::warn!("{id}: asset {asset_id} did not become ready: {e}"),
    }
    state.queue.update(&id, |v| match outcome {
        Ok(_) => v.state = UploadState::Completed,
        Err(e) => stopped(v, CommandError::from(e)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_upload_has_nothing_in_flight() {
        let mut v = crate::queue::Queue::default().push(
            "/v/a.mp4",
            9,
            UploadSource::NewFile("/v/a.mp4".into()),
        );
        v.chunks = "durps".into();
        v.bytes_per_second = 9.0;
        stopped(&mut v, CommandError::new(ErrorCode::Cancelled, "cancelled"));
        assert_eq!(v.state, UploadState::Cancelled);
        assert_eq!(v.chunks, "dppps");
        assert_eq!(v.bytes_per_second, 0.0);
        stopped(&mut v, CommandError::new(ErrorCode::Network, "down"));
        assert_eq!(v.state, UploadState::Failed);
    }
}
