//! `GET /assets/multipart-uploads/{id}`: per-chunk status, counts and pagination.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tl_sandbox::Sandbox;

use crate::support::{Env, assert_error, entry, is_timestamp};

#[tokio::test]
async fn status_lists_every_chunk_page_by_page_with_correct_counts() {
    // 23 chunks of 1 KiB, the last one 500 bytes.
    let env = Env::start(Sandbox::builder().chunk_size(1024).initial_urls(5));
    let total = 22 * 1024 + 500;
    let created = env.create(total).await;
    let id = created["upload_id"].as_str().unwrap();
    assert_eq!(created["total_chunks"], 23);
    let path = |query: &str| format!("/assets/multipart-uploads/{id}{query}");

    let first: Value = env.get(&path("")).await.json().await.unwrap();
    assert_eq!(first["upload_id"], id);
    assert_eq!(first["status"], "active");
    assert_eq!(first["total_size"], total);
    assert_eq!(first["uploaded_size"], 0);
    assert_eq!(
        (
            first["chunks_completed"].clone(),
            first["chunks_failed"].clone(),
            first["chunks_pending"].clone()
        ),
        (json!(0), json!(0), json!(23))
    );
    assert_eq!(
        first["page_info"],
        json!({"limit_per_page": 10, "page": 1, "total_page": 3, "total_results": 23})
    );
    assert!(is_timestamp(&first["created_at"]) && is_timestamp(&first["updated_at"]));
    let chunks = first["uploaded_chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 10);
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["index"], i + 1);
        assert_eq!(chunk["status"], "pending");
        assert!(chunk.as_object().unwrap().contains_key("uploaded_at"));
        assert!(chunk["uploaded_at"].is_null());
        assert!(is_timestamp(&chunk["updated_at"]));
    }

    // Upload and report chunks 1 and 23.
    let urls = created["upload_urls"].as_array().unwrap();
    let e1 = env
        .put_ok(urls[0]["url"].as_str().unwrap(), vec![1; 1024])
        .await;
    let url23 = env.url(id, 23).await;
    let e23 = env.put_ok(&url23, vec![2; 500]).await;
    let report = env
        .report(id, json!([entry(1, &e1, 1024), entry(23, &e23, 500)]))
        .await;
    assert_eq!(report.status(), StatusCode::OK);

    let last: Value = env
        .get(&path("?page=3&page_limit=10"))
        .await
        .json()
        .await
        .unwrap();
    let chunks = last["uploaded_chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2]["index"], 23);
    assert_eq!(chunks[2]["status"], "completed");
    assert!(is_timestamp(&chunks[2]["uploaded_at"]));
    assert_eq!(chunks[0]["status"], "pending");
    assert_eq!(last["chunks_completed"], 2);
    assert_eq!(last["chunks_pending"], 21);
    assert_eq!(last["uploaded_size"], 1524);

    let past: Value = env.get(&path("?page=4")).await.json().await.unwrap();
    assert_eq!(past["uploaded_chunks"], json!([]));
    let all: Value = env.get(&path("?page_limit=50")).await.json().await.unwrap();
    assert_eq!(all["uploaded_chunks"].as_array().unwrap().len(), 23);
    assert_eq!(all["page_info"]["total_page"], 1);

    for bad in ["?page_limit=51", "?page_limit=0", "?page=0", "?page=x"] {
        assert_error(
            env.get(&path(bad)).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        )
        .await;
    }
}

#[tokio::test]
async fn a_finished_upload_reads_completed() {
    let env = Env::small();
    let data = vec![5u8; 64 * 1024 * 2 + 3];
    let created = env.upload("f.mp4", &data).await;
    let id = created["upload_id"].as_str().unwrap();
    let status: Value = env
        .get(&format!("/assets/multipart-uploads/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["chunks_completed"], 3);
    assert_eq!(status["chunks_pending"], 0);
    assert_eq!(status["uploaded_size"], data.len());
    assert!(
        status["uploaded_chunks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "completed")
    );
}

#[tokio::test]
async fn a_failed_put_marks_its_chunk_failed_until_a_put_succeeds() {
    let env = Env::small();
    let created = env.create(1000).await;
    let id = created["upload_id"].as_str().unwrap();
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    env.sandbox.faults().fail_puts(1, 500);
    assert_eq!(
        env.put(url, vec![0; 1000]).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let path = format!("/assets/multipart-uploads/{id}");
    let status: Value = env.get(&path).await.json().await.unwrap();
    assert_eq!(status["chunks_failed"], 1);
    assert_eq!(status["chunks_pending"], 0);
    assert_eq!(status["uploaded_chunks"][0]["status"], "failed");
    assert!(status["uploaded_chunks"][0]["error"].is_string());
    env.put_ok(url, vec![0; 1000]).await;
    let status: Value = env.get(&path).await.json().await.unwrap();
    assert_eq!(status["chunks_failed"], 0);
    assert_eq!(status["uploaded_chunks"][0]["status"], "pending");
    assert!(status["uploaded_chunks"][0].get("error").is_none());
}
