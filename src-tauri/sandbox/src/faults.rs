//! Fault injection: the knobs that make the sandbox misbehave on purpose, so a client's retry,
//! refresh and resume logic can be tested against real sockets.
//!
//! Every fault is "the next N requests of a kind": counts go down as requests consume them,
//! which keeps tests deterministic without timing tricks. The same vocabulary is used by the
//! builder ([`FaultPlan`]), the live handle ([`Faults`]), the command line (`--fail-puts 2:503`)
//! and `POST /v1.3/sandbox/faults`.
//!
//! A chunk PUT takes at most one *terminal* fault, in this order: drop the connection, fail
//! with a status, omit the ETag. A stall is independent and combines with any of them.
//! `corrupt_puts` (store the chunk with one byte flipped, and compute the ETag over the
//! damaged bytes, as a storage that received them so would) is only taken by a PUT that is
//! going to be stored, i.e. not one that is dropped or failed; it combines with a stall and
//! with `omit_etag`.
//!
//! The misbehaviours that are not counted, and so live elsewhere, share the vocabulary: the
//! completion delay and the early answer are settings ([`crate::SandboxBuilder::complete_delay`],
//! [`crate::SandboxBuilder::early_answer`]), and an outage ([`OutageKind`]) lasts a number of
//! seconds.

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

/// Faults to apply, as counts of upcoming requests. `Default` is "no faults".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// `(n, status)`: the next `n` chunk PUTs answer `status` (their body is read and dropped).
    pub fail_puts: Option<(u32, u16)>,
    /// `(n, bytes)`: the next `n` chunk PUTs have their TCP connection dropped after `bytes`
    /// bytes of the body (or at the end of the body if it is shorter): no HTTP response.
    pub drop_puts_after: Option<(u32, u64)>,
    /// `(n, d)`: the next `n` chunk PUTs wait `d` before reading their body.
    pub stall_puts: Option<(u32, Duration)>,
    /// The next `omit_etag` chunk PUTs succeed but carry no `ETag` header.
    pub omit_etag: u32,
    /// `(n, status, retry_after)`: the next `n` API calls (`/v1.3/assets...`, not
    /// `/v1.3/sandbox/*`) answer `status` with a `{code, message}` body, and `Retry-After`
    /// when given.
    pub fail_api: Option<(u32, u16, Option<Duration>)>,
    /// The next `corrupt_puts` chunk PUTs that would be stored are stored with one byte
    /// flipped (the middle one of the declared length, or the last one of a shorter body),
    /// and answer the MD5 of the damaged bytes as their `ETag`.
    pub corrupt_puts: u32,
}

impl FaultPlan {
    /// Drops entries whose count is zero, so `Some((0, _))` and `None` mean the same.
    fn normalised(mut self) -> Self {
        self.fail_puts = self.fail_puts.filter(|f| f.0 > 0);
        self.drop_puts_after = self.drop_puts_after.filter(|f| f.0 > 0);
        self.stall_puts = self.stall_puts.filter(|f| f.0 > 0);
        self.fail_api = self.fail_api.filter(|f| f.0 > 0);
        self
    }
}

/// The faults one chunk PUT takes ([`Faults::take_put`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PutFaults {
    /// Wait this long before reading the body.
    pub(crate) stall: Option<Duration>,
    /// The terminal fault, if any.
    pub(crate) terminal: Option<PutFault>,
    /// Store the chunk with a flipped byte.
    pub(crate) corrupt: bool,
}

/// The terminal fault a chunk PUT must suffer, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutFault {
    /// Kill the connection after this many body bytes.
    DropAfter(u64),
    /// Answer this status once the body is read.
    Fail(u16),
    /// Succeed without an `ETag` header.
    OmitEtag,
}

/// Live, thread-safe fault controls of a running sandbox ([`crate::SandboxHandle::faults`]).
///
/// Each setter replaces the fault of its kind; a count of 0 clears it.
#[derive(Debug, Default)]
pub struct Faults {
    plan: Mutex<FaultPlan>,
}

