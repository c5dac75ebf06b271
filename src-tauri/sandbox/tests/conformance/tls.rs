//! HTTPS: a whole upload over TLS with a throwaway CA's certificate, presigned URLs that
//! say `https://`, clients that do not trust the certificate (or do not speak TLS) failing
//! without hurting the next one, and the connection-level misbehaviours (outages, dropped
//! PUTs, the link emulator) still acting under TLS.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tl_sandbox::{OutageKind, SandboxError};

use crate::support::{Env, bytes, client_builder, entry, https_client, sha256_hex, small_builder};

const CHUNK: usize = 64 * 1024;

/// Waits until the sandbox has counted `n` failed handshakes (they are counted when the
/// listener collects them, just after the client has seen its failure).
async fn handshakes_failed(env: &Env, n: u64) {
    tl_test_support::eventually("the failed handshakes to be counted", LIMIT, || async {
        (env.sandbox.stats().tls_handshakes_failed == n).then_some(())
    })
    .await;
}

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_whole_upload_goes_over_https_with_https_presigned_urls() {
    let (env, _ca) = Env::start_tls(small_builder()); // 64 KiB chunks, 3 initial URLs
    let port = env.sandbox.addr().port();
    let origin = format!("https://localhost:{port}");
    assert_eq!(env.sandbox.url(), origin);
    assert_eq!(env.sandbox.base_url(), format!("{origin}/v1.3"));

    // Five chunks: the last two are PUT to URLs from the presigned-urls endpoint.
    let data = bytes(4 * CHUNK + 1000, 7);
    let created = env.upload("secure.mp4", &data).await;
    let urls = created["upload_urls"].as_array().unwrap();
    assert_eq!(urls.len(), 3);
    for url in urls {
        let url = url["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{origin}/storage/")), "{url}");
    }
    let id = created["upload_id"].as_str().unwrap();
    assert_eq!(
        env.sandbox.stats().urls_issued,
        3 + 2,
        "two came from presigned-urls"
    );

    let status: Value = env
        .get(&format!("/assets/multipart-uploads/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "completed", "{status}");
    let asset = env
        .settled_asset(created["asset_id"].as_str().unwrap())
        .await;
    assert_eq!(asset["status"], "ready", "{asset}");
    assert_eq!(asset["sha256"], sha256_hex(&data));

    // The completing report names the asset over https too.
    let single = env.create(CHUNK as u64).await;
    let single_id = single["upload_id"].as_str().unwrap();
    let single_url = single["upload_urls"][0]["url"].as_str().unwrap();
    let etag = env.put_ok(single_url, vec![9u8; CHUNK]).await;
    let report: Value = env
        .report(single_id, json!([entry(1, &etag, CHUNK)]))
        .await
        .json()
        .await
        .unwrap();
    let asset_url = format!(
        "{origin}/v1.3/assets/{}",
        single["asset_id"].as_str().unwrap()
    );
    assert_eq!(report["url"], asset_url, "{report}");

    let stats = env.sandbox.stats();
    assert_eq!(stats.puts_completed, 5 + 1);
    assert_eq!(
        stats.bytes_received,
        (data.len() + CHUNK) as u64,
        "the stats count plaintext body bytes"
    );
    assert_eq!(stats.tls_handshakes_failed, 0);
}

#[tokio::test]
async fn clients_that_fail_the_handshake_are_counted_and_the_next_is_served() {
    let (env, _ca) = Env::start_tls(small_builder());
    // A client stuck in its handshake (connected, silent) holds up nobody.
    let stuck = tokio::net::TcpStream::connect(env.sandbox.addr())
        .await
        .unwrap();

    let (other_ca, _, _) = tl_test_support::throwaway_ca();
    let untrusting = https_client(&other_ca);
    let list = format!("{}/assets/multipart-uploads", env.sandbox.base_url());
    let refused = untrusting
        .get(&list)
        .header("x-api-key", env.sandbox.api_key())
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_connect(), "{refused:?}");
    handshakes_failed(&env, 1).await;

    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = client_builder().build().unwrap();
    let plain_url = list.replacen("https://", "http://", 1);
    let answer = plain
        .get(&plain_url)
        .header("x-api-key", env.sandbox.api_key())
        .send()
        .await;
    assert!(answer.is_err(), "{answer:?}");
    handshakes_failed(&env, 2).await;

    let response = env.get("/assets/multipart-uploads").await;
    assert_eq!(response.status(), StatusCode::OK);
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    env.put_ok(url, vec![1u8; CHUNK]).await;
    drop(stuck);
}

