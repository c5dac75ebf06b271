//! The sessions an upload leaves behind: listing what can be resumed (the journal joined
//! with the server), and forgetting a session, by one rule for both front ends.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::source::SourceFile;
use super::{Uploader, api_error};
use crate::api::MultipartUploadClient;
use crate::api::wire::{ChunkStatus, MultipartUploadStatus};
use crate::error::UploadError;
use crate::journal::{ChunkRecord, SessionRecord, SessionState, mtime_ns};

/// What can be done with an unfinished session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResumeState {
    /// The file is where it was and unchanged: resume it.
    Resumable,
    /// The journal knows the session but the file is gone from its path: resume it with the
    /// file's new path.
    FileMissing,
    /// The file changed since the upload began: it cannot be resumed; start over.
    FileChanged,
    /// The session is only on the server; resume it by naming its file.
    NeedsFile,
    /// The server let the session expire; start over.
    Expired,
    /// The server failed the session; start over.
    Failed,
    /// Already complete.
    Completed,
}

/// An unfinished upload, from the journal, the server, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumableSession {
    /// The session id.
    pub upload_id: String,
    /// What can be done with it.
    pub state: ResumeState,
    /// Whether the journal knows it (and so its file).
    pub in_journal: bool,
    /// The file, when the journal knows it.
    pub file_path: Option<PathBuf>,
    /// The name sent to the server, when the journal knows it.
    pub filename: Option<String>,
    /// The asset id, when known.
    pub asset_id: Option<String>,
    /// The file size.
    pub total_size: u64,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Chunks in the session.
    pub total_chunks: u64,
    /// Chunks the server has or the journal can report without sending them again.
    pub chunks_done: u64,
    /// Their bytes.
    pub bytes_done: u64,
    /// When the session was created (Unix seconds).
    pub created_at: Option<i64>,
    /// When it expires (Unix seconds).
    pub expires_at: Option<i64>,
}

