//! The live state behind [`UploadProgress`] snapshots, and the ticker that publishes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::handle::Publisher;
use super::link::Credit;
use crate::plan::ChunkPlan;
use crate::progress::{ChunkState, RateMeter, UploadPhase, UploadProgress};

/// Shared by the workers, the reporter and the ticker. Lock hold times are a few field
/// updates; nothing awaits while holding it.
pub(crate) struct Tracker {
    started: Instant,
    plan: ChunkPlan,
    /// Where snapshots go; it keeps them in the order they were taken (a tick cannot
    /// deliver a stale one after a phase change).
    publisher: Option<Arc<Publisher>>,
    /// The process's parallelism level, for the snapshot.
    level: Option<Arc<AtomicUsize>>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

struct State {
    phase: UploadPhase,
    upload_id: Option<String>,
    asset_id: Option<String>,
    chunks: Vec<ChunkState>,
    /// Byte counters of the attempts in flight, by chunk index.
    /// With each, its goodput account when it has one (the rate counts what the account
    /// counts, not bytes still sitting in socket buffers).
    in_flight: HashMap<u64, (Arc<AtomicU64>, Option<Arc<Credit>>)>,
    acknowledged: u64,
    completed_chunks: u64,
    retries: u64,
    urls_refreshed: u64,
    /// Bytes stored by this run (not counting chunks done before a resume).
    bytes_stored_this_run: u64,
    chunks_stored_this_run: u64,
    meter: RateMeter,
    high_water: f64,
    /// While waiting for the network: since when (Unix milliseconds), and the phase to
    /// go back to.
    offline_since_ms: Option<u64>,
    phase_before_offline: UploadPhase,
    /// Chunks stored damaged and sent again.
    damaged: u64,
    /// The chunks that were sent twice because the network went away under them.
    resent_after_outage: u64,
}

impl Tracker {
    /// A tracker of `plan`, publishing to `publisher`, showing `level` (the link's chunks
    /// allowed in flight) in every snapshot.
    pub(crate) fn new(
        plan: ChunkPlan,
        publisher: Option<Arc<Publisher>>,
        level: Option<Arc<AtomicUsize>>,
    ) -> Self {
        let total = usize::try_from(plan.total_chunks()).unwrap_or(usize::MAX);
        Self {
            started: Instant::now(),
            plan,
            publisher,
            level,
            state: Mutex::new(State {
                phase: UploadPhase::Starting,
                upload_id: None,
                asset_id: None,
                chunks: vec![ChunkState::Pending; total],
                in_flight: HashMap::new(),
                acknowledged: 0,
                completed_chunks: 0,
                retries: 0,
                urls_refreshed: 0,
                bytes_stored_this_run: 0,
                chunks_stored_this_run: 0,
                meter: RateMeter::new(Duration::from_secs(3)),
                high_water: 0.0,
                offline_since_ms: None,
                phase_before_offline: UploadPhase::Uploading,
                damaged: 0,
                resent_after_outage: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain counters behind; they are still
        // meaningful, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(state: &mut State, index: u64) -> Option<&mut ChunkState> {
        state
            .chunks
            .get_mut(usize::try_from(index).ok()?.checked_sub(1)?)
    }

    pub(crate) fn set_session(&self, upload_id: &str, asset_id: Option<&str>) {
        let mut s = self.lock();
        s.upload_id = Some(upload_id.to_owned());
        if asset_id.is_some() {
            s.asset_id = asset_id.map(str::to_owned);
        }
    }

    pub(crate) fn asset_id(&self) -> Option<String> {
        self.lock().asset_id.clone()
    }

    pub(crate) fn set_asset_id(&self, asset_id: &str) {
        self.lock().asset_id = Some(asset_id.to_owned());
    }

    /// Marks chunks the server already has (a resume) as done.
    pub(crate) fn mark_already_done(&self, indices: impl IntoIterator<Item = u64>) {
        let mut s = self.lock();
        for i in indices {
            let len = self.plan.chunk(i).map_or(0, |c| c.len);
            if let Some(slot) = Self::slot(&mut s, i)
                && *slot != ChunkState::Done
            {
                *slot = ChunkState::Done;
                s.acknowledged += len;
                s.completed_chunks += 1;
            }
        }
    }

    /// Changes phase and publishes a snapshot at once. While the upload waits for the
    /// network the new phase is kept for when it is back.
    pub(crate) fn set_phase(&self, phase: UploadPhase) {
        {
            let mut s = self.lock();
            let later = matches!(
                phase,
                UploadPhase::Uploading | UploadPhase::Confirming | UploadPhase::Paused
            );
            if later && s.offline_since_ms.is_some() {
                s.phase_before_offline = phase;
            } else {
                // An end (or a phase the wait cannot hold up) ends the wait's display too.
                s.phase = phase;
                s.offline_since_ms = None;
            }
        }
        self.publish();
    }

    pub(crate) fn chunk_started(
        &self,
        index: u64,
        sent: Arc<AtomicU64>,
        credit: Option<Arc<Credit>>,
    ) {
        let mut s = self.lock();
        let len = self.plan.chunk(index).map_or(0, |c| c.len);
        if let Some(slot) = Self::slot(&mut s, index) {
            *slot = ChunkState::Uploading { sent: 0, len };
        }
        s.in_flight.insert(index, (sent, credit));
    }

    /// Chunk `index` goes again after a failed attempt; `counted` when the failure counts
    /// as a retry (an expired URL does not: a fresh one is all it needs).
    pub(crate) fn chunk_retrying(&self, index: u64, next_attempt: u32, counted: bool) {
        let mut s = self.lock();
        s.in_flight.remove(&index);
        s.retries += u64::from(counted);
        if let Some(slot) = Self::slot(&mut s, index) {
            *slot = ChunkState::Retrying {
                attempt: next_attempt,
            };
        }
    }

    pub(crate) fn chunk_stored(&self, index: u64) {
        let mut s = self.lock();
        s.in_flight.remove(&index);
        let len = self.plan.chunk(index).map_or(0, |c| c.len);
        if let Some(slot) = Self::slot(&mut s, index)
            && !slot.is_stored()
        {
            *slot = ChunkState::Uploaded;
            s.acknowledged += len;
            s.bytes_stored_this_run += len;
            s.chunks_stored_this_run += 1;
        }
    }

    pub(crate) fn chunk_failed(&self, index: u64) {
        let mut s = self.lock();
        s.in_flight.remove(&index);
        if let Some(slot) = Self::slot(&mut s, index) {
            *slot = ChunkState::Failed;
        }
    }

    /// Chunks whose attempt was abandoned (cancel, another chunk's fatal error) go back to
    /// pending, so the snapshot does not claim bytes are moving.
    pub(crate) fn abandon_in_flight(&self) {
        let mut s = self.lock();
        let indices: Vec<u64> = s.in_flight.drain().map(|(i, _)| i).collect();
        // The upload is stopping: the bar shows what is stored, not what was on the wire.
        s.high_water = 100.0 * s.acknowledged as f64 / self.plan.total_size() as f64;
        for i in indices {
            if let Some(slot) = Self::slot(&mut s, i)
                && !slot.is_stored()
            {
                *slot = ChunkState::Pending;
            }
        }
    }

    pub(crate) fn chunks_reported(&self, indices: &[u64]) {
        let mut s = self.lock();
        for &i in indices {
            if let Some(slot) = Self::slot(&mut s, i)
                && *slot != ChunkState::Done
            {
                *slot = ChunkState::Done;
                s.completed_chunks += 1;
            }
        }
    }

    /// Enters or leaves [`UploadPhase::WaitingForNetwork`]: `since` is when the network
    /// went away (Unix milliseconds), `None` when it is back and chunks move again.
    pub(crate) fn set_offline(&self, since: Option<u64>) {
        {
            let mut s = self.lock();
            match (since, s.offline_since_ms) {
                (Some(_), None) => {
                    s.phase_before_offline = s.phase;
                    s.phase = UploadPhase::WaitingForNetwork;
                }
                (None, Some(_)) if s.phase == UploadPhase::WaitingForNetwork => {
                    s.phase = s.phase_before_offline;
                }
                _ => {}
            }
            s.offline_since_ms = since;
        }
        self.publish();
    }

    /// Chunk `index` was stored with other bytes than those sent; it goes back to
    /// retrying.
    pub(crate) fn chunk_damaged(&self, index: u64) {
        let mut s = self.lock();
        s.damaged += 1;
        s.in_flight.remove(&index);
        if let Some(slot) = Self::slot(&mut s, index) {
            *slot = ChunkState::Pending;
        }
    }

    /// Chunk `index`'s attempt ended with no answer: it is no longer on the wire, and waits
    /// (perhaps for the network) before it goes again.
    pub(crate) fn chunk_stopped(&self, index: u64) {
        let mut s = self.lock();
        s.in_flight.remove(&index);
        if let Some(slot) = Self::slot(&mut s, index) {
            *slot = ChunkState::Pending;
        }
    }

    /// Chunk `index`'s attempt was lost to a network outage (or the machine's sleep); it
    /// is sent again without counting as a retry.
    pub(crate) fn chunk_interrupted(&self, index: u64) {
        self.chunk_stopped(index);
        self.lock().resent_after_outage += 1;
    }

    pub(crate) fn set_urls_refreshed(&self, n: u64) {
        self.lock().urls_refreshed = n;
    }

    pub(crate) fn counters(&self) -> Counters {
        let s = self.lock();
        Counters {
            retries: s.retries,
            bytes_uploaded: s.bytes_stored_this_run,
            chunks_uploaded: s.chunks_stored_this_run,
            damaged: s.damaged,
            interrupted: s.resent_after_outage,
        }
    }

    /// The current snapshot.
    pub(crate) fn snapshot(&self) -> UploadProgress {
        let mut s = self.lock();
        let mut in_flight_bytes = 0;
        let mut in_flight_counted = 0;
        let flights: Vec<(u64, u64, u64)> = s
            .in_flight
            .iter()
            .map(|(i, (c, credit))| {
                let sent = c.load(Ordering::Relaxed);
                (*i, sent, credit.as_ref().map_or(sent, |c| c.counted()))
            })
            .collect();
        for (index, sent, counted) in flights {
            let len = self.plan.chunk(index).map_or(0, |c| c.len);
            let sent = sent.min(len);
            in_flight_bytes += sent;
            in_flight_counted += counted.min(sent);
            if let Some(slot) = Self::slot(&mut s, index) {
                *slot = ChunkState::Uploading { sent, len };
            }
        }
        let total = self.plan.total_size();
        let bytes_sent = (s.acknowledged + in_flight_bytes).min(total);
        let elapsed = self.started.elapsed();
        let counted = (s.acknowledged + in_flight_counted).min(total);
        s.meter.record(elapsed, counted);
        let mut percentage = if s.phase == UploadPhase::Completed {
            100.0
        } else {
            100.0 * bytes_sent as f64 / total as f64
        };
        percentage = percentage.max(s.high_water).min(100.0);
        s.high_water = percentage;
        let done = matches!(s.phase, UploadPhase::Completed | UploadPhase::Processing);
        UploadProgress {
            total_chunks: self.plan.total_chunks(),
            completed_chunks: s.completed_chunks,
            percentage,
            status: s.phase,
            upload_id: s.upload_id.clone(),
            asset_id: s.asset_id.clone(),
            bytes_sent,
            bytes_acknowledged: s.acknowledged,
            total_bytes: total,
            bytes_per_second: if done { 0.0 } else { s.meter.rate() },
            eta_seconds: if done {
                Some(0.0)
            } else {
                s.meter.eta(total - bytes_sent)
            },
            retries: s.retries,
            urls_refreshed: s.urls_refreshed,
            parallelism: self.level.as_ref().map_or(0, |l| {
                u32::try_from(l.load(Ordering::Relaxed)).unwrap_or(u32::MAX)
            }),
            chunks_in_flight: u32::try_from(s.in_flight.len()).unwrap_or(u32::MAX),
            offline_since_ms: s.offline_since_ms,
            damaged_chunks: s.damaged,
            chunks: s.chunks.clone(),
        }
    }

    /// Publishes a snapshot, when someone listens.
    pub(crate) fn publish(&self) {
        if let Some(publisher) = &self.publisher {
            publisher.publish(|| self.snapshot());
        }
    }

    /// Publishes a snapshot every `interval` until `stop` is cancelled.
    pub(crate) fn spawn_ticker(
        self: &Arc<Self>,
        interval: Duration,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => this.publish(),
                }
            }
        })
    }
}

