//! The shared link: one capacity, in bytes per second, that the request-body reads of every
//! connection draw from, like the uplink of an office or the bottleneck of a long path.
//!
//! The link keeps a timetable rather than a pool of tokens. A connection that wants to read
//! books a slice of traffic ([`SLICE_TIME`] of it at the link's rate); the slice goes at the
//! end of the timetable, and the booking says when the link would have delivered it. The
//! connection sleeps on its own timer until then, reads the slice, and books the next one,
//! again at the end. So:
//!
//! - competing connections are served in turn, one slice each, in the order they asked:
//!   equal shares, and nobody is starved;
//! - nobody waits on anyone else's progress: a connection that stops reading, or goes away,
//!   costs the link at most the one slice it booked;
//! - an idle link lends at most [`IDLE_CREDIT`] of traffic, so bursts stay small and the rate
//!   holds over short spans, while a reader that wakes a little late loses no link time;
//! - nothing polls: every waiting connection sleeps on a timer, and an idle link has none.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

/// How much traffic one booking covers, at the link's rate.
pub(crate) const SLICE_TIME: Duration = Duration::from_millis(4);

/// The largest slice, whatever the rate (it bounds the reads of a very fast link).
pub(crate) const MAX_SLICE: usize = 64 * 1024;

/// How far in the past a booking may start when the link has been idle: the link's burst.
pub(crate) const IDLE_CREDIT: Duration = Duration::from_millis(20);

/// The link: its rate (live, 0 for none) and its timetable.
#[derive(Debug, Default)]
pub(crate) struct Link {
    rate: AtomicU64,
    timetable: Mutex<Timetable>,
}

impl Link {
    /// A link of `rate` bytes per second (0: no link limit).
    pub(crate) fn new(rate: u64) -> Self {
        Self {
            rate: AtomicU64::new(rate),
            timetable: Mutex::default(),
        }
    }

    /// Bytes per second, 0 when the link does not limit.
    pub(crate) fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Changes the rate; bookings made from now on follow it.
    pub(crate) fn set_rate(&self, rate: u64) {
        self.rate.store(rate, Ordering::Relaxed);
    }

    /// Books up to `want` bytes at `rate` (see [`Timetable::book`]).
    pub(crate) fn book(&self, rate: u64, want: usize, now: Instant) -> Booking {
        self.timetable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .book(rate, want, now)
    }
}

/// When the link is free: the end of everything booked so far.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timetable {
    busy_until: Option<Instant>,
}

/// A slice of the link: how many bytes, and when the link has delivered them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Booking {
    pub(crate) bytes: usize,
    pub(crate) ready_at: Instant,
}

impl Timetable {
    /// Books `want` bytes (at least 1, at most one [`slice`]) at `rate` bytes per second.
    /// The slice starts when the link is free, but no earlier than [`IDLE_CREDIT`] before
    /// `now`, and is ready when the link would have carried it.
    pub(crate) fn book(&mut self, rate: u64, want: usize, now: Instant) -> Booking {
        let bytes = want.clamp(1, slice(rate));
        let earliest = now.checked_sub(IDLE_CREDIT).unwrap_or(now);
        let start = self.busy_until.map_or(earliest, |busy| busy.max(earliest));
        let ready_at = start + transfer_time(bytes, rate);
        self.busy_until = Some(ready_at);
        Booking { bytes, ready_at }
    }
}

/// The slice booked at `rate`: [`SLICE_TIME`] of traffic, at least 1 byte and at most
/// [`MAX_SLICE`].
pub(crate) fn slice(rate: u64) -> usize {
    let bytes = u128::from(rate) * SLICE_TIME.as_nanos() / 1_000_000_000;
    usize::try_from(bytes)
        .unwrap_or(MAX_SLICE)
        .clamp(1, MAX_SLICE)
}

