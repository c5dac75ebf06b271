//! `early_answer`: a chunk PUT that will be refused is answered before its body is read, and
//! its connection closed with the body unread, as S3 does. Also: the URL's expiry is judged
//! after the per-request latency.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{Env, assert_xml_error, path_of, read_head, small_builder};

const BIG: usize = 5 * 1024 * 1024;

/// The `X-Tl-Expires` of a presigned URL, in unix milliseconds.
fn expires_ms(url: &str) -> u128 {
    let secs: u128 = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Tl-Expires="))
        .unwrap()
        .parse()
        .unwrap();
    secs * 1000
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// A sandbox with 5 MiB chunks whose URLs expire within a second, and the expired URL of a
/// one-chunk session (it waits until the URL's expiry has passed).
async fn expired_url(early: bool) -> (Env, String) {
    let env = Env::start(
        small_builder()
            .chunk_size(BIG as u64)
            .url_ttl(Duration::ZERO)
            .early_answer(early),
    );
    let created = env.create(BIG as u64).await;
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let wait = expires_ms(&url).saturating_sub(now_ms()) + 20;
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    (env, url)
}

#[tokio::test]
async fn an_early_answer_leaves_a_large_body_unread_and_the_client_may_see_a_reset() {
    let (env, url) = expired_url(true).await;
    match env.http.put(&url).body(vec![7u8; BIG]).send().await {
        Ok(response) => {
            assert_xml_error(response, StatusCode::FORBIDDEN, "AccessDenied").await;
        }
        // A broken pipe or a reset while sending: the S3 behaviour this knob is for.
        Err(e) => assert!(!e.is_timeout(), "{e:?}"),
    }
    let stats = env.sandbox.stats();
    assert_eq!(stats.faults_fired.early_answer, 1);
    assert_eq!(stats.bytes_received, 0, "no byte of the body was read");
}

#[tokio::test]
async fn without_early_answer_the_client_always_gets_the_403() {
    let (env, url) = expired_url(false).await;
    for _ in 0..2 {
        let response = env.http.put(&url).body(vec![7u8; BIG]).send().await;
        assert_xml_error(response.unwrap(), StatusCode::FORBIDDEN, "AccessDenied").await;
    }
    assert_eq!(env.sandbox.stats().faults_fired.early_answer, 0);
}

/// Sends only the head of a 5 MiB PUT; returns the answer's head and whether the server then
/// closed the connection (within `wait`).
async fn head_only_put(env: &Env, url: &str, wait: Duration) -> (String, bool) {
    let mut stream = tokio::net::TcpStream::connect(env.sandbox.addr())
        .await
        .unwrap();
    let request = format!(
        "PUT {} HTTP/1.1\r\nhost: x\r\ncontent-length: {BIG}\r\n\r\n",
        path_of(url)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await.expect("an answer");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    let mut more = [0u8; 1];
    let closed = matches!(
        tokio::time::timeout(wait, stream.read(&mut more)).await,
        Ok(Ok(0) | Err(_))
    );
    (head, closed)
}

#[tokio::test]
async fn the_answer_comes_before_the_body_and_the_connection_closes() {
    let (env, url) = expired_url(true).await;
    let (head, closed) = head_only_put(&env, &url, Duration::from_secs(10)).await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(closed, "the server closes instead of waiting for the body");

    // Switched off live: the answer comes as early, but the server waits for the body.
    env.sandbox.set_early_answer(false);
    let (head, closed) = head_only_put(&env, &url, Duration::from_millis(500)).await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert!(
        !closed,
        "the server keeps reading the body to throw it away"
    );

    assert_eq!(env.sandbox.stats().faults_fired.early_answer, 1);
}

#[tokio::test]
async fn an_injected_failure_is_answered_early_too() {
    let env = Env::start(small_builder().chunk_size(BIG as u64));
    let view: Value = env
        .post_json("/sandbox/faults", &json!({"early_answer": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["early_answer"], true);
    let created = env.create(BIG as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    env.sandbox.faults().fail_puts(1, 503);
    let (head, closed) = head_only_put(&env, url, Duration::from_secs(10)).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(closed);
    let fired = env.sandbox.stats().faults_fired;
    assert_eq!((fired.early_answer, fired.fail_puts), (1, 1));
    // The fault is spent: the chunk goes in.
    env.put_ok(url, vec![1; BIG]).await;
}

#[tokio::test]
async fn a_url_is_judged_after_the_latency() {
    let env = Env::start(small_builder().url_ttl(Duration::ZERO));
    // A URL with at least 300 ms left, so it is valid when sent.
    let url = loop {
        let created = env.create(10).await;
        let url = created["upload_urls"][0]["url"]
            .as_str()
            .unwrap()
            .to_owned();
        if expires_ms(&url) > now_ms() + 300 {
            break url;
        }
    };
    env.sandbox.set_latency(Duration::from_millis(1100));
    assert!(expires_ms(&url) > now_ms(), "still valid when sent");
    assert_xml_error(
        env.put(&url, vec![0; 10]).await,
        StatusCode::FORBIDDEN,
        "AccessDenied",
    )
    .await;
}
