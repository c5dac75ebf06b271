//! The three ways an upload begins, each ending in one [`Prepared`] session: a new file, a
//! session the journal knows, and a session only the server knows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::source::SourceFile;
use super::{UploadOptions, api_error, default_filename};
use crate::api::MultipartUploadClient;
use crate::api::wire::{
    ChunkStatus, CompletedChunk, CreateAssetUploadRequest, GetUploadStatusResponse,
    MultipartUploadStatus, PresignedUrlChunk, ProofType,
};
use crate::error::UploadError;
use crate::journal::{ChunkRecord, Journal, SessionLock, SessionRecord, SessionState, mtime_ns};
use crate::plan::ChunkPlan;

/// Where an upload begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadSource {
    /// A new session for the file at this path.
    NewFile(PathBuf),
    /// A session the journal knows; `new_path` points it at its file after the file moved
    /// (same size and content).
    Journal {
        /// The session.
        upload_id: String,
        /// The file's new place.
        new_path: Option<PathBuf>,
    },
    /// A session only the server knows, with its file: the server's record says which
    /// chunks it has; from now on the journal records it.
    Server {
        /// The session.
        upload_id: String,
        /// The file.
        path: PathBuf,
    },
}

impl UploadSource {
    /// The file, when the source names it (a journal source may leave it to the journal).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::NewFile(path) | Self::Server { path, .. } => Some(path),
            Self::Journal { new_path, .. } => new_path.as_deref(),
        }
    }

    /// The session this source resumes, if it resumes one.
    pub fn upload_id(&self) -> Option<&str> {
        match self {
            Self::NewFile(_) => None,
            Self::Journal { upload_id, .. } | Self::Server { upload_id, .. } => Some(upload_id),
        }
    }
}

/// A session ready to transfer: its plan, its file, what is already done, and the URLs and
/// headers a new session came with.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) upload_id: String,
    pub(crate) asset_id: Option<String>,
    pub(crate) plan: ChunkPlan,
    pub(crate) source: SourceFile,
    /// Chunks the server has, or that were just reported from the journal.
    pub(crate) done: BTreeSet<u64>,
    /// Held while the session uploads, so no other process uploads it at the same time.
    pub(crate) lock: Option<SessionLock>,
    /// The presigned URLs that came with `create`, with the server's clock then.
    pub(crate) urls: Vec<PresignedUrlChunk>,
    pub(crate) server_now: Option<SystemTime>,
    pub(crate) received: Instant,
    pub(crate) upload_headers: std::collections::BTreeMap<String, String>,
    /// When the session expires, when the server said.
    pub(crate) session_expires: Option<SystemTime>,
}

impl Prepared {
    fn resumed(
        upload_id: &str,
        asset_id: Option<String>,
        plan: ChunkPlan,
        source: SourceFile,
        done: BTreeSet<u64>,
        lock: Option<SessionLock>,
    ) -> Self {
        Self {
            upload_id: upload_id.to_owned(),
            asset_id,
            plan,
            source,
            done,
            lock,
            urls: Vec::new(),
            server_now: None,
            received: Instant::now(),
            upload_headers: Default::default(),
            session_expires: None,
        }
    }
}

/// What the journal records of a session besides its file and plan.
struct SessionFacts<'a> {
    upload_id: &'a str,
    asset_id: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
}

/// Locks the session and records it in the journal as active, with its file's fingerprint:
/// from here on a kill leaves a session the journal knows, and no other process can start
/// on it meanwhile.
async fn journal_session(
    journal: &Journal,
    client: &MultipartUploadClient,
    source: &SourceFile,
    plan: ChunkPlan,
    options: &UploadOptions,
    facts: SessionFacts<'_>,
) -> Result<SessionLock, UploadError> {
    let fingerprint = source.fingerprint().await?;
    let lock = journal.lock(facts.upload_id)?;
    journal.record_session(&SessionRecord {
        upload_id: facts.upload_id.to_owned(),
        asset_id: facts.asset_id,
        base_url: client.base_url().to_owned(),
        file_path: source.path.clone(),
        file_size: source.size,
        file_mtime_ns: mtime_ns(source.modified),
        fingerprint: Some(fingerprint),
        filename: filename(options, source),
        file_type: options.file_type.to_string(),
        chunk_size: plan.chunk_size(),
        total_chunks: plan.total_chunks(),
        created_at: facts.created_at,
        expires_at: facts.expires_at,
        state: SessionState::Active,
    })?;
    Ok(lock)
}

