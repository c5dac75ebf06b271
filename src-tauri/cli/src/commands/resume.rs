//! `tlup resume [UPLOAD_ID [FILE]]`: finishes a session that an interrupted upload left
//! behind.
//!
//! Without arguments it lists what can be resumed (see `resumable`). With an id, the journal
//! says which file the session belongs to and which chunks were stored but never reported;
//! only the rest is sent. With a file too, a journalled session is pointed at it (the file
//! moved); a session the journal does not know (started with another journal, or on another
//! computer) is resumed from the server's record alone and journalled from then on.

use std::path::PathBuf;

use tl_upload::{Journal, SessionState, UploadOptions};

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

/// Resumes session `id`: from the journal when it knows the session, else from the server
/// with the file the user named.
async fn resume(ctx: &Context, args: &ResumeArgs, id: &str) -> Result<(), Stop> {
    if ctx.connection.uses_embedded_sandbox() {
        return Err(no_sandbox_sessions().into());
    }
    let conn = ctx.connect()?;
    let journal = conn.journal()?;
    let record = match &journal {
        Some(journal) => journal
            .session(id)
            .map_err(|e| Failure::failed(e.to_string()))?,
        None => None,
    };
    let (path, from_journal): (PathBuf, bool) = match (record, &args.file) {
        (Some(record), _) if record.state == SessionState::Completed => {
            let asset = record
                .asset_id
                .map(|a| format!(" (asset {a})"))
                .unwrap_or_default();
            return Err(Failure::failed(format!(
                "session {id} is already complete{asset}; there is nothing to resume"
            ))
            .into());
        }
        (Some(record), file) => (file.clone().unwrap_or(record.file_path), true),
        (None, Some(file)) => (file.clone(), false),
        (None, None) => return Err(unknown(ctx, &conn, journal.as_ref(), id).await.into()),
    };
    let options = UploadOptions {
        journal,
        ..transfer::options(&args.transfer)
    };
    let client = &conn.client;
    let transfer = Transfer {
        ctx,
        conn: &conn,
        path: &path,
        resuming: Some(id),
    };
    let result = if from_journal {
        let new_path = args.file.as_deref();
        transfer
            .run(options, move |o| {
                client.resume_from_journal(id, new_path, o)
            })
            .await
    } else {
        let path = path.as_path();
        transfer
            .run(options, move |o| client.resume_upload(id, path, o))
            .await
    };
    result
        .map(drop)
        .map_err(|failure| Stop::Reported(failure.status))
}

/// The failure for a session the journal does not know and no file was named for: whether
/// the server has it (then the file is all that is missing) or nobody does.
async fn unknown(ctx: &Context, conn: &Connection, journal: Option<&Journal>, id: &str) -> Failure {
    let advice = Advice::new(conn);
    let client = &conn.client;
    let listing = ctx
        .interruptible(async {
            client
                .list_incomplete_uploads(50)
                .collect()
                .await
                .map_err(|e| Failure::api(client, &e, || "the listing was not found".to_owned()))
        })
        .await;
    let place = journal.map_or_else(
        || "no journal is kept here".to_owned(),
        |j| format!("the journal at {}", j.path().display()),
    );
    let mut failure = match listing {
        Err(failure) => return failure,
        Ok(sessions) if sessions.iter().any(|s| s.upload_id == id) => Failure::failed(format!(
            "session {id} is on the server, but {place} does not know its file; name it: `{}`",
            advice.resume_with(id, "FILE")
        )),
        Ok(_) => Failure::failed(format!(
            "there is no session {id} in {place} nor among the incomplete uploads on {}; `{}` lists what can be resumed",
            client.host(),
            advice.list()
        )),
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
