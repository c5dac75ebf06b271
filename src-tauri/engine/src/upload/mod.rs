//! The uploader: [`Uploader`] starts uploads from an [`UploadSource`] and returns an
//! [`UploadHandle`]; it also lists [`ResumableSession`]s and forgets them. The SDK-named
//! shortcuts [`upload_file`](MultipartUploadClient::upload_file),
//! [`resume_upload`](MultipartUploadClient::resume_upload) and
//! [`wait_for_upload_completion`](MultipartUploadClient::wait_for_upload_completion) are
//! here too.
//!
//! # Layout
//!
//! - `uploader`: [`Uploader`], the entry point.
//! - `handle`: [`UploadHandle`], [`UploadControls`] and [`ProgressReceiver`].
//! - `begin`: the three ways an upload begins, each ending in one prepared session.
//! - `sessions`: resumable sessions, and forgetting them.
//! - `source`: [`inspect`] and chunk bodies streamed from their offsets.
//! - `link`: what all uploads of the process share: slots, their order, admission of queued
//!   uploads, the goodput sampler, the bandwidth limit.
//! - `adapt`: the pure controller of the automatic parallelism.
//! - `urls`: the pool of presigned URLs, minted just in time, never used twice.
//! - `put`: one chunk PUT with its stall watchdog.
//! - `report`: the batching reporter.
//! - `track`: progress state and the snapshot ticker.
//! - `run`: one session's chunks on the link's slots, racing a straggler at the end, and
//!   the confirmation rounds.
//! - `wait`: waiting for a session or an asset.

mod adapt;
mod begin;
mod control;
mod handle;
mod link;
mod network;
mod put;
mod report;
mod run;
mod sessions;
mod source;
mod track;
mod uploader;
mod urls;
mod wait;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::api::wire::{Asset, FileType};
use crate::api::{ApiError, MultipartUploadClient};
use crate::error::UploadError;
use crate::journal::SessionState;
use crate::progress::UploadPhase;
pub use begin::UploadSource;
pub use handle::{ProgressReceiver, UploadControls, UploadHandle};
pub use link::{LinkStatus, Parallelism};
use run::Session;
pub use sessions::{Forgotten, ResumableSession, ResumeState};
pub use source::{FileInfo, inspect};
pub use uploader::Uploader;
pub use wait::{StatusCallback, UploadStatus, WaitOptions};

/// How to upload. The first six fields are the official SDKs' options, with their defaults.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// The name the platform shows; the file's own name when `None`.
    pub filename: Option<String>,
    /// The kind of media.
    pub file_type: FileType,
    /// The most chunks per report call.
    pub batch_size: usize,
    /// The most chunk PUTs of this upload in flight at once (1–64). The process's
    /// parallelism ([`Uploader::set_parallelism`], automatic by default) decides how many
    /// of those the link gets; this only caps one upload's share.
    pub max_workers: usize,
    /// How many times one chunk is retried after a failure (expired URLs are not counted).
    pub max_retries: u32,
    /// The backoff base: retry n waits a random time up to `retry_delay × 2ⁿ` (30 s at most).
    pub retry_delay: Duration,
    /// Ask for an HLS rendition.
    pub enable_hls: Option<bool>,
    /// Ask for a thumbnail.
    pub enable_thumbnail: Option<bool>,
    /// User metadata for the asset.
    pub user_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// After the upload, poll the asset until it is `ready` (or `failed`).
    pub wait_for_ready: bool,
    /// How long to wait for the asset to be ready.
    pub ready_timeout: Duration,
    /// A chunk attempt with no bytes moving and no answer for this long is abandoned and
    /// retried.
    pub stall_timeout: Duration,
    /// The longest a stored chunk waits before it is reported.
    pub report_interval: Duration,
    /// How often progress snapshots are published.
    pub progress_interval: Duration,
    /// After the last report, how long to keep asking the status until the platform says
    /// the session is `completed` (assembling a large file can take a while).
    pub confirm_timeout: Duration,
    /// How long the upload may wait for the network before it gives up (and stays
    /// resumable); `None` waits as long as the session lives.
    pub offline_limit: Option<Duration>,
    /// The longest pause between two probes of the API while waiting for the network (the
    /// first comes after a second, then they double up to this).
    pub probe_interval: Duration,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            filename: None,
            file_type: FileType::Video,
            batch_size: 10,
            max_workers: 64,
            max_retries: 3,
            retry_delay: Duration::from_secs(1),
            enable_hls: None,
            enable_thumbnail: None,
            user_metadata: None,
            wait_for_ready: false,
            ready_timeout: Duration::from_secs(30 * 60),
            stall_timeout: Duration::from_secs(30),
            report_interval: Duration::from_millis(250),
            progress_interval: Duration::from_millis(100),
            confirm_timeout: Duration::from_secs(10 * 60),
            offline_limit: None,
            probe_interval: Duration::from_secs(30),
        }
    }
}

