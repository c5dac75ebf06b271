//! `tlup forget UPLOAD_ID`: gives up an unfinished upload, so `tlup resume` no longer offers
//! it.
//!
//! The engine's `forget` does it, by the same rule as the app: only the journal changes
//! (the session is marked abandoned and kept for the record; one only the server knows gets
//! a record that says so): the API has no way to abort a session, so the server keeps it,
//! and the chunks it stored, until it expires.

use serde_json::json;
use time::OffsetDateTime;
use tl_upload::{Forgotten, UploadError, Uploader};

use super::Context;
use crate::args::ForgetArgs;
use crate::failure::Failure;
use crate::{format, journal};

/// Forgets the session by the engine's rule and says what that means for the server.
pub async fn run(ctx: &Context, args: &ForgetArgs) -> Result<(), Failure> {
    let id = args.upload_id.as_str();
    let (path, journal) = journal::required(&ctx.connection)?;
    let uploader = Uploader::new(Some(journal));
    // A session the journal knows needs no server; the others are looked up on the one the
    // flags name (never on a sandbox started just for this).
    let conn = if ctx.connection.uses_embedded_sandbox() {
        None
    } else {
        Some(ctx.connect()?)
    };
    let server = conn.as_ref().map(|c| &c.client);
    let forgotten = ctx
        .interruptible(async { Ok(uploader.forget(server, id).await) })
        .await?
        .map_err(|e| {
            if matches!(e, UploadError::SessionNotFound { .. }) {
                let elsewhere = server
                    .map(|c| format!(" nor among the incomplete uploads on {}", c.host()))
                    .unwrap_or_default();
                Failure::failed(format!(
                    "there is no session {id} in the journal at {}{elsewhere}",
                    path.display()
                ))
            } else if e.is_locked() {
                // Abandoning a session while another process uploads it would only
                // confuse both.
                Failure::failed(format!(
                    "session {id} is being uploaded by another tlup (or the TL Uploader app) right now; stop it first"
                ))
            } else {
                Failure::upload(&e)
            }
        })?;
    let (state, forgot_now, known) = match forgotten {
        Forgotten::Completed { .. } => {
            ctx.out.note(&format!(
                "session {id} is complete; there is nothing to forget"
            ));
            ("completed", false, None)
        }
        Forgotten::Already => {
            ctx.out.note(&format!("session {id} was already forgotten"));
            ("abandoned", false, None)
        }
        Forgotten::Now { record } => ("abandoned", true, record),
        _ => ("abandoned", false, None),
    };
    let file_path = known.as_ref().map(|r| r.file_path.clone());
    let expires_at = known.as_ref().and_then(|r| r.expires_at);
    if ctx.out.is_json() {
        ctx.out.event(&json!({
            "upload_id": id,
            "state": state,
            "file_path": file_path,
            "expires_at": expires_at,
        }));
    } else if forgot_now {
        let expires = expires_at.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
        let what = file_path.map_or_else(
            || "known only to the server".to_owned(),
            |p| p.display().to_string(),
        );
        ctx.out.line(&format!(
            "forgot session {id} ({what}): `tlup resume` no longer offers it.\n{}",
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
