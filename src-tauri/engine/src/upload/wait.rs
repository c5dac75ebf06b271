//! Waiting for a session to complete and for an asset to be ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::api_error;
use crate::api::wire::{Asset, AssetStatus, ChunkStatus, MultipartUploadStatus};
use crate::api::{ApiError, MultipartUploadClient};
use crate::error::UploadError;

/// A session's state, as [`wait_for_upload_completion`](MultipartUploadClient::wait_for_upload_completion)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// The session id.
    pub upload_id: String,
    /// The session status.
    pub status: MultipartUploadStatus,
    /// Chunks uploaded and reported.
    pub completed_chunks: u64,
    /// Chunks the server lists as failed.
    pub failed_chunks: u64,
    /// Every chunk of the session.
    pub total_chunks: u64,
    /// Bytes of reported chunks.
    pub uploaded_size: Option<u64>,
    /// The file size.
    pub total_size: Option<u64>,
}

/// Receives every status read of a wait.
pub type StatusCallback = Arc<dyn Fn(&UploadStatus) + Send + Sync>;

/// How [`wait_for_upload_completion`](MultipartUploadClient::wait_for_upload_completion) waits.
#[derive(Clone)]
pub struct WaitOptions {
    /// Time between status calls.
    pub sleep_interval: Duration,
    /// Give up after this long; `None` waits until the session ends.
    pub max_wait_time: Option<Duration>,
    /// Called with every status read.
    pub callback: Option<StatusCallback>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            sleep_interval: Duration::from_secs(5),
            max_wait_time: None,
            callback: None,
        }
    }
}

impl std::fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOptions")
            .field("sleep_interval", &self.sleep_interval)
            .field("max_wait_time", &self.max_wait_time)
            .finish_non_exhaustive()
    }
}

impl MultipartUploadClient {
    /// Polls session `upload_id` until every chunk is reported.
    ///
    /// Unlike the SDK wrappers, it goes by the session's own `status` and counters, so an
    /// expired or failed session, or failed chunks, end the wait with an error at once, and
    /// `max_wait_time` holds even while the server keeps failing.
    ///
    /// # Errors
    ///
    /// [`UploadError::SessionExpired`], [`UploadError::SessionFailed`],
    /// [`UploadError::ChunksFailed`], [`UploadError::Timeout`], or the API error for an
    /// unknown session or a rejected key.
    pub async fn wait_for_upload_completion(
        &self,
        upload_id: &str,
        options: WaitOptions,
    ) -> Result<UploadStatus, UploadError> {
        if options.sleep_interval.is_zero() {
            return Err(UploadError::InvalidOptions(
                "sleep_interval must be above 0".into(),
            ));
        }
        let started = Instant::now();
        let deadline = options.max_wait_time.map(|d| started + d);
        let mut last_error: Option<ApiError> = None;
        loop {
            let call = self.get_status_page(upload_id, 1, 1);
            let answer = match deadline {
                Some(at) => {
                    tokio::time::timeout(at.saturating_duration_since(Instant::now()), call)
                        .await
                        .ok()
                }
                None => Some(call.await),
            };
            match answer {
                Some(Ok(page)) => {
                    let status = UploadStatus {
                        upload_id: upload_id.to_owned(),
                        status: page.status.clone(),
                        completed_chunks: page.chunks_completed,
                        failed_chunks: page.chunks_failed,
                        total_chunks: page.total_chunks(),
                        uploaded_size: page.uploaded_size,
                        total_size: page.total_size,
                    };
                    if let Some(cb) = &options.callback {
                        cb(&status);
                    }
                    match page.status {
                        MultipartUploadStatus::Completed => return Ok(status),
                        MultipartUploadStatus::Expired => {
                            return Err(UploadError::SessionExpired {
                                upload_id: upload_id.to_owned(),
                            });
                        }
                        MultipartUploadStatus::Failed => {
                            return Err(UploadError::SessionFailed {
                                upload_id: upload_id.to_owned(),
                            });
                        }
                        _ if page.chunks_failed > 0 => {
                            let listing = self
                                .get_status(upload_id, 50)
                                .collect()
                                .await
                                .map_err(|e| api_error(self, e))?;
                            let indices = listing
                                .uploaded_chunks
                                .iter()
                                .filter(|c| c.status == ChunkStatus::Failed)
                                .map(|c| c.index)
                                .collect();
                            return Err(UploadError::ChunksFailed {
                                upload_id: upload_id.to_owned(),
                                indices,
                            });
                        }
                        _ => {}
                    }
                }
                Some(Err(e)) if e.is_retryable() => last_error = Some(e),
                Some(Err(e)) if e.is_not_found() => {
                    return Err(UploadError::SessionNotFound {
                        upload_id: upload_id.to_owned(),
                    });
                }
                Some(Err(e)) => return Err(api_error(self, e)),
                None => {}
            }
            let now = Instant::now();
            let mut nap = options.sleep_interval;
            if let Some(at) = deadline {
                if now >= at {
                    let what = match last_error {
                        Some(e) => format!("session {upload_id} (last error: {e})"),
                        None => format!("session {upload_id} to complete"),
                    };
                    return Err(UploadError::Timeout {
                        what,
                        waited: started.elapsed(),
                    });
                }
                nap = nap.min(at - now);
            }
            tokio::time::sleep(nap).await;
        }
    }
}

impl MultipartUploadClient {
    /// Polls asset `asset_id` until it is `ready` (or `failed`), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`UploadError::AssetFailed`], [`UploadError::Timeout`], or the API error for an
    /// unknown asset (after a minute's grace, for assets that appear late) or a bad key.
    pub async fn wait_for_asset(
        &self,
        asset_id: &str,
        timeout: Duration,
    ) -> Result<Asset, UploadError> {
        asset_ready(
            self,
            asset_id,
            Instant::now() + timeout,
            &CancellationToken::new(),
        )
        .await
    }
}

/// Polls asset `asset_id` until it is `ready` or `failed`, or `deadline` passes.
pub(crate) async fn asset_ready(
    client: &MultipartUploadClient,
    asset_id: &str,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<Asset, UploadError> {
    let started = Instant::now();
    let mut nap = Duration::from_millis(250);
    loop {
        match client.retrieve_asset(asset_id).await {
            Ok(asset) => match asset.status {
                AssetStatus::Ready => return Ok(asset),
                AssetStatus::Failed => {
                    let message = asset
                        .error
                        .map(|e| e.message)
                        .unwrap_or_else(|| "no reason given".to_owned());
                    return Err(UploadError::AssetFailed {
                        asset_id: asset_id.to_owned(),
                        message,
                    });
                }
                _ => {}
            },
            // Right after completion the asset may not be visible yet.
            Err(e) if e.is_not_found() && started.elapsed() < Duration::from_secs(60) => {}
            Err(e) if e.is_retryable() => {}
            Err(e) => return Err(api_error(client, e)),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(UploadError::Timeout {
                what: format!("asset {asset_id} to be ready"),
                waited: started.elapsed(),
            });
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(UploadError::Cancelled { upload_id: None }),
            () = tokio::time::sleep(nap.min(deadline - now)) => {}
        }
        nap = (nap * 3 / 2).min(Duration::from_secs(5));
    }
}