impl UploadOptions {
    fn validate(&self) -> Result<(), UploadError> {
        if self.max_workers == 0 || self.max_workers > 64 {
            return Err(UploadError::InvalidOptions(format!(
                "max_workers must be 1–64, got {}",
                self.max_workers
            )));
        }
        if self.batch_size == 0 || self.batch_size > 1000 {
            return Err(UploadError::InvalidOptions(format!(
                "batch_size must be 1–1000, got {}",
                self.batch_size
            )));
        }
        if let Some(name) = &self.filename {
            let n = name.chars().count();
            if n == 0 || n > 255 {
                return Err(UploadError::InvalidOptions(format!(
                    "filename must be 1–255 characters, got {n}"
                )));
            }
        }
        if self.stall_timeout.is_zero() {
            return Err(UploadError::InvalidOptions(
                "stall_timeout must be above 0".into(),
            ));
        }
        Ok(())
    }
}

/// What a finished upload produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadResult {
    /// The session id.
    pub upload_id: String,
    /// The asset id.
    pub asset_id: String,
    /// The asset URL from the final report, when the server sent one.
    pub asset_url: Option<String>,
    /// The asset, when `wait_for_ready` was set.
    pub asset: Option<Asset>,
    /// The file size.
    pub total_bytes: u64,
    /// How many chunks the file has.
    pub total_chunks: u64,
    /// Chunks stored by this call (fewer than `total_chunks` after a resume).
    pub chunks_uploaded: u64,
    /// Bytes of the chunks stored by this call (failed attempts not counted).
    pub bytes_uploaded: u64,
    /// Chunk attempts that failed and were tried again (an expired URL, replaced by a fresh
    /// one, or a network outage waited out are not counted).
    pub retries: u64,
    /// Presigned URLs replaced because they expired, were about to, or failed.
    pub urls_refreshed: u64,
    /// Copies of slow last chunks raced against the original (whichever stored the chunk
    /// first counted; the other was stopped).
    #[serde(default)]
    pub copies_raced: u64,
    /// Times the network went away during the upload (the upload waited for it).
    #[serde(default)]
    pub outages: u64,
    /// Chunk attempts lost to an outage or the machine's sleep and sent again (no retry
    /// counted).
    #[serde(default)]
    pub chunks_resent_after_outage: u64,
    /// Chunks the storage stored damaged (ETag not the MD5 of the bytes sent), sent again.
    #[serde(default)]
    pub damaged_chunks: u64,
    /// Time spent moving and confirming the chunks (without waiting for the asset), for
    /// rates.
    pub transfer_seconds: f64,
    /// Wall-clock time of the whole call.
    pub elapsed_seconds: f64,
}

/// The error for a failed API call: a rejected key is named as such.
pub(crate) fn api_error(client: &MultipartUploadClient, e: ApiError) -> UploadError {
    if e.is_unauthorized() {
        UploadError::Unauthorized {
            host: client.host().to_owned(),
            request: e.request().unwrap_or("api"),
        }
    } else {
        UploadError::Api(e)
    }
}

impl MultipartUploadClient {
    /// Uploads the file at `path` in a new session, recording nothing locally: the official
    /// SDKs' `upload_file`. For progress, pause, cancel or a journal, use an [`Uploader`].
    ///
    /// # Errors
    ///
    /// [`UploadError`] naming the file problem, the failing chunk or request.
    pub async fn upload_file(
        &self,
        path: impl AsRef<Path>,
        options: UploadOptions,
    ) -> Result<UploadResult, UploadError> {
        let source = UploadSource::NewFile(path.as_ref().to_path_buf());
        Uploader::new(None)
            .start(self, source, options)
            .result()
            .await
    }

