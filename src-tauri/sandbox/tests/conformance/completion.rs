//! `complete_delay`: a session whose chunks are all reported stays `active` for a while
//! before it is `completed` and its asset exists.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Env, bytes, sha256_hex, small_builder};

const DELAY: Duration = Duration::from_millis(1500);

async fn status(env: &Env, upload_id: &str) -> Value {
    let response = env
        .get(&format!("/assets/multipart-uploads/{upload_id}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn listed(env: &Env, upload_id: &str) -> Option<Value> {
    let page: Value = env
        .get("/assets/multipart-uploads")
        .await
        .json()
        .await
        .unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["upload_id"] == upload_id)
        .cloned()
}

#[tokio::test]
async fn a_completed_upload_stays_active_for_the_delay_then_completes() {
    let env = Env::start(small_builder().complete_delay(DELAY));
    let data = bytes(3 * 64 * 1024 + 100, 11);
    let started = Instant::now();
    let created = env.upload("late.mp4", &data).await;
    let (upload_id, asset_id) = (
        created["upload_id"].as_str().unwrap(),
        created["asset_id"].as_str().unwrap(),
    );

    // Within the delay: every chunk completed, the session active everywhere, no asset.
    let now = status(&env, upload_id).await;
    assert_eq!(now["status"], "active", "{now}");
    assert_eq!(now["chunks_completed"], 4);
    assert_eq!(now["chunks_pending"], 0);
    assert_eq!(now["uploaded_size"], data.len());
    let chunks = now["uploaded_chunks"].as_array().unwrap();
    assert!(chunks.iter().all(|c| c["status"] == "completed"), "{now}");
    assert_eq!(listed(&env, upload_id).await.unwrap()["status"], "active");
    let asset = env.get(&format!("/assets/{asset_id}")).await;
    assert_eq!(asset.status(), StatusCode::NOT_FOUND);
    let assets: Value = env.get("/assets").await.json().await.unwrap();
    assert_eq!(assets["data"].as_array().unwrap().len(), 0);
    assert!(started.elapsed() < DELAY, "the checks above were too slow");

    // Then it completes, and not before the delay has passed since its last report.
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&env, upload_id).await["status"] == "active" {
        assert!(Instant::now() < deadline, "the session never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= DELAY);
    assert_eq!(status(&env, upload_id).await["status"], "completed");
    assert!(listed(&env, upload_id).await.is_none());
    let asset = env.settled_asset(asset_id).await;
    assert_eq!(asset["status"], "ready");
    assert_eq!(asset["sha256"], sha256_hex(&data));
    assert_eq!(env.sandbox.stats().faults_fired.complete_delay, 1);
}

#[tokio::test]
async fn the_delay_is_live_and_zero_means_at_once() {
    let env = Env::small();
    let data = bytes(64 * 1024, 3);
    let created = env.upload("now.mp4", &data).await;
    let id = created["upload_id"].as_str().unwrap();
    assert_eq!(status(&env, id).await["status"], "completed");

    env.sandbox.set_complete_delay(Duration::from_secs(60));
    let created = env.upload("held.mp4", &data).await;
    let held = created["upload_id"].as_str().unwrap();
    assert_eq!(status(&env, held).await["status"], "active");

    let view: Value = env
        .post_json("/sandbox/faults", &json!({"complete_delay_secs": 0.25}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["complete_delay_secs"], 0.25);
    // A session keeps the delay it had when its last chunk was reported.
    assert_eq!(status(&env, held).await["status"], "active");
    let view: Value = env
        .post_json("/sandbox/faults", &json!({"complete_delay_secs": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["complete_delay_secs"], 0.0);
    let created = env.upload("again.mp4", &data).await;
    let id = created["upload_id"].as_str().unwrap();
    assert_eq!(status(&env, id).await["status"], "completed");
    assert_eq!(env.sandbox.stats().faults_fired.complete_delay, 1);
}