fn filename(options: &UploadOptions, source: &SourceFile) -> String {
    options
        .filename
        .clone()
        .unwrap_or_else(|| default_filename(&source.path))
}

/// A new session for the file at `path`.
pub(crate) async fn new_file(
    client: &MultipartUploadClient,
    journal: Option<&Journal>,
    path: &Path,
    options: &UploadOptions,
) -> Result<Prepared, UploadError> {
    let source = SourceFile::inspect(path).await?;
    let request = CreateAssetUploadRequest {
        filename: filename(options, &source),
        file_type: options.file_type.clone(),
        total_size: source.size,
        enable_hls: options.enable_hls,
        enable_thumbnail: options.enable_thumbnail,
        user_metadata: options.user_metadata.clone(),
    };
    let (created, server_now) = client.create_with_date(&request).await.map_err(|e| {
        // The engine checks the name and the type itself, so an invalid parameter of a
        // create is the size.
        if e.is_invalid_parameter() {
            UploadError::FileTooLarge {
                path: source.path.clone(),
                size: source.size,
                message: e.to_string(),
            }
        } else {
            api_error(client, e)
        }
    })?;
    let received = Instant::now();
    if created.upload_id.is_empty() {
        return Err(UploadError::Protocol(
            "create answered without an upload_id".into(),
        ));
    }
    let plan = ChunkPlan::new(source.size, created.chunk_size, created.total_chunks)
        .map_err(|e| UploadError::Protocol(format!("create: {e}")))?;
    let lock = match journal {
        Some(journal) => Some(
            journal_session(
                journal,
                client,
                &source,
                plan,
                options,
                SessionFacts {
                    upload_id: &created.upload_id,
                    asset_id: created.asset_id.clone(),
                    created_at: crate::journal::now_unix(),
                    expires_at: created.expires_at.map(|t| t.unix_timestamp()),
                },
            )
            .await?,
        ),
        None => None,
    };
    Ok(Prepared {
        upload_id: created.upload_id,
        asset_id: created.asset_id,
        plan,
        source,
        done: BTreeSet::new(),
        lock,
        urls: created.upload_urls,
        server_now,
        received,
        upload_headers: created.upload_headers,
        session_expires: created.expires_at.map(SystemTime::from),
    })
}

/// Session `upload_id` with the file at `path`, from the server's record: the file must fit
/// the session (size and chunk count); the chunks the server lists as completed are done.
pub(crate) async fn from_server(
    client: &MultipartUploadClient,
    journal: Option<&Journal>,
    upload_id: &str,
    path: &Path,
    options: &UploadOptions,
) -> Result<Prepared, UploadError> {
    let source = SourceFile::inspect(path).await?;
    let sessions = client
        .list_incomplete_uploads(50)
        .collect()
        .await
        .map_err(|e| api_error(client, e))?;
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
    let listing = client
        .get_status(upload_id, 50)
        .collect()
        .await
        .map_err(|e| api_error(client, e))?;
    let lock = match journal {
        Some(journal) => {
            let known = journal.session(upload_id)?;
            Some(
                journal_session(
                    journal,
                    client,
                    &source,
                    plan,
                    options,
                    SessionFacts {
                        upload_id,
                        asset_id: known.and_then(|s| s.asset_id),
                        created_at: summary
                            .created_at
                            .map_or_else(crate::journal::now_unix, |t| t.unix_timestamp()),
                        expires_at: summary.expires_at.map(|t| t.unix_timestamp()),
                    },
                )
                .await?,
            )
        }
        None => None,
    };
    let done = completed_on_server(&listing, &plan);
    let mut prepared = Prepared::resumed(upload_id, None, plan, source, done, lock);
    prepared.session_expires = summary.expires_at.map(SystemTime::from);
    Ok(prepared)
}

