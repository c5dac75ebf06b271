//! `tlup resume` without arguments: the unfinished uploads, from the journal joined with the
//! server, each with what to run next.
//!
//! The engine checks every journalled file (still there? unchanged?) and asks the server
//! where each session stands, so the list says what will actually work, not just what was
//! once started.

use serde_json::Value;
use time::OffsetDateTime;
use tl_upload::{ResumableSession, ResumeState};

use super::Context;
use super::resume::no_sandbox_sessions;
use crate::advice::Advice;
use crate::failure::Failure;
use crate::format;

/// Prints the resumable sessions (a JSON array with `--json`, each with its `hint`).
pub async fn run(ctx: &Context) -> Result<(), Failure> {
    if ctx.connection.uses_embedded_sandbox() {
        return Err(no_sandbox_sessions());
    }
    let conn = ctx.connect()?;
    let uploader = conn.uploader()?;
    if uploader.journal().is_none() {
        return Err(Failure::usage(
            "there is no data directory for the upload journal; pass --journal PATH",
        ));
    }
    let fetch = async {
        uploader
            .resumable_sessions(&conn.client)
            .await
            .map_err(|e| Failure::upload(&e))
    };
    let sessions = ctx.interruptible(fetch).await?;
    let advice = Advice::new(&conn);
    if ctx.out.is_json() {
        let array: Vec<Value> = sessions
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let Value::Object(map) = &mut v {
                    map.insert("hint".into(), advice.for_session(s).into());
                }
                v
            })
            .collect();
        ctx.out.event(&Value::Array(array));
    } else if sessions.is_empty() {
        ctx.out.note("nothing to resume");
    } else {
        ctx.out
            .line(describe(&sessions, &advice, OffsetDateTime::now_utc()).trim_end());
    }
    Ok(())
}

/// The state in a word or two.
fn state_word(state: ResumeState) -> &'static str {
    match state {
        ResumeState::Resumable => "resumable",
        ResumeState::FileMissing => "file missing",
        ResumeState::FileChanged => "file changed",
        ResumeState::NeedsFile => "needs file",
        ResumeState::Expired => "expired",
        ResumeState::Failed => "failed",
        ResumeState::Completed => "completed",
    }
}

/// `40/128 chunks, 40.00 MiB of 128.00 MiB`.
fn done(s: &ResumableSession) -> String {
    format!(
        "{}/{} chunks, {} of {}",
        s.chunks_done,
        s.total_chunks,
        format::bytes(s.bytes_done),
        format::bytes(s.total_size)
    )
}

/// A table of the sessions, then one line per session with what to run next. Expiry is
/// relative to `now`: what matters is how long is left.
fn describe(sessions: &[ResumableSession], advice: &Advice, now: OffsetDateTime) -> String {
    let at = |t: Option<i64>| t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.upload_id.clone(),
                state_word(s.state).to_owned(),
                s.file_path
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |p| p.display().to_string()),
                done(s),
                format::relative(at(s.expires_at), now),
            ]
        })
        .collect();
    let mut text = format::table(&["UPLOAD ID", "STATE", "FILE", "DONE", "EXPIRES"], &rows);
    text.push('\n');
    for s in sessions {
        text.push_str(&format!("{}: {}\n", s.upload_id, advice.for_session(s)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::ConnectionArgs;
    use crate::connect::Connection;
    use crate::output::Output;

    #[test]
    fn each_session_has_a_row_and_a_next_step() {
        let args = ConnectionArgs {
            api_key: Some("k".into()),
            base_url: Some("http://127.0.0.1:9/v1.3".into()),
            journal: Some("/j.sqlite3".into()),
            ..Default::default()
        };
        let advice = Advice::new(&Connection::open(&args, &Output::new(true)).unwrap());
        let now = OffsetDateTime::from_unix_timestamp(1_778_051_289).unwrap();
        let s = ResumableSession {
            upload_id: "u1".into(),
            state: ResumeState::FileMissing,
            in_journal: true,
            file_path: Some("/v/clip.mp4".into()),
            filename: Some("clip.mp4".into()),
            asset_id: None,
            total_size: 128 << 20,
            chunk_size: 1 << 20,
            total_chunks: 128,
            chunks_done: 40,
            bytes_done: 40 << 20,
            created_at: Some(1_778_051_289),
            expires_at: Some(1_778_051_289 + 3600),
        };
        let text = describe(&[s], &advice, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("UPLOAD ID"), "{text}");
        assert!(lines[1].starts_with("u1 "), "{text}");
        for cell in [
            "file missing",
            "/v/clip.mp4",
            "40/128 chunks, 40.00 MiB of 128.00 MiB",
        ] {
            assert!(lines[1].contains(cell), "{cell}: {text}");
        }
        assert!(lines[1].ends_with("in 1h 00m"), "{text}");
        assert_eq!(
            lines[3],
            "u1: the file is no longer at /v/clip.mp4; resume with `tlup --base-url http://127.0.0.1:9/v1.3 --journal /j.sqlite3 resume u1 NEW_PATH`"
        );
    }
}
