//! One file's transfer, shared by `upload` and `resume`: progress while it runs, then the
//! result, or the failure with what to do next.
//!
//! A transfer is [started](Transfer::start) and later [finished](Started::finish), so that
//! `upload` can start every file on the one uploader, in order, before it waits for any.
//! The engine options come from the transfer flags here, and so do the uploader's link
//! settings ([`uploader`]); the caller adds what a new session asks for.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tl_upload::awake::KeepAwake;
use tl_upload::wire::AssetStatus;
use tl_upload::{UploadError, UploadHandle, UploadOptions, UploadResult, UploadSource, Uploader};
use tokio::task::JoinHandle;

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

/// What the system shows as the reason the computer stays awake.
const AWAKE_REASON: &str = "Uploading video files";

/// Asks the system to keep the computer from idle sleep while the transfers run (the guard
/// returned holds it until dropped), unless `--no-keep-awake`. A system that cannot be asked
/// costs nothing but the request: the upload goes on, and `-v` says why.
pub async fn keep_awake(ctx: &Context, t: &TransferArgs) -> Option<KeepAwake> {
    if t.no_keep_awake {
        ctx.detail("not keeping the computer awake (--no-keep-awake): it may sleep when idle");
        return None;
    }
    // The request may wait on D-Bus for a moment; not on the runtime's workers.
    let asked = tokio::task::spawn_blocking(|| KeepAwake::acquire("tlup", AWAKE_REASON)).await;
    match asked {
        Ok(Ok(guard)) => {
            ctx.detail(
                "keeping the computer awake until the upload ends (--no-keep-awake lets it sleep)",
            );
            Some(guard)
        }
        Ok(Err(why)) => {
            ctx.detail(&format!(
                "cannot keep the computer awake: {why}; uploading anyway, but it may sleep when idle"
            ));
            None
        }
        Err(e) => {
            ctx.detail(&format!(
                "cannot keep the computer awake: the request stopped ({e}); uploading anyway"
            ));
            None
        }
    }
}

/// The engine options that `--batch-size`, `--retry-delay` and friends describe. How many
/// chunks are in flight is the uploader's to decide (see [`uploader`]), so one upload's
/// share keeps the engine's default.
pub fn options(t: &TransferArgs) -> UploadOptions {
    UploadOptions {
        batch_size: usize::from(t.batch_size),
        max_retries: t.max_retries,
        retry_delay: t.retry_delay,
        stall_timeout: t.stall_timeout,
        confirm_timeout: t.confirm_timeout,
        offline_limit: t.offline_limit,
        probe_interval: t.probe_interval,
        wait_for_ready: t.wait,
        ..UploadOptions::default()
    }
}

/// The connection's uploader with the link settings of the flags: `--workers` (the
/// parallelism over every upload of this run) and `--limit-rate`.
///
/// # Errors
///
/// As [`Connection::uploader`]; a usage failure for a parallelism the engine refuses.
pub fn uploader(conn: &Connection, t: &TransferArgs) -> Result<Uploader, Failure> {
    let uploader = conn.uploader()?;
    uploader
        .set_parallelism(t.workers)
        .map_err(|e| Failure::usage(format!("--workers: {e}")))?;
    uploader.set_rate_limit(t.limit_rate);
    Ok(uploader)
}

/// One file's transfer: an upload, or the resume of a session.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    pub ctx: &'a Context,
    pub conn: &'a Connection,
    /// The file, as the user named it (or as the journal has it).
    pub path: &'a Path,
    /// The session, when this resumes one.
    pub resuming: Option<&'a str>,
}

/// How a transfer ended.
#[derive(Debug)]
pub enum Ending {
    /// Uploaded; the result is printed.
    Uploaded(Box<UploadResult>),
    /// Stopped; the failure and what to do next are printed.
    Failed(Failure),
    /// Cancelled (Ctrl-C) while it still waited for its turn: nothing was sent and nothing
    /// printed; the summary says so. Only new uploads end this way.
    Skipped,
}

