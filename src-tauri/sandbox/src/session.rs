//! One multipart upload session: its chunks, what was uploaded and reported, and the rules
//! that decide whether a report is accepted.
//!
//! A session is `completed` from `completed_at` on, which the report of its last chunk sets
//! to that moment plus the completion delay (`--complete-delay`, zero by default). Until
//! then it is `active` with every chunk completed; the status is derived from the clock
//! when asked, so no timer is needed. A session whose chunks are all reported never turns
//! `expired`.

use time::OffsetDateTime;

use crate::{
    asset::{AssetKind, AssetOptions},
    error::ApiError,
    wire::{ChunkInfo, ChunkStatus, SessionStatus, Timestamp},
};

/// What a session was created with.
#[derive(Debug, Clone)]
pub(crate) struct SessionSpec {
    pub(crate) filename: String,
    pub(crate) kind: AssetKind,
    pub(crate) total_size: u64,
    pub(crate) chunk_size: u64,
    pub(crate) options: AssetOptions,
}

/// The last successful PUT of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    /// MD5 hex of the body, unquoted.
    pub(crate) etag: String,
    pub(crate) len: u64,
}

#[derive(Debug, Clone)]
struct Chunk {
    stored: Option<Stored>,
    /// Set by an accepted report; never cleared.
    reported: Option<OffsetDateTime>,
    /// Why the last PUT of this chunk failed, until a PUT succeeds.
    failure: Option<String>,
    updated_at: OffsetDateTime,
}

/// One entry of a report batch, already type-checked.
#[derive(Debug, Clone)]
pub(crate) struct ReportItem {
    pub(crate) chunk_index: u64,
    pub(crate) proof: String,
    pub(crate) proof_type: String,
    pub(crate) chunk_size: u64,
}

/// The counts of an accepted report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReportOutcome {
    pub(crate) processed: u32,
    pub(crate) duplicates: u32,
    /// True on the report that completed the session.
    pub(crate) completed_now: bool,
}

/// An upload session.
#[derive(Debug, Clone)]
pub(crate) struct UploadSession {
    pub(crate) id: String,
    pub(crate) asset_id: String,
    pub(crate) spec: SessionSpec,
    pub(crate) total_chunks: u32,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
    /// When the session is (or will be) `completed`: set once every chunk is reported.
    pub(crate) completed_at: Option<OffsetDateTime>,
    /// Creation order, to sort sessions created within the same instant.
    pub(crate) seq: u64,
    chunks: Vec<Chunk>,
    chunks_completed: u32,
    uploaded_size: u64,
}

impl UploadSession {
    pub(crate) fn new(
        ids: (String, String),
        spec: SessionSpec,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        seq: u64,
    ) -> Self {
        let total_chunks = spec.total_size.div_ceil(spec.chunk_size);
        // The config keeps sessions at or below 10,000 chunks; saturate rather than trust it.
        let total_chunks = u32::try_from(total_chunks).unwrap_or(u32::MAX);
        let blank = Chunk {
            stored: None,
            reported: None,
            failure: None,
            updated_at: now,
        };
        Self {
            id: ids.0,
            asset_id: ids.1,
            spec,
            total_chunks,
            created_at: now,
            updated_at: now,
            expires_at,
            completed_at: None,
            seq,
            chunks: vec![blank; total_chunks as usize],
            chunks_completed: 0,
            uploaded_size: 0,
        }
    }

    pub(crate) fn status(&self, now: OffsetDateTime) -> SessionStatus {
        match self.completed_at {
            Some(at) if now >= at => SessionStatus::Completed,
            // Every chunk is reported; the completion delay is not over yet.
            Some(_) => SessionStatus::Active,
            None if now >= self.expires_at => SessionStatus::Expired,
            None => SessionStatus::Active,
        }
    }

    /// The exact length chunk `index` must have: `chunk_size`, or the remainder for the last.
    pub(crate) fn expected_len(&self, index: u32) -> Option<u64> {
        if index == 0 || index > self.total_chunks {
            return None;
        }
        let start = u64::from(index - 1) * self.spec.chunk_size;
        Some((self.spec.total_size - start).min(self.spec.chunk_size))
    }

    fn chunk_mut(&mut self, index: u32) -> Option<&mut Chunk> {
        self.chunks.get_mut(index.checked_sub(1)? as usize)
    }

    pub(crate) fn stored(&self, index: u32) -> Option<&Stored> {
        self.chunks
            .get(index.checked_sub(1)? as usize)?
            .stored
            .as_ref()
    }