/// Totals for the result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) retries: u64,
    pub(crate) bytes_uploaded: u64,
    pub(crate) chunks_uploaded: u64,
    /// Chunks stored damaged and sent again.
    pub(crate) damaged: u64,
    /// Chunk attempts lost to an outage or a sleep and sent again.
    pub(crate) interrupted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_never_goes_backwards_when_an_attempt_fails() {
        let plan = ChunkPlan::new(100, 10, None).unwrap();
        let t = Tracker::new(plan, None, None);
        t.set_phase(UploadPhase::Uploading);
        let sent = Arc::new(AtomicU64::new(0));
        t.chunk_started(1, sent.clone(), None);
        sent.store(8, Ordering::Relaxed);
        let p = t.snapshot();
        assert_eq!(p.bytes_sent, 8);
        assert_eq!(p.chunks[0], ChunkState::Uploading { sent: 8, len: 10 });
        t.chunk_retrying(1, 2, true);
        let p = t.snapshot();
        assert_eq!(p.bytes_sent, 0, "bytes of a failed attempt are not counted");
        assert_eq!(p.percentage, 8.0, "but the bar does not move back");
        assert_eq!(p.retries, 1);
        t.chunk_started(1, Arc::new(AtomicU64::new(10)), None);
        t.chunk_stored(1);
        t.chunks_reported(&[1]);
        let p = t.snapshot();
        assert_eq!((p.bytes_acknowledged, p.completed_chunks), (10, 1));
        assert_eq!(p.chunks[0], ChunkState::Done);
        assert_eq!(p.percentage, 10.0);
    }

    #[test]
    fn the_wait_for_the_network_holds_later_phases_and_gives_way_to_an_end() {
        let plan = ChunkPlan::new(100, 10, None).unwrap();
        let t = Tracker::new(plan, None, None);
        t.set_phase(UploadPhase::Uploading);
        t.set_offline(Some(42));
        let p = t.snapshot();
        assert_eq!(
            (p.status, p.offline_since_ms),
            (UploadPhase::WaitingForNetwork, Some(42))
        );
        t.set_phase(UploadPhase::Confirming);
        assert_eq!(t.snapshot().status, UploadPhase::WaitingForNetwork);
        t.set_offline(None);
        let p = t.snapshot();
        assert_eq!(
            (p.status, p.offline_since_ms),
            (UploadPhase::Confirming, None)
        );
        t.set_offline(Some(43));
        t.set_phase(UploadPhase::Cancelled);
        t.set_offline(None);
        let p = t.snapshot();
        assert_eq!(
            (p.status, p.offline_since_ms),
            (UploadPhase::Cancelled, None)
        );
    }

    #[test]
    fn resume_counts_done_chunks_once_and_abandoned_ones_go_back_to_pending() {
        let plan = ChunkPlan::new(25, 10, None).unwrap();
        let t = Tracker::new(plan, None, None);
        t.mark_already_done([1, 3, 3]);
        let p = t.snapshot();
        assert_eq!((p.completed_chunks, p.bytes_acknowledged), (2, 15));
        t.chunk_started(2, Arc::new(AtomicU64::new(4)), None);
        t.abandon_in_flight();
        assert_eq!(t.snapshot().chunks[1], ChunkState::Pending);
        assert_eq!(t.counters().bytes_uploaded, 0);
    }
}
