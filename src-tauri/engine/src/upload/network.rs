//! Waiting for the network: telling "this chunk failed" from "the network is gone", and
//! going on by itself when the network is back.
//!
//! A failed attempt that got no answer of any kind (a refused or reset connection, a
//! stall, a URL that could not be minted for the same reasons) is not held against its chunk
//! at once. The [`NetworkGate`] first asks the API one cheap question, the session's status,
//! with no retries and a short time to answer. If the API answers at once, the failure was
//! the chunk's and the usual retry rules apply; an answer that takes half the probe's time
//! or more says the network was gone and is just back (a short blackout), which is no
//! one's fault either. If it does not answer, the upload is offline:
//!
//! - the phase becomes [`UploadPhase::WaitingForNetwork`](crate::UploadPhase), with the time
//!   the network went away;
//! - every attempt in flight is stopped (its bytes are sent again later; nothing else is
//!   lost), and no new one starts;
//! - one probe asks again after a second, then twice as long each time, at most
//!   [`probe_interval`](crate::UploadOptions::probe_interval) apart;
//! - when the API answers, a new *epoch* begins: the waiting attempts go again at once, with
//!   fresh URLs, and none of this has spent a retry.
//!
//! The wait ends in an error only when the session expires (the probe says so, or its
//! expiry passes) or the caller's offline limit is reached; the session stays resumable.
//!
//! The machine's sleep is handled the same way: a watcher compares the wall clock with the
//! monotonic one (which stops while the machine sleeps on Linux and macOS). When the wall
//! clock jumped ahead, the attempts in flight are stopped and sent again in a new epoch (a
//! connection from before a sleep is rarely alive), which costs no retry and is not taken
//! for a stall; if the network is not back yet, the next failure finds it out and waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::link::Link;
use super::track::Tracker;
use crate::api::wire::MultipartUploadStatus;
use crate::api::{ApiError, MultipartUploadClient};
use crate::error::UploadError;

/// The first pause between probes while offline; it doubles up to the options' cap.
const FIRST_PROBE: Duration = Duration::from_secs(1);
/// The longest a probe waits for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the sleep watcher compares the clocks.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// A wall clock this far ahead of the monotonic one, over one watch, means the machine
/// slept (NTP corrections are far smaller).
const SLEPT: Duration = Duration::from_secs(5);

/// What a failure turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The API answered right after it: the failure is the chunk's.
    Chunk,
    /// The network was gone (and is back now), or the machine slept: send again, free.
    Outage,
}

/// The network's state as attempts see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Epoch {
    /// Bumped when an outage ends and when the machine wakes.
    number: u64,
    /// Offline since this wall-clock time.
    offline_since: Option<SystemTime>,
    /// The wait was given up: no more attempts.
    lost: bool,
}

/// One upload's view of the network (see the module docs).
#[derive(Debug)]
pub(crate) struct NetworkGate {
    client: MultipartUploadClient,
    upload_id: String,
    tracker: Arc<Tracker>,
    link: Link,
    probe_cap: Duration,
    probe_timeout: Duration,
    /// The caller's offline limit.
    offline_limit: Option<Duration>,
    /// When the session expires, by the wall clock (the server's `expires_at`).
    session_expires: Option<SystemTime>,
    epoch: watch::Sender<Epoch>,
    /// Cancelled when the current epoch ends, to stop the attempts running in it.
    interrupt: Mutex<CancellationToken>,
    /// One judgement at a time: a failure waits for the probe another one started.
    judging: tokio::sync::Mutex<Judged>,
    /// Why the wait was given up, for every attempt that asks after.
    lost: Mutex<Option<Lost>>,
    outages: AtomicU64,
}

