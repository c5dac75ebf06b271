//! The transfer of one session: a sliding window of chunk PUTs, the reporter beside it,
//! then confirmation with the status call.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::begin::{Prepared, completed_on_server};
use super::control::PauseSwitch;
use super::handle::{Publisher, UploadControls};
use super::put::put_chunk;
use super::report::{ReportOutcome, Reporter};
use super::source::{Activity, SourceFile};
use super::track::Tracker;
use super::urls::{UrlPool, url_error};
use super::{UploadOptions, api_error};
use crate::api::MultipartUploadClient;
use crate::api::wire::{CompletedChunk, MultipartUploadStatus, ProofType};
use crate::error::{ChunkError, UploadError};
use crate::journal::{Journal, SessionLock};
use crate::plan::ChunkPlan;
use crate::progress::UploadPhase;
use crate::retry::{Backoff, RetryBudget};

/// How many times one chunk may find its URL expired before the upload gives up on it;
/// separate from `max_retries` because an expiry is not the chunk's fault.
const MAX_URL_EXPIRIES_PER_CHUNK: u32 = 8;

/// How many rounds of "confirm, then send what the server still misses" are made.
const MAX_CONFIRM_ROUNDS: u32 = 3;

/// Everything the workers of one session share.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client: MultipartUploadClient,
    pub(crate) upload_id: String,
    pub(crate) plan: ChunkPlan,
    pub(crate) source: SourceFile,
    pub(crate) options: UploadOptions,
    pub(crate) urls: UrlPool,
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) budget: RetryBudget,
    pub(crate) upload_headers: BTreeMap<String, String>,
    pub(crate) cancel: CancellationToken,
    pub(crate) pause: PauseSwitch,
    pub(crate) journal: Option<Journal>,
    /// Chunks to send: those the session does not have yet.
    pub(crate) todo: Vec<u64>,
    /// Held while the session uploads, so no other process uploads it at the same time.
    pub(crate) _lock: Option<SessionLock>,
}

impl Session {
    /// The session `prepared` describes, ready to [`transfer`](Self::transfer) what it
    /// lacks, publishing its progress to `publisher`.
    pub(crate) async fn new(
        client: &MultipartUploadClient,
        prepared: Prepared,
        options: UploadOptions,
        controls: &UploadControls,
        journal: Option<Journal>,
        publisher: Arc<Publisher>,
    ) -> Arc<Self> {
        let Prepared {
            upload_id,
            asset_id,
            plan,
            source,
            done,
            lock,
            urls: first_urls,
            server_now,
            received,
            upload_headers,
        } = prepared;
        let tracker = Arc::new(Tracker::new(plan, Some(publisher)));
        tracker.set_session(&upload_id, asset_id.as_deref());
        tracker.mark_already_done(done.iter().copied());
        let todo: Vec<u64> = plan
            .chunks()
            .map(|c| c.index)
            .filter(|i| !done.contains(i))
            .collect();
        let urls = UrlPool::new(
            client.clone(),
            upload_id.clone(),
            plan.total_chunks(),
            options.max_workers as u64,
        );
        urls.add(first_urls, server_now, received).await;
        Arc::new(Self {
            client: client.clone(),
            budget: RetryBudget::for_upload(todo.len() as u64, options.max_retries),
            upload_id,
            plan,
            source,
            urls,
            tracker,
            upload_headers,
            cancel: controls.token().clone(),
            pause: controls.pause_switch().clone(),
            journal,
            todo,
            _lock: lock,
            options,
        })
    }
}

