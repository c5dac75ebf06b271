//! The reporter: completed chunks go to the server in batches as they finish.
//!
//! A batch is sent when it is full (`batch_size`) or when its oldest chunk has waited
//! `interval`, so the server's count moves steadily and a slow chunk never holds back the
//! report of the others. A report that fails transiently is kept and tried again; only a
//! permanent refusal (a wrong proof, an expired session) ends the upload.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::track::Tracker;
use crate::api::MultipartUploadClient;
use crate::api::wire::CompletedChunk;
use crate::error::UploadError;
use crate::journal::Journal;
use crate::retry::Backoff;

/// How many times in a row a report may fail transiently (after the client's own retries)
/// before the upload gives up.
const MAX_REPORT_ROUNDS: u32 = 6;

/// What the reports established.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReportOutcome {
    /// The asset URL, which the server sends once every chunk is reported.
    pub(crate) url: Option<String>,
    /// The asset id, from the report answers.
    pub(crate) asset_id: Option<String>,
    /// The server's count of unique reported chunks.
    pub(crate) total_completed: u64,
}

/// The running reporter.
#[derive(Debug)]
pub(crate) struct Reporter {
    pub(crate) tx: mpsc::Sender<CompletedChunk>,
    pub(crate) handle: JoinHandle<Result<ReportOutcome, UploadError>>,
}

impl Reporter {
    /// Starts a reporter for `upload_id`. On a permanent failure it cancels `failed` and
    /// ends with the error.
    pub(crate) fn spawn(
        client: MultipartUploadClient,
        upload_id: String,
        tracker: Arc<Tracker>,
        batch_size: usize,
        interval: Duration,
        journal: Option<Journal>,
        failed: CancellationToken,
    ) -> Self {
        let (tx, rx) = mpsc::channel(batch_size.max(1) * 4);
        let task = Task {
            client,
            upload_id,
            tracker,
            batch_size: batch_size.clamp(1, 1000),
            interval,
            journal,
            pending: Vec::new(),
            outcome: ReportOutcome::default(),
            failures: 0,
        };
        let handle = tokio::spawn(async move {
            let result = task.run(rx).await;
            if result.is_err() {
                failed.cancel();
            }
            result
        });
        Self { tx, handle }
    }

    /// Closes the queue, waits for everything queued to be reported, and returns what the
    /// reports established.
    pub(crate) async fn finish(self) -> Result<ReportOutcome, UploadError> {
        drop(self.tx);
        match self.handle.await {
            Ok(result) => result,
            Err(e) => Err(UploadError::Protocol(format!(
                "the reporter stopped unexpectedly: {e}"
            ))),
        }
    }
}

struct Task {
    client: MultipartUploadClient,
    upload_id: String,
    tracker: Arc<Tracker>,
    batch_size: usize,
    interval: Duration,
    journal: Option<Journal>,
    pending: Vec<CompletedChunk>,
    outcome: ReportOutcome,
    failures: u32,
}

impl Task {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<CompletedChunk>,
    ) -> Result<ReportOutcome, UploadError> {
        let mut due: Option<Instant> = None;
        loop {
            let timer = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                message = rx.recv() => match message {
                    Some(chunk) => {
                        self.pending.push(chunk);
                        if self.pending.len() >= self.batch_size {
                            due = self.flush().await?;
                        } else if due.is_none() {
                            due = Some(Instant::now() + self.interval);
                        }
                    }
                    None => {
                        while !self.pending.is_empty() {
                            if let Some(at) = self.flush().await? {
                                tokio::time::sleep_until(at).await;
                            }
                        }
                        return Ok(self.outcome);
                    }
                },
                () = timer => due = self.flush().await?,
            }
        }
    }

    /// Reports up to one batch. Returns when the next flush is due: soon if chunks remain,
    /// after a backoff if this one failed transiently, or never if nothing is pending.
    async fn flush(&mut self) -> Result<Option<Instant>, UploadError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let n = self.pending.len().min(self.batch_size);
        match self
            .client
            .report_chunk_batch(&self.upload_id, &self.pending[..n])
            .await
        {
            Ok(answer) => {
                let indices: Vec<u64> = self.pending.drain(..n).map(|c| c.chunk_index).collect();
                if let Some(journal) = &self.journal {
                    journal.mark_reported(&self.upload_id, &indices)?;
                }
                self.tracker.chunks_reported(&indices);
                self.failures = 0;
                if let Some(url) = answer.url.filter(|u| !u.is_empty()) {
                    self.outcome.url = Some(url);
                }
                if let Some(id) = answer.asset_id.filter(|a| !a.is_empty()) {
                    self.tracker.set_asset_id(&id);
                    self.outcome.asset_id = Some(id);
                }
                self.outcome.total_completed =
                    self.outcome.total_completed.max(answer.total_completed);
                Ok((!self.pending.is_empty()).then(Instant::now))
            }
            Err(e) if e.is_retryable() && self.failures < MAX_REPORT_ROUNDS => {
                let backoff = Backoff {
                    base: Duration::from_secs(1),
                    cap: Duration::from_secs(30),
                };
                let wait = backoff.delay_with_hint(self.failures, e.retry_after());
                self.failures += 1;
                Ok(Some(Instant::now() + wait))
            }
            Err(e) => Err(super::api_error(&self.client, e)),
        }
    }
}