impl Faults {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        Self {
            plan: Mutex::new(plan.normalised()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultPlan> {
        // A panic elsewhere cannot leave a fault plan half-written: every write is one field.
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `count` chunk PUTs answer `status` (e.g. 500 or 503) with an XML error body.
    pub fn fail_puts(&self, count: u32, status: u16) {
        self.lock().fail_puts = (count > 0).then_some((count, status));
    }

    /// The next `count` chunk PUTs lose their connection after `bytes` bytes of body.
    pub fn drop_puts_after(&self, count: u32, bytes: u64) {
        self.lock().drop_puts_after = (count > 0).then_some((count, bytes));
    }

    /// The next `count` chunk PUTs wait `d` before their body is read.
    pub fn stall_puts(&self, count: u32, d: Duration) {
        self.lock().stall_puts = (count > 0).then_some((count, d));
    }

    /// The next `count` chunk PUTs succeed without an `ETag` header.
    pub fn omit_etag(&self, count: u32) {
        self.lock().omit_etag = count;
    }

    /// The next `count` chunk PUTs that would be stored are stored with one byte flipped,
    /// and their `ETag` is the MD5 of the damaged bytes.
    pub fn corrupt_puts(&self, count: u32) {
        self.lock().corrupt_puts = count;
    }

    /// The next `count` API calls answer `status`, with `Retry-After` when given.
    pub fn fail_api(&self, count: u32, status: u16, retry_after: Option<Duration>) {
        self.lock().fail_api = (count > 0).then_some((count, status, retry_after));
    }

    /// Removes every pending fault.
    pub fn clear(&self) {
        *self.lock() = FaultPlan::default();
    }

    /// The faults still pending.
    pub fn pending(&self) -> FaultPlan {
        self.lock().clone()
    }

    /// Replaces the whole plan.
    pub(crate) fn set(&self, plan: FaultPlan) {
        *self.lock() = plan.normalised();
    }

    /// Consumes the faults of one chunk PUT: an optional stall, an optional terminal fault,
    /// and a corruption when the PUT is going to be stored.
    pub(crate) fn take_put(&self) -> PutFaults {
        let mut plan = self.lock();
        let stall = take(&mut plan.stall_puts);
        let terminal = if let Some(bytes) = take(&mut plan.drop_puts_after) {
            Some(PutFault::DropAfter(bytes))
        } else if let Some(status) = take(&mut plan.fail_puts) {
            Some(PutFault::Fail(status))
        } else if plan.omit_etag > 0 {
            plan.omit_etag -= 1;
            Some(PutFault::OmitEtag)
        } else {
            None
        };
        let stored = matches!(terminal, None | Some(PutFault::OmitEtag));
        let corrupt = stored && plan.corrupt_puts > 0;
        if corrupt {
            plan.corrupt_puts -= 1;
        }
        PutFaults {
            stall,
            terminal,
            corrupt,
        }
    }

    /// Consumes one API fault, if any: `(status, retry_after)`.
    pub(crate) fn take_api(&self) -> Option<(u16, Option<Duration>)> {
        let mut plan = self.lock();
        let (count, status, retry_after) = plan.fail_api?;
        plan.fail_api = (count > 1).then_some((count - 1, status, retry_after));
        Some((status, retry_after))
    }
}

/// The kinds of network outage the sandbox can stand for (`--outage KIND:SECS`,
/// [`crate::SandboxBuilder::outage`], [`crate::SandboxHandle::start_outage`]). None of them
/// touches `/v1.3/sandbox/*` calls, except that no new connection gets through a `refuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutageKind {
    /// The server is gone: the listening socket is closed, so connecting fails with
    /// `ECONNREFUSED`, and open connections are reset. The same port is bound again when the
    /// outage ends.
    Refuse,
    /// The path is gone: connections are accepted, but nothing is answered and no body is
    /// read; requests under way when it began freeze where they are. Held requests carry on
    /// when it ends, as TCP does when a path comes back (if the client is still waiting).
    Blackhole,
    /// The path breaks mid-request: each request has at most 64 KiB of its body read (none
    /// for a bodyless call), then its connection is reset; requests under way when it began
    /// are reset at once.
    Reset,
}

impl OutageKind {
    /// The kind's name, as the flag and the JSON spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Blackhole => "blackhole",
            Self::Reset => "reset",
        }
    }
}

