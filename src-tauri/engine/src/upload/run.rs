//! The transfer of one session: a sliding window of chunk PUTs, the reporter beside it,
//! then confirmation with the status call.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::begin::{Prepared, completed_on_server};
use super::control::PauseSwitch;
use super::handle::{Publisher, UploadControls};
use super::link::{Admission, Link, SlotPermit};
use super::network::{NetworkGate, Verdict};
use super::put::{StallLimit, put_chunk};
use super::report::{ReportOutcome, Reporter};
use super::source::{Activity, SourceFile, check_etag};
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
/// The first pause between status reads while confirming; it doubles up to the cap.
const CONFIRM_FIRST: Duration = Duration::from_millis(250);
const CONFIRM_CAP: Duration = Duration::from_secs(5);
/// How many times one chunk may arrive damaged before the upload gives up on it: storage
/// that damages every copy needs a person to look at it.
const MAX_DAMAGED_PER_CHUNK: u32 = 3;
/// How many attempts of one chunk an outage may cost for free; past that its failures count
/// (a network that flickers for ever needs a person to look at it).
const MAX_OUTAGES_PER_CHUNK: u32 = 64;

/// How often the tail is checked for a chunk worth racing.
const HEDGE_CHECK: Duration = Duration::from_millis(200);
/// A chunk in flight this many times longer than a typical chunk PUT is a straggler.
const STRAGGLER: f64 = 2.0;
/// Racing copies may add at most this share of the file's bytes (at least one chunk).
const HEDGE_BUDGET: f64 = 0.05;

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
    /// Its place on the process's link: slots, priority, what it still wants.
    pub(crate) admission: Admission,
    /// Tells a failed chunk from a network that went away, and waits for it to come back.
    pub(crate) gate: Arc<NetworkGate>,
    /// The chunks in flight, for racing a copy of a straggler at the end.
    races: Mutex<HashMap<u64, Arc<Race>>>,
    /// Seconds per byte of each acknowledged PUT of this session.
    durations: Mutex<Vec<f64>>,
    /// Bytes of racing copies started so far, and how many.
    hedged_bytes: AtomicU64,
    races_started: AtomicU64,
}

/// One chunk in flight, which a racing copy may overtake.
#[derive(Debug)]
struct Race {
    /// When the current attempt started, and its byte counter.
    attempt: Mutex<(Instant, Arc<AtomicU64>)>,
    len: u64,
    /// A copy was started.
    hedged: AtomicBool,
    /// Whoever stored the chunk first (the original or the copy) claims it.
    claimed: AtomicBool,
    /// Cancelled when one side has claimed the chunk, to stop the other.
    done: CancellationToken,
}

impl Race {
    fn claim(&self) -> bool {
        let first = !self.claimed.swap(true, Ordering::AcqRel);
        self.done.cancel();
        first
    }
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
        admission: Admission,
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
            session_expires,
        } = prepared;
        let tracker = Arc::new(Tracker::new(
            plan,
            Some(publisher),
            Some(admission.link().level_gauge()),
        ));
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
            options.max_workers.min(16) as u64,
        );
        urls.add(first_urls, server_now, received).await;
        let gate = NetworkGate::new(
            client.clone(),
            upload_id.clone(),
            tracker.clone(),
            admission.link().clone(),
            &options,
            session_expires,
        );
        Arc::new(Self {
            gate,
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
            admission,
            races: Mutex::new(HashMap::new()),
            durations: Mutex::new(Vec::new()),
            hedged_bytes: AtomicU64::new(0),
            races_started: AtomicU64::new(0),
        })
    }
}

impl Session {
    fn link(&self) -> &Link {
        self.admission.link()
    }

    /// How many racing copies were started.
    pub(crate) fn copies_raced(&self) -> u64 {
        self.races_started.load(Ordering::Relaxed)
    }

