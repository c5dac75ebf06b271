//! `tlup upload FILE...`: every file started at once on one uploader, sharing the link.
//!
//! Every argument is checked first, so a typo in the third name is reported before the
//! first file spends minutes uploading. Then all the files are started, in order, on the
//! one [`Uploader`]: the engine admits each as soon as the files before it leave the link
//! slots free (at most `--max-files` at once), and earlier files keep priority for slots,
//! so the first file still finishes soonest while short files behind it keep the link full.
//! How many chunks are in flight over all files is `--workers` (automatic by default), and
//! `--limit-rate` caps their bandwidth together. A file that cannot be uploaded does not
//! stop the others; the summary names it and the exit code reports it. Ctrl-C cancels every
//! file: those sending chunks stop and stay resumable, those still waiting for their turn
//! are skipped.
//!
//! The computer is kept from idle sleep until the last file is through, unless
//! `--no-keep-awake` (see [`transfer::keep_awake`]).
//!
//! Each session and its stored chunks are recorded in the upload journal as they happen, so
//! whatever stops tlup (Ctrl-C, a kill, a crash, a reboot), `tlup resume ID` sends only the
//! rest. Not with the embedded sandbox: its sessions end with tlup.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::Poll;

use serde_json::{Value, json};
use tl_upload::{UploadOptions, UploadSource, Uploader};

use super::Context;
use super::transfer::{self, Ending, Transfer};
use crate::args::{UploadArgs, metadata_object};
use crate::connect::Connection;
use crate::failure::{Failure, Status};
use crate::files::{self, display_name};
use crate::format;
use crate::progress::NAME_WIDTH;

/// What became of one file.
#[derive(Debug)]
enum Outcome {
    /// Done; the asset id.
    Uploaded(String),
    Failed(Failure),
    /// Not started because Ctrl-C stopped the queue before its turn came.
    Skipped,
}

/// A file of the queue, and what became of it (`None`: still to upload).
type Entry = (PathBuf, Option<Outcome>);

/// Runs the queue and returns the worst status of its files.
pub async fn run(ctx: &Context, args: UploadArgs) -> Status {
    if args.files.len() > 1 && args.session.filename.is_some() {
        let failure = Failure::usage("--filename can only be given with a single FILE");
        ctx.out.failure(&failure, None);
        return failure.status;
    }
    let mut outcomes = check_all(ctx, &args.files);
    if outcomes.iter().any(|(_, o)| o.is_none()) {
        let opened = ctx.connect().and_then(|conn| {
            let uploader = transfer::uploader(&conn, &args.transfer)?;
            uploader.set_max_files_in_flight(usize::from(args.max_files));
            Ok((conn, uploader))
        });
        let (conn, uploader) = match opened {
            Ok(opened) => opened,
            Err(failure) => {
                ctx.out.failure(&failure, None);
                return worst(&outcomes).max(failure.status);
            }
        };
        if uploader.journal().is_none() && !conn.is_embedded_sandbox() {
            ctx.out.note(
                "no data directory for the upload journal: an interrupted upload can only be resumed with `tlup resume ID FILE` (pass --journal PATH to keep a journal)",
            );
        }
        // Held until every file is through; dropped before the summary.
        let awake = transfer::keep_awake(ctx, &args.transfer).await;
        upload_all(ctx, &conn, &uploader, &args, &mut outcomes).await;
        drop(awake);
    }
    let outcomes: Vec<(PathBuf, Outcome)> = outcomes
        .into_iter()
        .map(|(p, o)| (p, o.unwrap_or(Outcome::Skipped)))
        .collect();
    if outcomes.len() > 1 {
        print_summary(ctx, &outcomes);
    }
    outcomes
        .iter()
        .map(|(_, o)| match o {
            Outcome::Uploaded(_) => Status::Done,
            Outcome::Failed(f) => f.status,
            Outcome::Skipped => Status::Failed,
        })
        .max()
        .unwrap_or(Status::Done)
}

/// The worst status among the files already refused.
fn worst(queue: &[Entry]) -> Status {
    queue
        .iter()
        .filter_map(|(_, o)| match o {
            Some(Outcome::Failed(f)) => Some(f.status),
            _ => None,
        })
        .max()
        .unwrap_or(Status::Done)
}

/// Checks every file argument and reports the bad ones at once.
fn check_all(ctx: &Context, paths: &[PathBuf]) -> Vec<Entry> {
    paths
        .iter()
        .map(|path| {
            let refused = files::check(path).err().map(|e| {
                let failure = Failure::upload(&e);
                ctx.out.failure(&failure, Some(&path.display().to_string()));
                Outcome::Failed(failure)
            });
            (path.clone(), refused)
        })
        .collect()
}

