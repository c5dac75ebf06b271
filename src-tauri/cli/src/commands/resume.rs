//! `tlup resume [UPLOAD_ID [FILE]]`: finishes a session that an interrupted upload left
//! behind.
//!
//! Without arguments it lists what can be resumed (see `resumable`). With an id, the journal
//! says which file the session belongs to and which chunks were stored but never reported;
//! only the rest is sent. With a file too, a journalled session is pointed at it (the file
//! moved); a session the journal does not know (started with another journal, or on another
//! computer) is resumed from the server's record alone and journalled from then on.

use std::path::PathBuf;

use tl_upload::{UploadError, Uploader};

use super::transfer::{self, Transfer};
use super::{Context, resumable};
use crate::advice::Advice;
use crate::args::ResumeArgs;
use crate::connect::Connection;
use crate::failure::{Failure, Status};
use crate::files;

/// Lists the resumable sessions, or resumes one, and returns the outcome.
pub async fn run(ctx: &Context, args: ResumeArgs) -> Status {
    let Some(id) = args.upload_id.clone() else {
        let result = resumable::run(ctx).await;
        return ctx.conclude(result);
    };
    if let Some(file) = &args.file
        && let Err(e) = files::check(file)
    {
        let failure = Failure::upload(&e);
        ctx.out.failure(&failure, Some(&file.display().to_string()));
        return failure.status;
    }
    match resume(ctx, &args, &id).await {
        Ok(()) => Status::Done,
        Err(Stop::Reported(status)) => status,
        Err(Stop::Before(failure)) => ctx.conclude(Err(failure)),
    }
}

/// Why a resume stopped: before the transfer (not printed yet), or in it (printed).
enum Stop {
    Before(Failure),
    Reported(Status),
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Self::Before(failure)
    }
}

/// Resumes session `id` by the engine's rule: from the journal when it knows the session,
/// else from the server with the file the user named.
async fn resume(ctx: &Context, args: &ResumeArgs, id: &str) -> Result<(), Stop> {
    if ctx.connection.uses_embedded_sandbox() {
        return Err(no_sandbox_sessions().into());
    }
    let conn = ctx.connect()?;
    let uploader = transfer::uploader(&conn, &args.transfer)?;
    let found = ctx
        .interruptible(async {
            Ok(uploader
                .source_for(&conn.client, id, args.file.clone())
                .await)
        })
        .await?;
    let source = match found {
        Ok(source) => source,
        Err(e) => return Err(refused(&conn, &uploader, id, &e).into()),
    };
    let path = source.path().map(PathBuf::from).unwrap_or_default();
    let transfer = Transfer {
        ctx,
        conn: &conn,
        path: &path,
        resuming: Some(id),
    };
    let awake = transfer::keep_awake(ctx, &args.transfer).await;
    let outcome = transfer
        .run(&uploader, source, transfer::options(&args.transfer))
        .await;
    drop(awake);
    outcome
        .map(drop)
        .map_err(|failure| Stop::Reported(failure.status))
}

/// The failure for a session that cannot be resumed as asked, with what to run instead.
fn refused(conn: &Connection, uploader: &Uploader, id: &str, e: &UploadError) -> Failure {
    let advice = Advice::new(conn);
    let client = &conn.client;
    let place = uploader.journal().map_or_else(
        || "no journal is kept here".to_owned(),
        |j| format!("the journal at {}", j.path().display()),
    );
    let mut failure = match e {
        UploadError::NeedsFile { .. } => Failure::failed(format!(
            "session {id} is on the server, but {place} does not know its file; name it: `{}`",
            advice.resume_with(id, "FILE")
        )),
        UploadError::SessionNotFound { .. } => Failure::failed(format!(
            "there is no session {id} in {place} nor among the incomplete uploads on {}; `{}` lists what can be resumed",
            client.host(),
            advice.list()
        )),
        e => Failure::upload(e),
    };
    failure.upload_id = Some(id.to_owned());
    failure
}

/// Why `resume` does nothing with the embedded sandbox.
pub(super) fn no_sandbox_sessions() -> Failure {
    Failure::usage(
        "the local sandbox keeps no sessions once tlup exits, so there is nothing to resume there; to resume an upload to a server, set TWELVELABS_API_KEY or pass --api-key (and --base-url for another server)",
    )
}