#[derive(Debug, Default)]
struct Judged {
    /// When the API last answered a probe.
    answered: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Lost {
    waited: Duration,
    since: SystemTime,
    detail: String,
    expired: bool,
}

impl NetworkGate {
    pub(crate) fn new(
        client: MultipartUploadClient,
        upload_id: String,
        tracker: Arc<Tracker>,
        link: Link,
        options: &super::UploadOptions,
        session_expires: Option<SystemTime>,
    ) -> Arc<Self> {
        let (epoch, _) = watch::channel(Epoch {
            number: 0,
            offline_since: None,
            lost: false,
        });
        Arc::new(Self {
            client,
            upload_id,
            tracker,
            link,
            probe_cap: options.probe_interval.max(FIRST_PROBE),
            probe_timeout: PROBE_TIMEOUT.min(options.stall_timeout.max(Duration::from_secs(1))),
            offline_limit: options.offline_limit,
            session_expires,
            epoch,
            interrupt: Mutex::new(CancellationToken::new()),
            judging: tokio::sync::Mutex::new(Judged::default()),
            lost: Mutex::new(None),
            outages: AtomicU64::new(0),
        })
    }

    /// The current epoch's number: an attempt notes it when it starts.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.borrow().number
    }

    /// Whether the upload waits for the network now.
    pub(crate) fn is_offline(&self) -> bool {
        self.epoch.borrow().offline_since.is_some()
    }

    /// How many times the upload went offline.
    pub(crate) fn outages(&self) -> u64 {
        self.outages.load(Ordering::Relaxed)
    }

