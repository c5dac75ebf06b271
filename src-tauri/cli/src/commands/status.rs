//! `tlup status UPLOAD_ID [--chunks]`: where a session stands on the server.
//!
//! Without `--chunks` one small page is enough (the counters are on every page); with it,
//! every page of the chunk list is fetched.

use serde_json::Value;
use tl_upload::wire::GetUploadStatusResponse;

use super::Context;
use crate::args::StatusArgs;
use crate::failure::Failure;
use crate::format;

/// Prints the session's status.
pub async fn run(ctx: &Context, args: &StatusArgs) -> Result<(), Failure> {
    let conn = ctx.connect()?;
    let client = &conn.client;
    let id = args.upload_id.as_str();
    let fetch = async {
        let answer = if args.chunks {
            client.get_status(id, 50).collect().await
        } else {
            client.get_status_page(id, 1, 1).await
        };
        answer.map_err(|e| Failure::api(client, &e, || format!("there is no upload session {id}")))
    };
    let status = ctx.interruptible(fetch).await?;
    if ctx.out.is_json() {
        ctx.out.event(&to_json(&status, args.chunks));
    } else {
        ctx.out.line(&describe(&status, args.chunks));
    }
    Ok(())
}

/// The status as one JSON object: the counters, and the chunk list only when asked for.
fn to_json(status: &GetUploadStatusResponse, chunks: bool) -> Value {
    let mut v = serde_json::to_value(status).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut v {
        // One page's envelope says nothing about the merged listing.
        map.remove("page_info");
        if !chunks {
            map.remove("uploaded_chunks");
        }
        map.insert("total_chunks".into(), status.total_chunks().into());
    }
    v
}

/// The status for people.
fn describe(s: &GetUploadStatusResponse, chunks: bool) -> String {
    let total = s.total_chunks();
    let mut rows = vec![
        ("upload id", s.upload_id.clone()),
        ("status", s.status.to_string()),
        (
            "chunks",
            format!(
                "{} of {total} completed, {} failed, {} pending",
                s.chunks_completed, s.chunks_failed, s.chunks_pending
            ),
        ),
    ];
    if let (Some(done), Some(size)) = (s.uploaded_size, s.total_size) {
        let pct = if size == 0 {
            0.0
        } else {
            done as f64 * 100.0 / size as f64
        };
        rows.push((
            "uploaded",
            format!(
                "{} of {} ({pct:.1} %)",
                format::bytes(done),
                format::bytes(size)
            ),
        ));
    }
    rows.push(("created", format::date(s.created_at)));
    rows.push(("updated", format::date(s.updated_at)));
    let mut text: String = rows
        .iter()
        .map(|(k, v)| format!("{k:<10} {v}\n"))
        .collect::<String>();
    if chunks {
        let list: Vec<Vec<String>> = s
            .uploaded_chunks
            .iter()
            .map(|c| {
                vec![
                    c.index.to_string(),
                    c.status.to_string(),
                    format::date(c.uploaded_at),
                    c.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        text.push('\n');
        text.push_str(&format::table(
            &["CHUNK", "STATUS", "UPLOADED AT", "ERROR"],
            &list,
        ));
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GetUploadStatusResponse {
        serde_json::from_value(serde_json::json!({
            "upload_id": "u1", "status": "active", "chunks_completed": 1, "chunks_pending": 1,
            "total_size": 2048, "uploaded_size": 1024,
            "uploaded_chunks": [
                {"index": 1, "status": "completed", "uploaded_at": "2026-05-06T07:08:09Z"},
                {"index": 2, "status": "pending"}
            ],
            "page_info": {"page": 1}
        }))
        .unwrap()
    }

    #[test]
    fn people_see_counts_sizes_and_optionally_chunks() {
        let text = describe(&sample(), false);
        assert!(
            text.contains("1 of 2 completed, 0 failed, 1 pending"),
            "{text}"
        );
        assert!(text.contains("1.00 KiB of 2.00 KiB (50.0 %)"), "{text}");
        assert!(!text.contains("CHUNK"));
        let text = describe(&sample(), true);
        assert!(text.contains("2      pending"), "{text}");
    }

    #[test]
    fn json_has_the_chunk_list_only_when_asked() {
        assert!(to_json(&sample(), false).get("uploaded_chunks").is_none());
        let v = to_json(&sample(), true);
        assert_eq!(v["uploaded_chunks"].as_array().unwrap().len(), 2);
        assert_eq!(v["total_chunks"], 2);
        assert!(v.get("page_info").is_none());
    }
}
