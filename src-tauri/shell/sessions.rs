//! Files and sessions, as thin calls of the engine: checking a file before it is queued,
//! listing the sessions that can be resumed, queueing a resumption, and giving a session up.

use std::path::{Path, PathBuf};

use tl_upload::{UploadError, UploadSource};

use crate::convert;
use crate::ipc::{AddResult, CommandError, ErrorCode, SessionRow, UploadRow};
use crate::state::AppState;

/// Queues an upload per acceptable path, in order; a refused path (a directory, an empty,
/// missing or unreadable file) carries its error instead.
pub(crate) async fn add_paths(state: &AppState, paths: Vec<String>) -> Vec<AddResult> {
    let mut results = Vec::with_capacity(paths.len());
    for path in paths {
        let (upload, error) = match check_file(Path::new(&path)).await {
            Ok(size) => {
                let source = UploadSource::NewFile(PathBuf::from(&path));
                (Some(state.queue.push(&path, size, source)), None)
            }
            Err(e) => {
                log::info!("refused {path}: {}", e.message);
                (None, Some(e))
            }
        };
        results.push(AddResult {
            path,
            upload,
            error,
        });
    }
    results
}

/// The engine's file check ([`tl_upload::inspect`]) off the async runtime's threads: the
/// size of a readable, non-empty file. The engine checks again when the upload starts;
/// checking here lets the UI say at once what is wrong.
///
/// # Errors
///
/// The engine's file errors: not found, a directory, empty, unreadable.
pub async fn check_file(path: &Path) -> Result<u64, CommandError> {
    let owned = path.to_path_buf();
    let checked = tauri::async_runtime::spawn_blocking(move || tl_upload::inspect(&owned))
        .await
        .map_err(|e| {
            CommandError::new(ErrorCode::Internal, format!("the file check stopped: {e}"))
        })?;
    Ok(checked?.size)
}

/// The unfinished sessions of the endpoint in use (the engine's listing), marked `active`
/// when the queue holds them.
///
/// # Errors
///
/// Why the journal cannot be used, or the server's error (network, key, server).
pub async fn list(state: &AppState) -> Result<Vec<SessionRow>, CommandError> {
    state.journal()?;
    let (_, client) = state.client()?;
    let sessions = state.uploader().resumable_sessions(&client).await?;
    let active = state.queue.active_sessions();
    Ok(sessions
        .into_iter()
        .map(|s| {
            let is_active = active.contains(&s.upload_id);
            convert::session(s, is_active)
        })
        .collect())
}

/// Queues the resumption of session `upload_id` by the engine's rule: from the journal when
/// it knows the session (at `path` if the file moved), otherwise from the server with the
/// file at `path`.
///
/// # Errors
///
/// [`ErrorCode::Conflict`] when the queue already holds the session; [`ErrorCode::Invalid`]
/// when only the server knows it and no file was given; the file's problems.
pub async fn queue_resume(
    state: &AppState,
    upload_id: &str,
    path: Option<PathBuf>,
) -> Result<UploadRow, CommandError> {
    if state.queue.active_sessions().contains(upload_id) {
        return Err(CommandError::new(
            ErrorCode::Conflict,
            format!("session {upload_id} is already in the upload list"),
        ));
    }
    let (_, client) = state.client()?;
    let without_file = path.is_none();
    let source = match state.uploader().source_for(&client, upload_id, path).await {
        Ok(source) => source,
        Err(UploadError::NeedsFile { .. } | UploadError::SessionNotFound { .. })
            if without_file =>
        {
            return Err(CommandError::invalid(format!(
                "this app has no record of session {upload_id}; choose its file to resume it"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let file = source.path().map(Path::to_path_buf).unwrap_or_default();
    let size = check_file(&file).await?;
    Ok(state.queue.push(&file.to_string_lossy(), size, source))
}

/// How to retry an upload that was cancelled or failed: resume its session when it has one
/// (by the engine's rule, with the row's file), or start over.
///
/// # Errors
///
/// Why the journal cannot be read.
pub async fn retry_source(
    state: &AppState,
    view: &UploadRow,
) -> Result<UploadSource, CommandError> {
    let path = PathBuf::from(&view.path);
    let Some(upload_id) = view.upload_id.clone() else {
        return Ok(UploadSource::NewFile(path));
    };
    let (_, client) = state.client()?;
    Ok(state
        .uploader()
        .source_for(&client, &upload_id, Some(path))
        .await?)
}

/// Gives session `upload_id` up by the engine's rule: it is no longer listed, here or by
/// `tlup`.
///
/// # Errors
///
/// [`ErrorCode::Conflict`] while the queue holds the session or it is being uploaded; the
/// journal's errors.
pub async fn forget(state: &AppState, upload_id: &str) -> Result<(), CommandError> {
    let busy = || {
        CommandError::new(
            ErrorCode::Conflict,
            "this session is being uploaded; cancel it first",
        )
    };
    if state.queue.active_sessions().contains(upload_id) {
        return Err(busy());
    }
    let (_, client) = state.client()?;
    match state.uploader().forget(Some(&client), upload_id).await {
        // Forgotten now or before, or complete: either way it is not offered any more.
        Ok(_) => Ok(()),
        Err(e) if e.is_locked() => Err(busy()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_checked_before_they_are_queued() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_file(dir.path()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(e.message.contains("is a directory"), "{}", e.message);
        let empty = dir.path().join("empty.mp4");
        std::fs::write(&empty, b"").unwrap();
        let e = check_file(&empty).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(e.message.contains("empty"), "{}", e.message);
        let e = check_file(&dir.path().join("nope.mp4")).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        let good = dir.path().join("good.mp4");
        std::fs::write(&good, b"12345").unwrap();
        assert_eq!(check_file(&good).await.unwrap(), 5);
    }
}