/// Session `upload_id` from the journal: the file is checked again (size, modification time,
/// fingerprint), and the chunks the journal holds but the server has not counted are
/// reported (their ETags are still valid, so they are not sent again).
pub(crate) async fn from_journal(
    client: &MultipartUploadClient,
    journal: &Journal,
    upload_id: &str,
    new_path: Option<&Path>,
    options: &UploadOptions,
) -> Result<Prepared, UploadError> {
    let Some(record) = journal.session(upload_id)? else {
        return Err(UploadError::SessionNotFound {
            upload_id: upload_id.to_owned(),
        });
    };
    if record.base_url != client.base_url() {
        return Err(UploadError::OtherEndpoint {
            upload_id: upload_id.to_owned(),
            base_url: record.base_url,
        });
    }
    let lock = journal.lock(upload_id)?;
    let source = verify_file(journal, &record, new_path).await?;
    let listing = match client.get_status(upload_id, 50).collect().await {
        Ok(listing) => listing,
        Err(e) if e.is_not_found() => {
            return Err(UploadError::SessionExpired {
                upload_id: upload_id.to_owned(),
            });
        }
        Err(e) => return Err(api_error(client, e)),
    };
    if listing.status == MultipartUploadStatus::Completed {
        journal.set_state(upload_id, SessionState::Completed)?;
    }
    refuse_finished(upload_id, &listing.status)?;
    // Asked for again by the user: a forgotten session is active once more.
    if record.state == SessionState::Abandoned {
        journal.set_state(upload_id, SessionState::Active)?;
    }
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
    let mut asset_id = record.asset_id.clone();
    for group in unreported.chunks(options.batch_size) {
        for index in report_known(client, journal, upload_id, group, &mut asset_id).await? {
            done.insert(index);
        }
    }
    let mut prepared = Prepared::resumed(upload_id, asset_id, plan, source, done, Some(lock));
    prepared.session_expires = record
        .expires_at
        .and_then(|t| u64::try_from(t).ok())
        .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t));
    Ok(prepared)
}

/// Reports chunks the journal holds. Returns those the server accepted; a chunk whose proof
/// the server refuses is left out, to be uploaded again.
async fn report_known(
    client: &MultipartUploadClient,
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
    // One stale proof spoils a batch: then the good ones are found one by one.
    let accepted: Vec<u64> = if report(client, upload_id, &all, asset_id).await? {
        all.iter().map(|c| c.chunk_index).collect()
    } else {
        let mut good = Vec::new();
        for chunk in &all {
            if report(client, upload_id, std::slice::from_ref(chunk), asset_id).await? {
                good.push(chunk.chunk_index);
            }
        }
        good
    };
    journal.mark_reported(upload_id, &accepted)?;
    Ok(accepted)
}

/// One report of journalled chunks: whether the server took it. A refusal of the request
/// itself (a proof it does not accept) is `false`; a failure that says nothing of the
/// proofs (the network, the key) is the error.
async fn report(
    client: &MultipartUploadClient,
    upload_id: &str,
    chunks: &[CompletedChunk],
    asset_id: &mut Option<String>,
) -> Result<bool, UploadError> {
    match client.report_chunk_batch(upload_id, chunks).await {
        Ok(answer) => {
            if let Some(id) = answer.asset_id.filter(|a| !a.is_empty()) {
                *asset_id = Some(id);
            }
            Ok(true)
        }
        Err(e) if e.is_retryable() || e.is_unauthorized() => Err(api_error(client, e)),
        Err(_) => Ok(false),
    }
}

pub(crate) fn refuse_finished(
    upload_id: &str,
    status: &MultipartUploadStatus,
) -> Result<(), UploadError> {
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

/// The chunks the server lists as completed (and the plan knows).
pub(crate) fn completed_on_server(
    listing: &GetUploadStatusResponse,
    plan: &ChunkPlan,
) -> BTreeSet<u64> {
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
        // A session from a journal that kept no fingerprint gets one now, and a file that
        // moved is pointed at.
        None => {}
        Some(_) if moved => {}
        Some(_) => return Ok(source),
    }
    journal.set_file(
        &record.upload_id,
        &source.path,
        mtime_ns(source.modified),
        &fingerprint,
    )?;
    Ok(source)
}