    /// Cancelled when the current epoch ends: the attempts running in it stop.
    pub(crate) fn interrupted(&self) -> CancellationToken {
        self.interrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits while the upload is offline. Fails when the wait was given up.
    pub(crate) async fn online(&self) -> Result<(), UploadError> {
        let mut rx = self.epoch.subscribe();
        let state = *rx
            .wait_for(|e| e.offline_since.is_none() || e.lost)
            .await
            .map_err(|_| UploadError::Protocol("the network watch ended".into()))?;
        if state.lost {
            return Err(self.lost_error());
        }
        Ok(())
    }

    /// Judges a failure of an attempt that started in epoch `started` and failed at
    /// `failed_at` with no answer (see [`ChunkError::may_be_offline`](crate::ChunkError)).
    /// While the network is gone this waits for it to come back.
    pub(crate) async fn judge(
        &self,
        started: u64,
        failed_at: Instant,
    ) -> Result<Verdict, UploadError> {
        if self.epoch() != started {
            // An outage or a wake since the attempt began stopped it or explains it.
            self.online().await?;
            return Ok(Verdict::Outage);
        }
        let mut judged = self.judging.lock().await;
        if self.epoch.borrow().lost {
            return Err(self.lost_error());
        }
        if self.epoch() != started {
            drop(judged);
            self.online().await?;
            return Ok(Verdict::Outage);
        }
        if judged.answered.is_some_and(|at| at >= failed_at) {
            return Ok(Verdict::Chunk);
        }
        let asked = Instant::now();
        match self.probe().await {
            Probe::Answered if asked.elapsed() >= self.probe_timeout / 2 => {
                // The answer came, but slowly: the network was (nearly) gone and came back
                // during the probe. Not the chunk's fault, nor that of the others in flight
                // meanwhile: a new epoch.
                judged.answered = Some(Instant::now());
                self.epoch.send_modify(|e| e.number += 1);
                Ok(Verdict::Outage)
            }
            Probe::Answered => {
                judged.answered = Some(Instant::now());
                Ok(Verdict::Chunk)
            }
            Probe::Ended(e) => Err(e),
            Probe::Silent => {
                self.wait_for_network(&mut judged).await?;
                Ok(Verdict::Outage)
            }
        }
    }

    /// Judges a failed API call of the upload's own (a report, a status read) that got no
    /// answer: `Outage` when the network was gone and is back, `Chunk` when the API
    /// answers (the caller's usual retry rules apply).
    pub(crate) async fn judge_call(&self, error: &ApiError) -> Result<Verdict, UploadError> {
        if !matches!(error, ApiError::Transport { .. }) {
            return Ok(Verdict::Chunk);
        }
        let started = self.epoch();
        self.judge(started, Instant::now()).await
    }

    /// Offline: stops the epoch's attempts, shows the wait, probes with backoff until the
    /// API answers, then opens a new epoch.
    async fn wait_for_network(&self, judged: &mut Judged) -> Result<(), UploadError> {
        let since = SystemTime::now();
        let began = Instant::now();
        self.outages.fetch_add(1, Ordering::Relaxed);
        self.epoch.send_modify(|e| e.offline_since = Some(since));
        self.end_epoch_attempts();
        self.tracker.set_offline(Some(unix_ms(since)));
        let _offline = self.link.offline_guard();
        let mut pause = FIRST_PROBE;
        let result = loop {
            if let Some(detail) = self.past_limit(began) {
                break Err(Lost {
                    waited: began.elapsed(),
                    since,
                    detail,
                    expired: false,
                });
            }
            tokio::time::sleep(pause.min(self.left(began))).await;
            pause = (pause * 2).min(self.probe_cap);
            match self.probe().await {
                Probe::Silent => {}
                Probe::Answered => break Ok(()),
                Probe::Ended(_) => {
                    break Err(Lost {
                        waited: began.elapsed(),
                        since,
                        detail: "the session expired meanwhile".into(),
                        expired: true,
                    });
                }
            }
        };
        match result {
            Ok(()) => {
                judged.answered = Some(Instant::now());
                self.epoch.send_modify(|e| {
                    e.number += 1;
                    e.offline_since = None;
                });
                self.tracker.set_offline(None);
                Ok(())
            }
            Err(lost) => {
                *self.lost.lock().unwrap_or_else(PoisonError::into_inner) = Some(lost);
                self.epoch.send_modify(|e| e.lost = true);
                Err(self.lost_error())
            }
        }
    }

    /// The machine slept: attempts in flight stop and go again in a new epoch.
    pub(crate) fn woke(&self) {
        self.epoch.send_modify(|e| e.number += 1);
        self.end_epoch_attempts();
    }

    /// Watches the clocks until `stop` is cancelled, calling [`woke`](Self::woke) after a
    /// sleep.
    pub(crate) fn spawn_sleep_watch(
        self: &Arc<Self>,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let gate = self.clone();
        tokio::spawn(async move {
            let mut last = (Instant::now(), SystemTime::now());
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(WATCH_EVERY) => {}
                }
                let now = (Instant::now(), SystemTime::now());
                if slept(now.0 - last.0, now.1.duration_since(last.1).ok()).is_some() {
                    gate.woke();
                }
                last = now;
            }
        })
    }

    fn end_epoch_attempts(&self) {
        let old = std::mem::take(
            &mut *self
                .interrupt
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        old.cancel();
    }

    /// Why the wait must end now, if it must.
    fn past_limit(&self, began: Instant) -> Option<String> {
        if let Some(limit) = self.offline_limit
            && began.elapsed() >= limit
        {
            return Some(format!(
                "the offline limit of {} was reached",
                crate::error::format_span(limit)
            ));
        }
        if let Some(expires) = self.session_expires
            && SystemTime::now() >= expires
        {
            return Some("the session's lifetime ended".into());
        }
        None
    }

    /// The most the next pause may last before a limit is due.
    fn left(&self, began: Instant) -> Duration {
        let by_limit = self
            .offline_limit
            .map(|l| l.saturating_sub(began.elapsed()));
        let by_session = self
            .session_expires
            .map(|e| e.duration_since(SystemTime::now()).unwrap_or_default());
        [by_limit, by_session]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(Duration::MAX)
    }

    async fn probe(&self) -> Probe {
        match self
            .client
            .probe_status(&self.upload_id, self.probe_timeout)
            .await
        {
            None | Some(Err(ApiError::Transport { .. })) => Probe::Silent,
            Some(Ok(page)) => match page.status {
                MultipartUploadStatus::Expired => Probe::Ended(UploadError::SessionExpired {
                    upload_id: self.upload_id.clone(),
                }),
                _ => Probe::Answered,
            },
            // Any answer, even an error, means the network is there.
            Some(Err(_)) => Probe::Answered,
        }
    }

    fn lost_error(&self) -> UploadError {
        let lost = self
            .lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match lost {
            Some(lost) if lost.expired => UploadError::SessionExpired {
                upload_id: self.upload_id.clone(),
            },
            Some(lost) => UploadError::NetworkLost {
                upload_id: self.upload_id.clone(),
                waited: lost.waited,
                since: clock_time(lost.since),
                detail: lost.detail,
            },
            None => UploadError::Protocol("the network wait ended without a reason".into()),
        }
    }
}

