//! The link emulator: the per-connection cap, the shared link capacity, and the small
//! receive window that keeps a client's own byte counts honest.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{future, stream};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Env, small_builder};

const MIB: usize = 1024 * 1024;
const MB: f64 = 1e6;

/// Runs `n` concurrent `PUT /v1.3/sandbox/sink` of `len` bytes each (one connection each)
/// and returns how long each took and how long they all took, from a common start.
async fn concurrent_sinks(env: &Env, n: usize, len: usize) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let puts = (0..n).map(|_| async move {
        let response = env
            .api(Method::PUT, "/sandbox/sink")
            .body(vec![0u8; len])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        started.elapsed()
    });
    let each = future::join_all(puts).await;
    (each, started.elapsed())
}

/// Bytes per second.
fn rate(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64()
}

/// Asserts that `measured` is within `tolerance` (a fraction) of `expected`.
fn assert_near(what: &str, measured: f64, expected: f64, tolerance: f64) {
    let error = (measured - expected).abs() / expected;
    assert!(
        error <= tolerance,
        "{what}: {:.3} MB/s, expected {:.3} MB/s ± {:.0} %",
        measured / MB,
        expected / MB,
        tolerance * 100.0
    );
}

async fn set_faults(env: &Env, body: Value) -> Value {
    let response = env.post_json("/sandbox/faults", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn four_connections_share_the_link_fairly() {
    // 4 x 2.5 MB at 4 MB/s: about 2.5 s, whichever way the link is split.
    let link = 4_000_000;
    let (n, len) = (4, 2_500_000);
    let env = Env::start(small_builder().link_rate(Some(link)));
    let (each, all) = concurrent_sinks(&env, n, len).await;
    eprintln!("each {each:?}, all {all:?}");
    assert_near("the aggregate", rate(n * len, all), link as f64, 0.10);
    for (i, took) in each.iter().enumerate() {
        assert_near(
            &format!("connection {i}"),
            rate(len, *took),
            link as f64 / n as f64,
            0.25,
        );
    }
    // Fair turns: nobody finishes early because someone else waited.
    let first = each.iter().min().unwrap();
    assert!(all.as_secs_f64() / first.as_secs_f64() < 1.1, "{each:?}");
}

#[tokio::test]
async fn the_per_connection_cap_holds_under_a_wider_link() {
    let (cap, link) = (1_000_000, 3_000_000);
    let env = Env::start(small_builder().bandwidth(Some(cap)).link_rate(Some(link)));
    // One connection gets its cap, two get twice it, four share the link.
    for (n, len, expected) in [
        (1, 1_500_000, cap),
        (2, 1_500_000, 2 * cap),
        (4, 1_125_000, link),
    ] {
        let (each, all) = concurrent_sinks(&env, n, len).await;
        eprintln!("{n}: each {each:?}, all {all:?}");
        assert_near(
            &format!("{n} connections"),
            rate(n * len, all),
            expected as f64,
            0.10,
        );
        for (i, took) in each.iter().enumerate() {
            assert_near(
                &format!("connection {i} of {n}"),
                rate(len, *took),
                expected as f64 / n as f64,
                0.25,
            );
        }
    }
}

#[tokio::test]
async fn a_link_rate_change_applies_to_open_connections() {
    // 3 MB: the first MB at 1 MB/s, then the rate goes to 4 MB/s through the faults
    // endpoint, mid-body; the other 2 MB take half a second instead of two.
    let len = 3_000_000;
    let env = Env::start(
        small_builder()
            .chunk_size(len as u64)
            .link_rate(Some(1_000_000)),
    );
    let created = env.create(len as u64).await;
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    let put = async {
        let response = env.put(&url, vec![1u8; len]).await;
        assert_eq!(response.status(), StatusCode::OK);
        started.elapsed()
    };
    let change = async {
        tl_test_support::wait::eventually(
            "a third of the body read",
            Duration::from_secs(10),
            || {
                let read = env.sandbox.stats().bytes_received;
                async move { (read >= len as u64 / 3).then_some(()) }
            },
        )
        .await;
        let (at, read) = (started.elapsed(), env.sandbox.stats().bytes_received);
        let view = set_faults(&env, json!({"link_rate": 4_000_000})).await;
        assert_eq!(view["link_rate"], 4_000_000);
        (at, read)
    };
    let (done, (changed_at, read_then)) = tokio::join!(put, change);
    eprintln!("changed at {changed_at:?} after {read_then} bytes, done at {done:?}");
    assert_near(
        "before the change",
        rate(read_then as usize, changed_at),
        1e6,
        0.15,
    );
    let rest = len - read_then as usize;
    assert_near("after the change", rate(rest, done - changed_at), 4e6, 0.20);

    let view = set_faults(&env, json!({"link_rate": null})).await;
    assert!(view["link_rate"].is_null());
    env.sandbox.set_link_rate(Some(500_000));
    let listed: Value = env.get("/sandbox/faults").await.json().await.unwrap();
    assert_eq!(listed["link_rate"], 500_000);
}

/// One sample of a streamed upload: time since the start, bytes the client had handed to
/// its HTTP stack, bytes the server had read.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    written: u64,
    read: u64,
}

/// PUTs `len` bytes as a stream of 16 KiB pieces to a one-chunk session, sampling the
/// client's written count against the server's `bytes_received` every 20 ms.
async fn streamed_put_samples(env: &Env, len: usize) -> Vec<Sample> {
    let created = env.create(len as u64).await;
    let url = created["upload_urls"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    let pieces = stream::iter((0..len / (16 * 1024)).map(move |_| {
        counter.fetch_add(16 * 1024, Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![7u8; 16 * 1024])
    }));
    let put = env
        .http
        .put(&url)
        .body(reqwest::Body::wrap_stream(pieces))
        .send();
    tokio::pin!(put);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut samples = Vec::new();
    loop {
        tokio::select! {
            response = &mut put => {
                assert_eq!(response.unwrap().status(), StatusCode::OK);
                return samples;
            }
            _ = tick.tick() => samples.push(Sample {
                at: started.elapsed(),
                written: written.load(Ordering::SeqCst),
                read: env.sandbox.stats().bytes_received,
            }),
        }
    }
}

// The MSS clamp that makes this hold is Linux only (see the sandbox's `conn` module).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_shaped_connection_keeps_the_client_close_to_the_server() {
    let len = 5 * MIB;
    let env = Env::start(
        small_builder()
            .chunk_size(len as u64)
            .bandwidth(Some(1_500_000)),
    );
    let samples = streamed_put_samples(&env, len).await;
    let at_one_second = samples
        .iter()
        .find(|s| s.at >= Duration::from_secs(1))
        .copied()
        .unwrap();
    let worst = samples
        .iter()
        .map(|s| s.written.saturating_sub(s.read))
        .max()
        .unwrap();
    eprintln!("at 1 s: {at_one_second:?}; worst slack {worst} bytes");
    // Without the small window and the Ethernet MSS, the client's kernel takes the whole
    // body within the first second, about 4 MB ahead of the server. With them it stays
    // 1-2 MB ahead: the client's own send buffer, which only the client can size (it grows
    // with the client's congestion window, more under BBR than under CUBIC).
    let bound = 5 * MIB as u64 / 2;
    assert!(worst < bound, "the client ran {worst} bytes ahead");
    let (written, read) = (at_one_second.written, at_one_second.read);
    assert!(written < read + bound, "{at_one_second:?}");
}