impl Session {
    /// Uploads the chunks in `todo` and reports them, `max_workers` at a time.
    ///
    /// # Cancellation
    ///
    /// When `cancel` fires, PUTs in flight are abandoned, the chunks already stored are
    /// still reported (briefly, so a later resume skips them), and the result is
    /// [`UploadError::Cancelled`].
    pub(crate) async fn transfer(
        self: &Arc<Self>,
        todo: Vec<u64>,
    ) -> Result<ReportOutcome, UploadError> {
        let failed = CancellationToken::new();
        let reporter = Reporter::spawn(
            self.client.clone(),
            self.upload_id.clone(),
            self.tracker.clone(),
            self.options.batch_size,
            self.options.report_interval,
            self.journal.clone(),
            failed.clone(),
        );
        let mut queue: VecDeque<u64> = todo.into();
        let mut workers = JoinSet::new();
        let window = self.options.max_workers.max(1);
        let pause = self.pause.clone();
        let stopped: Option<UploadError> = loop {
            let paused = pause.is_paused();
            while !paused && workers.len() < window {
                let Some(index) = queue.pop_front() else {
                    break;
                };
                let session = self.clone();
                let tx = reporter.tx.clone();
                workers.spawn(async move { session.upload_chunk(index, tx).await });
            }
            if workers.is_empty() {
                if queue.is_empty() {
                    break None;
                }
                // Paused with nothing in flight: wait for resume (or the end).
                self.tracker.set_phase(UploadPhase::Paused);
                tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => {
                        break Some(UploadError::Cancelled { upload_id: Some(self.upload_id.clone()) });
                    }
                    () = failed.cancelled() => break None,
                    () = pause.running() => {
                        self.tracker.set_phase(UploadPhase::Uploading);
                        continue;
                    }
                }
            }
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    break Some(UploadError::Cancelled { upload_id: Some(self.upload_id.clone()) });
                }
                () = failed.cancelled() => break None,
                // Resumed while the last chunks of the pause were still in flight.
                () = pause.running(), if paused => {}
                joined = workers.join_next() => match joined {
                    Some(Ok(Ok(()))) | None => {}
                    Some(Ok(Err(e))) => break Some(e),
                    Some(Err(e)) => break Some(UploadError::Protocol(format!("a chunk worker stopped: {e}"))),
                },
            }
        };
        workers.shutdown().await;
        self.tracker.abandon_in_flight();
        match stopped {
            None => reporter.finish().await,
            Some(error) => {
                // Report what is already stored so that a resume does not send it again,
                // but do not let a dying network hold the caller for long.
                let flush = tokio::time::timeout(Duration::from_secs(10), reporter.finish());
                match flush.await {
                    Ok(Err(report_error)) if !error.is_cancelled() => Err(report_error),
                    _ => Err(error),
                }
            }
        }
    }

    /// Stores one chunk, retrying with fresh URLs, then queues it for reporting.
    async fn upload_chunk(
        &self,
        index: u64,
        reports: tokio::sync::mpsc::Sender<CompletedChunk>,
    ) -> Result<(), UploadError> {
        let Some(spec) = self.plan.chunk(index) else {
            return Err(UploadError::Protocol(format!(
                "chunk {index} is outside the plan"
            )));
        };
        let backoff = Backoff {
            base: self.options.retry_delay,
            cap: Duration::from_secs(30),
        };
        let mut attempts = 0u32;
        let mut failures = 0u32;
        let mut expiries = 0u32;
        loop {
            attempts += 1;
            let outcome = match self.urls.take(index).await {
                Ok(url) => self.attempt(&url, spec).await,
                Err(e) if e.is_retryable() => Err(ChunkError::Url(e)),
                Err(e) => return Err(url_error(index, attempts, e)),
            };
            let error = match outcome {
                Ok(etag) => {
                    if let Some(journal) = &self.journal {
                        // On disk before the chunk leaves its slot (the writer thread
                        // commits it, with whatever other slots finished meanwhile): a
                        // crash from here on loses nothing, since a resume reports it from
                        // the journal, so a kill never costs more than the chunks in flight.
                        journal
                            .writer()
                            .record_chunk(&self.upload_id, index, &etag, spec.len)
                            .await?;
                    }
                    self.tracker.chunk_stored(index);
                    let chunk = CompletedChunk {
                        chunk_index: index,
                        proof: etag,
                        proof_type: ProofType::Etag,
                        chunk_size: spec.len,
                    };
                    // A closed queue means the reporter already failed; its error wins.
                    let _ = reports.send(chunk).await;
                    return Ok(());
                }
                Err(ChunkError::Io(e)) => {
                    self.tracker.chunk_failed(index);
                    return Err(self.source.io_error(e));
                }
                Err(e @ ChunkError::Transport { .. }) => {
                    // A body that failed on a file read surfaces as a transport error; look
                    // at the file so a truncated or deleted file is named, not retried.
                    if let Err(changed) = self.source.check_unchanged().await {
                        self.tracker.chunk_failed(index);
                        return Err(changed);
                    }
                    e
                }
                Err(e) => e,
            };
            let expired = matches!(error, ChunkError::UrlExpired { .. });
            if !matches!(error, ChunkError::Url(_)) {
                self.urls.note_failed_url();
            }
            if expired {
                expiries += 1;
            } else {
                failures += 1;
            }
            let may_retry = error.is_retryable()
                && if expired {
                    expiries <= MAX_URL_EXPIRIES_PER_CHUNK
                } else {
                    failures <= self.options.max_retries
                };
            if !may_retry {
                self.tracker.chunk_failed(index);
                return Err(UploadError::Chunk {
                    index,
                    attempts,
                    source: error,
                });
            }
            if !self.budget.try_spend() {
                self.tracker.chunk_failed(index);
                let retries = self.tracker.counters().retries;
                return Err(UploadError::RetryBudgetExhausted {
                    retries,
                    index,
                    source: error,
                });
            }
            self.tracker.chunk_retrying(index, attempts + 1);
            self.tracker.set_urls_refreshed(self.urls.refreshed());
            if !expired {
                // An expired URL is cured by the fresh one; anything else gets a pause.
                tokio::time::sleep(backoff.delay(failures - 1)).await;
            }
        }
    }

    /// One PUT of chunk `spec` to `url`.
    async fn attempt(&self, url: &str, spec: crate::plan::ChunkSpec) -> Result<String, ChunkError> {
        let sent = Arc::new(AtomicU64::new(0));
        let activity = Arc::new(Activity::new());
        self.tracker.chunk_started(spec.index, sent.clone());
        let body = self
            .source
            .body(spec, sent, activity.clone())
            .await
            .map_err(ChunkError::Io)?;
        put_chunk(
            self.client.http(),
            url,
            &self.upload_headers,
            body,
            spec.len,
            &activity,
            self.options.stall_timeout,
        )
        .await
    }

    /// Confirms with the status call that the session is complete; when the server still
    /// misses chunks (a lost report, a chunk it failed), sends them again.
    pub(crate) async fn confirm(
        self: &Arc<Self>,
        mut outcome: ReportOutcome,
    ) -> Result<ReportOutcome, UploadError> {
        self.tracker.set_phase(UploadPhase::Confirming);
        let mut round = 0;
        loop {
            let status = self
                .client
                .get_status_page(&self.upload_id, 1, 1)
                .await
                .map_err(|e| api_error(&self.client, e))?;
            match status.status {
                MultipartUploadStatus::Completed => return Ok(outcome),
                MultipartUploadStatus::Expired => {
                    return Err(UploadError::SessionExpired {
                        upload_id: self.upload_id.clone(),
                    });
                }
                MultipartUploadStatus::Failed => {
                    return Err(UploadError::SessionFailed {
                        upload_id: self.upload_id.clone(),
                    });
                }
                _ => {}
            }
            round += 1;
            if round > MAX_CONFIRM_ROUNDS {
                return Err(UploadError::Protocol(format!(
                    "session {} is still `{}` with {} of {} chunks after every chunk was stored and reported",
                    self.upload_id,
                    status.status,
                    status.chunks_completed,
                    self.plan.total_chunks()
                )));
            }
            let listing = self
                .client
                .get_status(&self.upload_id, 50)
                .collect()
                .await
                .map_err(|e| api_error(&self.client, e))?;
            let completed = completed_on_server(&listing, &self.plan);
            let missing: Vec<u64> = self
                .plan
                .chunks()
                .map(|c| c.index)
                .filter(|i| !completed.contains(i))
                .collect();
            if missing.is_empty() {
                // Every chunk is listed complete but the session is not yet: the server may
                // be finishing; ask again shortly.
                tokio::time::sleep(Duration::from_millis(250 * u64::from(round))).await;
                continue;
            }
            self.tracker.set_phase(UploadPhase::Uploading);
            let again = self.transfer(missing).await?;
            outcome.url = again.url.or(outcome.url);
            outcome.asset_id = again.asset_id.or(outcome.asset_id);
            outcome.total_completed = outcome.total_completed.max(again.total_completed);
            self.tracker.set_phase(UploadPhase::Confirming);
        }
    }
}
