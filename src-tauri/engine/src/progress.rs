//! What an upload reports while it runs: [`UploadProgress`] snapshots with per-chunk
//! [`ChunkState`]s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPhase {
    /// Waiting for its turn: the uploads started before it still keep the link busy.
    Queued,
    /// Checking the file and creating (or looking up) the session.
    Starting,
    /// Chunks are moving.
    Uploading,
    /// The network is gone (connections refused, reset or unanswered, and the API does not
    /// answer either): nothing is sent, a probe asks the API now and then, and the upload
    /// goes on by itself when it answers. Time spent here costs no retries.
    WaitingForNetwork,
    /// Paused by the caller: chunks in flight finish, no new one starts.
    Paused,
    /// Every chunk is stored and reported; confirming with the status call.
    Confirming,
    /// The platform has the file; waiting for the asset to be ready.
    Processing,
    /// Done: the session is complete (and the asset ready, when that was asked for).
    Completed,
    /// Stopped by an error.
    Failed,
    /// Stopped by the caller; the session stays resumable until it expires.
    Cancelled,
}

/// The state of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChunkState {
    /// Not started.
    Pending,
    /// Its bytes are on the wire.
    Uploading {
        /// Bytes of this attempt sent so far.
        sent: u64,
        /// The chunk's length.
        len: u64,
    },
    /// An attempt failed; waiting to try again.
    Retrying {
        /// The attempt that comes next (2 for the first retry).
        attempt: u32,
    },
    /// Stored (the storage returned its ETag), not reported yet.
    Uploaded,
    /// Stored and reported.
    Done,
    /// Gave up on it.
    Failed,
}

impl ChunkState {
    /// Whether the storage has this chunk.
    pub fn is_stored(&self) -> bool {
        matches!(self, Self::Uploaded | Self::Done)
    }
}

/// A snapshot of an upload's progress.
///
/// The first four fields are the official SDKs' `UploadProgress`; the rest say what the SDKs
/// leave out. `bytes_sent` counts stored chunks plus bytes of attempts in flight, and
/// `percentage` never goes backwards, even when an attempt fails and is sent again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadProgress {
    /// How many chunks the file has.
    pub total_chunks: u64,
    /// Chunks stored and reported.
    pub completed_chunks: u64,
    /// 0–100, monotonic.
    pub percentage: f64,
    /// Where the upload is.
    pub status: UploadPhase,
    /// The session id, once there is one.
    pub upload_id: Option<String>,
    /// The asset id, once there is one.
    pub asset_id: Option<String>,
    /// Bytes of stored chunks plus bytes of attempts in flight.
    pub bytes_sent: u64,
    /// Bytes of chunks the storage has acknowledged with an ETag.
    pub bytes_acknowledged: u64,
    /// The file size.
    pub total_bytes: u64,
    /// Smoothed throughput of bytes the link carried: bytes that a new connection's socket
    /// buffers take in at once count only when their chunk is acknowledged, so the rate
    /// never shows more than the link moves.
    pub bytes_per_second: f64,
    /// Estimated seconds left, once there is a rate to go by.
    pub eta_seconds: Option<f64>,
    /// Chunk attempts that failed and were tried again (an expired URL, replaced by a fresh
    /// one, or a network outage waited out are not counted).
    pub retries: u64,
    /// Presigned URLs replaced because they expired, were about to, or failed.
    pub urls_refreshed: u64,
    /// How many chunk PUTs the process allows in flight now, over all its uploads (the
    /// automatic parallelism's current level, or the fixed one); 0 before the session.
    #[serde(default)]
    pub parallelism: u32,
    /// This upload's chunk PUTs in flight now.
    #[serde(default)]
    pub chunks_in_flight: u32,
    /// Since when (Unix milliseconds) the upload has been waiting for the network, while
    /// [`status`](Self::status) is [`UploadPhase::WaitingForNetwork`].
    #[serde(default)]
    pub offline_since_ms: Option<u64>,
    /// Chunks the storage stored with other bytes than those sent (its ETag was not the
    /// MD5 of the bytes sent) and that were therefore sent again.
    #[serde(default)]
    pub damaged_chunks: u64,
    /// Every chunk's state, index 1 first.
    pub chunks: Vec<ChunkState>,
}

