//! Presigned URLs, minted just in time and never used twice.
//!
//! URLs come in slices of at most 50 from the create call and the presigned-urls call.
//! Each one is taken out of the pool when a chunk attempt starts, so a URL whose PUT failed
//! is never tried again: the retry gets a fresh one. A URL close to its expiry is not handed
//! out; a new slice is minted instead.
//!
//! Expiry is measured on the server's clock: the lifetime is `expires_at` minus the server's
//! `generated_at` (or its `Date` header), counted from when the answer arrived here, so a
//! skewed local clock does not make every URL look expired (or valid for ever). That span is
//! kept on both local clocks: the monotonic one, which ignores changes of the wall clock,
//! and the wall clock, which keeps running while the machine sleeps (the monotonic one
//! stops then on Linux and macOS), so after a night's sleep every URL minted before it is
//! known to be stale.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Mutex;

use crate::api::wire::PresignedUrlChunk;
use crate::api::{ApiError, MultipartUploadClient};
use crate::error::UploadError;

/// The lifetime assumed for a URL that comes without `expires_at` (the documented hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The most URLs one presigned-urls call may ask for.
const MAX_SLICE: u64 = 50;

#[derive(Debug)]
struct Entry {
    url: String,
    expiry: Expiry,
    lifetime: Duration,
}

/// When a URL expires, on both local clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expiry {
    deadline: Instant,
    wall_deadline: SystemTime,
}

impl Expiry {
    /// What is left of the URL's life at `now` (and the wall clock's now).
    fn left(&self, now: Instant) -> Duration {
        let by_wall = self
            .wall_deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        self.deadline.saturating_duration_since(now).min(by_wall)
    }

    /// Whether the URL has expired by now: a transport failure then was the storage
    /// refusing it early (as S3 does, closing the connection before reading the body).
    pub(crate) fn passed(&self) -> bool {
        self.left(Instant::now()).is_zero()
    }
}

/// A URL taken from the pool, with its expiry.
#[derive(Debug)]
pub(crate) struct TakenUrl {
    pub(crate) url: String,
    pub(crate) expiry: Expiry,
}

impl Entry {
    /// Usable if more than a quarter of its life (at most a minute) is left: enough for the
    /// request to reach the storage before the signature runs out.
    fn is_fresh(&self, now: Instant) -> bool {
        let margin = (self.lifetime / 4).min(Duration::from_secs(60));
        self.expiry.left(now) > margin
    }

    fn taken(self) -> TakenUrl {
        TakenUrl {
            url: self.url,
            expiry: self.expiry,
        }
    }
}

#[derive(Debug)]
struct PoolState {
    entries: HashMap<u64, Entry>,
    /// How many URLs the next mint asks for; halved when minted URLs go stale unused, so a
    /// short URL lifetime does not waste 50 URLs per chunk.
    slice: u64,
}

/// The presigned URLs of one session.
#[derive(Debug)]
pub(crate) struct UrlPool {
    client: MultipartUploadClient,
    upload_id: String,
    total_chunks: u64,
    min_slice: u64,
    state: Mutex<PoolState>,
    refreshed: AtomicU64,
}

impl UrlPool {
    pub(crate) fn new(
        client: MultipartUploadClient,
        upload_id: String,
        total_chunks: u64,
        min_slice: u64,
    ) -> Self {
        Self {
            client,
            upload_id,
            total_chunks,
            min_slice: min_slice.clamp(1, MAX_SLICE),
            state: Mutex::new(PoolState {
                entries: HashMap::new(),
                slice: MAX_SLICE,
            }),
            refreshed: AtomicU64::new(0),
        }
    }

    /// Adds URLs that arrived at `received`, with the server's clock reading `server_now`.
    pub(crate) async fn add(
        &self,
        urls: Vec<PresignedUrlChunk>,
        server_now: Option<SystemTime>,
        received: Instant,
    ) {
        let mut state = self.state.lock().await;
        insert(&mut state, urls, server_now, received, self.total_chunks);
    }

    /// How many URLs were replaced because they expired, were about to, or failed.
    pub(crate) fn refreshed(&self) -> u64 {
        self.refreshed.load(Ordering::Relaxed)
    }

    /// Counts a URL given up after a failed PUT.
    pub(crate) fn note_failed_url(&self) {
        self.refreshed.fetch_add(1, Ordering::Relaxed);
    }