    /// Whether a PUT of these bytes may replace what is stored: once a chunk is reported,
    /// only identical bytes may be written again, so the assembled file is what was proven.
    pub(crate) fn may_store(&self, index: u32, etag: &str) -> bool {
        match self.chunks.get(index.saturating_sub(1) as usize) {
            Some(chunk) if chunk.reported.is_some() => {
                chunk.stored.as_ref().is_some_and(|s| s.etag == etag)
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Records a successful PUT.
    pub(crate) fn record_stored(&mut self, index: u32, stored: Stored, now: OffsetDateTime) {
        if let Some(chunk) = self.chunk_mut(index) {
            chunk.stored = Some(stored);
            chunk.failure = None;
            chunk.updated_at = now;
            self.updated_at = now;
        }
    }

    /// Records a failed PUT. A reported chunk stays completed: its stored bytes are intact.
    pub(crate) fn record_failure(&mut self, index: u32, why: &str, now: OffsetDateTime) {
        if let Some(chunk) = self.chunk_mut(index)
            && chunk.reported.is_none()
        {
            chunk.failure = Some(why.to_owned());
            chunk.updated_at = now;
            self.updated_at = now;
        }
    }

    /// Validates a whole batch, then applies it. Nothing is applied if any entry is refused.
    /// If the batch reports the last chunks, the session is `completed` from `completes_at`.
    pub(crate) fn apply_report(
        &mut self,
        items: &[ReportItem],
        now: OffsetDateTime,
        completes_at: OffsetDateTime,
    ) -> Result<ReportOutcome, ApiError> {
        if self.status(now) == SessionStatus::Expired {
            return Err(ApiError::invalid(format!(
                "upload session `{}` has expired",
                self.id
            )));
        }
        let mut fresh: Vec<(u32, u64)> = Vec::new();
        let mut duplicates = 0u32;
        for (i, item) in items.iter().enumerate() {
            let at = |what: &str| format!("completed_chunks[{i}].{what}");
            if item.proof_type != "etag" {
                return Err(ApiError::invalid(format!(
                    "`{}` must be \"etag\"",
                    at("proof_type")
                )));
            }
            let index = u32::try_from(item.chunk_index)
                .ok()
                .filter(|&n| (1..=self.total_chunks).contains(&n))
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "`{}` must be between 1 and {}",
                        at("chunk_index"),
                        self.total_chunks
                    ))
                })?;
            let already = self
                .chunks
                .get((index - 1) as usize)
                .is_some_and(|c| c.reported.is_some())
                || fresh.iter().any(|&(n, _)| n == index);
            if already {
                duplicates += 1;
                continue;
            }
            let stored = self
                .stored(index)
                .ok_or_else(|| ApiError::invalid(format!("chunk {index} was never uploaded")))?;
            if normalise_etag(&item.proof) != stored.etag {
                return Err(ApiError::invalid(format!(
                    "the proof of chunk {index} does not match the ETag of its upload"
                )));
            }
            if item.chunk_size != stored.len {
                return Err(ApiError::invalid(format!(
                    "chunk {index}: chunk_size {} does not match the {} bytes received",
                    item.chunk_size, stored.len
                )));
            }
            let expected = self.expected_len(index).unwrap_or_default();
            if stored.len != expected {
                return Err(ApiError::invalid(format!(
                    "chunk {index} has {} bytes but must have {expected}",
                    stored.len
                )));
            }
            fresh.push((index, stored.len));
        }
        let processed = u32::try_from(fresh.len()).unwrap_or(u32::MAX);
        for (index, len) in fresh {
            if let Some(chunk) = self.chunk_mut(index) {
                chunk.reported = Some(now);
                chunk.failure = None;
                chunk.updated_at = now;
            }
            self.chunks_completed += 1;
            self.uploaded_size += len;
        }
        if processed > 0 {
            self.updated_at = now;
        }
        let completed_now =
            self.completed_at.is_none() && self.chunks_completed == self.total_chunks;
        if completed_now {
            self.completed_at = Some(completes_at.max(now));
        }
        Ok(ReportOutcome {
            processed,
            duplicates,
            completed_now,
        })
    }

    pub(crate) fn chunks_completed(&self) -> u32 {
        self.chunks_completed
    }

    pub(crate) fn chunks_failed(&self) -> u32 {
        let failed = self
            .chunks
            .iter()
            .filter(|c| c.reported.is_none() && c.failure.is_some())
            .count();
        u32::try_from(failed).unwrap_or(u32::MAX)
    }

    pub(crate) fn uploaded_size(&self) -> u64 {
        self.uploaded_size
    }

    /// `ChunkInfo` of chunk `index` (1-based).
    pub(crate) fn chunk_info(&self, index: u32) -> Option<ChunkInfo> {
        let chunk = self.chunks.get(index.checked_sub(1)? as usize)?;
        let (status, error) = match (&chunk.reported, &chunk.failure) {
            (Some(_), _) => (ChunkStatus::Completed, None),
            (None, Some(why)) => (ChunkStatus::Failed, Some(why.clone())),
            (None, None) => (ChunkStatus::Pending, None),
        };
        Some(ChunkInfo {
            index,
            status,
            uploaded_at: chunk.reported.map(Timestamp),
            updated_at: Timestamp(chunk.updated_at),
            error,
        })
    }

    /// `(index, len)` of every chunk, for assembling the asset once the session is complete.
    pub(crate) fn layout(&self) -> Vec<(u32, u64)> {
        (1..=self.total_chunks)
            .map(|i| (i, self.stored(i).map_or(0, |s| s.len)))
            .collect()
    }
}

