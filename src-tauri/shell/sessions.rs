//! Files and sessions: checking a file before it is queued, listing the sessions that can be
//! resumed, queueing a resumption, and giving a session up.

use std::path::{Path, PathBuf};

use tl_upload::journal::SessionRecord;
use tl_upload::{SessionState, UploadError};

use crate::convert;
use crate::ipc::{AddResult, CommandError, ErrorCode, ResumableSession, UploadProgress};
use crate::queue::Job;
use crate::state::AppState;

/// Queues an upload per acceptable path, in order; a refused path (a directory, an empty,
/// missing or unreadable file) carries its error instead.
pub(crate) async fn add_paths(state: &AppState, paths: Vec<String>) -> Vec<AddResult> {
    let mut results = Vec::with_capacity(paths.len());
    for path in paths {
        let (upload, error) = match check_file(Path::new(&path)).await {
            Ok(size) => (Some(state.queue.push(&path, size, Job::New)), None),
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

/// Checks that `path` is a readable, non-empty file, and returns its size. The engine checks
/// again when the upload starts; checking here lets the UI say at once what is wrong.
///
/// # Errors
///
/// The engine's file errors: not found, a directory, empty, unreadable.
pub async fn check_file(path: &Path) -> Result<u64, CommandError> {
    let path_buf = path.to_path_buf();
    let meta = match tokio::fs::metadata(path).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UploadError::FileNotFound { path: path_buf }.into());
        }
        Err(source) => {
            return Err(UploadError::Unreadable {
                path: path_buf,
                source,
            }
            .into());
        }
    };
    if meta.is_dir() {
        return Err(UploadError::IsDirectory { path: path_buf }.into());
    }
    if meta.len() == 0 {
        return Err(UploadError::EmptyFile { path: path_buf }.into());
    }
    if let Err(source) = tokio::fs::File::open(path).await {
        return Err(UploadError::Unreadable {
            path: path_buf,
            source,
        }
        .into());
    }
    Ok(meta.len())
}

/// The unfinished sessions of the endpoint in use (the engine's `list_resumable`), marked
/// `active` when the queue holds them.
///
/// # Errors
///
/// Why the journal cannot be used, or the server's error (network, key, server).
pub async fn list(state: &AppState) -> Result<Vec<ResumableSession>, CommandError> {
    let journal = state.journal()?;
    let (_, client) = state.client()?;
    let sessions = client.list_resumable(&journal).await?;
    let active = state.queue.active_sessions();
    Ok(sessions
        .into_iter()
        .map(|s| {
            let is_active = active.contains(&s.upload_id);
            convert::session(s, is_active)
        })
        .collect())
}

/// Whether the journal's record of a session has a file: one written by [`forget`] for a
/// server-only session has none.
fn known_file(record: &SessionRecord) -> bool {
    !record.file_path.as_os_str().is_empty()
}

/// Queues the resumption of session `upload_id`: from the journal when it knows the session
/// (at `path` if the file moved), otherwise from the server with the file at `path`.
///
/// # Errors
///
/// [`ErrorCode::Conflict`] when the queue already holds the session; [`ErrorCode::Invalid`]
/// when only the server knows it and no file was given; the file's problems.
pub async fn queue_resume(
    state: &AppState,
    upload_id: &str,
    path: Option<PathBuf>,
) -> Result<UploadProgress, CommandError> {
    if state.queue.active_sessions().contains(upload_id) {
        return Err(CommandError::new(
            ErrorCode::Conflict,
            format!("session {upload_id} is already in the upload list"),
        ));
    }
    let journal = state.journal()?;
    let record = journal.session(upload_id)?.filter(known_file);
    let (file, job) = match (record, path) {
        (Some(record), new_path) => {
            if record.state == SessionState::Abandoned {
                journal.set_state(upload_id, SessionState::Active)?;
            }
            let file = new_path.clone().unwrap_or(record.file_path);
            let job = Job::Journal {
                upload_id: upload_id.to_owned(),
                new_path,
            };
            (file, job)
        }
        (None, Some(path)) => {
            let job = Job::Server {
                upload_id: upload_id.to_owned(),
            };
            (path, job)
        }
        (None, None) => {
            return Err(CommandError::invalid(format!(
                "this app has no record of session {upload_id}; choose its file to resume it"
            )));
        }
    };
    let size = check_file(&file).await?;
    Ok(state.queue.push(&file.to_string_lossy(), size, job))
}

/// How to retry an upload that was cancelled or failed: resume its session when it has one
/// (from the journal when the journal knows it), or start over.
///
/// # Errors
///
/// Why the journal cannot be read.
pub fn retry_job(state: &AppState, view: &UploadProgress) -> Result<Job, CommandError> {
    let Some(upload_id) = view.upload_id.clone() else {
        return Ok(Job::New);
    };
    let in_journal = match state.journal() {
        Ok(journal) => journal.session(&upload_id)?.is_some_and(|r| known_file(&r)),
        Err(_) => false,
    };
    Ok(if in_journal {
        Job::Journal {
            upload_id,
            new_path: None,
        }
    } else {
        Job::Server { upload_id }
    })
}

/// Gives session `upload_id` up: the journal marks it abandoned, so it is no longer listed.
/// A session only the server knows gets an abandoned record without a file, since the
/// server offers no way to drop a session and the listing skips sessions the journal knows.
///
/// # Errors
///
/// [`ErrorCode::Conflict`] while the queue holds the session; the journal's errors.
pub fn forget(state: &AppState, upload_id: &str) -> Result<(), CommandError> {
    if state.queue.active_sessions().contains(upload_id) {
        return Err(CommandError::new(
            ErrorCode::Conflict,
            "this session is being uploaded; cancel it first",
        ));
    }
    let (_, client) = state.client()?;
    state.journal()?.abandon(upload_id, client.base_url())?;
    Ok(())
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
