//! Traffic counters, so tests and benchmarks can see what a client really did (how many PUTs,
//! how many in parallel, how many URLs it asked for) instead of trusting the client's account,
//! and how many times each misbehaviour of the sandbox fired ([`FaultsFired`]), so a script
//! can print a table "fault -> times it fired" from one `GET /v1.3/sandbox/stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A snapshot of the counters, as returned by [`crate::SandboxHandle::stats`] and
/// `GET /v1.3/sandbox/stats`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Stats {
    /// Chunk PUTs that reached the storage endpoint (valid or not).
    pub puts_received: u64,
    /// Chunk PUTs answered 200 with the chunk stored.
    pub puts_completed: u64,
    /// Request-body bytes read by chunk PUTs, including those of failed PUTs (but not the
    /// rest of a body that was refused early and is only read to be thrown away).
    pub bytes_received: u64,
    /// Chunk PUTs being handled right now (a gauge; a reset leaves it alone).
    pub puts_in_flight: u64,
    /// The highest `puts_in_flight` seen since start or the last reset.
    pub puts_in_flight_peak: u64,
    /// Presigned URLs handed out (by create and by presigned-urls).
    pub urls_issued: u64,
    /// Report (`POST /assets/multipart-uploads/{id}`) requests.
    pub reports_received: u64,
    /// Upload sessions created.
    pub sessions_created: u64,
    /// Authenticated API requests, except the `/v1.3/sandbox/*` extension endpoints.
    pub api_requests: u64,
    /// How many times each fault knob fired, keyed by the knob's name.
    #[serde(default)]
    pub faults_fired: FaultsFired,
    /// TLS handshakes that failed or timed out (HTTPS only): a client that does not trust
    /// the certificate, one that speaks plain HTTP to the HTTPS port, one that is too slow.
    #[serde(default)]
    pub tls_handshakes_failed: u64,
}

/// How many times each misbehaviour fired since start or the last reset. Each field is named
/// after its knob (`--fail-puts` is `fail_puts`, and so on), so that a script can turn the
/// JSON object into a table as it is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct FaultsFired {
    /// Chunk PUTs answered with an injected status (`fail_puts`).
    pub fail_puts: u64,
    /// Chunk PUTs whose connection was dropped mid-body (`drop_puts_after`).
    pub drop_puts_after: u64,
    /// Chunk PUTs held before their body was read (`stall_puts`).
    pub stall_puts: u64,
    /// Chunk PUTs answered 200 without an `ETag` (`omit_etag`).
    pub omit_etag: u64,
    /// API calls answered with an injected status (`fail_api`).
    pub fail_api: u64,
    /// Chunk PUTs stored with a flipped byte (`corrupt_puts`).
    pub corrupt_puts: u64,
    /// Refused chunk PUTs answered before their body was read, the body left unread in the
    /// socket and the connection closed (`early_answer`).
    pub early_answer: u64,
    /// Sessions whose completion was held back after their last chunk was reported
    /// (`complete_delay`).
    pub complete_delay: u64,
    /// Connections an outage reset or froze: those open when it began (except ones serving a
    /// `/v1.3/sandbox/*` call) and those reset when a request arrived on them. Connection
    /// attempts the kernel refused during a `refuse` outage never reach the sandbox and are
    /// not counted.
    pub outage_connections: u64,
    /// Requests an outage swallowed: held in silence (`blackhole`), cut after part of their
    /// body (`reset`), or reset on arrival over a connection that survived (`refuse`).
    pub outage_requests: u64,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) puts_received: AtomicU64,
    pub(crate) puts_completed: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    puts_in_flight: AtomicU64,
    puts_in_flight_peak: AtomicU64,
    pub(crate) urls_issued: AtomicU64,
    pub(crate) reports_received: AtomicU64,
    pub(crate) sessions_created: AtomicU64,
    pub(crate) api_requests: AtomicU64,
    pub(crate) tls_handshakes_failed: AtomicU64,
    pub(crate) fired: FiredCounters,
}

