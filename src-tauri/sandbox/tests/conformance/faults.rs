//! Fault knobs, each through the Rust API (builder or live handle) and through
//! `POST /v1.3/sandbox/faults`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tl_sandbox::FaultPlan;

use crate::support::{Env, assert_error, assert_xml_error, small_builder};

const CHUNK: usize = 64 * 1024;

/// A session with one full chunk and its URL.
async fn one_chunk(env: &Env) -> String {
    let created = env.create(CHUNK as u64).await;
    created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn set_faults(env: &Env, body: Value) -> Value {
    let response = env.post_json("/sandbox/faults", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn fail_puts_answers_the_status_then_recovers() {
    let env = Env::small();
    let url = one_chunk(&env).await;
    env.sandbox.faults().fail_puts(2, 503);
    for _ in 0..2 {
        assert_xml_error(
            env.put(&url, vec![0; CHUNK]).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
        )
        .await;
    }
    env.put_ok(&url, vec![0; CHUNK]).await;

    set_faults(&env, json!({"fail_puts": "1:500"})).await;
    assert_xml_error(
        env.put(&url, vec![0; CHUNK]).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
    )
    .await;
    set_faults(&env, json!({"fail_puts": {"count": 1, "status": 502}})).await;
    assert_eq!(
        env.put(&url, vec![0; CHUNK]).await.status(),
        StatusCode::BAD_GATEWAY
    );
    env.put_ok(&url, vec![0; CHUNK]).await;
}

#[tokio::test]
async fn drop_puts_after_cuts_the_connection() {
    let env = Env::small();
    let url = one_chunk(&env).await;
    env.sandbox.faults().drop_puts_after(1, 1000);
    let result = env.http.put(&url).body(vec![0; CHUNK]).send().await;
    assert!(
        result.is_err(),
        "expected a transport error, got {:?}",
        result.map(|r| r.status())
    );
    env.put_ok(&url, vec![0; CHUNK]).await;

    // Past the end of the body: the connection drops before the answer.
    set_faults(
        &env,
        json!({"drop_puts_after": {"count": 1, "bytes": 10_000_000}}),
    )
    .await;
    assert!(
        env.http
            .put(&url)
            .body(vec![0; CHUNK])
            .send()
            .await
            .is_err()
    );
    set_faults(&env, json!({"drop_puts_after": "1:0"})).await;
    assert!(
        env.http
            .put(&url)
            .body(vec![0; CHUNK])
            .send()
            .await
            .is_err()
    );
    env.put_ok(&url, vec![0; CHUNK]).await;
}

#[tokio::test]
async fn stall_puts_delays_the_next_puts() {
    let env = Env::small();
    let url = one_chunk(&env).await;
    env.sandbox
        .faults()
        .stall_puts(1, Duration::from_millis(400));
    let started = Instant::now();
    env.put_ok(&url, vec![0; CHUNK]).await;
    assert!(started.elapsed() >= Duration::from_millis(400));

    set_faults(&env, json!({"stall_puts": "1:1.0"})).await;
    let started = Instant::now();
    env.put_ok(&url, vec![0; CHUNK]).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    // Consumed: the next PUT is not stalled (well below the stall, even on a loaded machine).
    let started = Instant::now();
    env.put_ok(&url, vec![0; CHUNK]).await;
    assert!(started.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn omit_etag_answers_200_without_an_etag() {
    let env = Env::small();
    let url = one_chunk(&env).await;
    env.sandbox.faults().omit_etag(1);
    let response = env.put(&url, vec![0; CHUNK]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("etag").is_none());
    env.put_ok(&url, vec![0; CHUNK]).await;

    set_faults(&env, json!({"omit_etag": 1})).await;
    let response = env.put(&url, vec![0; CHUNK]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("etag").is_none());
}

#[tokio::test]
async fn fail_api_answers_json_with_retry_after() {
    let env = Env::small();
    env.sandbox
        .faults()
        .fail_api(2, 429, Some(Duration::from_secs(3)));
    for _ in 0..2 {
        // The sandbox's own endpoints neither fail nor consume the fault.
        assert_eq!(env.get("/sandbox/stats").await.status(), StatusCode::OK);
        let response = env.get("/assets/multipart-uploads").await;
        assert_eq!(response.headers()["retry-after"], "3");
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    }
    assert_eq!(
        env.get("/assets/multipart-uploads").await.status(),
        StatusCode::OK
    );

    set_faults(&env, json!({"fail_api": "1:503"})).await;
    let response = env.post_json("/assets/multipart-uploads", &json!({})).await;
    assert!(response.headers().get("retry-after").is_none());
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "internal_server_error",
    )
    .await;
    set_faults(
        &env,
        json!({"fail_api": {"count": 1, "status": 500, "retry_after_secs": 1.5}}),
    )
    .await;
    let response = env.get("/assets").await;
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn builder_faults_apply_from_the_first_request() {
    let env = Env::start(small_builder().faults(FaultPlan {
        fail_api: Some((1, 500, None)),
        omit_etag: 1,
        ..FaultPlan::default()
    }));
    assert_eq!(
        env.get("/assets").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let url = one_chunk(&env).await;
    assert!(
        env.put(&url, vec![0; CHUNK])
            .await
            .headers()
            .get("etag")
            .is_none()
    );
}

/// Time to PUT `len` bytes to a fresh chunk URL.
async fn timed_put(env: &Env, url: &str, len: usize) -> Duration {
    let started = Instant::now();
    env.put_ok(url, vec![0; len]).await;
    started.elapsed()
}

#[tokio::test]
async fn bandwidth_limits_slow_puts_measurably() {
    // 256 KiB at 256 KiB/s takes about a second; unlimited it takes milliseconds. The bounds
    // leave room for a loaded machine on both sides.
    let rate = 256 * 1024;
    let env = Env::start(small_builder().chunk_size(256 * 1024).bandwidth(Some(rate)));
    let created = env.create(256 * 1024).await;
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(timed_put(&env, &url, 256 * 1024).await >= Duration::from_millis(800));

    env.sandbox.set_bandwidth(None);
    assert!(timed_put(&env, &url, 256 * 1024).await < Duration::from_millis(500));

    let view = set_faults(&env, json!({"bandwidth": rate})).await;
    assert_eq!(view["bandwidth"], rate);
    assert!(timed_put(&env, &url, 256 * 1024).await >= Duration::from_millis(800));
    let view = set_faults(&env, json!({"bandwidth": null})).await;
    assert!(view["bandwidth"].is_null());
}

#[tokio::test]
async fn latency_delays_every_request() {
    let env = Env::start(small_builder().latency(Duration::from_millis(250)));
    let started = Instant::now();
    env.get("/assets").await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    env.sandbox.set_latency(Duration::ZERO);
    set_faults(&env, json!({"latency_ms": 200})).await;
    let started = Instant::now();
    let url = one_chunk(&env).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    let started = Instant::now();
    env.put_ok(&url, vec![0; 10]).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn the_faults_endpoint_reports_validates_and_clears() {
    let env = Env::small();
    let view = set_faults(
        &env,
        json!({"fail_puts": "2:503", "stall_puts": {"count": 1, "secs": 0.5}, "omit_etag": 3,
               "fail_api": "1:429:2", "drop_puts_after": "1:100", "latency_ms": 0}),
    )
    .await;
    assert_eq!(view["fail_puts"], json!({"count": 2, "status": 503}));
    assert_eq!(view["stall_puts"], json!({"count": 1, "secs": 0.5}));
    assert_eq!(view["omit_etag"], 3);
    assert_eq!(view["drop_puts_after"], json!({"count": 1, "bytes": 100}));
    assert_eq!(
        view["fail_api"],
        json!({"count": 1, "status": 429, "retry_after_secs": 2.0})
    );
    assert_eq!(env.sandbox.faults().pending().omit_etag, 3);
    let listed: Value = env.get("/sandbox/faults").await.json().await.unwrap();
    assert_eq!(listed, view);

    for (body, code) in [
        (json!({"fail_putz": "1:500"}), "parameter_unknown"),
        (json!({"fail_puts": "x"}), "parameter_invalid"),
        (json!({"fail_puts": "1:200"}), "parameter_invalid"),
        (json!({"fail_puts": {"count": 1}}), "parameter_not_provided"),
        (
            json!({"stall_puts": {"count": 1, "secs": -1}}),
            "parameter_invalid",
        ),
        (json!({"omit_etag": "many"}), "parameter_invalid"),
        (json!({"bandwidth": -5}), "parameter_invalid"),
        (json!({"link_rate": "fast"}), "parameter_invalid"),
        (json!({"clear": "yes"}), "parameter_invalid"),
    ] {
        let response = env.post_json("/sandbox/faults", &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, code).await;
    }
    // A refused update changed nothing.
    assert_eq!(env.sandbox.faults().pending().omit_etag, 3);

    let cleared = set_faults(&env, json!({"clear": true, "omit_etag": 1})).await;
    assert!(cleared["fail_puts"].is_null() && cleared["fail_api"].is_null());
    assert_eq!(cleared["omit_etag"], 1);
    env.sandbox.faults().clear();
    assert_eq!(env.sandbox.faults().pending(), FaultPlan::default());
}
