//! Traffic counters, through the handle and through `GET /v1.3/sandbox/stats`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tl_sandbox::{FaultsFired, Stats};

use crate::support::{Env, entry};

#[tokio::test]
async fn counters_follow_the_traffic() {
    let env = Env::small(); // 64 KiB chunks, 3 initial URLs
    let created = env.create(64 * 1024 * 4).await; // 4 chunks
    let id = created["upload_id"].as_str().unwrap();
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    env.put(url, vec![0; 10]).await; // a short PUT still completes
    let etag = env.put_ok(url, vec![0; 64 * 1024]).await;
    let extra = env.urls(id, 4, 1).await;
    env.report(id, json!([entry(1, &etag, 64 * 1024)])).await;
    let bad = extra[0].replace("X-Tl-Signature=", "X-Tl-Signature=0");
    assert_eq!(
        env.put(&bad, vec![0; 5]).await.status(),
        StatusCode::FORBIDDEN
    );

    let stats = env.sandbox.stats();
    assert_eq!(
        stats,
        Stats {
            puts_received: 3,
            puts_completed: 2,
            bytes_received: 64 * 1024 + 10,
            puts_in_flight: 0,
            puts_in_flight_peak: 1,
            urls_issued: 4,
            reports_received: 1,
            sessions_created: 1,
            api_requests: 3,
            faults_fired: FaultsFired::default(),
            tls_handshakes_failed: 0,
        }
    );
    let over_http: Stats = env.get("/sandbox/stats").await.json().await.unwrap();
    assert_eq!(over_http, stats, "the stats endpoint is not an API request");

    let reset = env.post_json("/sandbox/stats/reset", &json!({})).await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(reset.json::<Stats>().await.unwrap(), Stats::default());
    env.create(1).await;
    assert_eq!(env.sandbox.stats().sessions_created, 1);
    env.sandbox.reset_stats();
    assert_eq!(env.sandbox.stats(), Stats::default());
}

#[tokio::test]
async fn the_in_flight_peak_counts_concurrent_puts() {
    let env = Env::start(crate::support::small_builder().initial_urls(3));
    let created = env.create(3 * 64 * 1024).await;
    let urls: Vec<String> = (0..3)
        .map(|i| {
            created["upload_urls"][i]["url"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // Each PUT is held for a while inside the server, so the three overlap.
    env.sandbox
        .faults()
        .stall_puts(3, Duration::from_millis(500));
    let (a, b, c) = tokio::join!(
        env.put(&urls[0], vec![0; 64 * 1024]),
        env.put(&urls[1], vec![0; 64 * 1024]),
        env.put(&urls[2], vec![0; 64 * 1024]),
    );
    assert!([a, b, c].iter().all(|r| r.status() == StatusCode::OK));
    let stats = env.sandbox.stats();
    assert_eq!(stats.puts_in_flight, 0);
    assert_eq!(stats.puts_in_flight_peak, 3);
    env.sandbox.reset_stats();
    assert_eq!(env.sandbox.stats().puts_in_flight_peak, 0);
}

#[tokio::test]
async fn the_sink_hashes_any_body_and_needs_the_key() {
    let env = Env::small();
    let data = crate::support::bytes(3 * 1024 * 1024 + 5, 7);
    let response = env
        .api(reqwest::Method::PUT, "/sandbox/sink")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", crate::support::md5_hex(&data)));
    assert_eq!(
        env.sandbox.stats().bytes_received,
        0,
        "sink bytes are not chunk traffic"
    );
    let anonymous = env
        .http
        .put(format!("{}/sandbox/sink", env.sandbox.base_url()))
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_fault_counts_the_times_it_fired() {
    let env = Env::small();
    let created = env.create(64 * 1024).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let faults = env.sandbox.faults();
    faults.fail_puts(2, 503);
    env.put(url, vec![0; 10]).await;
    env.put(url, vec![0; 10]).await;
    faults.drop_puts_after(1, 0);
    assert!(env.http.put(url).body(vec![0; 10]).send().await.is_err());
    faults.stall_puts(1, Duration::from_millis(1));
    faults.omit_etag(1);
    env.put(url, vec![0; 10]).await;
    faults.corrupt_puts(1);
    env.put(url, vec![0; 10]).await;
    faults.fail_api(3, 500, None);
    for _ in 0..3 {
        env.get("/assets").await;
    }
    env.put(url, vec![0; 10]).await; // no fault left

    let fired = env.sandbox.stats().faults_fired;
    assert_eq!(
        fired,
        FaultsFired {
            fail_puts: 2,
            drop_puts_after: 1,
            stall_puts: 1,
            omit_etag: 1,
            fail_api: 3,
            corrupt_puts: 1,
            ..FaultsFired::default()
        }
    );
    let over_http: serde_json::Value = env.get("/sandbox/stats").await.json().await.unwrap();
    assert_eq!(over_http["faults_fired"]["fail_api"], 3);
    assert_eq!(over_http["faults_fired"]["drop_puts_after"], 1);
    env.sandbox.reset_stats();
    assert_eq!(env.sandbox.stats().faults_fired, FaultsFired::default());
}
