//! Network outages: for a while, the server behaves like a network that is gone
//! (`--outage KIND:SECS[@AFTER_SECS]`, [`crate::SandboxBuilder::outage`],
//! [`crate::SandboxHandle::start_outage`], `POST /v1.3/sandbox/outage`).
//!
//! An outage hits everything a client talks to, API calls and chunk PUTs alike, but spares
//! the sandbox's own `/v1.3/sandbox/*` calls, so that a test can end it early or read the
//! stats. The three kinds ([`OutageKind`]):
//!
//! - `refuse`: the listening socket is closed, so the kernel refuses new connections
//!   (`ECONNREFUSED`); when the outage ends the same port is bound again (`SO_REUSEADDR`
//!   outside Windows). Open connections are reset (RST, `SO_LINGER` 0) when it begins,
//!   except one serving a `/v1.3/sandbox/*` call, which lives on until it brings any other
//!   request (then it is reset). So no new connection reaches the admin endpoints during a
//!   `refuse`: the handle's [`end_outage`](crate::SandboxHandle::end_outage) still works.
//! - `blackhole`: connections are still accepted, but a request that arrives is held before
//!   its body is read and nothing is answered; requests under way when it began are frozen
//!   (their connection reads and writes nothing). The client sees silence and must rely on
//!   its own stall timeout. When the outage ends, held and frozen requests carry on, as TCP
//!   does when a path comes back.
//! - `reset`: a request that arrives has at most [`RESET_AFTER`] bytes of its body read
//!   (none for a bodyless call), then its connection is reset; requests under way when it
//!   began are reset at once.
//!
//! Sessions, chunks and assets are untouched: when the outage ends, the server works as
//! before. Not modelled: connection attempts that time out (a `blackhole` still completes
//! the handshake, as a server behind a dead path would not), ICMP errors, and the kernel's
//! own retransmissions.
//!
//! The state is a schedule (a window of time with a kind) published on a watch channel; who
//! is hit is decided from the clock. Changes that concern open connections (reset, freeze,
//! thaw) are made once per transition by [`OutageSwitch::apply`], called by whoever
//! changes the schedule and by a supervisor task at the scheduled times.

use std::{
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak},
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    conn::ConnControl,
    faults::{OutageKind, OutageSpec},
    stats::Counters,
};

/// The most body bytes a request has read during a `reset` outage before its connection is
/// reset.
pub(crate) const RESET_AFTER: u64 = 64 * 1024;

/// How long a handle call waits for the listener to close or reopen the port.
const LISTENER_WAIT: Duration = Duration::from_secs(2);

/// An outage's window of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) kind: OutageKind,
    pub(crate) starts: Instant,
    pub(crate) ends: Instant,
}

impl Window {
    fn covers(&self, now: Instant) -> bool {
        self.starts <= now && now < self.ends
    }
}

/// The outage state of one sandbox, shared by the listener, the middleware and the setters.
#[derive(Debug)]
pub(crate) struct OutageSwitch {
    schedule: watch::Sender<Option<Window>>,
    /// The kind whose effects on open connections were last applied.
    applied: Mutex<Option<OutageKind>>,
    /// Every accepted connection still alive (pruned as connections go).
    conns: Mutex<Vec<Weak<ConnControl>>>,
    /// Whether the listening socket is open, for callers that wait on the listener.
    listening: Mutex<bool>,
    listening_changed: Condvar,
    stats: Arc<Counters>,
}

