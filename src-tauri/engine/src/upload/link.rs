//! The link: what every upload of one process shares.
//!
//! - **Slots.** At most `level` chunk PUTs are in flight in the whole process. A chunk
//!   takes a [`SlotPermit`] before its PUT and gives it back after; when a slot frees, the
//!   waiting upload that started first gets it, so an earlier file keeps priority and a
//!   later one fills what it leaves.
//! - **The level** is fixed ([`Parallelism::Fixed`]) or automatic: a sampler measures the
//!   link's goodput while a level is held and asks the [`Controller`] for the next one. The
//!   level it settles on is kept per API host in the journal and is where the next process
//!   starts.
//! - **Admission.** A queued upload creates its session only when the uploads before it
//!   have fewer chunks waiting than the link has slots, so a batch of short clips keeps the
//!   link full without opening every session at once.
//! - **The bandwidth limit**: one token bucket for the bodies of every chunk, changeable
//!   while uploads run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::adapt::{Controller, Epoch, MAX_LEVEL, MIN_LEVEL, START_LEVEL};
use crate::journal::Journal;

/// How many chunk PUTs the process keeps in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// Measured and adjusted while uploading (see the crate docs).
    #[default]
    Auto,
    /// Exactly this many (1–64).
    Fixed(usize),
}

impl Parallelism {
    /// Checks a fixed level is within 1–64.
    ///
    /// # Errors
    ///
    /// A message naming the allowed range.
    pub fn validate(self) -> Result<Self, String> {
        match self {
            Self::Fixed(n) if !(MIN_LEVEL..=MAX_LEVEL).contains(&n) => Err(format!(
                "parallel chunks must be {MIN_LEVEL}–{MAX_LEVEL} (or automatic), got {n}"
            )),
            p => Ok(p),
        }
    }
}

impl std::fmt::Display for Parallelism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for Parallelism {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") || s.eq_ignore_ascii_case("automatic") {
            return Ok(Self::Auto);
        }
        let n: usize = s
            .parse()
            .map_err(|_| format!("expected `auto` or a number of parallel chunks, got `{s}`"))?;
        Self::Fixed(n).validate()
    }
}

/// What the link is doing now, for a front end to show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkStatus {
    /// The parallelism setting.
    pub parallelism: Parallelism,
    /// Chunk PUTs allowed in flight now.
    pub level: usize,
    /// Chunk PUTs in flight now.
    pub in_flight: usize,
    /// The bandwidth limit, bytes per second.
    pub rate_limit: Option<u64>,
    /// Whether the automatic controller has found its level.
    pub settled: bool,
}

/// How often the sampler looks at the link.
const TICK: Duration = Duration::from_millis(250);
/// Time after a change of level before its effect is measured: new connections open, the
/// first bytes fill socket buffers.
const SETTLE: Duration = Duration::from_millis(500);
/// How long a level is measured.
const MEASURE: Duration = Duration::from_millis(2000);
/// Share of ticks with every slot busy for an epoch to say something about its level.
const SATURATED_SHARE: f64 = 0.75;
/// The most uploads past admission at once, unless a front end sets another.
const DEFAULT_MAX_FILES: usize = 16;

/// The link of one process; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// The current level, for progress snapshots without the lock.
    level: Arc<AtomicUsize>,
    /// Body bytes handed to connections, and bytes of attempts that then failed.
    moved: AtomicU64,
    lost: AtomicU64,
    errors: AtomicU32,
    stalls: AtomicU32,
    /// Sum (µs) and count of acknowledged PUT durations since the last epoch.
    ack_micros: AtomicU64,
    acks: AtomicU32,
    /// Uploads waiting for the network now: while any does, nothing is measured (an outage
    /// says nothing about the level).
    offline: AtomicUsize,
    limiter: RateLimiter,
    /// Bumped whenever admission may have become possible.
    changed: watch::Sender<u64>,
    journal: Option<Journal>,
}

#[derive(Debug)]
struct State {
    parallelism: Parallelism,
    controller: Controller,
    /// The host whose level the controller is finding.
    host: Option<String>,
    limit: usize,
    in_use: usize,
    waiters: BTreeMap<(u64, u64), oneshot::Sender<SlotPermit>>,
    next_ticket: u64,
    next_priority: u64,
    /// Uploads waiting for admission, by priority.
    queued: BTreeSet<u64>,
    /// Admitted uploads: how many chunks each still wants to start, and whether it is
    /// paused.
    admitted: BTreeMap<u64, Arc<Place>>,
    max_files: usize,
    sampler: bool,
}

