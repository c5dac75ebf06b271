//! Backoff with full jitter, `Retry-After`, and the per-upload retry budget.
//!
//! Every wait is a `tokio::time::sleep`, so it is cancellable and testable with paused time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use rand::Rng;

/// Exponential backoff with full jitter: the n-th retry waits a uniformly random time in
/// `[0, min(cap, base × 2ⁿ)]`, which spreads retries of many clients (or many chunks) apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The bound of the first retry's wait.
    pub base: Duration,
    /// The largest bound any retry waits.
    pub cap: Duration,
}

impl Backoff {
    /// The wait before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let bound = self.bound(attempt);
        if bound.is_zero() {
            return bound;
        }
        let nanos = rand::rng().random_range(0..=bound.as_nanos().min(u128::from(u64::MAX)) as u64);
        Duration::from_nanos(nanos)
    }

    /// The upper bound of the wait before retry number `attempt`.
    pub fn bound(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before a retry, honouring a server's `Retry-After` when it gave one.
    pub fn delay_with_hint(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(hint) => hint.min(MAX_RETRY_AFTER),
            None => self.delay(attempt),
        }
    }
}

/// The longest `Retry-After` we honour; a server asking for more gets this instead, so a
/// misconfigured proxy cannot park an upload for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Parses a `Retry-After` header value: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(
            secs.min(MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A shared allowance of retries for one upload. Each chunk also has its own attempt limit;
/// the budget stops a retry storm (a dead link failing every chunk) from running for hours.
#[derive(Debug)]
pub struct RetryBudget {
    remaining: AtomicU32,
}

impl RetryBudget {
    /// A budget of `retries` retries.
    pub fn new(retries: u32) -> Self {
        Self {
            remaining: AtomicU32::new(retries),
        }
    }

    /// The budget for an upload of `total_chunks` chunks: a fifth of the chunk count, and
    /// never less than 20, so small uploads survive a bad minute and large ones a bad hour.
    pub fn for_upload(total_chunks: u64, max_retries: u32) -> Self {
        let scaled = (total_chunks / 5).min(u64::from(u32::MAX)) as u32;
        Self::new(scaled.max(20).max(max_retries))
    }

    /// Takes one retry from the budget; false when none is left.
    pub fn try_spend(&self) -> bool {
        self.remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Retries left.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_within_the_exponential_bound() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        assert_eq!(b.bound(0), Duration::from_millis(100));
        assert_eq!(b.bound(3), Duration::from_millis(800));
        assert_eq!(b.bound(10), Duration::from_secs(2));
        assert_eq!(b.bound(200), Duration::from_secs(2));
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = b.delay(3);
            assert!(d <= Duration::from_millis(800));
            distinct.insert(d);
        }
        assert!(
            distinct.len() > 100,
            "delays are jittered, got {} distinct",
            distinct.len()
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_dates_and_is_capped() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("nonsense"), None);
        let future = SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(future)).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        let b = Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
        };
        assert_eq!(
            b.delay_with_hint(0, Some(Duration::from_secs(9999))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn budget_runs_out_and_scales_with_the_upload() {
        let budget = RetryBudget::new(2);
        assert!(budget.try_spend());
        assert!(budget.try_spend());
        assert!(!budget.try_spend());
        assert_eq!(budget.remaining(), 0);
        assert_eq!(RetryBudget::for_upload(3, 3).remaining(), 20);
        assert_eq!(RetryBudget::for_upload(1000, 3).remaining(), 200);
    }
}
