//! The sandbox's state: upload sessions and assets, behind one short-held lock.
//!
//! The lock is a `std::sync::Mutex`, held only for map updates and never across an `.await`;
//! handlers copy what they need out of it. One lock for both maps keeps a session's
//! completion and its asset's creation atomic.

use std::{
    cmp::Reverse,
    collections::{HashMap, HashSet},
    sync::{Mutex, MutexGuard, PoisonError},
};

use time::OffsetDateTime;

use crate::{
    asset::{Asset, AssetKind, Blob, Content},
    error::ApiError,
    extract::Pagination,
    session::{ReportItem, ReportOutcome, SessionSpec, UploadSession},
    wire::{AssetDetail, AssetMethod, IncompleteUpload, Page, SessionStatus, Timestamp},
};

/// A fresh id: 24 lowercase hex digits (96 random bits), like the service's ObjectIds.
fn random_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

/// Whether `text` has the shape of an id this sandbox generates.
pub(crate) fn is_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A completed session's asset, to be checked (hashed) in the background.
#[derive(Debug, Clone)]
pub(crate) struct CheckJob {
    pub(crate) asset_id: String,
    pub(crate) blob: Blob,
}

/// What a report returns.
#[derive(Debug, Clone)]
pub(crate) struct Reported {
    pub(crate) outcome: ReportOutcome,
    pub(crate) asset_id: String,
    pub(crate) total_completed: u32,
    /// True once every chunk is reported (on the completing report and any later one).
    pub(crate) complete: bool,
    /// Set on the report that completed the session.
    pub(crate) job: Option<CheckJob>,
}

/// When a session that a report completes turns `completed` (and its asset appears), and
/// when that asset is `ready`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompletionTimes {
    pub(crate) completes_at: OffsetDateTime,
    pub(crate) ready_at: OffsetDateTime,
}

/// Filters of `GET /assets`.
#[derive(Debug, Default)]
pub(crate) struct AssetFilter<'a> {
    pub(crate) ids: Vec<&'a str>,
    pub(crate) kinds: Vec<AssetKind>,
    pub(crate) filename: Option<&'a str>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, UploadSession>,
    assets: HashMap<String, Asset>,
    /// Every id ever handed out, so no id is reused (an asset id is reserved at creation).
    used_ids: HashSet<String>,
    seq: u64,
}