impl Link {
    pub(crate) fn new(journal: Option<Journal>) -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    parallelism: Parallelism::Auto,
                    controller: Controller::new(START_LEVEL),
                    host: None,
                    limit: START_LEVEL,
                    in_use: 0,
                    waiters: BTreeMap::new(),
                    next_ticket: 0,
                    next_priority: 0,
                    queued: BTreeSet::new(),
                    admitted: BTreeMap::new(),
                    max_files: DEFAULT_MAX_FILES,
                    sampler: false,
                }),
                level: Arc::new(AtomicUsize::new(START_LEVEL)),
                moved: AtomicU64::new(0),
                lost: AtomicU64::new(0),
                errors: AtomicU32::new(0),
                stalls: AtomicU32::new(0),
                ack_micros: AtomicU64::new(0),
                acks: AtomicU32::new(0),
                offline: AtomicUsize::new(0),
                limiter: RateLimiter::default(),
                changed,
                journal,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current level, shared with progress snapshots.
    pub(crate) fn level_gauge(&self) -> Arc<AtomicUsize> {
        self.inner.level.clone()
    }

    pub(crate) fn status(&self) -> LinkStatus {
        let s = self.lock();
        LinkStatus {
            parallelism: s.parallelism,
            level: s.limit,
            in_flight: s.in_use,
            rate_limit: self.inner.limiter.limit(),
            settled: match s.parallelism {
                Parallelism::Fixed(_) => true,
                Parallelism::Auto => s.controller.is_settled(),
            },
        }
    }

    pub(crate) fn set_parallelism(&self, parallelism: Parallelism) {
        let grants = {
            let mut s = self.lock();
            s.parallelism = parallelism;
            let level = match parallelism {
                Parallelism::Fixed(n) => n.clamp(MIN_LEVEL, MAX_LEVEL),
                Parallelism::Auto => s.controller.level(),
            };
            self.set_limit(&mut s, level)
        };
        send_grants(grants);
        self.ensure_sampler();
    }

    /// Marks one upload as waiting for the network until the guard is dropped; the
    /// automatic level is not measured meanwhile.
    pub(crate) fn offline_guard(&self) -> OfflineGuard {
        self.inner.offline.fetch_add(1, Ordering::Relaxed);
        OfflineGuard(self.clone())
    }

    /// Whether a bandwidth limit is set.
    pub(crate) fn is_rate_limited(&self) -> bool {
        self.inner.limiter.limit().is_some()
    }

    pub(crate) fn set_rate_limit(&self, bytes_per_second: Option<u64>) {
        self.inner.limiter.set(bytes_per_second);
    }

    pub(crate) fn set_max_files(&self, n: usize) {
        self.lock().max_files = n.max(1);
        self.bump();
    }

    /// The next upload's priority: lower starts first and keeps precedence for slots.
    pub(crate) fn next_priority(&self) -> u64 {
        let mut s = self.lock();
        s.next_priority += 1;
        s.next_priority
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Changes the limit and collects the waiters that now get a slot.
    fn set_limit(
        &self,
        s: &mut State,
        level: usize,
    ) -> Vec<(oneshot::Sender<SlotPermit>, SlotPermit)> {
        s.limit = level;
        self.inner.level.store(level, Ordering::Relaxed);
        self.take_grants(s)
    }

    fn take_grants(&self, s: &mut State) -> Vec<(oneshot::Sender<SlotPermit>, SlotPermit)> {
        let mut grants = Vec::new();
        while s.in_use < s.limit {
            let Some((_, tx)) = s.waiters.pop_first() else {
                break;
            };
            if tx.is_closed() {
                continue;
            }
            s.in_use += 1;
            grants.push((
                tx,
                SlotPermit {
                    link: Some(self.clone()),
                },
            ));
        }
        if !grants.is_empty() {
            self.bump();
        }
        grants
    }

    /// A slot for one chunk PUT of the upload with `priority`, waiting for one to free.
    /// Waiters are served lowest priority first, then in arrival order.
    pub(crate) async fn acquire(&self, priority: u64) -> SlotPermit {
        let (rx, grants) = {
            let mut s = self.lock();
            s.waiters.retain(|_, tx| !tx.is_closed());
            let (tx, rx) = oneshot::channel();
            s.next_ticket += 1;
            let ticket = s.next_ticket;
            s.waiters.insert((priority, ticket), tx);
            (rx, self.take_grants(&mut s))
        };
        send_grants(grants);
        match rx.await {
            Ok(permit) => permit,
            // The link outlives every waiter; a dropped sender means the link is gone, and
            // an empty permit lets the caller go on without a slot rather than hang.
            Err(_) => SlotPermit { link: None },
        }
    }

    /// A slot now, only if one is idle and no upload waits for it (for racing a copy of a
    /// slow chunk, which must never take a slot from real work).
    pub(crate) fn try_acquire_idle(&self) -> Option<SlotPermit> {
        let mut s = self.lock();
        s.waiters.retain(|_, tx| !tx.is_closed());
        if s.in_use < s.limit && s.waiters.is_empty() {
            s.in_use += 1;
            return Some(SlotPermit {
                link: Some(self.clone()),
            });
        }
        None
    }

    fn release(&self) {
        let grants = {
            let mut s = self.lock();
            s.in_use = s.in_use.saturating_sub(1);
            self.take_grants(&mut s)
        };
        send_grants(grants);
        self.bump();
    }

    /// Waits until the upload with `priority` may create its session: every upload before it
    /// is admitted, fewer than the file limit run, and those before it want fewer chunks
    /// than the link has slots. `host` is its API host, whose learned level the controller
    /// starts from when the link is idle.
    pub(crate) async fn admit(&self, priority: u64, host: &str) -> Admission {
        let mut changed = self.inner.changed.subscribe();
        self.lock().queued.insert(priority);
        // Removes the entry when the caller stops waiting (a cancel before admission).
        let mut queued = QueuedGuard {
            link: self,
            priority,
            armed: true,
        };
        let place = Arc::new(Place {
            demand: AtomicU64::new(u64::MAX),
            paused: std::sync::atomic::AtomicBool::new(false),
        });
        // Read before taking the lock, which every chunk's slot goes through.
        let learned = self
            .inner
            .journal
            .as_ref()
            .and_then(|j| j.link_level(host).ok().flatten());
        loop {
            let admitted = {
                let mut s = self.lock();
                if self.may_admit(&s, priority) {
                    queued.armed = false;
                    s.queued.remove(&priority);
                    let grants = if s.admitted.is_empty() {
                        self.start_host(&mut s, host, learned)
                    } else {
                        Vec::new()
                    };
                    s.admitted.insert(priority, place.clone());
                    Some(grants)
                } else {
                    None
                }
            };
            if let Some(grants) = admitted {
                send_grants(grants);
                break;
            }
            if changed.changed().await.is_err() {
                break;
            }
        }
        self.ensure_sampler();
        Admission {
            link: self.clone(),
            priority,
            place,
            released: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn may_admit(&self, s: &State, priority: u64) -> bool {
        // A paused upload holds no place: the next one may go while it waits.
        let running = s
            .admitted
            .values()
            .filter(|p| !p.paused.load(Ordering::Relaxed))
            .count();
        if s.queued.range(..priority).next().is_some() || running >= s.max_files {
            return false;
        }
        let ahead: u64 = s
            .admitted
            .range(..priority)
            .filter(|(_, p)| !p.paused.load(Ordering::Relaxed))
            .map(|(_, p)| p.demand.load(Ordering::Relaxed))
            .fold(0, u64::saturating_add);
        ahead < s.limit as u64
    }

    /// Points the controller at `host` on an idle link: at `learned`, the level kept for it,
    /// or the start. Returns the waiters the new level lets in, to be sent once the lock is
    /// released.
    fn start_host(
        &self,
        s: &mut State,
        host: &str,
        learned: Option<usize>,
    ) -> Vec<(oneshot::Sender<SlotPermit>, SlotPermit)> {
        if s.host.as_deref() == Some(host) {
            return Vec::new();
        }
        s.host = Some(host.to_owned());
        s.controller = Controller::new(learned.unwrap_or(START_LEVEL));
        if s.parallelism != Parallelism::Auto {
            return Vec::new();
        }
        let level = s.controller.level();
        self.set_limit(s, level)
    }

    fn cancel_queued(&self, priority: u64) {
        self.lock().queued.remove(&priority);
        self.bump();
    }

    /// The goodput account of one chunk attempt (see [`Credit`]).
    pub(crate) fn credit(&self) -> Arc<Credit> {
        Arc::new(Credit {
            link: self.clone(),
            started: Instant::now(),
            early: AtomicU64::new(0),
            credited: AtomicU64::new(0),
            acknowledged: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Counts a failed chunk attempt: a stall, or another failure that says the link may be
    /// crowded (`counts`; an expired URL does not).
    pub(crate) fn failure(&self, stalled: bool, counts: bool) {
        if stalled {
            self.inner.stalls.fetch_add(1, Ordering::Relaxed);
        } else if counts {
            self.inner.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an acknowledged PUT that took `took`.
    pub(crate) fn acknowledged(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.inner.ack_micros.fetch_add(micros, Ordering::Relaxed);
        self.inner.acks.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts the sampler task if the level is automatic, uploads are admitted and it does
    /// not run yet. It ends by itself when no upload is left.
    fn ensure_sampler(&self) {
        {
            let mut s = self.lock();
            if s.sampler || s.parallelism != Parallelism::Auto || s.admitted.is_empty() {
                return;
            }
            s.sampler = true;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.lock().sampler = false;
            return;
        };
        let link = self.clone();
        runtime.spawn(async move { link.sample().await });
    }

    async fn sample(self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut epoch = EpochClock::start(Instant::now(), &self.inner);
        loop {
            tick.tick().await;
            let now = Instant::now();
            let (stop, saturated, draining) = {
                let mut s = self.lock();
                let stop = s.admitted.is_empty() || s.parallelism != Parallelism::Auto;
                if stop {
                    s.sampler = false;
                }
                (stop, s.in_use >= s.limit, s.in_use > s.limit)
            };
            if stop {
                self.remember(None);
                return;
            }
            if draining || self.inner.offline.load(Ordering::Relaxed) > 0 {
                // A lower level takes effect as chunks finish; it is measured after that.
                // An upload waiting for the network holds slots that move nothing.
                epoch = EpochClock::start(now, &self.inner);
                continue;
            }
            if !epoch.tick(now, saturated, &self.inner) {
                continue;
            }
            let measured = epoch.finish(now, &self.inner);
            let (level, settled_now) = {
                let mut s = self.lock();
                let was = s.controller.is_settled();
                let level = s.controller.observe(measured);
                let settled_now = !was && s.controller.is_settled();
                let grants = if level == s.limit {
                    Vec::new()
                } else {
                    self.set_limit(&mut s, level)
                };
                drop(s);
                send_grants(grants);
                (level, settled_now)
            };
            if settled_now {
                self.remember(Some((level, measured.goodput)));
            }
            epoch = EpochClock::start(now, &self.inner);
        }
    }

    /// Keeps the settled level for the host in the journal; not under a bandwidth limit,
    /// where the level says more about the limit than about the link.
    fn remember(&self, settled: Option<(usize, f64)>) {
        if self.is_rate_limited() {
            return;
        }
        let (host, level, goodput) = {
            let s = self.lock();
            if !s.controller.is_settled() {
                return;
            }
            let Some(host) = s.host.clone() else { return };
            match settled {
                Some((l, g)) => (host, l, g),
                None => (host, s.controller.level(), 0.0),
            }
        };
        if let Some(journal) = &self.inner.journal {
            // A level that cannot be kept costs the next start a few seconds; no more.
            let _ = journal.set_link_level(&host, level, goodput);
        }
    }
}

/// Held while an upload waits for the network ([`Link::offline_guard`]).
#[derive(Debug)]
pub(crate) struct OfflineGuard(Link);

impl Drop for OfflineGuard {
    fn drop(&mut self) {
        self.0.inner.offline.fetch_sub(1, Ordering::Relaxed);
    }
}

fn send_grants(grants: Vec<(oneshot::Sender<SlotPermit>, SlotPermit)>) {
    for (tx, permit) in grants {
        // A waiter that gave up drops its receiver; its permit returns here and is
        // released (outside the lock, which `drop` takes).
        drop(tx.send(permit));
    }
}

/// One epoch: a settling time after the level changed, then a measured span.
#[derive(Debug)]
struct EpochClock {
    settled_at: Instant,
    /// When measuring began, and the good bytes then.
    measuring: Option<(Instant, u64)>,
    ticks: u32,
    saturated_ticks: u32,
}

impl EpochClock {
    fn start(now: Instant, inner: &Inner) -> Self {
        inner.errors.store(0, Ordering::Relaxed);
        inner.stalls.store(0, Ordering::Relaxed);
        inner.ack_micros.store(0, Ordering::Relaxed);
        inner.acks.store(0, Ordering::Relaxed);
        Self {
            settled_at: now + SETTLE,
            measuring: None,
            ticks: 0,
            saturated_ticks: 0,
        }
    }

    /// Counts one tick; true when the epoch has been measured long enough.
    fn tick(&mut self, now: Instant, saturated: bool, inner: &Inner) -> bool {
        if now < self.settled_at {
            return false;
        }
        let Some((from, _)) = self.measuring else {
            self.measuring = Some((now, good_bytes(inner)));
            return false;
        };
        self.ticks += 1;
        self.saturated_ticks += u32::from(saturated);
        now.duration_since(from) >= MEASURE
    }

    fn finish(&self, now: Instant, inner: &Inner) -> Epoch {
        let (from, good_then) = self.measuring.unwrap_or((now, good_bytes(inner)));
        let seconds = now.duration_since(from).as_secs_f64().max(1e-3);
        let good = good_bytes(inner).saturating_sub(good_then);
        let acks = inner.acks.load(Ordering::Relaxed);
        Epoch {
            goodput: good as f64 / seconds,
            saturated: f64::from(self.saturated_ticks)
                >= SATURATED_SHARE * f64::from(self.ticks.max(1)),
            errors: inner.errors.load(Ordering::Relaxed),
            stalls: inner.stalls.load(Ordering::Relaxed),
            latency: (acks > 0)
                .then(|| inner.ack_micros.load(Ordering::Relaxed) as f64 / 1e6 / f64::from(acks)),
        }
    }
}

fn good_bytes(inner: &Inner) -> u64 {
    inner
        .moved
        .load(Ordering::Relaxed)
        .saturating_sub(inner.lost.load(Ordering::Relaxed))
}

/// How long after an attempt starts its bytes count only once acknowledged: at the start a
/// connection's socket buffers take in a megabyte or more at once, which the far end has
/// not received; counting it as it goes would make every new chunk look like a burst of
/// goodput.
const EARLY: Duration = Duration::from_millis(100);

/// One chunk attempt's share of the link's goodput. Bytes handed to the connection count as
/// they go, except those of the first [`EARLY`], which count when the storage acknowledges
/// the chunk. An attempt that ends without an acknowledgement (failed, cancelled, or a
/// racing copy that lost) takes back what it counted when it is dropped.
#[derive(Debug)]
pub(crate) struct Credit {
    link: Link,
    started: Instant,
    early: AtomicU64,
    credited: AtomicU64,
    acknowledged: std::sync::atomic::AtomicBool,
}

impl Credit {
    /// Waits for the link's bandwidth limit to allow `n` more bytes of this attempt.
    pub(crate) async fn pace(&self, n: usize) {
        self.link.inner.limiter.acquire(n as u64).await;
    }

    /// Counts `n` body bytes just handed to the connection.
    pub(crate) fn sent(&self, n: u64) {
        if self.started.elapsed() < EARLY {
            self.early.fetch_add(n, Ordering::Relaxed);
        } else {
            self.credited.fetch_add(n, Ordering::Relaxed);
            self.link.inner.moved.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The bytes counted so far (not those of the first [`EARLY`] before the
    /// acknowledgement).
    pub(crate) fn counted(&self) -> u64 {
        self.credited.load(Ordering::Relaxed)
    }

    /// The storage has the chunk: the early bytes count now.
    pub(crate) fn acknowledge(&self) {
        if !self.acknowledged.swap(true, Ordering::AcqRel) {
            let early = self.early.load(Ordering::Relaxed);
            self.link.inner.moved.fetch_add(early, Ordering::Relaxed);
        }
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        if !self.acknowledged.load(Ordering::Acquire) {
            let credited = self.credited.load(Ordering::Relaxed);
            self.link.inner.lost.fetch_add(credited, Ordering::Relaxed);
        }
    }
}

/// One chunk PUT's right to be in flight; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct SlotPermit {
    link: Option<Link>,
}

impl Drop for SlotPermit {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            link.release();
        }
    }
}

/// What the link knows of an admitted upload.
#[derive(Debug)]
struct Place {
    /// Chunks it still wants to start.
    demand: AtomicU64,
    paused: std::sync::atomic::AtomicBool,
}

/// An upload's place on the link, from admission until its chunks are all sent.
#[derive(Debug)]
pub(crate) struct Admission {
    link: Link,
    priority: u64,
    place: Arc<Place>,
    released: std::sync::atomic::AtomicBool,
}

impl Admission {
    pub(crate) fn priority(&self) -> u64 {
        self.priority
    }

    pub(crate) fn link(&self) -> &Link {
        &self.link
    }

    /// Says how many chunks the upload still wants to start, and whether it is paused (a
    /// paused upload neither wants slots nor counts against the files in flight).
    pub(crate) fn set_demand(&self, chunks: u64, paused: bool) {
        let before = self.place.demand.swap(chunks, Ordering::Relaxed);
        let was_paused = self.place.paused.swap(paused, Ordering::Relaxed);
        if chunks < before || (paused && !was_paused) {
            self.link.bump();
        }
    }

    /// Leaves the link: the upload sends nothing more (it waits for its asset, or ended).
    pub(crate) fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut s = self.link.lock();
        s.admitted.remove(&self.priority);
        drop(s);
        self.link.bump();
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.release();
    }
}

/// Removes a queued upload that stopped waiting (cancelled before admission).
struct QueuedGuard<'a> {
    link: &'a Link,
    priority: u64,
    armed: bool,
}

impl Drop for QueuedGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.link.cancel_queued(self.priority);
        }
    }
}

/// A token bucket shared by every chunk body: a limit in bytes per second (none when 0).
///
/// Callers take what they send at once and, when that runs the bucket into debt, sleep
/// until the debt is paid, so concurrent bodies share the rate in turn. A change applies to
/// the next read of every body.
#[derive(Debug, Default)]
struct RateLimiter {
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug, Default)]
struct Bucket {
    /// Bytes that may go now; negative is debt.
    tokens: f64,
    last: Option<Instant>,
}

/// At most this much traffic may go in one burst (seconds at the limit): enough that a
/// sender woken late on a busy machine catches up, small enough that the rate holds over a
/// second.
const BURST: f64 = 0.25;

impl RateLimiter {
    fn limit(&self) -> Option<u64> {
        Some(self.rate.load(Ordering::Relaxed)).filter(|&r| r > 0)
    }

    fn set(&self, rate: Option<u64>) {
        self.rate.store(rate.unwrap_or(0), Ordering::Relaxed);
    }

    async fn acquire(&self, n: u64) {
        let rate = self.rate.load(Ordering::Relaxed);
        if rate == 0 {
            return;
        }
        let wait = {
            let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
            b.take(n, rate as f64, Instant::now())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl Bucket {
    /// Takes `n` bytes at `rate` at time `now`, returning how long to wait before sending.
    fn take(&mut self, n: u64, rate: f64, now: Instant) -> Duration {
        let burst = rate * BURST;
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(burst);
        }
        self.last = Some(now);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallelism_parses_auto_and_numbers() {
        assert_eq!("auto".parse::<Parallelism>(), Ok(Parallelism::Auto));
        assert_eq!("Automatic".parse::<Parallelism>(), Ok(Parallelism::Auto));
        assert_eq!("12".parse::<Parallelism>(), Ok(Parallelism::Fixed(12)));
        assert!("0".parse::<Parallelism>().unwrap_err().contains("1–64"));
        assert!("65".parse::<Parallelism>().is_err());
        assert!("many".parse::<Parallelism>().unwrap_err().contains("auto"));
        assert_eq!(Parallelism::Fixed(3).to_string(), "3");
    }

    #[test]
    fn the_bucket_paces_to_its_rate() {
        let mut b = Bucket::default();
        let t0 = Instant::now();
        // 10 MB at 1 MB/s: the waits add up to ten seconds.
        let mut now = t0;
        let mut total = Duration::ZERO;
        for _ in 0..100 {
            let wait = b.take(100_000, 1e6, now);
            now += wait;
            total += wait;
        }
        assert!((total.as_secs_f64() - 10.0).abs() < 0.11, "{total:?}");
    }

    #[test]
    fn the_bucket_bursts_at_most_a_quarter_second() {
        let mut b = Bucket::default();
        let t0 = Instant::now();
        b.take(0, 1e6, t0);
        // After an idle minute, only 250 ms worth goes without waiting.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.take(250_000, 1e6, later), Duration::ZERO);
        assert!(b.take(100_000, 1e6, later) >= Duration::from_millis(99));
    }

    #[test]
    fn early_bytes_count_when_acknowledged_and_unacknowledged_ones_are_taken_back() {
        let link = Link::new(None);
        let credit = link.credit();
        // A socket buffer's worth at once: not goodput yet.
        credit.sent(1_500_000);
        assert_eq!(good_bytes(&link.inner), 0);
        credit.acknowledge();
        assert_eq!(good_bytes(&link.inner), 1_500_000);
        drop(credit);
        assert_eq!(
            good_bytes(&link.inner),
            1_500_000,
            "an acknowledged attempt keeps its bytes"
        );

        let failed = link.credit();
        failed.sent(200);
        let late = Instant::now() + EARLY;
        while Instant::now() < late {
            std::thread::yield_now();
        }
        failed.sent(300);
        assert_eq!(
            good_bytes(&link.inner),
            1_500_300,
            "bytes after the start count as they go"
        );
        drop(failed);
        assert_eq!(
            good_bytes(&link.inner),
            1_500_000,
            "a failed attempt takes them back"
        );
    }

    #[tokio::test]
    async fn slots_go_to_the_earliest_upload_first() {
        let link = Link::new(None);
        link.set_parallelism(Parallelism::Fixed(1));
        let held = link.acquire(5).await;
        let late = tokio::spawn({
            let link = link.clone();
            async move {
                let _p = link.acquire(9).await;
                "late"
            }
        });
        let early = tokio::spawn({
            let link = link.clone();
            async move {
                let _p = link.acquire(2).await;
                "early"
            }
        });
        // Both are queued behind the held slot.
        while link.lock().waiters.len() < 2 {
            tokio::task::yield_now().await;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for task in [early, late] {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(task.await.unwrap()).unwrap() });
        }
        drop(held);
        assert_eq!(rx.recv().await, Some("early"));
        assert_eq!(rx.recv().await, Some("late"));
        assert_eq!(link.status().in_flight, 0);
    }

    #[tokio::test]
    async fn a_raised_level_wakes_waiters_and_an_idle_slot_is_only_taken_when_free() {
        let link = Link::new(None);
        link.set_parallelism(Parallelism::Fixed(1));
        let a = link.acquire(1).await;
        assert!(link.try_acquire_idle().is_none());
        let waiting = tokio::spawn({
            let link = link.clone();
            async move { link.acquire(1).await }
        });
        while link.lock().waiters.is_empty() {
            tokio::task::yield_now().await;
        }
        link.set_parallelism(Parallelism::Fixed(3));
        let b = waiting.await.unwrap();
        assert_eq!(link.status().in_flight, 2);
        let c = link.try_acquire_idle().expect("a third slot is idle");
        assert!(link.try_acquire_idle().is_none());
        drop((a, b, c));
        assert_eq!(link.status().in_flight, 0);
    }

    #[tokio::test]
    async fn admission_waits_until_the_uploads_ahead_leave_room() {
        let link = Link::new(None);
        link.set_parallelism(Parallelism::Fixed(4));
        let first_priority = link.next_priority();
        let first = link.admit(first_priority, "h").await;
        first.set_demand(10, false);
        let second_priority = link.next_priority();
        let second = tokio::spawn({
            let link = link.clone();
            async move { link.admit(second_priority, "h").await }
        });
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert!(!second.is_finished(), "ten chunks ahead fill four slots");
        first.set_demand(3, false);
        let second = second.await.unwrap();
        assert_eq!(second.priority(), second_priority);
        drop((first, second));
        assert!(link.lock().admitted.is_empty());
    }

    #[tokio::test]
    async fn a_learned_level_is_where_the_controller_starts() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("j.sqlite3")).unwrap();
        journal.set_link_level("api.example:443", 13, 1e7).unwrap();
        let link = Link::new(Some(journal));
        let admission = link.admit(link.next_priority(), "api.example:443").await;
        assert_eq!(link.status().level, 13);
        drop(admission);
        let link = Link::new(None);
        let _a = link.admit(link.next_priority(), "other:80").await;
        assert_eq!(link.status().level, START_LEVEL);
    }
}