/// The live counters behind [`FaultsFired`].
#[derive(Debug, Default)]
pub(crate) struct FiredCounters {
    pub(crate) fail_puts: AtomicU64,
    pub(crate) drop_puts_after: AtomicU64,
    pub(crate) stall_puts: AtomicU64,
    pub(crate) omit_etag: AtomicU64,
    pub(crate) fail_api: AtomicU64,
    pub(crate) corrupt_puts: AtomicU64,
    pub(crate) early_answer: AtomicU64,
    pub(crate) complete_delay: AtomicU64,
    pub(crate) outage_connections: AtomicU64,
    pub(crate) outage_requests: AtomicU64,
}

impl FiredCounters {
    fn all(&self) -> [&AtomicU64; 10] {
        [
            &self.fail_puts,
            &self.drop_puts_after,
            &self.stall_puts,
            &self.omit_etag,
            &self.fail_api,
            &self.corrupt_puts,
            &self.early_answer,
            &self.complete_delay,
            &self.outage_connections,
            &self.outage_requests,
        ]
    }

    fn snapshot(&self) -> FaultsFired {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FaultsFired {
            fail_puts: get(&self.fail_puts),
            drop_puts_after: get(&self.drop_puts_after),
            stall_puts: get(&self.stall_puts),
            omit_etag: get(&self.omit_etag),
            fail_api: get(&self.fail_api),
            corrupt_puts: get(&self.corrupt_puts),
            early_answer: get(&self.early_answer),
            complete_delay: get(&self.complete_delay),
            outage_connections: get(&self.outage_connections),
            outage_requests: get(&self.outage_requests),
        }
    }
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks a PUT as in flight until the returned guard drops, whatever way the handler ends
    /// (including the future being dropped when the client goes away).
    pub(crate) fn put_started(&self) -> InFlight<'_> {
        let now = self.puts_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.puts_in_flight_peak.fetch_max(now, Ordering::SeqCst);
        InFlight { counters: self }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            puts_received: get(&self.puts_received),
            puts_completed: get(&self.puts_completed),
            bytes_received: get(&self.bytes_received),
            puts_in_flight: self.puts_in_flight.load(Ordering::SeqCst),
            puts_in_flight_peak: self.puts_in_flight_peak.load(Ordering::SeqCst),
            urls_issued: get(&self.urls_issued),
            reports_received: get(&self.reports_received),
            sessions_created: get(&self.sessions_created),
            api_requests: get(&self.api_requests),
            faults_fired: self.fired.snapshot(),
            tls_handshakes_failed: get(&self.tls_handshakes_failed),
        }
    }

    /// Zeroes every counter. The peak restarts from the PUTs in flight right now, so it stays
    /// a true statement about the period after the reset.
    pub(crate) fn reset(&self) {
        for counter in [
            &self.puts_received,
            &self.puts_completed,
            &self.bytes_received,
            &self.urls_issued,
            &self.reports_received,
            &self.sessions_created,
            &self.api_requests,
            &self.tls_handshakes_failed,
        ]
        .into_iter()
        .chain(self.fired.all())
        {
            counter.store(0, Ordering::Relaxed);
        }
        let in_flight = self.puts_in_flight.load(Ordering::SeqCst);
        self.puts_in_flight_peak.store(in_flight, Ordering::SeqCst);
    }
}

/// Guard returned by [`Counters::put_started`].
pub(crate) struct InFlight<'a> {
    counters: &'a Counters,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counters.puts_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_follows_the_gauge_and_survives_a_reset_correctly() {
        let counters = Counters::default();
        let a = counters.put_started();
        let b = counters.put_started();
        drop(a);
        assert_eq!(counters.snapshot().puts_in_flight, 1);
        assert_eq!(counters.snapshot().puts_in_flight_peak, 2);
        counters.reset();
        assert_eq!(counters.snapshot().puts_in_flight_peak, 1);
        drop(b);
        counters.reset();
        assert_eq!(counters.snapshot(), Stats::default());
    }
}