/// Locks a mutex whose data stays valid across a panic (every write is one assignment).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OutageSwitch {
    /// A switch with `planned` scheduled from `now` (the server's start).
    pub(crate) fn new(planned: Option<OutageSpec>, now: Instant, stats: Arc<Counters>) -> Self {
        Self {
            schedule: watch::Sender::new(planned.map(|spec| window(spec, now))),
            applied: Mutex::new(None),
            conns: Mutex::new(Vec::new()),
            listening: Mutex::new(true),
            listening_changed: Condvar::new(),
            stats,
        }
    }

    /// A receiver that sees every change of the schedule.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Window>> {
        self.schedule.subscribe()
    }

    /// The outage on at `now`, if any.
    pub(crate) fn active(&self, now: Instant) -> Option<OutageKind> {
        self.schedule
            .borrow()
            .filter(|w| w.covers(now))
            .map(|w| w.kind)
    }

    /// The scheduled or current outage, if it has not ended.
    pub(crate) fn window(&self, now: Instant) -> Option<Window> {
        self.schedule.borrow().filter(|w| now < w.ends)
    }

    /// The next time after `now` at which the outage begins or ends.
    pub(crate) fn next_transition(&self, now: Instant) -> Option<Instant> {
        let w = (*self.schedule.borrow())?;
        [w.starts, w.ends].into_iter().find(|&t| t > now)
    }

    /// Schedules an outage of `kind` from `now + after` for `duration`, replacing any other,
    /// and applies it to open connections if it is on already.
    pub(crate) fn start(&self, kind: OutageKind, duration: Duration, after: Duration) {
        let now = Instant::now();
        let spec = OutageSpec {
            kind,
            duration,
            after,
        };
        self.schedule.send_replace(Some(window(spec, now)));
        self.apply(now);
    }

    /// Ends (or cancels) the outage.
    pub(crate) fn end(&self) {
        self.schedule.send_replace(None);
        self.apply(Instant::now());
    }

    /// Brings open connections in line with the outage on at `now`: resets or freezes those
    /// it hits when it begins, thaws frozen ones when a `blackhole` ends. Idempotent; also
    /// drops the schedule once it is over.
    pub(crate) fn apply(&self, now: Instant) {
        let mut applied = lock(&self.applied);
        let desired = self.active(now);
        if *applied != desired {
            let conns = self.live_conns();
            if *applied == Some(OutageKind::Blackhole) {
                conns.iter().for_each(|c| c.thaw());
            }
            let hit: Vec<&Arc<ConnControl>> = match desired {
                Some(OutageKind::Refuse) => conns.iter().filter(|c| !c.serves_admin()).collect(),
                Some(_) => conns.iter().filter(|c| c.serves_api()).collect(),
                None => Vec::new(),
            };
            for conn in &hit {
                match desired {
                    Some(OutageKind::Blackhole) => conn.freeze(),
                    _ => conn.reset(),
                }
            }
            Counters::add(&self.stats.fired.outage_connections, hit.len() as u64);
            *applied = desired;
        }
        drop(applied);
        self.schedule.send_if_modified(|w| match w {
            Some(over) if now >= over.ends => {
                *w = None;
                true
            }
            _ => false,
        });
    }

    /// Records an accepted connection, so an outage can reach it.
    pub(crate) fn register(&self, conn: &Arc<ConnControl>) {
        let mut conns = lock(&self.conns);
        // Amortised pruning: the list is at most about twice the live connections.
        if conns.len() >= 64 && conns.len().is_power_of_two() {
            conns.retain(|c| c.strong_count() > 0);
        }
        conns.push(Arc::downgrade(conn));
    }

    fn live_conns(&self) -> Vec<Arc<ConnControl>> {
        let mut conns = lock(&self.conns);
        conns.retain(|c| c.strong_count() > 0);
        conns.iter().filter_map(Weak::upgrade).collect()
    }

    /// Counts a connection reset by the outage outside [`apply`](Self::apply).
    pub(crate) fn count_connection(&self) {
        Counters::add(&self.stats.fired.outage_connections, 1);
    }

    /// Counts a request the outage swallowed.
    pub(crate) fn count_request(&self) {
        Counters::add(&self.stats.fired.outage_requests, 1);
    }

    /// Called by the listener when it closes or reopens its port.
    pub(crate) fn set_listening(&self, open: bool) {
        *lock(&self.listening) = open;
        self.listening_changed.notify_all();
    }

    /// Blocks (for up to two seconds) until the listener has the port closed while a
    /// `refuse` is on, and open otherwise. For callers outside the server's runtime.
    pub(crate) fn wait_for_listener(&self) {
        let want_open = self.active(Instant::now()) != Some(OutageKind::Refuse);
        let guard = lock(&self.listening);
        let _ = self
            .listening_changed
            .wait_timeout_while(guard, LISTENER_WAIT, |open| *open != want_open);
    }
}