/// A transfer on its way: the progress display follows it, and Ctrl-C cancels it.
#[derive(Debug)]
pub struct Started<'a> {
    transfer: Transfer<'a>,
    progress: Arc<FileProgress>,
    handle: UploadHandle,
    bar: JoinHandle<()>,
    on_interrupt: JoinHandle<()>,
}

impl<'a> Transfer<'a> {
    /// Starts the upload `source` describes (a new file or a resume) on `uploader` and
    /// returns at once: the engine admits it when the uploads started before it leave the
    /// link room. `progress` shows it (see [`FileProgress::start`]).
    pub fn start(
        self,
        uploader: &Uploader,
        source: UploadSource,
        options: UploadOptions,
        progress: Arc<FileProgress>,
    ) -> Started<'a> {
        let handle = uploader.start(&self.conn.client, source, options);
        let bar = tokio::spawn(progress.clone().follow(handle.progress()));
        // Ctrl-C cancels; the engine still reports what is stored before it ends, so the
        // result is awaited either way.
        let controls = handle.controls();
        let interrupt = self.ctx.cancel.clone();
        let on_interrupt = tokio::spawn(async move {
            interrupt.cancelled().await;
            controls.cancel();
        });
        Started {
            transfer: self,
            progress,
            handle,
            bar,
            on_interrupt,
        }
    }

    /// Starts the transfer with a progress display of its own and waits for its end: a
    /// single file's [`start`](Self::start) and [`finish`](Started::finish).
    pub async fn run(
        self,
        uploader: &Uploader,
        source: UploadSource,
        options: UploadOptions,
    ) -> Result<UploadResult, Failure> {
        let progress = self.progress(None, 0);
        match self
            .start(uploader, source, options, progress)
            .finish()
            .await
        {
            Ending::Uploaded(result) => Ok(*result),
            Ending::Failed(failure) => Err(failure),
            // Only new uploads skip; a resume's cancellation is a failure with advice.
            Ending::Skipped => Err(Failure::failed("interrupted before the upload began")),
        }
    }

    /// The progress display of this transfer: `header` is printed once its turn comes,
    /// `name_width` pads the bar's file name so the bars of several files line up.
    pub fn progress(&self, header: Option<String>, name_width: usize) -> Arc<FileProgress> {
        let label = self.path.display().to_string();
        let name = display_name(self.path);
        FileProgress::start(&self.ctx.out, &label, &name, header, name_width)
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

impl Started<'_> {
    /// Waits for the transfer to end, then prints the result or the failure with what to do
    /// next.
    pub async fn finish(self) -> Ending {
        let Self {
            transfer,
            progress,
            handle,
            bar,
            on_interrupt,
        } = self;
        let result = handle.result().await;
        on_interrupt.abort();
        let _ = bar.await;
        let (ctx, conn, path) = (transfer.ctx, transfer.conn, transfer.path);
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
                let label = path.display().to_string();
                let shown = Shown {
                    label: &label,
                    name: &display_name(path),
                    sha256: sha256.as_deref(),
                };
                print_result(ctx, &shown, &result);
                return Ending::Uploaded(Box::new(result));
            }
            Err(e) => e,
        };
        if e.is_cancelled() && transfer.resuming.is_none() && progress.still_queued() {
            progress.stop("skipped (interrupted)");
            return Ending::Skipped;
        }
        progress.stop(if e.is_cancelled() {
            "cancelled"
        } else {
            "failed"
        });
        Ending::Failed(transfer.fail(&e, progress.upload_id()))
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
            | UploadError::NetworkLost { .. }
            | UploadError::NotConfirmed { .. }
            | UploadError::Api(_)
    )
}