impl Inner {
    fn fresh_id(&mut self) -> String {
        loop {
            let id = random_id();
            if self.used_ids.insert(id.clone()) {
                return id;
            }
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// Sessions and assets.
#[derive(Debug, Default)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent before it can panic, so a
        // poisoned lock still guards valid data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a session and reserves its asset id.
    pub(crate) fn create_session(
        &self,
        spec: SessionSpec,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> UploadSession {
        let mut inner = self.lock();
        let ids = (inner.fresh_id(), inner.fresh_id());
        let seq = inner.next_seq();
        let session = UploadSession::new(ids, spec, now, expires_at, seq);
        inner.sessions.insert(session.id.clone(), session.clone());
        session
    }

    /// Reserves an id for a directly created asset.
    pub(crate) fn reserve_asset_id(&self) -> String {
        self.lock().fresh_id()
    }

    /// Runs `f` on a session, with the store locked. `None` if the session does not exist.
    pub(crate) fn with_session<R>(
        &self,
        upload_id: &str,
        f: impl FnOnce(&mut UploadSession) -> R,
    ) -> Option<R> {
        self.lock().sessions.get_mut(upload_id).map(f)
    }

    /// Applies a report; when it reports the last chunks, creates the asset atomically. The
    /// asset exists from `times.completes_at` (when the session turns `completed`) and is
    /// `processing` until `times.ready_at`.
    pub(crate) fn report(
        &self,
        upload_id: &str,
        items: &[ReportItem],
        now: OffsetDateTime,
        times: CompletionTimes,
    ) -> Result<Reported, ApiError> {
        let mut inner = self.lock();
        let seq = inner.next_seq();
        let session = inner
            .sessions
            .get_mut(upload_id)
            .ok_or_else(|| ApiError::not_found("upload session", upload_id))?;
        let outcome = session.apply_report(items, now, times.completes_at)?;
        let mut reported = Reported {
            outcome,
            asset_id: session.asset_id.clone(),
            total_completed: session.chunks_completed(),
            complete: session.completed_at.is_some(),
            job: None,
        };
        if outcome.completed_now {
            let blob = Blob {
                id: session.id.clone(),
                pieces: session.layout(),
            };
            let asset = Asset {
                id: session.asset_id.clone(),
                method: AssetMethod::Multipart,
                kind: session.spec.kind,
                filename: session.spec.filename.clone(),
                created_at: times.completes_at.max(now),
                ready_at: times.ready_at,
                size: Some(session.spec.total_size),
                options: session.spec.options.clone(),
                content: Content::Checking,
                blob: Some(blob.clone()),
                seq,
            };
            reported.job = Some(CheckJob {
                asset_id: asset.id.clone(),
                blob,
            });
            inner.assets.insert(asset.id.clone(), asset);
        }
        Ok(reported)
    }

    /// One page of the sessions that are not completed (active or expired), newest first.
    pub(crate) fn incomplete(
        &self,
        page: Pagination,
        now: OffsetDateTime,
    ) -> Page<IncompleteUpload> {
        let inner = self.lock();
        let mut open: Vec<&UploadSession> = inner
            .sessions
            .values()
            .filter(|s| s.status(now) != SessionStatus::Completed)
            .collect();
        open.sort_by_key(|s| Reverse((s.created_at, s.seq)));
        let (range, page_info) = page.window(open.len() as u64);
        let data = open
            .iter()
            .skip(range.start as usize)
            .take((range.end - range.start) as usize)
            .map(|s| IncompleteUpload {
                upload_id: s.id.clone(),
                status: s.status(now),
                total_size: s.spec.total_size,
                chunk_size: s.spec.chunk_size,
                total_chunks: s.total_chunks,
                created_at: Timestamp(s.created_at),
                expires_at: Timestamp(s.expires_at),
            })
            .collect();
        Page { data, page_info }
    }

    pub(crate) fn insert_asset(&self, mut asset: Asset) {
        let mut inner = self.lock();
        asset.seq = inner.next_seq();
        inner.assets.insert(asset.id.clone(), asset);
    }

    /// Records the result of an asset's content check.
    pub(crate) fn set_content(&self, asset_id: &str, content: Content) {
        if let Some(asset) = self.lock().assets.get_mut(asset_id) {
            asset.content = content;
        }
    }

    /// An asset's view at `now`; `None` for one that does not exist yet (its session's
    /// completion delay is not over).
    pub(crate) fn asset_detail(&self, asset_id: &str, now: OffsetDateTime) -> Option<AssetDetail> {
        self.lock()
            .assets
            .get(asset_id)
            .filter(|a| a.created_at <= now)
            .map(|a| a.detail(now))
    }

    /// One page of the assets that pass the filter, newest first.
    pub(crate) fn assets(
        &self,
        filter: &AssetFilter<'_>,
        page: Pagination,
        now: OffsetDateTime,
    ) -> Page<AssetDetail> {
        let inner = self.lock();
        let mut found: Vec<&Asset> = inner
            .assets
            .values()
            .filter(|a| a.created_at <= now)
            .filter(|a| a.matches(&filter.ids, &filter.kinds, filter.filename))
            .collect();
        found.sort_by_key(|a| Reverse((a.created_at, a.seq)));
        let (range, page_info) = page.window(found.len() as u64);
        let data = found
            .iter()
            .skip(range.start as usize)
            .take((range.end - range.start) as usize)
            .map(|a| a.detail(now))
            .collect();
        Page { data, page_info }
    }

    /// Removes an asset that exists at `now`; returns it so its bytes can be deleted.
    pub(crate) fn remove_asset(&self, asset_id: &str, now: OffsetDateTime) -> Option<Asset> {
        let mut inner = self.lock();
        if inner.assets.get(asset_id)?.created_at > now {
            return None;
        }
        inner.assets.remove(asset_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_lowercase_hex_digits() {
        let id = random_id();
        assert!(is_id(&id), "{id}");
        assert!(!is_id("../../etc/passwd0000000000"));
        assert!(!is_id("0123456789ABCDEF01234567"));
        assert!(!is_id("0123"));
    }
}