    /// Resumes session `upload_id` with the file at `path` from the server's record alone:
    /// checks that the file fits the session (size and chunk count) and uploads only the
    /// chunks the server does not list as completed.
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
        let source = UploadSource::Server {
            upload_id: upload_id.to_owned(),
            path: path.as_ref().to_path_buf(),
        };
        Uploader::new(None)
            .start(self, source, options)
            .result()
            .await
    }
}

/// Runs a session to the end: transfer, confirmation, and the asset when asked for.
async fn drive(session: Arc<Session>, started: Instant) -> Result<UploadResult, UploadError> {
    let tracker = session.tracker.clone();
    let stop_ticker = CancellationToken::new();
    let ticker = tracker.spawn_ticker(session.options.progress_interval, stop_ticker.clone());
    tracker.set_phase(UploadPhase::Uploading);
    let result = finish(&session, started).await;
    session.admission.release();
    tracker.set_urls_refreshed(session.urls.refreshed());
    stop_ticker.cancel();
    let _ = ticker.await;
    tracker.set_phase(match &result {
        Ok(_) => UploadPhase::Completed,
        Err(e) if e.is_cancelled() => UploadPhase::Cancelled,
        Err(_) => UploadPhase::Failed,
    });
    result
}

async fn finish(session: &Arc<Session>, started: Instant) -> Result<UploadResult, UploadError> {
    let outcome = session.transfer(session.todo.clone()).await?;
    // Bytes read from a file that changed under us would assemble into neither version.
    session.source.check_unchanged().await?;
    let outcome = session.confirm(outcome).await?;
    // Nothing more to send: the next queued upload may have the link.
    session.admission.release();
    let asset_id = session
        .tracker
        .asset_id()
        .or(outcome.asset_id.clone())
        .ok_or_else(|| UploadError::Protocol("no asset id was given for the session".into()))?;
    let transfer_seconds = started.elapsed().as_secs_f64();
    if let Some(journal) = &session.journal {
        journal.set_asset_id(&session.upload_id, &asset_id)?;
        journal.set_state(&session.upload_id, SessionState::Completed)?;
    }
    let asset = if session.options.wait_for_ready {
        session.tracker.set_phase(UploadPhase::Processing);
        let deadline = Instant::now() + session.options.ready_timeout;
        Some(wait::asset_ready(&session.client, &asset_id, deadline, &session.cancel).await?)
    } else {
        None
    };
    let counters = session.tracker.counters();
    Ok(UploadResult {
        upload_id: session.upload_id.clone(),
        asset_id,
        asset_url: outcome.url,
        asset,
        total_bytes: session.plan.total_size(),
        total_chunks: session.plan.total_chunks(),
        chunks_uploaded: counters.chunks_uploaded,
        bytes_uploaded: counters.bytes_uploaded,
        retries: counters.retries,
        urls_refreshed: session.urls.refreshed(),
        copies_raced: session.copies_raced(),
        outages: session.gate.outages(),
        chunks_resent_after_outage: counters.interrupted,
        damaged_chunks: counters.damaged,
        transfer_seconds,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The file's own name, for the create request (at most 255 characters, keeping the end,
/// where the extension is).
fn default_filename(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "upload".to_owned());
    let count = name.chars().count();
    if count <= 255 {
        name
    } else {
        name.chars().skip(count - 255).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filename_keeps_the_extension_within_255_characters() {
        assert_eq!(default_filename(Path::new("/a/b/clip é.mp4")), "clip é.mp4");
        let long = format!("/x/{}.mp4", "v".repeat(400));
        let name = default_filename(Path::new(&long));
        assert_eq!(name.chars().count(), 255);
        assert!(name.ends_with(".mp4"));
    }

    #[test]
    fn options_are_validated() {
        let bad = UploadOptions {
            max_workers: 0,
            ..UploadOptions::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("max_workers")
        );
        let bad = UploadOptions {
            filename: Some(String::new()),
            ..UploadOptions::default()
        };
        assert!(bad.validate().is_err());
        UploadOptions::default().validate().unwrap();
    }
}
