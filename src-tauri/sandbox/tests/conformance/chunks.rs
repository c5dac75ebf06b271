//! The storage side: presigned chunk PUTs.

use std::time::{Duration, Instant};

use futures_util::stream;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Env, assert_error, assert_xml_error, bytes, entry, md5_hex, small_builder};

const CHUNK: usize = 64 * 1024;

#[tokio::test]
async fn a_put_answers_200_with_the_quoted_md5_and_no_key_is_needed() {
    let env = Env::small();
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let data = bytes(CHUNK, 1);
    let response = env.http.put(url).body(data.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", md5_hex(&data))
    );
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn chunked_bodies_are_accepted() {
    let env = Env::small();
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let data = bytes(CHUNK, 2);
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(10_000).map(|c| Ok(c.to_vec())).collect();
    let response = env
        .http
        .put(url)
        .body(reqwest::Body::wrap_stream(stream::iter(pieces)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", md5_hex(&data))
    );
}

#[tokio::test]
async fn repeated_puts_to_one_url_are_allowed_and_the_last_wins() {
    let env = Env::small();
    let created = env.create(CHUNK as u64).await;
    let id = created["upload_id"].as_str().unwrap();
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let first = env.put_ok(url, bytes(CHUNK, 3)).await;
    let second = env.put_ok(url, bytes(CHUNK, 4)).await;
    assert_ne!(first, second);
    let stale = env.report(id, json!([entry(1, &first, CHUNK)])).await;
    assert_error(stale, StatusCode::BAD_REQUEST, "parameter_invalid").await;
    let fresh = env.report(id, json!([entry(1, &second, CHUNK)])).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    // Once reported, a chunk cannot silently change under its proof.
    let changed = env.put(url, bytes(CHUNK, 5)).await;
    assert_ne!(changed.status(), StatusCode::OK);
}

#[tokio::test]
async fn tampered_or_missing_signatures_are_403() {
    let env = Env::start(small_builder().initial_urls(2));
    let created = env.create(2 * CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = created["upload_urls"][1]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    let flip = |text: &str| {
        let last = text.chars().last().unwrap();
        let swapped = if last == '0' { '1' } else { '0' };
        format!("{}{swapped}", &text[..text.len() - 1])
    };
    let (base, query) = url.split_once('?').unwrap();
    let expires_bumped = {
        let (expires, signature) = query.split_once('&').unwrap();
        let secs: u64 = expires.trim_start_matches("X-Tl-Expires=").parse().unwrap();
        format!("{base}?X-Tl-Expires={}&{signature}", secs + 3600)
    };
    let other_index = format!("{}?{}", other.split_once('?').unwrap().0, query);
    for bad in [
        flip(&url),
        base.to_owned(),
        format!("{base}?X-Tl-Expires=1"),
        format!(
            "{}&X-Tl-Signature=zz",
            url.split("&X-Tl-Signature").next().unwrap()
        ),
        expires_bumped,
        other_index,
    ] {
        let response = env.put(&bad, vec![0; 10]).await;
        let body = assert_xml_error(response, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;
        assert!(body.contains("<Message>"), "{body}");
    }
    env.put_ok(&url, vec![0; CHUNK]).await;
}

#[tokio::test]
async fn a_refusal_reaches_a_client_that_is_still_sending() {
    // Without draining, an early answer to a large body turns into a reset on the client.
    let env = Env::start(small_builder().chunk_size(8 * 1024 * 1024));
    let created = env.create(8 * 1024 * 1024).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let forged = format!("{}0", url);
    for _ in 0..3 {
        let response = env.put(&forged, vec![0; 8 * 1024 * 1024]).await;
        assert_xml_error(response, StatusCode::FORBIDDEN, "SignatureDoesNotMatch").await;
    }
    env.put_ok(url, vec![0; 8 * 1024 * 1024]).await;
}

#[tokio::test]
async fn an_expired_url_is_403_access_denied_and_a_fresh_one_works() {
    let env = Env::start(small_builder().url_ttl(Duration::from_secs(1)));
    let created = env.create(CHUNK as u64).await;
    let id = created["upload_id"].as_str().unwrap();
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    env.put_ok(url, vec![1; CHUNK]).await;
    // Waiting for real time is the point here: poll until the URL expires (≤ 2 s).
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        let response = env.put(url, vec![1; CHUNK]).await;
        if response.status() == StatusCode::FORBIDDEN {
            break response.text().await.unwrap();
        }
        assert_eq!(response.status(), StatusCode::OK);
        assert!(Instant::now() < deadline, "the URL never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(
        body.contains(
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
        ),
        "{body}"
    );
    let fresh = env.url(id, 1).await;
    env.put_ok(&fresh, vec![1; CHUNK]).await;
}

#[tokio::test]
async fn unknown_sessions_are_404_no_such_upload() {
    let env = Env::small();
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let id = created["upload_id"].as_str().unwrap();
    let ghost = url.replace(id, "0123456789abcdef01234567");
    assert_xml_error(
        env.put(&ghost, vec![0; 4]).await,
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
    )
    .await;
    // A completed session takes no more chunks.
    let done = env.upload("d.mp4", &[9; 5]).await;
    let done_url = done["upload_urls"][0]["url"].as_str().unwrap();
    assert_xml_error(
        env.put(done_url, vec![9; 5]).await,
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
    )
    .await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_being_read() {
    let env = Env::start(small_builder().initial_urls(2));
    // Two chunks: a full one and a 100-byte remainder.
    let created = env.create(CHUNK as u64 + 100).await;
    let full = created["upload_urls"][0]["url"].as_str().unwrap();
    let last = created["upload_urls"][1]["url"].as_str().unwrap();

    let response = env.put(last, vec![0; 101]).await;
    assert_xml_error(response, StatusCode::BAD_REQUEST, "EntityTooLarge").await;

    // A declared 32 MiB body on a 64 KiB chunk is answered before it is read.
    env.sandbox.reset_stats();
    let response = env.put(full, vec![0; 32 * 1024 * 1024]).await;
    assert_xml_error(response, StatusCode::BAD_REQUEST, "EntityTooLarge").await;
    assert_eq!(env.sandbox.stats().bytes_received, 0);

    // A chunked body is cut off as soon as it passes the chunk size.
    env.sandbox.reset_stats();
    let pieces = (0..512).map(|_| Ok::<_, std::io::Error>(vec![0u8; 64 * 1024]));
    let result = env
        .http
        .put(full)
        .body(reqwest::Body::wrap_stream(stream::iter(pieces)))
        .send()
        .await;
    if let Ok(response) = result {
        assert_xml_error(response, StatusCode::BAD_REQUEST, "EntityTooLarge").await;
    }
    let read = env.sandbox.stats().bytes_received;
    assert!(read <= 2 * CHUNK as u64 + 64 * 1024, "read {read} bytes");

    // The exact sizes still work.
    env.put_ok(last, vec![0; 100]).await;
    env.put_ok(full, vec![0; CHUNK]).await;
}

#[tokio::test]
async fn a_short_body_is_stored_and_the_report_catches_it() {
    let env = Env::small();
    let created = env.create(2 * CHUNK as u64).await;
    let id = created["upload_id"].as_str().unwrap();
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let etag = env.put_ok(url, vec![0; CHUNK - 1]).await;
    let response = env.report(id, json!([entry(1, &etag, CHUNK - 1)])).await;
    assert_error(response, StatusCode::BAD_REQUEST, "parameter_invalid").await;
    let response = env.report(id, json!([entry(1, &etag, CHUNK)])).await;
    assert_error(response, StatusCode::BAD_REQUEST, "parameter_invalid").await;
}
