//! `tlup forget UPLOAD_ID`: gives up an unfinished upload, so `tlup resume` no longer offers
//! it.
//!
//! Only the journal changes (the session is marked abandoned and kept for the record): the
//! API has no way to abort a session, so the server keeps it, and the chunks it stored, until
//! it expires.

use serde_json::json;
use time::OffsetDateTime;
use tl_upload::{JournalError, SessionState};

use super::Context;
use crate::args::ForgetArgs;
use crate::failure::Failure;
use crate::{format, journal};

/// Marks the session abandoned and says what that means for the server.
pub fn run(ctx: &Context, args: &ForgetArgs) -> Result<(), Failure> {
    let id = args.upload_id.as_str();
    let (path, journal) = journal::required(&ctx.connection)?;
    let journal_error = |e: JournalError| Failure::failed(e.to_string());
    let Some(record) = journal.session(id).map_err(journal_error)? else {
        return Err(Failure::failed(format!(
            "there is no session {id} in the journal at {}",
            path.display()
        )));
    };
    match record.state {
        SessionState::Completed => {
            ctx.out.note(&format!(
                "session {id} is complete; there is nothing to forget"
            ));
        }
        SessionState::Abandoned => {
            ctx.out.note(&format!("session {id} was already forgotten"));
        }
        SessionState::Active => {
            // Abandoning a session while another process uploads it would only confuse both.
            let _lock = journal.lock(id).map_err(|e| match e {
                JournalError::Locked { .. } => Failure::failed(format!(
                    "session {id} is being uploaded by another tlup (or the TL Uploader app) right now; stop it first"
                )),
                e => journal_error(e),
            })?;
            journal
                .set_state(id, SessionState::Abandoned)
                .map_err(journal_error)?;
        }
    }
    if ctx.out.is_json() {
        ctx.out.event(&json!({
            "upload_id": id,
            "state": if record.state == SessionState::Completed { "completed" } else { "abandoned" },
            "file_path": record.file_path,
            "expires_at": record.expires_at,
        }));
    } else if record.state == SessionState::Active {
        let expires = record
            .expires_at
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
        ctx.out.line(&format!(
            "forgot session {id} ({}): `tlup resume` no longer offers it.\n{}",
            record.file_path.display(),
            on_the_server(expires, OffsetDateTime::now_utc())
        ));
    }
    Ok(())
}

/// What becomes of a forgotten session on the server, which only expiry ends.
fn on_the_server(expires: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    match expires {
        Some(at) if at <= now => format!(
            "The server's session already expired ({}).",
            format::relative(Some(at), now)
        ),
        Some(at) => format!(
            "The server keeps the session until it expires ({}): the API has no way to abort one.",
            format::relative(Some(at), now)
        ),
        None => "The server keeps the session until it expires: the API has no way to abort one."
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_says_how_long_the_server_keeps_the_session() {
        let now = OffsetDateTime::from_unix_timestamp(1_778_051_289).unwrap();
        let later = now + time::Duration::hours(2);
        assert!(on_the_server(Some(later), now).contains("until it expires (in 2h 00m)"));
        assert!(on_the_server(Some(now), now).contains("already expired"));
        assert!(on_the_server(None, now).contains("no way to abort"));
    }
}
