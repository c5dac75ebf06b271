//! `corrupt_puts`: a chunk stored with a flipped byte, its ETag the MD5 of the damage.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Env, bytes, entry, md5_hex, sha256_hex};

const CHUNK: usize = 64 * 1024;

#[tokio::test]
async fn a_corrupted_chunk_has_the_etag_of_the_damage_and_a_retry_repairs_it() {
    let env = Env::small();
    let data = bytes(2 * CHUNK, 5);
    let created = env.create(data.len() as u64).await;
    let id = created["upload_id"].as_str().unwrap();
    let url = |i: usize| created["upload_urls"][i]["url"].as_str().unwrap();
    let (first, second) = data.split_at(CHUNK);

    env.sandbox.faults().corrupt_puts(1);
    let response = env.put(url(0), first.to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let quoted = response.headers()["etag"].to_str().unwrap().to_owned();
    let etag = quoted.trim_matches('"');
    assert_eq!(quoted, format!("\"{etag}\""), "S3 style: quoted");
    let mut damaged = first.to_vec();
    damaged[CHUNK / 2] ^= 0xFF;
    assert_eq!(etag, md5_hex(&damaged), "the MD5 of the stored bytes");
    assert_ne!(etag, md5_hex(first));
    assert_eq!(env.sandbox.faults().pending().corrupt_puts, 0);

    // The client notices, and PUTs the chunk again: the right bytes replace the damage.
    let good = env.put_ok(url(0), first.to_vec()).await;
    assert_eq!(good, md5_hex(first));
    assert_eq!(good.len(), 32);
    let view: Value = env
        .post_json("/sandbox/faults", &json!({"corrupt_puts": 1}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["corrupt_puts"], 1);
    assert_ne!(env.put_ok(url(1), second.to_vec()).await, md5_hex(second));
    let repaired = env.put_ok(url(1), second.to_vec()).await;
    let report = env
        .report(
            id,
            json!([entry(1, &good, CHUNK), entry(2, &repaired, CHUNK)]),
        )
        .await;
    assert_eq!(report.status(), StatusCode::OK);
    let asset = env
        .settled_asset(created["asset_id"].as_str().unwrap())
        .await;
    assert_eq!(asset["sha256"], sha256_hex(&data));
    assert_eq!(env.sandbox.stats().faults_fired.corrupt_puts, 2);
}

#[tokio::test]
async fn a_failed_put_does_not_use_up_a_corruption() {
    let env = Env::small();
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    env.sandbox.faults().corrupt_puts(1);
    env.sandbox.faults().fail_puts(1, 500);
    let data = bytes(CHUNK, 9);
    assert_eq!(
        env.put(url, data.clone()).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_ne!(env.put_ok(url, data.clone()).await, md5_hex(&data));
    assert_eq!(env.put_ok(url, data.clone()).await, md5_hex(&data));
}