impl std::fmt::Display for OutageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutageKind {
    type Err = String;

    /// Parses `refuse`, `blackhole` or `reset`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "refuse" => Ok(Self::Refuse),
            "blackhole" => Ok(Self::Blackhole),
            "reset" => Ok(Self::Reset),
            _ => Err(format!(
                "`{text}` is not an outage kind: use refuse, blackhole or reset"
            )),
        }
    }
}

/// An outage planned from the start: its kind, how long it lasts, and how long after the
/// server starts it begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageSpec {
    /// What the outage does.
    pub kind: OutageKind,
    /// How long it lasts.
    pub duration: Duration,
    /// How long after the start of the server it begins.
    pub after: Duration,
}

/// Parses `KIND:SECS[@AFTER_SECS]` (e.g. `reset:2` or `blackhole:1.5@10`).
pub(crate) fn parse_outage(spec: &str) -> Result<OutageSpec, String> {
    let form = || format!("`{spec}` is not of the form KIND:SECS[@AFTER_SECS]");
    let (kind, rest) = spec.split_once(':').ok_or_else(form)?;
    let (secs, after) = match rest.split_once('@') {
        Some((secs, after)) => (secs, Some(after)),
        None => (rest, None),
    };
    Ok(OutageSpec {
        kind: kind.parse()?,
        duration: parse_secs(secs)?,
        after: after.map(parse_secs).transpose()?.unwrap_or_default(),
    })
}

/// Decrements a counted fault and returns its payload if it was pending.
fn take<T: Copy>(slot: &mut Option<(u32, T)>) -> Option<T> {
    let (count, value) = (*slot)?;
    *slot = (count > 1).then_some((count - 1, value));
    Some(value)
}

/// Parses `N:STATUS` (e.g. `2:503`). STATUS must be an error status (400–599).
pub(crate) fn parse_count_status(spec: &str) -> Result<(u32, u16), String> {
    let (count, status) = split2(spec, "N:STATUS")?;
    Ok((parse_count(count)?, parse_status(status)?))
}

/// Parses `N:BYTES` (e.g. `1:65536`).
pub(crate) fn parse_count_bytes(spec: &str) -> Result<(u32, u64), String> {
    let (count, bytes) = split2(spec, "N:BYTES")?;
    let bytes = bytes
        .parse::<u64>()
        .map_err(|_| format!("`{bytes}` is not a byte count"))?;
    Ok((parse_count(count)?, bytes))
}

/// Parses `N:SECS` (e.g. `1:2.5`).
pub(crate) fn parse_count_secs(spec: &str) -> Result<(u32, Duration), String> {
    let (count, secs) = split2(spec, "N:SECS")?;
    Ok((parse_count(count)?, parse_secs(secs)?))
}

/// Parses `N:STATUS[:RETRY_AFTER_SECS]` (e.g. `3:429:1`).
pub(crate) fn parse_fail_api(spec: &str) -> Result<(u32, u16, Option<Duration>), String> {
    let mut parts = spec.split(':');
    let (Some(count), Some(status)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "`{spec}` is not of the form N:STATUS[:RETRY_AFTER_SECS]"
        ));
    };
    let retry_after = parts.next().map(parse_secs).transpose()?;
    if parts.next().is_some() {
        return Err(format!(
            "`{spec}` is not of the form N:STATUS[:RETRY_AFTER_SECS]"
        ));
    }
    Ok((parse_count(count)?, parse_status(status)?, retry_after))
}

