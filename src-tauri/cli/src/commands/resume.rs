//! `tlup resume UPLOAD_ID FILE`: finishes a session that an interrupted upload left behind.
//!
//! The engine asks the server which chunks it already has and sends only the others. A later
//! journal will let `tlup resume` find the session and the file on its own; until then both
//! are given.

use super::{Context, transfer};
use crate::args::ResumeArgs;
use crate::failure::{Failure, Status};
use crate::files;

/// Resumes the session and returns the outcome.
pub async fn run(ctx: &Context, args: ResumeArgs) -> Status {
    if let Err(e) = files::check(&args.file) {
        let failure = Failure::upload(&e);
        ctx.out
            .failure(&failure, Some(&args.file.display().to_string()));
        return failure.status;
    }
    let conn = match ctx.connect() {
        Ok(conn) => conn,
        Err(failure) => {
            ctx.out.failure(&failure, None);
            return failure.status;
        }
    };
    let (client, id, path) = (&conn.client, args.upload_id.as_str(), args.file.as_path());
    let options = transfer::options(&args.transfer);
    match transfer::run(ctx, &conn, path, options, move |o| {
        client.resume_upload(id, path, o)
    })
    .await
    {
        Ok(_) => Status::Done,
        Err(failure) => failure.status,
    }
}
