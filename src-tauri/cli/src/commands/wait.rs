//! `tlup wait UPLOAD_ID`: blocks until a session is complete (every chunk reported).
//!
//! Useful when another process uploads; the engine goes by the session's own status, so an
//! expired or failed session ends the wait at once instead of hanging.

use std::sync::{Arc, Mutex, PoisonError};

use tl_upload::{UploadStatus, WaitOptions};

use super::Context;
use crate::args::WaitArgs;
use crate::failure::Failure;

/// Waits, printing each change of the counters on stderr, then the final status.
pub async fn run(ctx: &Context, args: &WaitArgs) -> Result<(), Failure> {
    let conn = ctx.connect()?;
    let out = ctx.out.clone();
    let last: Arc<Mutex<Option<(u64, u64)>>> = Arc::default();
    let callback = move |s: &UploadStatus| {
        let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = (s.completed_chunks, s.failed_chunks);
        if *last != Some(now) && !out.is_json() {
            out.note(&format!(
                "session {}: {} of {} chunks completed ({})",
                s.upload_id, s.completed_chunks, s.total_chunks, s.status
            ));
        }
        *last = Some(now);
    };
    let options = WaitOptions {
        sleep_interval: args.interval,
        max_wait_time: args.timeout,
        callback: Some(Arc::new(callback)),
    };
    let wait = async {
        conn.client
            .wait_for_upload_completion(&args.upload_id, options)
            .await
            .map_err(|e| Failure::upload(&e))
    };
    let status = ctx.interruptible(wait).await?;
    if ctx.out.is_json() {
        ctx.out
            .event(&serde_json::to_value(&status).unwrap_or_default());
    } else {
        ctx.out.line(&format!(
            "session {} is complete: {} of {} chunks",
            status.upload_id, status.completed_chunks, status.total_chunks
        ));
    }
    Ok(())
}
