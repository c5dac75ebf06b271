//! Resuming: from the server's record alone, or from the journal (which also knows the file
//! and the ETags of chunks stored but never reported), and listing what can be resumed.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::run::Session;
use super::source::SourceFile;
use super::track::Tracker;
use super::urls::UrlPool;
use super::{UploadOptions, UploadResult, api_error, drive};
use crate::api::MultipartUploadClient;
use crate::api::wire::{
    ChunkStatus, CompletedChunk, GetUploadStatusResponse, MultipartUploadStatus, ProofType,
};
use crate::error::UploadError;
use crate::journal::{ChunkRecord, Journal, SessionLock, SessionRecord, SessionState, mtime_ns};
use crate::plan::ChunkPlan;
use crate::retry::RetryBudget;

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

impl MultipartUploadClient {
    /// Resumes session `upload_id` with the file at `path`, from the server's record: checks
    /// that the file fits the session (size and chunk count), uploads only the chunks the
    /// server does not list as completed, reports them and confirms. With a journal in
    /// `options`, the session is recorded there from now on.
    ///
    /// # Errors
    ///
    /// [`UploadError::SessionNotFound`], [`UploadError::SessionExpired`] or
    /// [`UploadError::SessionMismatch`] when the session cannot take this file; otherwise
    /// as [`upload_file`](Self::upload_file).
    pub async fn resume_upload(
        &self,
        upload_id: &str,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<UploadResult, UploadError> {
        let started = Instant::now();
        options.validate()?;
        let source = SourceFile::inspect(path.as_ref()).await?;
        let sessions = self
            .list_incomplete_uploads(50)
            .collect()
            .await
            .map_err(|e| api_error(self, e))?;
        let Some(summary) = sessions.into_iter().find(|s| s.upload_id == upload_id) else {
            return Err(UploadError::SessionNotFound {
                upload_id: upload_id.to_owned(),
            });
        };
        refuse_finished(upload_id, &summary.status)?;
        let mismatch = |detail: String| UploadError::SessionMismatch {
            upload_id: upload_id.to_owned(),
            path: source.path.clone(),
            detail,
        };
        if summary.total_size != source.size {
            return Err(mismatch(format!(
                "the session is for {} bytes, the file has {}",
                summary.total_size, source.size
            )));
        }
        let plan = ChunkPlan::new(source.size, summary.chunk_size, Some(summary.total_chunks))
            .map_err(|e| mismatch(e.to_string()))?;
        let listing = self
            .get_status(upload_id, 50)
            .collect()
            .await
            .map_err(|e| api_error(self, e))?;
        let lock = match &options.journal {
            Some(journal) => {
                let lock = journal.lock(upload_id)?;
                journal.record_session(&SessionRecord {
                    upload_id: upload_id.to_owned(),
                    asset_id: journal.session(upload_id)?.and_then(|s| s.asset_id),
                    base_url: self.base_url().to_owned(),
                    file_path: source.path.clone(),
                    file_size: source.size,
                    file_mtime_ns: mtime_ns(source.modified),
                    fingerprint: Some(source.fingerprint().await?),
                    filename: options
                        .filename
                        .clone()
                        .unwrap_or_else(|| super::default_filename(&source.path)),
                    file_type: options.file_type.to_string(),
                    chunk_size: plan.chunk_size(),
                    total_chunks: plan.total_chunks(),
                    created_at: summary
                        .created_at
                        .map_or_else(crate::journal::now_unix, |t| t.unix_timestamp()),
                    expires_at: summary.expires_at.map(|t| t.unix_timestamp()),
                    state: SessionState::Active,
                })?;
                Some(lock)
            }
            None => None,
        };
        let done = completed_on_server(&listing, &plan);
        self.continue_session(upload_id, None, plan, source, done, options, lock, started)
            .await
    }

    /// Resumes session `upload_id` from the journal in `options.journal`: re-checks the
    /// file (size, modification time, fingerprint), reports the chunks the journal holds but
    /// the server has not counted (their ETags are still valid, so they are not sent again),
    /// uploads only the missing chunks and confirms.
    ///
    /// `new_path` points the session at its file after the file moved; the file must have the
    /// same size and fingerprint.
    ///
    /// # Errors
    ///
    /// [`UploadError::FileMissing`], [`UploadError::FileChanged`] (the journal is left as it
    /// was), [`UploadError::SessionExpired`], [`UploadError::SessionNotFound`] when neither
    /// the journal nor the server has it, [`UploadError::Journal`] when another process is
    /// uploading it; otherwise as [`upload_file`](Self::upload_file).
    pub async fn resume_from_journal(
        &self,
        upload_id: &str,
        new_path: Option<&Path>,
        options: UploadOptions,
    ) -> Result<UploadResult, UploadError> {
        let started = Instant::now();
        options.validate()?;
        let Some(journal) = options.journal.clone() else {
            return Err(UploadError::InvalidOptions(
                "resuming from the journal needs one".into(),
            ));
        };
        let Some(record) = journal.session(upload_id)? else {
            return Err(UploadError::SessionNotFound {
                upload_id: upload_id.to_owned(),
            });
        };
        if record.base_url != self.base_url() {
            return Err(UploadError::OtherEndpoint {
                upload_id: upload_id.to_owned(),
                base_url: record.base_url,
            });
        }
        let lock = journal.lock(upload_id)?;
        let source = verify_file(&journal, &record, new_path).await?;
        let listing = match self.get_status(upload_id, 50).collect().await {
            Ok(listing) => listing,
            Err(e) if e.is_not_found() => {
                return Err(UploadError::SessionExpired {
                    upload_id: upload_id.to_owned(),
                });
            }
            Err(e) => return Err(api_error(self, e)),
        };
        if listing.status == MultipartUploadStatus::Completed {
            journal.set_state(upload_id, SessionState::Completed)?;
        }
        refuse_finished(upload_id, &listing.status)?;
        let plan = ChunkPlan::new(
            record.file_size,
            record.chunk_size,
            Some(record.total_chunks),
        )
        .map_err(|e| UploadError::Protocol(format!("journal: {e}")))?;
        let mut done = completed_on_server(&listing, &plan);
        let unreported: Vec<ChunkRecord> = journal
            .chunks(upload_id)?
            .into_iter()
            .filter(|c| {
                !done.contains(&c.index) && plan.chunk(c.index).is_some_and(|s| s.len == c.size)
            })
            .collect();
        let batch = options.batch_size;
        let mut asset_id = record.asset_id.clone();
        for group in unreported.chunks(batch) {
            for index in self
                .report_known(&journal, upload_id, group, &mut asset_id)
                .await?
            {
                done.insert(index);
            }
        }
        self.continue_session(
            upload_id,
            asset_id,
            plan,
            source,
            done,
            options,
            Some(lock),
            started,
        )
        .await
    }

    /// Reports chunks the journal holds. Returns those the server accepted; a chunk whose
    /// proof the server refuses is left out, to be uploaded again.
    async fn report_known(
        &self,
        journal: &Journal,
        upload_id: &str,
        group: &[ChunkRecord],
        asset_id: &mut Option<String>,
    ) -> Result<Vec<u64>, UploadError> {
        let as_wire = |c: &ChunkRecord| CompletedChunk {
            chunk_index: c.index,
            proof: c.etag.clone(),
            proof_type: ProofType::Etag,
            chunk_size: c.size,
        };
        let all: Vec<CompletedChunk> = group.iter().map(as_wire).collect();
        let accepted = match self.report_chunk_batch(upload_id, &all).await {
            Ok(answer) => {
                if let Some(id) = answer.asset_id.filter(|a| !a.is_empty()) {
                    *asset_id = Some(id);
                }
                all.iter().map(|c| c.chunk_index).collect()
            }
            Err(e) if e.is_retryable() || e.is_unauthorized() => return Err(api_error(self, e)),
            // One stale proof spoils the batch: find the good ones one by one.
            Err(_) => {
                let mut good = Vec::new();
                for chunk in &all {
                    match self
                        .report_chunk_batch(upload_id, std::slice::from_ref(chunk))
                        .await
                    {
                        Ok(answer) => {
                            if let Some(id) = answer.asset_id.filter(|a| !a.is_empty()) {
                                *asset_id = Some(id);
                            }
                            good.push(chunk.chunk_index);
                        }
                        Err(e) if e.is_retryable() || e.is_unauthorized() => {
                            return Err(api_error(self, e));
                        }
                        Err(_) => {}
                    }
                }
                good
            }
        };
        journal.mark_reported(upload_id, &accepted)?;
        Ok(accepted)
    }

    /// Uploads what `done` lacks and confirms.
    #[allow(clippy::too_many_arguments)]
    async fn continue_session(
        &self,
        upload_id: &str,
        asset_id: Option<String>,
        plan: ChunkPlan,
        source: SourceFile,
        done: BTreeSet<u64>,
        options: UploadOptions,
        lock: Option<SessionLock>,
        started: Instant,
    ) -> Result<UploadResult, UploadError> {
        let tracker = Arc::new(Tracker::new(plan, options.progress.clone()));
        tracker.set_session(upload_id, asset_id.as_deref());
        tracker.mark_already_done(done.iter().copied());
        let todo: Vec<u64> = plan
            .chunks()
            .map(|c| c.index)
            .filter(|i| !done.contains(i))
            .collect();
        let session = Arc::new(Session {
            client: self.clone(),
            upload_id: upload_id.to_owned(),
            plan,
            urls: UrlPool::new(
                self.clone(),
                upload_id.to_owned(),
                plan.total_chunks(),
                options.max_workers as u64,
            ),
            source,
            tracker,
            budget: RetryBudget::for_upload(todo.len() as u64, options.max_retries),
            upload_headers: Default::default(),
            cancel: options.cancel.clone().unwrap_or_default(),
            journal: options.journal.clone(),
            _lock: lock,
            options,
        });
        drive(session, todo, started).await
    }

    /// Every unfinished upload: the journal's sessions on this client's endpoint, checked
    /// against their files and the server, and the server's incomplete sessions the journal
    /// does not know. Newest first.
    ///
    /// # Errors
    ///
    /// [`UploadError::Journal`], or an API error (the server cannot be reached, the key is
    /// wrong).
    pub async fn list_resumable(
        &self,
        journal: &Journal,
    ) -> Result<Vec<ResumableSession>, UploadError> {
        let server: HashMap<String, _> = self
            .list_incomplete_uploads(50)
            .collect()
            .await
            .map_err(|e| api_error(self, e))?
            .into_iter()
            .map(|s| (s.upload_id.clone(), s))
            .collect();
        let mut out = Vec::new();
        for record in journal.sessions()? {
            if record.state != SessionState::Active || record.base_url != self.base_url() {
                continue;
            }
            let unreported: Vec<ChunkRecord> = journal
                .chunks(&record.upload_id)?
                .into_iter()
                .filter(|c| !c.reported)
                .collect();
            let status = match self.get_status_page(&record.upload_id, 1, 1).await {
                Ok(s) => Some(s),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(api_error(self, e)),
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
                let listing = self
                    .get_status(&record.upload_id, 50)
                    .collect()
                    .await
                    .map_err(|e| api_error(self, e))?;
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
            let status = self.get_status_page(&id, 1, 1).await.ok();
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
}

fn refuse_finished(upload_id: &str, status: &MultipartUploadStatus) -> Result<(), UploadError> {
    match status {
        MultipartUploadStatus::Expired => Err(UploadError::SessionExpired {
            upload_id: upload_id.to_owned(),
        }),
        MultipartUploadStatus::Failed => Err(UploadError::SessionFailed {
            upload_id: upload_id.to_owned(),
        }),
        MultipartUploadStatus::Completed => Err(UploadError::SessionNotFound {
            upload_id: upload_id.to_owned(),
        }),
        _ => Ok(()),
    }
}

fn completed_on_server(listing: &GetUploadStatusResponse, plan: &ChunkPlan) -> BTreeSet<u64> {
    listing
        .uploaded_chunks
        .iter()
        .filter(|c| c.status == ChunkStatus::Completed && plan.chunk(c.index).is_some())
        .map(|c| c.index)
        .collect()
}

/// Checks the journalled file (or the file at `new_path`) against the record: size, and
/// at the recorded path also the modification time; always the fingerprint. A file that
/// moved is re-pointed in the journal; a changed file leaves the journal untouched.
async fn verify_file(
    journal: &Journal,
    record: &SessionRecord,
    new_path: Option<&Path>,
) -> Result<SourceFile, UploadError> {
    let moved = new_path.is_some_and(|p| p != record.file_path);
    let path = new_path.unwrap_or(&record.file_path);
    let source = match SourceFile::inspect(path).await {
        Ok(s) => s,
        Err(UploadError::FileNotFound { .. }) if !moved => {
            return Err(UploadError::FileMissing {
                upload_id: record.upload_id.clone(),
                path: record.file_path.clone(),
            });
        }
        Err(e) => return Err(e),
    };
    let changed = |detail: String| UploadError::FileChanged {
        path: source.path.clone(),
        detail,
    };
    if source.size != record.file_size {
        return Err(changed(format!(
            "since the upload began (its size went from {} to {} bytes)",
            record.file_size, source.size
        )));
    }
    if !moved && record.file_mtime_ns.is_some() && mtime_ns(source.modified) != record.file_mtime_ns
    {
        return Err(changed("since the upload began (it was modified)".into()));
    }
    let fingerprint = source.fingerprint().await?;
    match &record.fingerprint {
        Some(known) if *known != fingerprint => {
            return Err(changed(
                "since the upload began (its content differs)".into(),
            ));
        }
        // A session from a journal that kept no fingerprint gets one now.
        None => journal.set_file(
            &record.upload_id,
            &source.path,
            mtime_ns(source.modified),
            &fingerprint,
        )?,
        Some(_) if moved => {
            journal.set_file(
                &record.upload_id,
                &source.path,
                mtime_ns(source.modified),
                &fingerprint,
            )?;
        }
        Some(_) => {}
    }
    Ok(source)
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
