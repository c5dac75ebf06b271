//! Outages: `refuse`, `blackhole` and `reset`, through the handle, the admin endpoint and the
//! builder; the admin endpoints are spared, and the server works as before afterwards.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tl_sandbox::OutageKind;
use tokio::io::AsyncWriteExt as _;

use crate::support::{Env, bytes, read_head, sha256_hex, small_builder};

const CHUNK: usize = 64 * 1024;

/// A client that opens a fresh connection for every request, so no test trips over a
/// pooled connection that an outage reset.
fn fresh_client(timeout: Duration) -> reqwest::Client {
    crate::support::client_builder()
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .build()
        .unwrap()
}

/// An API call with the key.
async fn api_get(env: &Env, http: &reqwest::Client, path: &str) -> reqwest::Result<StatusCode> {
    let response = http
        .get(format!("{}{path}", env.sandbox.base_url()))
        .header("x-api-key", env.sandbox.api_key())
        .send()
        .await?;
    Ok(response.status())
}

/// A raw keep-alive connection that has served one API call, so the server holds it idle.
async fn idle_connection(env: &Env) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(env.sandbox.addr())
        .await
        .unwrap();
    let request = format!(
        "GET /v1.3/sandbox/faults HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\n\r\n",
        env.sandbox.api_key()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    stream
}

