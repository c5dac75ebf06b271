//! `tlup list`: the account's incomplete upload sessions, the ones `tlup resume` can finish.

use time::OffsetDateTime;
use tl_upload::wire::IncompleteUploadSummary;

use super::Context;
use crate::failure::Failure;
use crate::format;

/// Prints every incomplete session (a JSON array with `--json`).
pub async fn run(ctx: &Context) -> Result<(), Failure> {
    let conn = ctx.connect()?;
    let client = &conn.client;
    let fetch = async {
        client
            .list_incomplete_uploads(50)
            .collect()
            .await
            .map_err(|e| Failure::api(client, &e, || "the listing was not found".to_owned()))
    };
    let sessions = ctx.interruptible(fetch).await?;
    if ctx.out.is_json() {
        ctx.out
            .event(&serde_json::to_value(&sessions).unwrap_or_default());
    } else if sessions.is_empty() {
        ctx.out.note("no incomplete upload sessions");
    } else {
        ctx.out
            .line(describe(&sessions, OffsetDateTime::now_utc()).trim_end());
    }
    Ok(())
}

/// A table of sessions, with expiry relative to `now` (what matters is how long is left).
fn describe(sessions: &[IncompleteUploadSummary], now: OffsetDateTime) -> String {
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.upload_id.clone(),
                s.status.to_string(),
                format::bytes(s.total_size),
                format::bytes(s.chunk_size),
                s.total_chunks.to_string(),
                format::date(s.created_at),
                format::relative(s.expires_at, now),
            ]
        })
        .collect();
    format::table(
        &[
            "UPLOAD ID",
            "STATUS",
            "SIZE",
            "CHUNK SIZE",
            "CHUNKS",
            "CREATED",
            "EXPIRES",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_session() {
        let now = OffsetDateTime::from_unix_timestamp(1_778_051_289).unwrap();
        let s: IncompleteUploadSummary = serde_json::from_value(serde_json::json!({
            "upload_id": "u1", "status": "active", "total_size": 5767168, "chunk_size": 1048576,
            "total_chunks": 6, "created_at": "2026-05-06T07:08:09Z",
            "expires_at": "2026-05-07T07:08:09Z"
        }))
        .unwrap();
        let text = describe(&[s], now);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("u1 "), "{text}");
        assert!(
            lines[1].contains("5.50 MiB") && lines[1].contains("1.00 MiB"),
            "{text}"
        );
        assert!(lines[1].ends_with("in 24h 00m"), "{text}");
    }
}