/// The window of an outage planned at `now`.
fn window(spec: OutageSpec, now: Instant) -> Window {
    let far = |t: Instant, d: Duration| {
        t.checked_add(d)
            .unwrap_or_else(|| t + Duration::from_secs(100 * 366 * 86_400))
    };
    let starts = far(now, spec.after);
    Window {
        kind: spec.kind,
        starts,
        ends: far(starts, spec.duration),
    }
}

/// Sleeps until `at`, or forever when there is no such time.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Applies the outage's scheduled transitions at their times, until the switch goes away.
pub(crate) async fn supervise(switch: Weak<OutageSwitch>) {
    let Some(mut changed) = switch.upgrade().map(|s| s.subscribe()) else {
        return;
    };
    loop {
        let next = {
            let Some(switch) = switch.upgrade() else {
                return;
            };
            let now = Instant::now();
            switch.apply(now);
            switch.next_transition(now)
        };
        tokio::select! {
            changed = changed.changed() => if changed.is_err() {
                return;
            },
            () = sleep_until(next) => {}
        }
    }
}

/// Waits while a `blackhole` is on (the held request's connection stays silent).
pub(crate) async fn wait_out_blackhole(switch: &OutageSwitch) {
    let mut changed = switch.subscribe();
    loop {
        let now = Instant::now();
        if switch.active(now) != Some(OutageKind::Blackhole) {
            return;
        }
        let next = switch.next_transition(now);
        tokio::select! {
            result = changed.changed() => if result.is_err() {
                return;
            },
            () = sleep_until(next) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switch() -> OutageSwitch {
        OutageSwitch::new(None, Instant::now(), Arc::default())
    }

    #[test]
    fn a_window_covers_its_span_only() {
        let now = Instant::now();
        let spec = OutageSpec {
            kind: OutageKind::Reset,
            duration: Duration::from_secs(2),
            after: Duration::from_secs(1),
        };
        let s = OutageSwitch::new(Some(spec), now, Arc::default());
        assert_eq!(s.active(now), None);
        assert_eq!(s.next_transition(now), Some(now + Duration::from_secs(1)));
        let during = now + Duration::from_millis(1500);
        assert_eq!(s.active(during), Some(OutageKind::Reset));
        assert_eq!(
            s.next_transition(during),
            Some(now + Duration::from_secs(3))
        );
        assert_eq!(s.active(now + Duration::from_secs(3)), None);
    }

    #[test]
    fn open_connections_are_hit_once_per_transition() {
        let s = switch();
        let idle = Arc::new(ConnControl::default());
        let api = Arc::new(ConnControl::default());
        let admin = Arc::new(ConnControl::default());
        for c in [&idle, &api, &admin] {
            s.register(c);
        }
        let _api_busy = api.busy(false);
        let _admin_busy = admin.busy(true);

        s.start(OutageKind::Reset, Duration::from_secs(60), Duration::ZERO);
        assert!(api.is_killed());
        assert!(!idle.is_killed() && !admin.is_killed());
        s.apply(Instant::now());
        assert_eq!(s.stats.snapshot().faults_fired.outage_connections, 1);

        s.start(OutageKind::Refuse, Duration::from_secs(60), Duration::ZERO);
        assert!(idle.is_killed(), "a refuse resets idle connections too");
        assert!(
            !admin.is_killed(),
            "but not one serving the admin endpoints"
        );
        s.end();
        assert_eq!(s.active(Instant::now()), None);
        assert_eq!(s.window(Instant::now()), None);
    }
}
