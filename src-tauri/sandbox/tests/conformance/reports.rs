//! Reporting chunk batches.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Env, assert_error, bytes, entry, small_builder};

const CHUNK: usize = 64 * 1024;

/// A session of three chunks (the last one 1,000 bytes), all uploaded, none reported.
async fn uploaded_session(env: &Env) -> (String, Vec<String>) {
    let created = env.create(2 * CHUNK as u64 + 1000).await;
    let id = created["upload_id"].as_str().unwrap().to_owned();
    let mut etags = Vec::new();
    for (i, len) in [(1, CHUNK), (2, CHUNK), (3, 1000)] {
        let url = created["upload_urls"][i - 1]["url"].as_str().unwrap();
        etags.push(env.put_ok(url, bytes(len, i as u64)).await);
    }
    (id, etags)
}

#[tokio::test]
async fn duplicates_are_counted_and_the_url_comes_only_with_the_last_chunk() {
    let env = Env::start(small_builder().initial_urls(3));
    let (id, etags) = uploaded_session(&env).await;

    let first: Value = env
        .report(&id, json!([entry(1, &etags[0], CHUNK)]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["processed_chunks"], 1);
    assert_eq!(first["duplicate_chunks"], 0);
    assert_eq!(first["total_completed"], 1);
    assert!(first.get("url").is_none(), "{first}");
    assert!(first["asset_id"].is_string());

    // Quoted proofs are fine; a chunk twice in one batch counts once.
    let quoted = format!("\"{}\"", etags[1]);
    let second: Value = env
        .report(
            &id,
            json!([
                entry(1, &etags[0], CHUNK),
                entry(2, &quoted, CHUNK),
                entry(2, &etags[1], CHUNK)
            ]),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            second["processed_chunks"].clone(),
            second["duplicate_chunks"].clone()
        ),
        (json!(1), json!(2))
    );
    assert_eq!(second["total_completed"], 2);
    assert!(second.get("url").is_none());

    let last: Value = env
        .report(&id, json!([entry(3, &etags[2], 1000)]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["total_completed"], 3);
    let url = last["url"].as_str().unwrap();
    assert!(
        url.starts_with(&env.sandbox.url()) && url.contains(last["asset_id"].as_str().unwrap())
    );

    let again: Value = env
        .report(&id, json!([entry(1, &etags[0], CHUNK)]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicate_chunks"], 1);
    assert_eq!(again["processed_chunks"], 0);
    assert_eq!(again["url"], last["url"]);
}

#[tokio::test]
async fn a_bad_entry_rejects_the_whole_batch() {
    let env = Env::start(small_builder().initial_urls(3));
    let (id, etags) = uploaded_session(&env).await;
    let cases = [
        (
            entry(2, "0123456789abcdef0123456789abcdef", CHUNK),
            "parameter_invalid",
        ), // proof
        (entry(2, &etags[1], CHUNK - 1), "parameter_invalid"), // chunk_size
        (entry(0, &etags[1], CHUNK), "parameter_invalid"),     // index range
        (entry(4, &etags[1], CHUNK), "parameter_invalid"),
        (
            json!({"chunk_index": 2, "proof": etags[1], "proof_type": "md5", "chunk_size": CHUNK}),
            "parameter_invalid",
        ),
        (
            json!({"chunk_index": 2, "proof_type": "etag", "chunk_size": CHUNK}),
            "parameter_not_provided",
        ),
        (
            json!({"chunk_index": "2", "proof": etags[1], "proof_type": "etag", "chunk_size": CHUNK}),
            "parameter_invalid",
        ),
        (json!(7), "parameter_invalid"),
    ];
    for (bad, code) in cases {
        let response = env
            .report(&id, json!([entry(1, &etags[0], CHUNK), bad]))
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, code).await;
    }
    // Nothing of those batches was applied.
    let status: Value = env
        .get(&format!("/assets/multipart-uploads/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["chunks_completed"], 0);
    assert_eq!(status["uploaded_size"], 0);

    for body in [json!({}), json!({"completed_chunks": null})] {
        let response = env
            .post_json(&format!("/assets/multipart-uploads/{id}"), &body)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "parameter_not_provided").await;
    }
    let response = env
        .post_json(
            &format!("/assets/multipart-uploads/{id}"),
            &json!({"completed_chunks": {}}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "parameter_invalid").await;
}

#[tokio::test]
async fn a_chunk_that_was_never_uploaded_cannot_be_reported() {
    let env = Env::small();
    let created = env.create(CHUNK as u64).await;
    let id = created["upload_id"].as_str().unwrap();
    let response = env
        .report(
            id,
            json!([entry(1, "d41d8cd98f00b204e9800998ecf8427e", CHUNK)]),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "parameter_invalid").await;
}
