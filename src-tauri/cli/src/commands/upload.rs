//! `tlup upload FILE...`: a queue of files sent one after another.
//!
//! Every argument is checked first, so a typo in the third name is reported before the
//! first file spends minutes uploading. A file that cannot be uploaded does not stop the
//! others; the summary names it and the exit code reports it. One at a time, because each
//! upload already keeps the link busy with parallel chunks, and a queue finishes the first
//! file soonest.
//!
//! Each session and its stored chunks are recorded in the upload journal as they happen, so
//! whatever stops tlup (Ctrl-C, a kill, a crash, a reboot), `tlup resume ID` sends only the
//! rest. Not with the embedded sandbox: its sessions end with tlup.

use std::path::PathBuf;

use serde_json::{Value, json};
use tl_upload::{UploadOptions, UploadSource, Uploader};

use super::Context;
use super::transfer::{self, Transfer};
use crate::args::{UploadArgs, metadata_object};
use crate::connect::Connection;
use crate::failure::{Failure, Status};
use crate::files::{self, display_name};

/// What became of one file.
#[derive(Debug)]
enum Outcome {
    /// Done; the asset id.
    Uploaded(String),
    Failed(Failure),
    /// Not started because Ctrl-C stopped the queue.
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
            let uploader = conn.uploader()?;
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
        upload_all(ctx, &conn, &uploader, &args, &mut outcomes).await;
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

/// Uploads the files still to do, one after another, until Ctrl-C.
async fn upload_all(
    ctx: &Context,
    conn: &Connection,
    uploader: &Uploader,
    args: &UploadArgs,
    queue: &mut [Entry],
) {
    let total = queue.len();
    for (i, (path, outcome)) in queue.iter_mut().enumerate() {
        if outcome.is_some() {
            continue;
        }
        if ctx.cancel.is_cancelled() {
            *outcome = Some(Outcome::Skipped);
            continue;
        }
        if total > 1 {
            ctx.out.note(&format!(
                "file {} of {total}: {}",
                i + 1,
                display_name(path)
            ));
        }
        let options = UploadOptions {
            filename: args.session.filename.clone(),
            file_type: args.session.file_type.clone(),
            enable_hls: args.session.hls.then_some(true),
            enable_thumbnail: args.session.thumbnail.then_some(true),
            user_metadata: metadata_object(&args.session.metadata),
            ..transfer::options(&args.transfer)
        };
        let transfer = Transfer {
            ctx,
            conn,
            path,
            resuming: None,
        };
        let source = UploadSource::NewFile(path.clone());
        let result = transfer.run(uploader, source, options).await;
        *outcome = Some(match result {
            Ok(r) => Outcome::Uploaded(r.asset_id),
            Err(f) => Outcome::Failed(f),
        });
    }
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
            Outcome::Skipped => ("skipped", "not started (interrupted)".to_owned()),
        };
        let path = path.display().to_string();
        let width = width.unwrap_or(0);
        text.push_str(&format!("\n  {word:<8} {path:<width$}  {detail}"));
    }
    ctx.out.line(&text);
}