/// An ETag as compared: quotes stripped (clients send it with or without), lower case.
pub(crate) fn normalise_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(total_size: u64, chunk_size: u64) -> UploadSession {
        let now = OffsetDateTime::now_utc();
        let spec = SessionSpec {
            filename: "f.mp4".into(),
            kind: AssetKind::Video,
            total_size,
            chunk_size,
            options: AssetOptions::default(),
        };
        UploadSession::new(
            ("u".into(), "a".into()),
            spec,
            now,
            now + time::Duration::hours(1),
            0,
        )
    }

    fn item(index: u64, proof: &str, size: u64) -> ReportItem {
        ReportItem {
            chunk_index: index,
            proof: proof.into(),
            proof_type: "etag".into(),
            chunk_size: size,
        }
    }

    fn store(s: &mut UploadSession, index: u32, etag: &str, len: u64) {
        let stored = Stored {
            etag: etag.into(),
            len,
        };
        s.record_stored(index, stored, OffsetDateTime::now_utc());
    }

    #[test]
    fn the_last_chunk_holds_the_remainder() {
        let s = session(25, 10);
        assert_eq!(s.total_chunks, 3);
        assert_eq!(s.expected_len(1), Some(10));
        assert_eq!(s.expected_len(3), Some(5));
        assert_eq!(s.expected_len(4), None);
        assert_eq!(s.expected_len(0), None);
    }

    #[test]
    fn a_bad_entry_rejects_the_whole_batch() {
        let mut s = session(20, 10);
        store(&mut s, 1, "aa", 10);
        store(&mut s, 2, "bb", 10);
        let now = OffsetDateTime::now_utc();
        assert!(
            s.apply_report(&[item(1, "aa", 10), item(2, "xx", 10)], now, now)
                .is_err()
        );
        assert_eq!(s.chunks_completed(), 0);
        let outcome = s
            .apply_report(&[item(1, "\"AA\"", 10), item(1, "aa", 10)], now, now)
            .unwrap();
        assert_eq!((outcome.processed, outcome.duplicates), (1, 1));
        assert!(!outcome.completed_now);
        let outcome = s.apply_report(&[item(2, "bb", 10)], now, now).unwrap();
        assert!(outcome.completed_now);
        assert_eq!(s.uploaded_size(), 20);
    }

    #[test]
    fn short_chunks_and_wrong_sizes_are_refused() {
        let mut s = session(20, 10);
        store(&mut s, 1, "aa", 9);
        let now = OffsetDateTime::now_utc();
        assert!(s.apply_report(&[item(1, "aa", 10)], now, now).is_err());
        assert!(s.apply_report(&[item(1, "aa", 9)], now, now).is_err());
        assert!(s.apply_report(&[item(2, "aa", 10)], now, now).is_err());
    }

    #[test]
    fn a_reported_chunk_keeps_its_bytes() {
        let mut s = session(10, 10);
        store(&mut s, 1, "aa", 10);
        let now = OffsetDateTime::now_utc();
        s.apply_report(&[item(1, "aa", 10)], now, now).unwrap();
        assert!(s.may_store(1, "aa"));
        assert!(!s.may_store(1, "bb"));
    }

    #[test]
    fn a_delayed_completion_stays_active_until_its_time() {
        let mut s = session(10, 10);
        store(&mut s, 1, "aa", 10);
        let now = OffsetDateTime::now_utc();
        let later = now + time::Duration::seconds(5);
        let outcome = s.apply_report(&[item(1, "aa", 10)], now, later).unwrap();
        assert!(outcome.completed_now);
        assert_eq!(s.status(now), SessionStatus::Active);
        assert_eq!(s.chunks_completed(), 1);
        assert_eq!(s.status(later), SessionStatus::Completed);
        // All reported: the session completes even if its lifetime ends meanwhile.
        assert_eq!(
            s.status(s.expires_at + time::Duration::seconds(1)),
            SessionStatus::Completed
        );
    }
}