#[tokio::test]
async fn outages_still_reset_freeze_and_refuse_over_tls() {
    let (env, ca) = Env::start_tls(small_builder());
    assert_eq!(
        env.get("/assets/multipart-uploads").await.status(),
        StatusCode::OK
    );

    env.sandbox
        .start_outage(OutageKind::Reset, Duration::from_secs(30));
    let cut = env
        .api(Method::GET, "/assets/multipart-uploads")
        .send()
        .await;
    assert!(cut.is_err(), "a reset, not an answer: {cut:?}");
    assert!(env.sandbox.stats().faults_fired.outage_requests >= 1);
    // The admin endpoints are spared, over TLS too.
    assert_eq!(env.get("/sandbox/stats").await.status(), StatusCode::OK);
    env.sandbox.end_outage();

    env.sandbox
        .start_outage(OutageKind::Blackhole, Duration::from_secs(30));
    let silent = env
        .api(Method::GET, "/assets/multipart-uploads")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(silent.unwrap_err().is_timeout(), "silence, not an answer");
    env.sandbox.end_outage();

    env.sandbox
        .start_outage(OutageKind::Refuse, Duration::from_secs(30));
    let refused = tokio::net::TcpStream::connect(env.sandbox.addr())
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    env.sandbox.end_outage();

    // Back on the same port, with the same certificate, for a fresh client too.
    let fresh = https_client(&ca);
    let response = fresh
        .get(format!(
            "{}/assets/multipart-uploads",
            env.sandbox.base_url()
        ))
        .header("x-api-key", env.sandbox.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn dropped_puts_and_the_link_emulator_act_under_tls() {
    let (env, _ca) = Env::start_tls(small_builder());
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    env.sandbox.faults().drop_puts_after(1, 1000);
    let dropped = env.http.put(url).body(vec![2u8; CHUNK]).send().await;
    assert!(dropped.is_err(), "the connection is cut: {dropped:?}");
    assert_eq!(env.sandbox.stats().faults_fired.drop_puts_after, 1);
    env.put_ok(url, vec![2u8; CHUNK]).await;

    // 512 KiB at 1 MB/s: about half a second (the TCP bytes, a little more than the body).
    env.sandbox.set_bandwidth(Some(1_000_000));
    let started = Instant::now();
    let sunk = env
        .api(Method::PUT, "/sandbox/sink")
        .body(vec![0u8; 8 * CHUNK])
        .send()
        .await
        .unwrap();
    assert_eq!(sunk.status(), StatusCode::OK);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took <= Duration::from_secs(5), "{took:?}");
}

#[test]
fn unusable_certificates_and_keys_are_refused_with_the_reason() {
    let (_, cert, key) = tl_test_support::throwaway_ca();
    let (_, other_cert, _) = tl_test_support::throwaway_ca();
    let start = |cert: &str, key: &str| {
        small_builder()
            .tls(cert.to_owned(), key.to_owned())
            .start()
            .unwrap_err()
    };
    let cases = [
        (
            start("not a certificate", &key),
            "certificate chain",
            "no certificate",
        ),
        (start(&cert, &cert), "private key", "no private key"),
        (
            start(
                &cert,
                "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
            ),
            "private key",
            "not valid PEM",
        ),
        (start(&other_cert, &key), "private key", "does not belong"),
    ];
    for (error, what, why) in cases {
        assert!(matches!(error, SandboxError::Tls { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains(what) && text.contains(why), "{text}");
    }
    let bad_host = small_builder().public_host("a host/with a path").start();
    assert!(
        matches!(
            bad_host,
            Err(SandboxError::InvalidSetting {
                name: "public_host",
                ..
            })
        ),
        "{bad_host:?}"
    );
}

#[tokio::test]
async fn the_public_host_names_the_urls_over_http_and_https() {
    let (env, _ca) = Env::start_tls(small_builder().public_host("127.0.0.1"));
    let port = env.sandbox.addr().port();
    assert_eq!(env.sandbox.url(), format!("https://127.0.0.1:{port}"));
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("https://127.0.0.1:{port}/storage/")),
        "{url}"
    );
    // The certificate names 127.0.0.1 too, so the URL works as it is.
    env.put_ok(url, vec![3u8; CHUNK]).await;

    let plain = Env::start(small_builder().public_host("localhost"));
    let port = plain.sandbox.addr().port();
    assert_eq!(plain.sandbox.url(), format!("http://localhost:{port}"));
    let v6 = small_builder().public_host("::1").start().unwrap();
    assert_eq!(v6.url(), format!("http://[::1]:{}", v6.addr().port()));
    let body = json!({"filename": "a.mp4", "type": "video", "total_size": 1});
    let response = plain.post_json("/assets/multipart-uploads", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