    /// Uploads the chunks in `todo` and reports them. Each PUT takes a slot of the process's
    /// link (at most `max_workers` of them for this upload); when nothing is left to start,
    /// a straggler among the last chunks may be raced by a copy on an idle slot.
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
            (self.options.batch_size, self.options.report_interval),
            self.journal.clone(),
            failed.clone(),
            Some(self.gate.clone()),
        );
        let watch_stop = CancellationToken::new();
        let _watch_stop = watch_stop.clone().drop_guard();
        self.gate.spawn_sleep_watch(watch_stop);
        let mut queue: VecDeque<u64> = todo.into();
        let mut workers = JoinSet::new();
        let mut originals = 0usize;
        let cap = self.options.max_workers.max(1);
        let pause = self.pause.clone();
        let link = self.link().clone();
        let priority = self.admission.priority();
        let stopped: Option<UploadError> = loop {
            let paused = pause.is_paused();
            let demand = if paused { 0 } else { queue.len() as u64 };
            self.admission
                .set_demand(demand, paused && workers.is_empty());
            if workers.is_empty() {
                if queue.is_empty() {
                    break None;
                }
                if paused {
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
            }
            let want_slot = !paused && !queue.is_empty() && originals < cap;
            let tail = !paused && queue.is_empty() && !workers.is_empty();
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    break Some(UploadError::Cancelled { upload_id: Some(self.upload_id.clone()) });
                }
                () = failed.cancelled() => break None,
                // Resumed while the last chunks of the pause were still in flight.
                () = pause.running(), if paused => {}
                joined = workers.join_next(), if !workers.is_empty() => match joined {
                    Some(Ok(Ok(original))) => originals -= usize::from(original),
                    None => {}
                    Some(Ok(Err(e))) => break Some(e),
                    Some(Err(e)) => break Some(UploadError::Protocol(format!("a chunk worker stopped: {e}"))),
                },
                permit = link.acquire(priority), if want_slot => {
                    if let Some(index) = queue.pop_front() {
                        let session = self.clone();
                        let tx = reporter.tx.clone();
                        originals += 1;
                        workers.spawn(async move {
                            session.upload_chunk(index, permit, tx).await.map(|()| true)
                        });
                    }
                }
                () = tokio::time::sleep(HEDGE_CHECK), if tail => {
                    if let Some((index, race, permit)) = self.straggler() {
                        let session = self.clone();
                        let tx = reporter.tx.clone();
                        workers.spawn(async move {
                            session.race_copy(index, race, permit, tx).await;
                            Ok(false)
                        });
                    }
                }
            }
        };
        self.admission.set_demand(0, false);
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

    /// The chunk in flight most worth racing now, with an idle slot for the copy: one whose
    /// PUT has taken [`STRAGGLER`] times what a typical one of its size takes and is not
    /// nearly done, while the copies so far stay within [`HEDGE_BUDGET`] of the file. None
    /// under a bandwidth limit.
    fn straggler(&self) -> Option<(u64, Arc<Race>, SlotPermit)> {
        // Under a bandwidth limit every chunk is as slow as the limit makes it, and a copy
        // would only share the same limit; a PUT that truly hangs meets the watchdog.
        if self.link().is_rate_limited() || self.gate.is_offline() {
            return None;
        }
        // Seconds per byte of a typical acknowledged PUT, so a short last chunk does not
        // make a full-size one look slow.
        let per_byte = self.typical_seconds_per_byte()?;
        let budget =
            (self.plan.total_size() as f64 * HEDGE_BUDGET).max(self.plan.chunk_size() as f64);
        let now = Instant::now();
        let (index, race) = {
            let races = self.races.lock().unwrap_or_else(PoisonError::into_inner);
            races
                .iter()
                .filter(|(_, r)| !r.hedged.load(Ordering::Relaxed))
                .filter_map(|(i, r)| {
                    let (started, sent) = {
                        let a = r.attempt.lock().unwrap_or_else(PoisonError::into_inner);
                        (a.0, a.1.load(Ordering::Relaxed))
                    };
                    let elapsed = now.duration_since(started).as_secs_f64();
                    let typical = per_byte * r.len as f64;
                    if elapsed < STRAGGLER * typical {
                        return None;
                    }
                    // Time still needed at this attempt's own pace; all sent and no answer
                    // counts as slow.
                    let remaining = if sent >= r.len || sent == 0 {
                        f64::INFINITY
                    } else {
                        elapsed * (r.len - sent) as f64 / sent as f64
                    };
                    (remaining > typical).then(|| (elapsed, *i, r.clone()))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, i, r)| (i, r))?
        };
        if self.hedged_bytes.load(Ordering::Relaxed) as f64 + race.len as f64 > budget {
            return None;
        }
        let permit = self.link().try_acquire_idle()?;
        race.hedged.store(true, Ordering::Relaxed);
        self.hedged_bytes.fetch_add(race.len, Ordering::Relaxed);
        self.races_started.fetch_add(1, Ordering::Relaxed);
        Some((index, race, permit))
    }

    /// Seconds per byte of a typical (the median) acknowledged PUT of this session, once
    /// there is one.
    fn typical_seconds_per_byte(&self) -> Option<f64> {
        let mut d = self
            .durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        Some(d[d.len() / 2])
    }

    /// Stores one chunk (retrying with fresh URLs) unless a racing copy stores it first,
    /// then records and queues it for reporting.
    async fn upload_chunk(
        &self,
        index: u64,
        permit: SlotPermit,
        reports: tokio::sync::mpsc::Sender<CompletedChunk>,
    ) -> Result<(), UploadError> {
        let Some(spec) = self.plan.chunk(index) else {
            return Err(UploadError::Protocol(format!(
                "chunk {index} is outside the plan"
            )));
        };
        let race = Arc::new(Race {
            attempt: Mutex::new((Instant::now(), Arc::new(AtomicU64::new(0)))),
            len: spec.len,
            hedged: AtomicBool::new(false),
            claimed: AtomicBool::new(false),
            done: CancellationToken::new(),
        });
        self.races
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(index, race.clone());
        let stored = tokio::select! {
            stored = self.store_chunk(spec, &race) => stored.map(Some),
            // A copy stored it first; this attempt's bytes were for nothing.
            () = race.done.cancelled() => Ok(None),
        };
        self.races
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&index);
        // The slot is held until the chunk is recorded (see `record`).
        let _permit = permit;
        match stored {
            Ok(Some(etag)) if race.claim() => self.record(spec, etag, &reports).await,
            Ok(_) => Ok(()),
            Err(e) if race.claimed.load(Ordering::Acquire) => {
                // The copy stored it; this attempt's failure no longer matters.
                drop(e);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One copy of chunk `index`'s PUT on a fresh URL, racing the original; whichever
    /// stores it first records it. A failed copy changes nothing.
    async fn race_copy(
        &self,
        index: u64,
        race: Arc<Race>,
        permit: SlotPermit,
        reports: tokio::sync::mpsc::Sender<CompletedChunk>,
    ) {
        let Some(spec) = self.plan.chunk(index) else {
            return;
        };
        let sent = Arc::new(AtomicU64::new(0));
        let attempt = async {
            let taken = self.urls.take(index).await.map_err(ChunkError::Url)?;
            self.attempt_with(&taken.url, spec, sent.clone(), false)
                .await
        };
        let outcome = tokio::select! {
            outcome = attempt => Some(outcome),
            () = race.done.cancelled() => None,
        };
        let _permit = permit;
        match outcome {
            Some(Ok(etag)) if race.claim() => {
                // A failure to record is the original's to meet on its own next step.
                let _ = self.record(spec, etag, &reports).await;
            }
            _ => {}
        }
    }

    /// A stored chunk: into the journal, the progress, and the report queue.
    async fn record(
        &self,
        spec: crate::plan::ChunkSpec,
        etag: String,
        reports: &tokio::sync::mpsc::Sender<CompletedChunk>,
    ) -> Result<(), UploadError> {
        let index = spec.index;
        if let Some(journal) = &self.journal {
            // On disk before the chunk leaves its slot (the writer thread commits it, with
            // whatever other slots finished meanwhile): a crash from here on loses nothing,
            // since a resume reports it from the journal, so a kill never costs more than
            // the chunks in flight.
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
        Ok(())
    }

    /// Stores chunk `spec`, retrying with fresh URLs; returns its ETag.
    ///
    /// A failure with no answer of any kind is first judged by the network gate: when the
    /// network was gone, the attempt is made again once it is back, and costs no retry.
    async fn store_chunk(
        &self,
        spec: crate::plan::ChunkSpec,
        race: &Race,
    ) -> Result<String, UploadError> {
        let index = spec.index;
        let backoff = Backoff {
            base: self.options.retry_delay,
            cap: Duration::from_secs(30),
        };
        let mut attempts = 0u32;
        let mut failures = 0u32;
        let mut expiries = 0u32;
        let mut damaged = 0u32;
        let mut outages = 0u32;
        loop {
            self.gate.online().await?;
            attempts += 1;
            let epoch = self.gate.epoch();
            let interrupted = self.gate.interrupted();
            let sent = Arc::new(AtomicU64::new(0));
            *race.attempt.lock().unwrap_or_else(PoisonError::into_inner) =
                (Instant::now(), sent.clone());
            let attempt = async {
                match self.urls.take(index).await {
                    Ok(taken) => Ok(
                        match self
                            .attempt_with(&taken.url, spec, sent.clone(), true)
                            .await
                        {
                            // S3 refuses an expired URL before reading the body and closes
                            // the connection, so the sender often sees a broken pipe, not
                            // the 403. A URL past its expiry explains the failure.
                            Err(ChunkError::Transport { .. }) if taken.expiry.passed() => {
                                Err(ChunkError::UrlExpired { status: None })
                            }
                            other => other,
                        },
                    ),
                    Err(e) if e.is_retryable() => Ok(Err(ChunkError::Url(e))),
                    Err(e) => Err(url_error(index, attempts, e)),
                }
            };
            let outcome = tokio::select! {
                outcome = attempt => outcome?,
                () = interrupted.cancelled() => Err(ChunkError::Interrupted),
            };
            let error = match outcome {
                Ok(etag) => return Ok(etag),
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
            if error.may_be_offline() {
                // Off the wire while the network is judged (and perhaps waited for).
                self.tracker.chunk_stopped(index);
                if outages < MAX_OUTAGES_PER_CHUNK
                    && self.gate.judge(epoch, Instant::now()).await? == Verdict::Outage
                {
                    // The network went away under it (or the machine slept): not its fault.
                    outages += 1;
                    self.tracker.chunk_interrupted(index);
                    continue;
                }
            }
            if matches!(error, ChunkError::Damaged { .. }) {
                // The bytes were fine when they left; send them again at once.
                damaged += 1;
                self.tracker.chunk_damaged(index);
                if damaged <= MAX_DAMAGED_PER_CHUNK {
                    continue;
                }
                self.tracker.chunk_failed(index);
                return Err(UploadError::Chunk {
                    index,
                    attempts,
                    source: error,
                });
            }
            let expired = matches!(error, ChunkError::UrlExpired { .. });
            self.link().failure(
                matches!(error, ChunkError::Stalled { .. }),
                !expired && !matches!(error, ChunkError::Url(_)),
            );
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
            if !expired && !self.budget.try_spend() {
                self.tracker.chunk_failed(index);
                let retries = self.tracker.counters().retries;
                return Err(UploadError::RetryBudgetExhausted {
                    retries,
                    index,
                    source: error,
                });
            }
            self.tracker.chunk_retrying(index, attempts + 1, !expired);
            self.tracker.set_urls_refreshed(self.urls.refreshed());
            if !expired {
                // An expired URL is cured by the fresh one; anything else gets a pause.
                tokio::time::sleep(backoff.delay(failures - 1)).await;
            }
        }
    }

    /// One PUT of chunk `spec` to `url`, counting its body bytes into `sent`; `shown` puts
    /// the attempt in the progress snapshot (a racing copy is not shown).
    async fn attempt_with(
        &self,
        url: &str,
        spec: crate::plan::ChunkSpec,
        sent: Arc<AtomicU64>,
        shown: bool,
    ) -> Result<String, ChunkError> {
        let activity = Arc::new(Activity::new());
        let credit = self.link().credit();
        if shown {
            self.tracker
                .chunk_started(spec.index, sent.clone(), Some(credit.clone()));
        }
        let started = Instant::now();
        let digest = Arc::new(std::sync::OnceLock::new());
        let body = self
            .source
            .body(
                spec,
                sent.clone(),
                activity.clone(),
                credit.clone(),
                digest.clone(),
            )
            .await
            .map_err(ChunkError::Io)?;
        // Once the whole body is in the connection's hands, a slow link may still be
        // carrying much of it: allow twice what a typical PUT of this size takes.
        let drain = self.typical_seconds_per_byte().map_or(Duration::ZERO, |s| {
            Duration::from_secs_f64((2.0 * s * spec.len as f64).min(3600.0))
        });
        let stall = StallLimit {
            stall_timeout: self.options.stall_timeout,
            drain,
            sent: &sent,
        };
        let etag = put_chunk(
            self.client.http(),
            url,
            &self.upload_headers,
            body,
            spec.len,
            &activity,
            stall,
        )
        .await?;
        credit.acknowledge();
        let took = started.elapsed();
        self.link().acknowledged(took);
        self.durations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(took.as_secs_f64() / spec.len.max(1) as f64);
        if let Some(sent) = digest.get() {
            check_etag(&etag, sent)?;
        }
        Ok(etag)
    }

    /// Confirms with the status call that the session is complete. The platform may take a
    /// while to turn a session `completed` after its last report (assembling a large file),
    /// so the status is read again with backoff for up to `confirm_timeout`. When the server
    /// still misses chunks (a lost report, a chunk it failed), they are sent again.
    pub(crate) async fn confirm(
        self: &Arc<Self>,
        mut outcome: ReportOutcome,
    ) -> Result<ReportOutcome, UploadError> {
        self.tracker.set_phase(UploadPhase::Confirming);
        let began = Instant::now();
        let mut pause = CONFIRM_FIRST;
        let mut resends = 0;
        loop {
            let status = match self.client.get_status_page(&self.upload_id, 1, 1).await {
                Ok(status) => Some(status),
                Err(e) if e.is_retryable() && began.elapsed() < self.options.confirm_timeout => {
                    // Waits here while the network is gone; either way, ask again.
                    self.gate.judge_call(&e).await?;
                    None
                }
                Err(e) => return Err(api_error(&self.client, e)),
            };
            if let Some(status) = status {
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
                let total = self.plan.total_chunks();
                if status.chunks_failed > 0 || status.chunks_completed < total {
                    let missing = self.missing_on_server().await?;
                    if !missing.is_empty() {
                        resends += 1;
                        if resends > MAX_CONFIRM_ROUNDS {
                            return Err(UploadError::Protocol(format!(
                                "session {} still misses chunks {missing:?} after they were sent again {MAX_CONFIRM_ROUNDS} times",
                                self.upload_id
                            )));
                        }
                        self.tracker.set_phase(UploadPhase::Uploading);
                        let again = self.transfer(missing).await?;
                        outcome.url = again.url.or(outcome.url);
                        outcome.asset_id = again.asset_id.or(outcome.asset_id);
                        outcome.total_completed =
                            outcome.total_completed.max(again.total_completed);
                        self.tracker.set_phase(UploadPhase::Confirming);
                        pause = CONFIRM_FIRST;
                        continue;
                    }
                }
                let waited = began.elapsed();
                if waited >= self.options.confirm_timeout {
                    return Err(UploadError::NotConfirmed {
                        upload_id: self.upload_id.clone(),
                        status: status.status.to_string(),
                        completed: status.chunks_completed,
                        total,
                        waited,
                    });
                }
            }
            // Every chunk is in and the session is not complete yet: the platform is
            // finishing. Ask again, less often as time goes on.
            let left = self.options.confirm_timeout.saturating_sub(began.elapsed());
            tokio::select! {
                () = self.cancel.cancelled() => {
                    return Err(UploadError::Cancelled { upload_id: Some(self.upload_id.clone()) });
                }
                () = tokio::time::sleep(pause.min(left.max(Duration::from_millis(10)))) => {}
            }
            pause = (pause * 2).min(CONFIRM_CAP);
        }
    }

    /// The chunks the server does not list as completed.
    async fn missing_on_server(&self) -> Result<Vec<u64>, UploadError> {
        let listing = self
            .client
            .get_status(&self.upload_id, 50)
            .collect()
            .await
            .map_err(|e| api_error(&self.client, e))?;
        let completed = completed_on_server(&listing, &self.plan);
        Ok(self
            .plan
            .chunks()
            .map(|c| c.index)
            .filter(|i| !completed.contains(i))
            .collect())
    }
}