impl Uploader {
    /// Every unfinished upload: the journal's sessions on `client`'s endpoint, checked
    /// against their files and the server, and the server's incomplete sessions the journal
    /// does not know. Newest first.
    ///
    /// # Errors
    ///
    /// [`UploadError::Journal`], or an API error (the server cannot be reached, the key is
    /// wrong).
    pub async fn resumable_sessions(
        &self,
        client: &MultipartUploadClient,
    ) -> Result<Vec<ResumableSession>, UploadError> {
        let Some(journal) = self.journal() else {
            return Err(UploadError::InvalidOptions(
                "listing resumable sessions needs an uploader with a journal".into(),
            ));
        };
        let server: HashMap<String, _> = client
            .list_incomplete_uploads(50)
            .collect()
            .await
            .map_err(|e| api_error(client, e))?
            .into_iter()
            .map(|s| (s.upload_id.clone(), s))
            .collect();
        let mut out = Vec::new();
        for record in journal.sessions()? {
            if record.state != SessionState::Active || record.base_url != client.base_url() {
                continue;
            }
            let unreported: Vec<ChunkRecord> = journal
                .chunks(&record.upload_id)?
                .into_iter()
                .filter(|c| !c.reported)
                .collect();
            let status = match client.get_status_page(&record.upload_id, 1, 1).await {
                Ok(s) => Some(s),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(api_error(client, e)),
            };
            // The server is the authority on expiry; the local clock may be off.
            let state = match &status {
                None => ResumeState::Expired,
                Some(s) => match s.status {
                    MultipartUploadStatus::Completed => {
                        journal.set_state(&record.upload_id, SessionState::Completed)?;
                        continue;
                    }
                    MultipartUploadStatus::Expired => ResumeState::Expired,
                    MultipartUploadStatus::Failed => ResumeState::Failed,
                    _ => file_state(&record).await,
                },
            };
            // A chunk the server accepted just before a crash may still be unreported in the
            // journal; count it once, by asking the server which chunks it has.
            let (stored, stored_bytes) = if unreported.is_empty() || status.is_none() {
                (0, 0)
            } else {
                let listing = client
                    .get_status(&record.upload_id, 50)
                    .collect()
                    .await
                    .map_err(|e| api_error(client, e))?;
                let on_server: BTreeSet<u64> = listing
                    .uploaded_chunks
                    .iter()
                    .filter(|c| c.status == ChunkStatus::Completed)
                    .map(|c| c.index)
                    .collect();
                unreported
                    .iter()
                    .filter(|c| !on_server.contains(&c.index))
                    .fold((0u64, 0u64), |(n, b), c| (n + 1, b + c.size))
            };
            let (server_chunks, server_bytes) = status.as_ref().map_or((0, 0), |s| {
                (s.chunks_completed, s.uploaded_size.unwrap_or(0))
            });
            out.push(ResumableSession {
                upload_id: record.upload_id.clone(),
                state,
                in_journal: true,
                file_path: Some(record.file_path.clone()),
                filename: Some(record.filename.clone()),
                asset_id: record.asset_id.clone(),
                total_size: record.file_size,
                chunk_size: record.chunk_size,
                total_chunks: record.total_chunks,
                chunks_done: (server_chunks + stored).min(record.total_chunks),
                bytes_done: (server_bytes + stored_bytes).min(record.file_size),
                created_at: Some(record.created_at),
                expires_at: record.expires_at,
            });
        }
        for (id, s) in server {
            if out.iter().any(|r| r.upload_id == id) || journal.session(&id)?.is_some() {
                continue;
            }
            let status = client.get_status_page(&id, 1, 1).await.ok();
            out.push(ResumableSession {
                state: match s.status {
                    MultipartUploadStatus::Expired => ResumeState::Expired,
                    MultipartUploadStatus::Failed => ResumeState::Failed,
                    _ => ResumeState::NeedsFile,
                },
                upload_id: id,
                in_journal: false,
                file_path: None,
                filename: None,
                asset_id: None,
                total_size: s.total_size,
                chunk_size: s.chunk_size,
                total_chunks: s.total_chunks,
                chunks_done: status.as_ref().map_or(0, |st| st.chunks_completed),
                bytes_done: status.as_ref().and_then(|st| st.uploaded_size).unwrap_or(0),
                created_at: s.created_at.map(|t| t.unix_timestamp()),
                expires_at: s.expires_at.map(|t| t.unix_timestamp()),
            });
        }
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then(a.upload_id.cmp(&b.upload_id))
        });
        Ok(out)
    }

    /// Gives session `upload_id` up, so listings no longer offer it. Only the journal
    /// changes (the session is marked abandoned and kept for the record): the API has no
    /// way to abort a session, so the server keeps it until it expires. A session only the
    /// server knows gets an abandoned record without a file, since listings show the
    /// server's sessions the journal lacks.
    ///
    /// The lock rule: a session being uploaded (by this process or another) is refused.
    /// A session the journal knows needs no server; one it does not know is looked up on
    /// `server`, when given.
    ///
    /// # Errors
    ///
    /// [`UploadError::Journal`] with [`JournalError::Locked`](crate::JournalError::Locked)
    /// while it uploads ([`UploadError::is_locked`]); [`UploadError::SessionNotFound`] when
    /// neither the journal nor the server knows it; the journal's and the API's errors.
    pub async fn forget(
        &self,
        server: Option<&MultipartUploadClient>,
        upload_id: &str,
    ) -> Result<Forgotten, UploadError> {
        let Some(journal) = self.journal() else {
            return Err(UploadError::InvalidOptions(
                "forgetting a session needs an uploader with a journal".into(),
            ));
        };
        let not_found = || UploadError::SessionNotFound {
            upload_id: upload_id.to_owned(),
        };
        let record = journal.session(upload_id)?;
        match (record.as_ref().map(|r| r.state), server) {
            (Some(SessionState::Completed), _) => Ok(Forgotten::Completed {
                asset_id: record.and_then(|r| r.asset_id),
            }),
            (Some(SessionState::Abandoned), _) => Ok(Forgotten::Already),
            (Some(SessionState::Active), _) => {
                let _lock = journal.lock(upload_id)?;
                journal.set_state(upload_id, SessionState::Abandoned)?;
                Ok(Forgotten::Now {
                    record: record.map(Box::new),
                })
            }
            (None, Some(client)) if on_server(client, upload_id).await? => {
                let _lock = journal.lock(upload_id)?;
                journal.abandon(upload_id, client.base_url())?;
                Ok(Forgotten::Now { record: None })
            }
            (None, _) => Err(not_found()),
        }
    }
}

/// What [`Uploader::forget`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Forgotten {
    /// The session is forgotten now; `record` is what the journal knew of it (`None` for a
    /// session only the server had).
    Now {
        /// The journal's record, before.
        record: Option<Box<SessionRecord>>,
    },
    /// It was forgotten before.
    Already,
    /// It is complete; there is nothing to forget.
    Completed {
        /// Its asset, when known.
        asset_id: Option<String>,
    },
}

/// Whether the server lists `upload_id` among the account's incomplete sessions.
pub(crate) async fn on_server(
    client: &MultipartUploadClient,
    upload_id: &str,
) -> Result<bool, UploadError> {
    let sessions = client
        .list_incomplete_uploads(50)
        .collect()
        .await
        .map_err(|e| api_error(client, e))?;
    Ok(sessions.iter().any(|s| s.upload_id == upload_id))
}

/// Whether a journalled file is still there and unchanged, for listings.
async fn file_state(record: &SessionRecord) -> ResumeState {
    let Ok(source) = SourceFile::inspect(&record.file_path).await else {
        return ResumeState::FileMissing;
    };
    if source.size != record.file_size
        || (record.file_mtime_ns.is_some() && mtime_ns(source.modified) != record.file_mtime_ns)
    {
        return ResumeState::FileChanged;
    }
    match (&record.fingerprint, source.fingerprint().await) {
        (Some(known), Ok(now)) if *known != now => ResumeState::FileChanged,
        (_, Err(_)) => ResumeState::FileMissing,
        _ => ResumeState::Resumable,
    }
}