/// Starts every file still to do on `uploader`, in order, then waits for all of them; a
/// Ctrl-C before the start skips them all.
async fn upload_all(
    ctx: &Context,
    conn: &Connection,
    uploader: &Uploader,
    args: &UploadArgs,
    queue: &mut [Entry],
) {
    if ctx.cancel.is_cancelled() {
        for (_, outcome) in queue.iter_mut().filter(|(_, o)| o.is_none()) {
            *outcome = Some(Outcome::Skipped);
        }
        return;
    }
    let total = queue.len();
    let name_width = queue
        .iter()
        .filter(|(_, o)| o.is_none())
        .map(|(p, _)| {
            format::short_name(&display_name(p), NAME_WIDTH)
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0);
    let options = UploadOptions {
        filename: args.session.filename.clone(),
        file_type: args.session.file_type.clone(),
        enable_hls: args.session.hls.then_some(true),
        enable_thumbnail: args.session.thumbnail.then_some(true),
        user_metadata: metadata_object(&args.session.metadata),
        ..transfer::options(&args.transfer)
    };
    // Started one by one, in order: the engine's queue keeps that order.
    let started: Vec<_> = queue
        .iter()
        .enumerate()
        .filter(|(_, (_, outcome))| outcome.is_none())
        .map(|(i, (path, _))| {
            let transfer = Transfer {
                ctx,
                conn,
                path,
                resuming: None,
            };
            let header =
                (total > 1).then(|| format!("file {} of {total}: {}", i + 1, display_name(path)));
            let progress = transfer.progress(header, name_width);
            let source = UploadSource::NewFile(path.clone());
            (
                i,
                transfer.start(uploader, source, options.clone(), progress),
            )
        })
        .collect();
    let (indices, running): (Vec<usize>, Vec<_>) = started.into_iter().unzip();
    let endings = join_all(running.into_iter().map(|s| s.finish()).collect()).await;
    for (i, ending) in indices.into_iter().zip(endings) {
        queue[i].1 = Some(match ending {
            Ending::Uploaded(r) => Outcome::Uploaded(r.asset_id),
            Ending::Failed(f) => Outcome::Failed(f),
            Ending::Skipped => Outcome::Skipped,
        });
    }
}

/// Runs `futures` together on this task and returns their outputs in their order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut running: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, output) in running.iter_mut().zip(outputs.iter_mut()) {
            let Some(future) = slot else { continue };
            match future.as_mut().poll(cx) {
                Poll::Ready(value) => {
                    *output = Some(value);
                    *slot = None;
                }
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    // Every future ran to its end, so every output is there.
    outputs.into_iter().flatten().collect()
}

/// The end of a multi-file run: how many made it, and what happened to the others.
fn print_summary(ctx: &Context, outcomes: &[(PathBuf, Outcome)]) {
    let uploaded = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Uploaded(_)))
        .count();
    let failed = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .count();
    let skipped = outcomes.len() - uploaded - failed;
    if ctx.out.is_json() {
        let files: Vec<Value> = outcomes
            .iter()
            .map(|(path, o)| {
                let file = path.display().to_string();
                match o {
                    Outcome::Uploaded(asset_id) => {
                        json!({"file": file, "status": "uploaded", "asset_id": asset_id})
                    }
                    Outcome::Failed(f) => json!({
                        "file": file, "status": "failed", "message": f.message,
                        "exit_code": f.status.code(),
                    }),
                    Outcome::Skipped => json!({"file": file, "status": "skipped"}),
                }
            })
            .collect();
        ctx.out.event(&json!({
            "event": "summary", "uploaded": uploaded, "failed": failed, "skipped": skipped,
            "files": files,
        }));
        return;
    }
    let mut text = format!("summary: {uploaded} of {} files uploaded", outcomes.len());
    if failed > 0 {
        text.push_str(&format!(", {failed} failed"));
    }
    if skipped > 0 {
        text.push_str(&format!(", {skipped} skipped"));
    }
    let width = outcomes
        .iter()
        .map(|(p, _)| p.display().to_string().chars().count())
        .max();
    for (path, o) in outcomes {
        let (word, detail) = match o {
            Outcome::Uploaded(asset_id) => ("ok", format!("asset {asset_id}")),
            Outcome::Failed(f) => ("FAILED", f.message.clone()),
            Outcome::Skipped => (
                "skipped",
                "not started (interrupted before its turn)".to_owned(),
            ),
        };
        let path = path.display().to_string();
        let width = width.unwrap_or(0);
        text.push_str(&format!("\n  {word:<8} {path:<width$}  {detail}"));
    }
    ctx.out.line(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn join_all_runs_the_futures_together_and_keeps_their_order() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        // The first waits for the second: run one after another, they would never end.
        let first: Pin<Box<dyn Future<Output = u32>>> =
            Box::pin(async move { rx.await.unwrap_or(0) + 1 });
        let second: Pin<Box<dyn Future<Output = u32>>> = Box::pin(async move {
            tokio::task::yield_now().await;
            let _ = tx.send(41);
            7
        });
        assert_eq!(join_all(vec![first, second]).await, vec![42, 7]);
        assert!(
            join_all(Vec::<std::future::Ready<()>>::new())
                .await
                .is_empty()
        );
    }
}
