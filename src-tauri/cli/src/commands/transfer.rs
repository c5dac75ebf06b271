//! One file's transfer, shared by `upload` and `resume`: progress while it runs, then the
//! result, or the failure with what to do next.
//!
//! The engine options come from the transfer flags here; the caller adds the journal (and,
//! for uploads, what the new session asks for).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tl_upload::wire::AssetStatus;
use tl_upload::{UploadError, UploadOptions, UploadResult, UploadSource, Uploader};

use super::Context;
use crate::advice::Advice;
use crate::args::TransferArgs;
use crate::connect::Connection;
use crate::failure::Failure;
use crate::files::display_name;
use crate::format;
use crate::progress::FileProgress;

/// How long to wait for the embedded sandbox to hash an upload.
const SHA256_WAIT: Duration = Duration::from_secs(60);

/// The engine options that `--workers`, `--retry-delay` and friends describe.
pub fn options(t: &TransferArgs) -> UploadOptions {
    UploadOptions {
        batch_size: usize::from(t.batch_size),
        max_workers: usize::from(t.workers),
        max_retries: t.max_retries,
        retry_delay: t.retry_delay,
        stall_timeout: t.stall_timeout,
        wait_for_ready: t.wait,
        ..UploadOptions::default()
    }
}

/// One file's transfer: an upload, or the resume of a session.
#[derive(Debug)]
pub struct Transfer<'a> {
    pub ctx: &'a Context,
    pub conn: &'a Connection,
    /// The file, as the user named it (or as the journal has it).
    pub path: &'a Path,
    /// The session, when this resumes one.
    pub resuming: Option<&'a str>,
}

impl Transfer<'_> {
    /// Runs the upload `source` describes (a new file or a resume) through `uploader`,
    /// with progress shown and Ctrl-C cancelling it, then prints the result or the failure
    /// with what to do next.
    pub async fn run(
        &self,
        uploader: &Uploader,
        source: UploadSource,
        options: UploadOptions,
    ) -> Result<UploadResult, Failure> {
        let (ctx, conn, path) = (self.ctx, self.conn, self.path);
        let label = path.display().to_string();
        let name = display_name(path);
        let progress = FileProgress::start(&ctx.out, &label, &name);
        let handle = uploader.start(&conn.client, source, options);
        let bar = tokio::spawn(progress.clone().follow(handle.progress()));
        // Ctrl-C cancels; the engine still reports what is stored before it ends, so the
        // result is awaited either way.
        let controls = handle.controls();
        let interrupt = ctx.cancel.clone();
        let on_interrupt = tokio::spawn(async move {
            interrupt.cancelled().await;
            controls.cancel();
        });
        let result = handle.result().await;
        on_interrupt.abort();
        let _ = bar.await;
        let e = match result {
            Ok(result) => {
                let rate = result.bytes_uploaded as f64 / result.transfer_seconds.max(1e-3);
                progress.succeed(&format!(
                    "done in {}, {}  chunks {}/{}",
                    format::duration(result.transfer_seconds),
                    format::rate(rate),
                    result.total_chunks,
                    result.total_chunks
                ));
                let sha256 = sandbox_sha256(ctx, conn, &result).await;
                print_result(ctx, &label, &name, &result, sha256.as_deref());
                return Ok(result);
            }
            Err(e) => e,
        };
        progress.stop(if e.is_cancelled() {
            "cancelled"
        } else {
            "failed"
        });
        Err(self.fail(&e, progress.upload_id()))
    }

    /// Prints why the transfer stopped and what to run next; `started` is the session the
    /// progress saw, if any.
    fn fail(&self, e: &UploadError, started: Option<String>) -> Failure {
        let advice = Advice::new(self.conn);
        let mut failure = Failure::upload(e);
        if let Some(id) = self.resuming {
            // A resume knows its session whatever went wrong, and scripts want its id.
            failure.upload_id = Some(id.to_owned());
            if let Some(message) = advice.explain(e, id, Some(self.path)) {
                failure.message = message;
            }
        } else if failure.upload_id.is_none() && resumable(e) {
            failure.upload_id = started;
        }
        let label = self.path.display().to_string();
        self.ctx.out.failure(&failure, Some(&label));
        if let (true, Some(id)) = (resumable(e), &failure.upload_id) {
            self.ctx.out.note(&advice.after_stop(id, self.path));
        }
        failure
    }
}