enum Probe {
    Answered,
    Silent,
    Ended(UploadError),
}

/// How long the machine slept, if the wall clock moved `wall` (None: backwards) while the
/// monotonic clock moved `mono`.
fn slept(mono: Duration, wall: Option<Duration>) -> Option<Duration> {
    let ahead = wall?.checked_sub(mono)?;
    (ahead >= SLEPT).then_some(ahead)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `HH:MM:SS UTC` of `t`.
fn clock_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_ahead_of_the_monotonic_one_is_a_sleep() {
        let s = Duration::from_secs;
        assert_eq!(slept(s(1), Some(s(1))), None);
        assert_eq!(
            slept(s(1), Some(s(3))),
            None,
            "small corrections are no sleep"
        );
        assert_eq!(slept(s(1), Some(s(3601))), Some(s(3600)));
        assert_eq!(slept(s(1), None), None, "a clock set back is no sleep");
        assert_eq!(slept(s(10), Some(s(2))), None);
    }

    /// A gate whose API is a closed port: any probe finds the network gone.
    fn gate(options: &crate::UploadOptions) -> Arc<NetworkGate> {
        let client = MultipartUploadClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9/v1.3")
            .build()
            .unwrap();
        let plan = crate::plan::ChunkPlan::new(10, 10, None).unwrap();
        let tracker = Arc::new(Tracker::new(plan, None, None));
        NetworkGate::new(client, "s".into(), tracker, Link::new(None), options, None)
    }

    #[tokio::test]
    async fn a_wake_stops_the_attempts_in_flight_and_lets_them_go_again_at_no_cost() {
        let gate = gate(&crate::UploadOptions::default());
        let started = gate.epoch();
        let in_flight = gate.interrupted();
        gate.woke();
        assert!(
            in_flight.is_cancelled(),
            "attempts of before the sleep stop"
        );
        assert!(!gate.interrupted().is_cancelled(), "new ones run");
        // Judged without a probe (the API here would not answer): the wake explains it.
        let verdict = gate.judge(started, Instant::now()).await.unwrap();
        assert_eq!(verdict, Verdict::Outage);
        assert_eq!(gate.outages(), 0, "a wake is not an outage");
    }

    #[tokio::test]
    async fn an_offline_limit_ends_the_wait_with_the_time_it_began() {
        let options = crate::UploadOptions {
            offline_limit: Some(Duration::from_millis(1500)),
            probe_interval: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(1),
            ..crate::UploadOptions::default()
        };
        let gate = gate(&options);
        let in_flight = gate.interrupted();
        let err = gate.judge(gate.epoch(), Instant::now()).await.unwrap_err();
        assert!(in_flight.is_cancelled(), "going offline stops the attempts");
        assert!(
            matches!(&err, UploadError::NetworkLost { upload_id, .. } if upload_id == "s"),
            "{err:?}"
        );
        assert!(err.to_string().contains("offline limit"), "{err}");
        assert!(gate.online().await.is_err(), "every waiter hears it");
        assert_eq!(gate.outages(), 1);
    }

    #[test]
    fn clock_times_are_utc_hours_minutes_seconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 3600 * 14 + 62);
        assert_eq!(clock_time(t), "14:01:02 UTC");
        assert_eq!(unix_ms(t), (86_400 * 3 + 3600 * 14 + 62) * 1000);
    }
}
