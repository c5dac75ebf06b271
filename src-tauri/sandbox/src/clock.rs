//! Time, in one place: every timestamp and expiry comes from the system clock through here,
//! in UTC, so the rules are easy to follow (and to change for an injectable clock later).

use std::time::Duration;

use time::OffsetDateTime;

/// The current time, UTC.
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// `t + d`, saturating instead of overflowing (settings are capped far below the limit).
pub(crate) fn after(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    let d = time::Duration::try_from(d).unwrap_or(time::Duration::MAX);
    t.saturating_add(d)
}

/// The expiry of a URL minted at `t` with lifetime `ttl`, in whole unix seconds, rounded up
/// so a URL is never valid for less than its lifetime.
pub(crate) fn expiry_secs(t: OffsetDateTime, ttl: Duration) -> u64 {
    let end = after(t, ttl);
    let secs = end.unix_timestamp() + i64::from(end.nanosecond() > 0);
    u64::try_from(secs).unwrap_or(0)
}

/// Whether a URL that expires at `expires` (unix seconds) has expired at `t`.
pub(crate) fn has_expired(expires: u64, t: OffsetDateTime) -> bool {
    let expires = i128::from(expires) * 1_000_000_000;
    t.unix_timestamp_nanos() >= expires
}

/// Unix seconds back to a date-time (for the `expires_at` fields of presigned URLs).
pub(crate) fn from_unix(secs: u64) -> OffsetDateTime {
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_lives_at_least_its_ttl() {
        let t =
            OffsetDateTime::from_unix_timestamp(100).unwrap() + time::Duration::milliseconds(990);
        let expires = expiry_secs(t, Duration::from_secs(1));
        assert_eq!(expires, 102);
        assert!(!has_expired(expires, after(t, Duration::from_millis(999))));
        assert!(has_expired(expires, from_unix(102)));
        assert_eq!(expiry_secs(from_unix(100), Duration::from_secs(1)), 101);
    }
}
