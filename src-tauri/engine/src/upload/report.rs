//! The reporter: completed chunks go to the server in batches as they finish.
//!
//! A batch is sent when it is full (`batch_size`) or when its oldest chunk has waited
//! `interval`, so the server's count moves steadily and a slow chunk never holds back the
//! report of the others. A report that fails transiently is kept and tried again; only a
//! permanent refusal (a wrong proof, an expired session) ends the upload.
//!
//! With a journal, the chunk workers hand over only chunks whose rows are committed; the
//! reporter still flushes the journal before a report names a chunk whose row it has not
//! seen committed (free when nothing is pending), and queues the reported flags after the
//! server accepted them: a flag lost in a crash only means the chunk is reported again,
//! which the server counts once (see [`JournalWriter`](crate::journal::JournalWriter)).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::network::{NetworkGate, Verdict};
use super::track::Tracker;
use crate::api::MultipartUploadClient;
use crate::api::wire::CompletedChunk;
use crate::error::UploadError;
use crate::journal::{Journal, JournalWriter};
use crate::retry::Backoff;

/// How many times in a row a report may fail transiently (after the client's own retries)
/// before the upload gives up.
const MAX_REPORT_ROUNDS: u32 = 6;

/// The least number of stored chunks that may wait for the reporter when there is a journal.
/// The reporter then waits for the journal before its reports, and a deep queue lets the
/// workers go on storing chunks meanwhile; their rows are committed as they come, whatever
/// the reporter's pace, so the deeper queue does not widen what a crash can lose.
const JOURNALLED_QUEUE: usize = 1024;

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
    /// Starts a reporter for `upload_id` that sends batches of up to `batch_size` chunks, a
    /// chunk waiting at most `interval`. On a permanent failure it cancels `failed` and ends
    /// with the error.
    pub(crate) fn spawn(
        client: MultipartUploadClient,
        upload_id: String,
        tracker: Arc<Tracker>,
        (batch_size, interval): (usize, Duration),
        journal: Option<Journal>,
        failed: CancellationToken,
        gate: Option<Arc<NetworkGate>>,
    ) -> Self {
        let depth = batch_size.max(1) * 4;
        let depth = if journal.is_some() {
            depth.max(JOURNALLED_QUEUE)
        } else {
            depth
        };
        let (tx, rx) = mpsc::channel(depth);
        let task = Task {
            client,
            upload_id,
            tracker,
            batch_size: batch_size.clamp(1, 1000),
            interval,
            journal: journal.map(|j| j.writer()),
            pending: Vec::new(),
            durable: 0,
            outcome: ReportOutcome::default(),
            failures: 0,
            gate,
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
    /// Where the chunks' rows are written: flushed before each report, so the server never
    /// hears of a chunk the journal could lose.
    journal: Option<JournalWriter>,
    pending: Vec<CompletedChunk>,
    /// How many of the first `pending` chunks are known to have their rows on disk.
    durable: usize,
    outcome: ReportOutcome,
    failures: u32,
    /// Asked after a report got no answer: while the network is gone, the report waits for
    /// it instead of counting failures.
    gate: Option<Arc<NetworkGate>>,
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
                            due = self.flush(&mut rx).await?;
                        } else if due.is_none() {
                            due = Some(Instant::now() + self.interval);
                        }
                    }
                    None => {
                        while !self.pending.is_empty() {
                            if let Some(at) = self.flush(&mut rx).await? {
                                tokio::time::sleep_until(at).await;
                            }
                        }
                        if let Some(journal) = &self.journal {
                            // The reported flags queued above, on disk before the upload
                            // counts as done.
                            journal.flush(&self.upload_id).await?;
                        }
                        return Ok(self.outcome);
                    }
                },
                () = timer => due = self.flush(&mut rx).await?,
            }
        }
    }

    /// Reports up to one batch. Returns when the next flush is due: soon if chunks remain,
    /// after a backoff if this one failed transiently, or never if nothing is pending.
    async fn flush(
        &mut self,
        rx: &mut mpsc::Receiver<CompletedChunk>,
    ) -> Result<Option<Instant>, UploadError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let n = self.pending.len().min(self.batch_size);
        if let Some(journal) = &self.journal
            && self.durable < n
        {
            // The rows of the chunks about to be reported (queued by their workers before
            // the chunks were sent here) must be on disk first: the crash-safety contract.
            // One journal flush covers every chunk already waiting, so those are taken
            // too, and the batches after this one need no flush of their own.
            while let Ok(chunk) = rx.try_recv() {
                self.pending.push(chunk);
            }
            journal.flush(&self.upload_id).await?;
            self.durable = self.pending.len();
        }
        let n = self.pending.len().min(self.batch_size);
        match self
            .client
            .report_chunk_batch(&self.upload_id, &self.pending[..n])
            .await
        {
            Ok(answer) => {
                let indices: Vec<u64> = self.pending.drain(..n).map(|c| c.chunk_index).collect();
                self.durable = self.durable.saturating_sub(n);
                if let Some(journal) = &self.journal {
                    // Not waited for: a flag lost in a crash only means a resume reports
                    // the chunk again, which the server takes as already counted.
                    journal.queue_reported(&self.upload_id, &indices).await?;
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
            Err(e) if e.is_retryable() && self.offline_and_back(&e).await? => {
                Ok(Some(Instant::now()))
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

impl Task {
    /// Whether the failed report `e` met a network outage that is over now (then it is
    /// sent again at once, and no failure is counted).
    async fn offline_and_back(&self, e: &crate::api::ApiError) -> Result<bool, UploadError> {
        match &self.gate {
            Some(gate) => Ok(gate.judge_call(e).await? == Verdict::Outage),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::{CreateAssetUploadRequest, FileType, ProofType};
    use crate::journal::{JournalError, SessionRecord, SessionState};
    use crate::plan::ChunkPlan;

    const KEY: &str = "report-test-key";
    const SIZE: u64 = 1024;

    /// A sandbox, its client, and a one-chunk session whose chunk is stored: its id and
    /// the chunk as it would be reported.
    async fn stored_chunk() -> (
        tl_sandbox::SandboxHandle,
        MultipartUploadClient,
        String,
        CompletedChunk,
    ) {
        let sandbox = tl_sandbox::Sandbox::builder()
            .api_key(KEY)
            .chunk_size(SIZE)
            .start()
            .unwrap();
        let client = MultipartUploadClient::builder()
            .api_key(KEY)
            .base_url(sandbox.base_url())
            .build()
            .unwrap();
        let created = client
            .create(&CreateAssetUploadRequest {
                filename: "clip.mp4".into(),
                file_type: FileType::Video,
                total_size: SIZE,
                enable_hls: None,
                enable_thumbnail: None,
                user_metadata: None,
            })
            .await
            .unwrap();
        let stored = client
            .http()
            .put(&created.upload_urls[0].url)
            .body(vec![7u8; SIZE as usize])
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let etag = stored.headers()["etag"].to_str().unwrap().trim_matches('"');
        let chunk = CompletedChunk {
            chunk_index: 1,
            proof: etag.to_owned(),
            proof_type: ProofType::Etag,
            chunk_size: SIZE,
        };
        (sandbox, client, created.upload_id, chunk)
    }

    fn session(upload_id: &str) -> SessionRecord {
        SessionRecord {
            upload_id: upload_id.to_owned(),
            asset_id: None,
            base_url: "http://127.0.0.1:1/v1.3".into(),
            file_path: "/clip.mp4".into(),
            file_size: SIZE,
            file_mtime_ns: None,
            fingerprint: None,
            filename: "clip.mp4".into(),
            file_type: "video".into(),
            chunk_size: SIZE,
            total_chunks: 1,
            created_at: 0,
            expires_at: None,
            state: SessionState::Active,
        }
    }

    /// Queues the chunk's row as a chunk worker does, hands the chunk to a reporter and
    /// lets the reporter finish.
    async fn report_through_journal(
        client: &MultipartUploadClient,
        upload_id: &str,
        chunk: CompletedChunk,
        journal: &Journal,
    ) -> Result<ReportOutcome, UploadError> {
        let plan = ChunkPlan::new(SIZE, SIZE, Some(1)).unwrap();
        let reporter = Reporter::spawn(
            client.clone(),
            upload_id.to_owned(),
            Arc::new(Tracker::new(plan, None, None)),
            (10, Duration::from_millis(10)),
            Some(journal.clone()),
            CancellationToken::new(),
            None,
        );
        journal
            .writer()
            .queue_chunk(upload_id, 1, &chunk.proof, SIZE)
            .await?;
        reporter.tx.send(chunk).await.unwrap();
        reporter.finish().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reported_chunk_has_its_row_and_flag_on_disk_when_the_reporter_ends() {
        let (sandbox, client, upload_id, chunk) = stored_chunk().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite3");
        let journal = Journal::open(&path).unwrap();
        journal.record_session(&session(&upload_id)).unwrap();
        let etag = chunk.proof.clone();
        let outcome = report_through_journal(&client, &upload_id, chunk, &journal)
            .await
            .unwrap();
        assert_eq!(outcome.total_completed, 1);
        assert_eq!(sandbox.stats().reports_received, 1);
        let rows = Journal::open(&path).unwrap().chunks(&upload_id).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].etag.as_str(), rows[0].reported),
            (etag.as_str(), true)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chunk_whose_row_cannot_be_written_is_never_reported() {
        let (sandbox, client, upload_id, chunk) = stored_chunk().await;
        let dir = tempfile::tempdir().unwrap();
        // No session record: the chunk's row breaks the foreign key and is not written.
        let journal = Journal::open(dir.path().join("j.sqlite3")).unwrap();
        let err = report_through_journal(&client, &upload_id, chunk, &journal)
            .await
            .unwrap_err();
        assert!(
            matches!(err, UploadError::Journal(JournalError::Database { .. })),
            "{err:?}"
        );
        assert_eq!(
            sandbox.stats().reports_received,
            0,
            "the server heard of a chunk the journal does not have"
        );
        assert!(journal.chunks(&upload_id).unwrap().is_empty());
    }
}