    /// A fresh URL for chunk `index`, minting a slice starting there when the pool has none.
    pub(crate) async fn take(&self, index: u64) -> Result<TakenUrl, ApiError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        match state.entries.remove(&index) {
            Some(entry) if entry.is_fresh(now) => return Ok(entry.taken()),
            Some(_) => {
                // Minted but went stale before its chunk's turn: mint smaller slices.
                self.refreshed.fetch_add(1, Ordering::Relaxed);
                state.slice = (state.slice / 2).max(self.min_slice);
            }
            None => {}
        }
        let count = state
            .slice
            .min(self.total_chunks.saturating_sub(index) + 1)
            .max(1);
        let (response, server_now) = self
            .client
            .presigned_urls_with_date(&self.upload_id, index, count)
            .await?;
        let server_now = response.generated_at.map(SystemTime::from).or(server_now);
        insert(
            &mut state,
            response.upload_urls,
            server_now,
            Instant::now(),
            self.total_chunks,
        );
        match state.entries.remove(&index) {
            Some(entry) => Ok(entry.taken()),
            None => Err(ApiError::Decode {
                request: "get_additional_presigned_urls",
                detail: format!("the answer has no URL for chunk {index}"),
            }),
        }
    }
}

fn insert(
    state: &mut PoolState,
    urls: Vec<PresignedUrlChunk>,
    server_now: Option<SystemTime>,
    received: Instant,
    total_chunks: u64,
) {
    for u in urls {
        if u.chunk_index == 0 || u.chunk_index > total_chunks || u.url.is_empty() {
            continue;
        }
        let lifetime = match u.expires_at {
            Some(expires) => {
                let expires = SystemTime::from(expires);
                let now = server_now.unwrap_or_else(SystemTime::now);
                expires.duration_since(now).unwrap_or(Duration::ZERO)
            }
            None => DEFAULT_LIFETIME,
        };
        // The wall clock's reading when the answer arrived, from the monotonic clock.
        let wall_received = SystemTime::now() - received.elapsed();
        let entry = Entry {
            url: u.url,
            expiry: Expiry {
                deadline: received + lifetime,
                wall_deadline: wall_received + lifetime,
            },
            lifetime,
        };
        state.entries.insert(u.chunk_index, entry);
    }
}

/// Turns a failure to get a URL into the upload's error for that chunk.
pub(crate) fn url_error(index: u64, attempts: u32, e: ApiError) -> UploadError {
    UploadError::Chunk {
        index,
        attempts,
        source: crate::error::ChunkError::Url(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(i: u64, expires: Option<SystemTime>) -> PresignedUrlChunk {
        PresignedUrlChunk {
            chunk_index: i,
            url: format!("http://h/{i}?sig"),
            expires_at: expires.map(time::OffsetDateTime::from),
        }
    }

    #[test]
    fn lifetime_is_measured_on_the_server_clock() {
        let mut state = PoolState {
            entries: HashMap::new(),
            slice: 50,
        };
        let server_now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let received = Instant::now();
        // The local clock may be years off; only the server's two readings matter.
        let urls = vec![
            url(1, Some(server_now + Duration::from_secs(3600))),
            url(2, Some(server_now + Duration::from_secs(2))),
            url(3, Some(server_now - Duration::from_secs(5))),
            url(4, None),
            url(0, None),
            url(99, None),
        ];
        insert(&mut state, urls, Some(server_now), received, 10);
        assert_eq!(state.entries.len(), 4, "indices outside 1..=10 are dropped");
        assert!(state.entries[&1].is_fresh(received));
        assert!(state.entries[&2].is_fresh(received));
        assert!(!state.entries[&2].is_fresh(received + Duration::from_millis(1600)));
        assert!(!state.entries[&3].is_fresh(received));
        assert_eq!(state.entries[&4].lifetime, DEFAULT_LIFETIME);
        assert!(!state.entries[&1].is_fresh(received + Duration::from_secs(3550)));
        assert!(state.entries[&3].expiry.passed() && !state.entries[&1].expiry.passed());
    }

    #[test]
    fn a_url_is_stale_once_the_wall_clock_passes_its_deadline_even_if_the_monotonic_one_did_not() {
        // As after a sleep: the monotonic deadline is far ahead, the wall one has passed.
        let entry = Entry {
            url: "http://h/1?sig".into(),
            expiry: Expiry {
                deadline: Instant::now() + Duration::from_secs(3000),
                wall_deadline: SystemTime::now() - Duration::from_secs(1),
            },
            lifetime: Duration::from_secs(3600),
        };
        assert!(!entry.is_fresh(Instant::now()));
        assert!(entry.expiry.passed());
    }
}