/// Parses a non-negative, finite number of seconds (fractions allowed), at most 100 years.
pub(crate) fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs = text
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    secs_to_duration(secs).ok_or_else(|| format!("`{text}` is not a usable number of seconds"))
}

/// Converts seconds to a `Duration` if they are finite, non-negative and at most 100 years.
pub(crate) fn secs_to_duration(secs: f64) -> Option<Duration> {
    const HUNDRED_YEARS: f64 = 100.0 * 365.25 * 86_400.0;
    if !(0.0..=HUNDRED_YEARS).contains(&secs) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

fn split2<'a>(spec: &'a str, form: &str) -> Result<(&'a str, &'a str), String> {
    spec.split_once(':')
        .ok_or_else(|| format!("`{spec}` is not of the form {form}"))
}

fn parse_count(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| format!("`{text}` is not a request count"))
}

fn parse_status(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(status @ 400..=599) => Ok(status),
        _ => Err(format!("`{text}` is not an HTTP error status (400-599)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(parse_count_status("2:503"), Ok((2, 503)));
        assert!(parse_count_status("2:200").is_err());
        assert!(parse_count_status("2").is_err());
        assert_eq!(parse_count_bytes("1:65536"), Ok((1, 65_536)));
        assert_eq!(
            parse_count_secs("1:2.5"),
            Ok((1, Duration::from_millis(2500)))
        );
        assert!(parse_count_secs("1:-1").is_err());
        assert!(parse_count_secs("1:NaN").is_err());
        assert_eq!(parse_fail_api("3:429"), Ok((3, 429, None)));
        assert_eq!(
            parse_fail_api("3:429:1"),
            Ok((3, 429, Some(Duration::from_secs(1))))
        );
        assert!(parse_fail_api("3:429:1:2").is_err());
        assert_eq!(
            parse_outage("reset:2"),
            Ok(OutageSpec {
                kind: OutageKind::Reset,
                duration: Duration::from_secs(2),
                after: Duration::ZERO,
            })
        );
        assert_eq!(
            parse_outage("blackhole:1.5@10").map(|o| (o.kind, o.duration, o.after)),
            Ok((
                OutageKind::Blackhole,
                Duration::from_millis(1500),
                Duration::from_secs(10)
            ))
        );
        assert!(parse_outage("none:1").is_err());
        assert!(parse_outage("refuse").is_err());
        assert!(parse_outage("refuse:1@").is_err());
    }

    #[test]
    fn put_faults_are_consumed_one_terminal_at_a_time() {
        let faults = Faults::new(FaultPlan {
            fail_puts: Some((1, 500)),
            drop_puts_after: Some((1, 10)),
            stall_puts: Some((1, Duration::from_millis(5))),
            omit_etag: 1,
            fail_api: Some((0, 500, None)),
            corrupt_puts: 2,
        });
        assert_eq!(faults.pending().fail_api, None);
        let put = |stall, terminal, corrupt| PutFaults {
            stall,
            terminal,
            corrupt,
        };
        assert_eq!(
            faults.take_put(),
            put(
                Some(Duration::from_millis(5)),
                Some(PutFault::DropAfter(10)),
                false
            )
        );
        assert_eq!(
            faults.take_put(),
            put(None, Some(PutFault::Fail(500)), false),
            "a failed PUT stores nothing to corrupt"
        );
        assert_eq!(faults.take_put(), put(None, Some(PutFault::OmitEtag), true));
        assert_eq!(faults.take_put(), put(None, None, true));
        assert_eq!(faults.take_put(), put(None, None, false));
        assert_eq!(faults.pending(), FaultPlan::default());
    }

    #[test]
    fn api_faults_count_down() {
        let faults = Faults::default();
        faults.fail_api(2, 429, Some(Duration::from_secs(1)));
        assert_eq!(faults.take_api(), Some((429, Some(Duration::from_secs(1)))));
        assert_eq!(faults.take_api(), Some((429, Some(Duration::from_secs(1)))));
        assert_eq!(faults.take_api(), None);
    }
}