/// Whether the server has reset the connection (reading fails or ends).
async fn was_reset(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) => return true,
            Ok(Ok(_)) => continue, // the rest of the earlier answer's body
            Ok(Err(e)) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn refuse_closes_the_port_resets_connections_and_comes_back_on_the_same_port() {
    let env = Env::small();
    let data = bytes(2 * CHUNK, 1);
    let created = env.create(data.len() as u64).await;
    let id = created["upload_id"].as_str().unwrap().to_owned();
    let url = |i: usize| {
        created["upload_urls"][i]["url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = env.put_ok(&url(0), data[..CHUNK].to_vec()).await;
    let mut idle = idle_connection(&env).await;
    let addr = env.sandbox.addr();

    env.sandbox
        .start_outage(OutageKind::Refuse, Duration::from_secs(3));
    let refused = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(was_reset(&mut idle).await, "open connections are reset");
    let (kind, left) = env.sandbox.outage().unwrap();
    assert_eq!(kind, OutageKind::Refuse);
    assert!(left <= Duration::from_secs(3));
    assert!(env.sandbox.stats().faults_fired.outage_connections >= 1);

    env.sandbox.end_outage();
    assert_eq!(env.sandbox.outage(), None);
    assert_eq!(env.sandbox.addr(), addr);
    let http = fresh_client(Duration::from_secs(10));
    let status = api_get(&env, &http, &format!("/assets/multipart-uploads/{id}")).await;
    assert_eq!(status.unwrap(), StatusCode::OK);
    // The session is intact: the upload finishes.
    let second = env.put_ok(&url(1), data[CHUNK..].to_vec()).await;
    let report = env
        .report(
            &id,
            json!([
                crate::support::entry(1, &first, CHUNK),
                crate::support::entry(2, &second, CHUNK)
            ]),
        )
        .await;
    assert_eq!(report.status(), StatusCode::OK);
    let asset = env
        .settled_asset(created["asset_id"].as_str().unwrap())
        .await;
    assert_eq!(asset["sha256"], sha256_hex(&data));
}

#[tokio::test]
async fn blackhole_answers_nothing_reads_nothing_and_spares_the_admin_endpoints() {
    let env = Env::small();
    let created = env.create(CHUNK as u64).await;
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = env
        .post_json(
            "/sandbox/outage",
            &json!({"kind": "blackhole", "seconds": 3}),
        )
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let view: Value = started.json().await.unwrap();
    assert_eq!(view["kind"], "blackhole");
    assert_eq!(view["active"], true);

    let http = fresh_client(Duration::from_millis(400));
    let call = api_get(&env, &http, "/assets/multipart-uploads").await;
    assert!(call.unwrap_err().is_timeout(), "silence, not an answer");
    let put = http.put(&url).body(vec![0u8; CHUNK]).send().await;
    assert!(put.unwrap_err().is_timeout());

    // The stats are still there, and show what the outage swallowed.
    let stats: Value = env.get("/sandbox/stats").await.json().await.unwrap();
    assert_eq!(stats["faults_fired"]["outage_requests"], 2);
    assert_eq!(stats["bytes_received"], 0, "no body was read");
    assert_eq!(stats["puts_received"], 0);

    let ended = env
        .post_json("/sandbox/outage", &json!({"kind": "none"}))
        .await;
    let view: Value = ended.json().await.unwrap();
    assert_eq!(view, json!({"kind": "none", "active": false}));
    let http = fresh_client(Duration::from_secs(10));
    let call = api_get(&env, &http, "/assets/multipart-uploads").await;
    assert_eq!(call.unwrap(), StatusCode::OK);
    env.put_ok(&url, vec![0u8; CHUNK]).await;
}

#[tokio::test]
async fn blackhole_freezes_a_put_under_way_until_it_ends() {
    // A slow link keeps the PUT under way long enough for the outage to catch it.
    let env = Env::start(
        small_builder()
            .chunk_size(512 * 1024)
            .bandwidth(Some(256 * 1024)),
    );
    let created = env.create(512 * 1024).await;
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = fresh_client(Duration::from_secs(30));
    let put = tokio::spawn({
        let http = http.clone();
        async move { http.put(&url).body(vec![0u8; 512 * 1024]).send().await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.sandbox.stats().bytes_received == 0 {
        assert!(Instant::now() < deadline, "the PUT never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.sandbox
        .start_outage(OutageKind::Blackhole, Duration::from_secs(30));
    let frozen_at = env.sandbox.stats().bytes_received;
    // Half a second of a 256 KiB/s link, had it not been frozen (a slice may be in flight).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = env.sandbox.stats().bytes_received;
    assert!(later - frozen_at <= 64 * 1024, "{frozen_at} -> {later}");
    assert!(!put.is_finished());
    assert_eq!(env.sandbox.stats().faults_fired.outage_connections, 1);

    env.sandbox.end_outage();
    let response = put.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "it carries on afterwards"
    );
}

#[tokio::test]
async fn reset_reads_part_of_a_request_then_resets() {
    let env = Env::start(small_builder().chunk_size(1024 * 1024));
    let created = env.create(1024 * 1024).await;
    let id = created["upload_id"].as_str().unwrap().to_owned();
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    env.sandbox
        .start_outage(OutageKind::Reset, Duration::from_secs(3));

    let http = fresh_client(Duration::from_secs(10));
    let put = http.put(&url).body(vec![0u8; 1024 * 1024]).send().await;
    let e = put.unwrap_err();
    assert!(!e.is_timeout(), "a reset, not silence: {e:?}");
    let call = api_get(&env, &http, &format!("/assets/multipart-uploads/{id}")).await;
    assert!(!call.unwrap_err().is_timeout());
    let stats = env.sandbox.stats();
    assert_eq!(stats.faults_fired.outage_requests, 2);
    assert!(stats.faults_fired.outage_connections >= 2);
    assert_eq!(stats.puts_received, 0, "the PUT never reached the storage");

    env.sandbox.end_outage();
    let status = api_get(&env, &http, &format!("/assets/multipart-uploads/{id}")).await;
    assert_eq!(status.unwrap(), StatusCode::OK);
    env.put_ok(&url, vec![0u8; 1024 * 1024]).await;
}

#[tokio::test]
async fn a_planned_outage_begins_and_ends_by_itself() {
    let before = Instant::now();
    let env = Env::start(small_builder().outage(
        OutageKind::Reset,
        Duration::from_secs(1),
        Duration::ZERO,
    ));
    let http = fresh_client(Duration::from_secs(10));
    assert!(api_get(&env, &http, "/assets").await.is_err());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(status) = api_get(&env, &http, "/assets").await {
            assert_eq!(status, StatusCode::OK);
            break;
        }
        assert!(Instant::now() < deadline, "the outage never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(before.elapsed() >= Duration::from_secs(1));
    assert_eq!(env.sandbox.outage(), None);
}

#[tokio::test]
async fn the_outage_endpoint_validates() {
    let env = Env::small();
    for (body, code) in [
        (json!({}), "parameter_not_provided"),
        (json!({"kind": "flood", "seconds": 1}), "parameter_invalid"),
        (json!({"kind": "reset"}), "parameter_not_provided"),
        (json!({"kind": "reset", "seconds": -1}), "parameter_invalid"),
        (json!({"kind": "reset", "secs": 1}), "parameter_unknown"),
    ] {
        let response = env.post_json("/sandbox/outage", &body).await;
        crate::support::assert_error(response, StatusCode::BAD_REQUEST, code).await;
    }
    let view: Value = env.get("/sandbox/outage").await.json().await.unwrap();
    assert_eq!(view["kind"], "none");
}