impl UploadProgress {
    /// The snapshot of an upload that has not found its session yet.
    pub fn starting() -> Self {
        Self {
            total_chunks: 0,
            completed_chunks: 0,
            percentage: 0.0,
            status: UploadPhase::Starting,
            upload_id: None,
            asset_id: None,
            bytes_sent: 0,
            bytes_acknowledged: 0,
            total_bytes: 0,
            bytes_per_second: 0.0,
            eta_seconds: None,
            retries: 0,
            urls_refreshed: 0,
            parallelism: 0,
            chunks_in_flight: 0,
            offline_since_ms: None,
            damaged_chunks: 0,
            chunks: Vec::new(),
        }
    }
}

/// An exponentially weighted moving average of throughput, fed with cumulative byte counts.
///
/// With a time constant of a few seconds it follows real changes of the link while
/// smoothing the bursts that chunked uploads make.
#[derive(Debug, Clone)]
pub struct RateMeter {
    tau: Duration,
    first: Option<(Duration, u64)>,
    last: Option<(Duration, u64)>,
    rate: Option<f64>,
}

/// How long a meter watches before it reports a rate. At the start of an upload the socket
/// buffers swallow megabytes at once, which would show a rate many times the link's; after
/// this long the average since the start is a sound seed.
const WARM_UP: Duration = Duration::from_millis(1500);

impl RateMeter {
    /// A meter that forgets with time constant `tau`.
    pub fn new(tau: Duration) -> Self {
        Self {
            tau,
            first: None,
            last: None,
            rate: None,
        }
    }

    /// Records that `total` bytes had been sent at `now` (time since the upload started).
    pub fn record(&mut self, now: Duration, total: u64) {
        let (t0, b0) = *self.first.get_or_insert((now, total));
        if self.rate.is_none() {
            let watched = now.saturating_sub(t0);
            if watched >= WARM_UP {
                self.rate = Some(total.saturating_sub(b0) as f64 / watched.as_secs_f64());
            }
            self.last = Some((now, total));
            return;
        }
        if let Some((then, before)) = self.last {
            let dt = now.saturating_sub(then).as_secs_f64();
            if dt <= 0.0 {
                return;
            }
            let instant = total.saturating_sub(before) as f64 / dt;
            let alpha = 1.0 - (-dt / self.tau.as_secs_f64().max(1e-3)).exp();
            self.rate = Some(match self.rate {
                Some(r) => r + alpha * (instant - r),
                None => instant,
            });
        }
        self.last = Some((now, total));
    }

    /// The smoothed rate in bytes per second; 0 during the first 1.5 s.
    pub fn rate(&self) -> f64 {
        self.rate.unwrap_or(0.0)
    }

    /// Seconds to send `remaining` bytes at the current rate.
    pub fn eta(&self, remaining: u64) -> Option<f64> {
        let rate = self.rate();
        (rate > 1.0).then(|| remaining as f64 / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_meter_converges_on_a_steady_rate() {
        let mut m = RateMeter::new(Duration::from_secs(2));
        assert_eq!(m.rate(), 0.0);
        assert_eq!(m.eta(100), None);
        m.record(Duration::ZERO, 0);
        m.record(Duration::from_millis(100), 8_000_000);
        assert_eq!(m.rate(), 0.0, "no rate while socket buffers fill");
        let mut m = RateMeter::new(Duration::from_secs(2));
        for i in 0..100u64 {
            m.record(Duration::from_millis(i * 100), i * 100_000);
        }
        assert!((m.rate() - 1_000_000.0).abs() < 1.0, "{}", m.rate());
        assert!((m.eta(2_000_000).unwrap() - 2.0).abs() < 0.01);
    }

    #[test]
    fn rate_meter_follows_a_change_within_a_few_time_constants() {
        let mut m = RateMeter::new(Duration::from_secs(1));
        let mut total = 0;
        for i in 0..50u64 {
            m.record(Duration::from_millis(i * 100), total);
            total += 100_000;
        }
        for i in 50..150u64 {
            m.record(Duration::from_millis(i * 100), total);
            total += 10_000;
        }
        assert!((m.rate() - 100_000.0).abs() < 5_000.0, "{}", m.rate());
    }

    #[test]
    fn chunk_states_serialise_with_a_tag() {
        let s = serde_json::to_string(&ChunkState::Uploading { sent: 3, len: 9 }).unwrap();
        assert_eq!(s, r#"{"state":"uploading","sent":3,"len":9}"#);
        assert!(ChunkState::Done.is_stored() && !ChunkState::Failed.is_stored());
    }
}