/// What a finished upload's report shows beside the engine's result.
#[derive(Debug)]
struct Shown<'a> {
    /// The file as the user named it.
    label: &'a str,
    /// Its name.
    name: &'a str,
    /// The sandbox's hash of what it assembled, when it is the embedded sandbox.
    sha256: Option<&'a str>,
}

/// Prints a finished upload: a JSON `result` event, or a few lines for people.
fn print_result(ctx: &Context, shown: &Shown<'_>, r: &UploadResult) {
    if ctx.out.is_json() {
        ctx.out.event(&result_event(shown, r));
        return;
    }
    ctx.out.line(&result_lines(shown, r));
}

/// The `{"event":"result",…}` line: the engine's result (`damaged_chunks` among its
/// counts), the file, and the sandbox's hash.
fn result_event(shown: &Shown<'_>, r: &UploadResult) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut v {
        map.insert("event".into(), "result".into());
        map.insert("file".into(), shown.label.into());
        if let Some(sha) = shown.sha256 {
            map.insert("sandbox_sha256".into(), sha.into());
        }
    }
    v
}

/// A finished upload for people: the summary line, then the ids.
fn result_lines(shown: &Shown<'_>, r: &UploadResult) -> String {
    let name = shown.name;
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
    if r.copies_raced > 0 {
        head.push_str(&format!(", {} slow chunks raced", r.copies_raced));
    }
    match r.damaged_chunks {
        0 => {}
        1 => head.push_str(", 1 chunk arrived damaged and was sent again"),
        n => head.push_str(&format!(", {n} chunks arrived damaged and were sent again")),
    }
    let mut lines = vec![head, format!("  asset id:  {}", r.asset_id)];
    if let Some(url) = &r.asset_url {
        lines.push(format!("  asset url: {url}"));
    }
    lines.push(format!("  upload id: {}", r.upload_id));
    if let Some(asset) = &r.asset {
        lines.push(format!("  asset status: {}", asset.status));
    }
    if let Some(sha) = shown.sha256 {
        lines.push(format!("  sha256 (sandbox): {sha}"));
    }
    lines.join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> UploadResult {
        // From JSON, so fields the engine adds later (with their defaults) do not matter here.
        serde_json::from_value(serde_json::json!({
            "upload_id": "u1", "asset_id": "a1", "asset_url": null, "asset": null,
            "total_bytes": 2048, "total_chunks": 4, "chunks_uploaded": 4,
            "bytes_uploaded": 2048, "retries": 0, "urls_refreshed": 0,
            "transfer_seconds": 2.0, "elapsed_seconds": 2.5,
        }))
        .unwrap()
    }

    fn shown() -> Shown<'static> {
        Shown {
            label: "v/clip.mp4",
            name: "clip.mp4",
            sha256: None,
        }
    }

    fn damaged(n: u64) -> UploadResult {
        UploadResult {
            damaged_chunks: n,
            ..result()
        }
    }

    #[test]
    fn damaged_chunks_are_told_in_the_summary_line_only_when_there_were_some() {
        let clean = result_lines(&shown(), &damaged(0));
        assert!(!clean.contains("damaged"), "{clean}");
        let two = result_lines(&shown(), &damaged(2));
        let head = two.lines().next().unwrap_or_default();
        assert!(
            head.starts_with("uploaded clip.mp4: ")
                && head.ends_with(", 2 chunks arrived damaged and were sent again"),
            "{head}"
        );
        let one = result_lines(&shown(), &damaged(1));
        assert!(
            one.contains(", 1 chunk arrived damaged and was sent again"),
            "{one}"
        );
    }

    #[test]
    fn the_result_event_carries_the_damaged_chunks() {
        let v = result_event(&shown(), &damaged(3));
        assert_eq!(v["event"], "result");
        assert_eq!(v["file"], "v/clip.mp4");
        assert_eq!(v["damaged_chunks"], 3);
        assert_eq!(v["asset_id"], "a1");
        assert!(v.get("sandbox_sha256").is_none());
    }
}