/// How long `bytes` take at `rate` bytes per second, rounded up to the nanosecond.
pub(crate) fn transfer_time(bytes: usize, rate: u64) -> Duration {
    let nanos = (bytes as u128 * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    #[test]
    fn slices_are_a_few_milliseconds_of_traffic_within_bounds() {
        assert_eq!(slice(4 * MB), 16_000);
        assert_eq!(slice(1_000), 4);
        assert_eq!(slice(1), 1, "a crawling link still moves");
        assert_eq!(slice(0), 1);
        assert_eq!(slice(10_000 * MB), MAX_SLICE);
        assert_eq!(slice(u64::MAX), MAX_SLICE);
    }

    #[test]
    fn transfer_times_round_up_and_never_overflow() {
        assert_eq!(transfer_time(16_000, 4 * MB), Duration::from_millis(4));
        assert_eq!(transfer_time(1, 3), Duration::from_nanos(333_333_334));
        assert_eq!(transfer_time(0, MB), Duration::ZERO);
        assert_eq!(transfer_time(usize::MAX, 0), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn an_idle_link_lends_its_credit_once_then_paces() {
        let now = Instant::now() + Duration::from_secs(1);
        let mut timetable = Timetable::default();
        let rate = 4 * MB; // slices of 16 kB, 4 ms each
        // The first 20 ms of credit are ready at once (5 slices), the next one is not.
        for i in 1..=5 {
            let booking = timetable.book(rate, usize::MAX, now);
            assert_eq!(booking.bytes, 16_000);
            assert_eq!(booking.ready_at, now - IDLE_CREDIT + SLICE_TIME * i);
            assert!(booking.ready_at <= now);
        }
        let next = timetable.book(rate, usize::MAX, now);
        assert_eq!(next.ready_at, now + SLICE_TIME);
        // A link idle for long lends no more than the same credit.
        let later = now + Duration::from_secs(60);
        let after_idle = timetable.book(rate, usize::MAX, later);
        assert_eq!(after_idle.ready_at, later - IDLE_CREDIT + SLICE_TIME);
    }

    #[test]
    fn bookings_queue_in_turn_and_add_up_to_the_rate() {
        let now = Instant::now() + Duration::from_secs(1);
        let mut timetable = Timetable::default();
        let rate = MB;
        let mut last = now - IDLE_CREDIT;
        let mut booked = 0;
        // Four connections asking in turn: each slice follows the previous one.
        for turn in 0..400 {
            let want = [usize::MAX, 2_000, usize::MAX, 100][turn % 4];
            let booking = timetable.book(rate, want, now);
            assert_eq!(booking.bytes, want.min(slice(rate)));
            assert!(booking.ready_at > last);
            last = booking.ready_at;
            booked += booking.bytes as u64;
        }
        // Everything booked is delivered at the rate, less the idle credit.
        let span = last - (now - IDLE_CREDIT);
        let expected = transfer_time(usize::try_from(booked).unwrap(), rate);
        assert!(
            span.abs_diff(expected) < Duration::from_micros(1),
            "{span:?}"
        );
    }

    #[test]
    fn a_rate_change_applies_from_the_next_booking() {
        let now = Instant::now() + Duration::from_secs(1);
        let mut timetable = Timetable::default();
        let first = timetable.book(MB, usize::MAX, now + IDLE_CREDIT);
        assert_eq!(first.ready_at, now + SLICE_TIME);
        let slower = timetable.book(MB / 4, usize::MAX, now);
        assert_eq!(slower.bytes, 1_000);
        assert_eq!(slower.ready_at, first.ready_at + SLICE_TIME);
    }

    #[test]
    fn the_link_books_at_its_live_rate() {
        let link = Link::new(2 * MB);
        assert_eq!(link.rate(), 2 * MB);
        link.set_rate(0);
        assert_eq!(link.rate(), 0);
        let now = Instant::now();
        let booking = link.book(2 * MB, 10, now);
        assert_eq!(booking.bytes, 10);
        assert!(booking.ready_at <= now);
    }
}