/// Whether a session left behind by `e` is worth resuming: the transfer stopped, but the
/// session, the file and the key are fine.
fn resumable(e: &UploadError) -> bool {
    matches!(
        e,
        UploadError::Cancelled { .. }
            | UploadError::Chunk { .. }
            | UploadError::RetryBudgetExhausted { .. }
            | UploadError::ChunksFailed { .. }
            | UploadError::Api(_)
    )
}

/// Prints a finished upload: a JSON `result` event, or a few lines for people.
fn print_result(ctx: &Context, label: &str, name: &str, r: &UploadResult, sha256: Option<&str>) {
    if ctx.out.is_json() {
        let mut v = serde_json::to_value(r).unwrap_or_else(|_| Value::Object(Default::default()));
        if let Value::Object(map) = &mut v {
            map.insert("event".into(), "result".into());
            map.insert("file".into(), label.into());
            if let Some(sha) = sha256 {
                map.insert("sandbox_sha256".into(), sha.into());
            }
        }
        ctx.out.event(&v);
        return;
    }
    let rate = format::rate(r.bytes_uploaded as f64 / r.transfer_seconds.max(1e-3));
    let took = format::duration(r.transfer_seconds);
    let mut head = if r.chunks_uploaded < r.total_chunks {
        // A resume: most of the file was already there.
        format!(
            "uploaded {name} ({}): sent the missing {} of {} chunks, {} in {took} ({rate})",
            format::bytes(r.total_bytes),
            r.chunks_uploaded,
            r.total_chunks,
            format::bytes(r.bytes_uploaded),
        )
    } else {
        format!(
            "uploaded {name}: {} in {took} ({rate}), {} chunks",
            format::bytes(r.total_bytes),
            r.total_chunks,
        )
    };
    if r.retries > 0 {
        head.push_str(&format!(", {} retries", r.retries));
    }
    if r.urls_refreshed > 0 {
        head.push_str(&format!(", {} URLs refreshed", r.urls_refreshed));
    }
    let mut lines = vec![head, format!("  asset id:  {}", r.asset_id)];
    if let Some(url) = &r.asset_url {
        lines.push(format!("  asset url: {url}"));
    }
    lines.push(format!("  upload id: {}", r.upload_id));
    if let Some(asset) = &r.asset {
        lines.push(format!("  asset status: {}", asset.status));
    }
    if let Some(sha) = sha256 {
        lines.push(format!("  sha256 (sandbox): {sha}"));
    }
    ctx.out.line(&lines.join("\n"));
}

/// In the embedded sandbox, the SHA-256 of the bytes the server assembled, so the user can
/// compare it with `sha256sum FILE`. Waits briefly for the sandbox to hash the upload.
async fn sandbox_sha256(ctx: &Context, conn: &Connection, r: &UploadResult) -> Option<String> {
    if !conn.is_embedded_sandbox() {
        return None;
    }
    let read = |extra: &serde_json::Map<String, Value>| {
        extra
            .get("sha256")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(sha) = r.asset.as_ref().and_then(|a| read(&a.extra)) {
        return Some(sha);
    }
    let deadline = Instant::now() + SHA256_WAIT;
    let mut nap = Duration::from_millis(50);
    loop {
        match conn.client.retrieve_asset(&r.asset_id).await {
            Ok(asset) => {
                if let Some(sha) = read(&asset.extra) {
                    return Some(sha);
                }
                if asset.status == AssetStatus::Failed {
                    ctx.out
                        .note("the sandbox could not assemble the asset, so it has no sha256");
                    return None;
                }
            }
            Err(e) if !e.is_retryable() && !e.is_not_found() => {
                ctx.out.note(&format!(
                    "cannot read the asset's sha256 from the sandbox: {e}"
                ));
                return None;
            }
            Err(_) => {}
        }
        if Instant::now() >= deadline || ctx.cancel.is_cancelled() {
            ctx.out
                .note("the sandbox did not hash the asset in time, so there is no sha256 to show");
            return None;
        }
        tokio::select! {
            () = ctx.cancel.cancelled() => {}
            () = tokio::time::sleep(nap) => {}
        }
        nap = (nap * 2).min(Duration::from_millis(500));
    }
}
