//! Whole uploads on each storage, session expiry, and starting and stopping sandboxes.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tl_sandbox::{Sandbox, SandboxError, Storage};

use crate::support::{
    Env, assert_error, assert_xml_error, bytes, entry, sha256_hex, small_builder,
};

/// 3 full chunks of 64 KiB and an odd remainder.
fn odd_file() -> Vec<u8> {
    bytes(3 * 64 * 1024 + 12_345, 42)
}

#[tokio::test]
async fn a_full_upload_in_memory_reports_the_right_sha256() {
    let env = Env::small();
    let data = odd_file();
    let created = env.upload("movie.mp4", &data).await;
    let asset = env
        .settled_asset(created["asset_id"].as_str().unwrap())
        .await;
    assert_eq!(asset["status"], "ready");
    assert_eq!(asset["size"], data.len());
    assert_eq!(asset["sha256"], sha256_hex(&data));
}

/// Every regular file under `root`.
fn files_under(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_full_upload_on_disk_stays_inside_its_directory() {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("a").join("store");
    let env = Env::start(small_builder().storage(Storage::Disk(store.clone())));
    let data = odd_file();
    let created = env.upload("../../escape.mp4", &data).await;
    let asset = env
        .settled_asset(created["asset_id"].as_str().unwrap())
        .await;
    assert_eq!(asset["filename"], "../../escape.mp4");
    assert_eq!(asset["sha256"], sha256_hex(&data));

    let upload_id = created["upload_id"].as_str().unwrap();
    let files = files_under(root.path());
    let store = store.canonicalize().unwrap();
    assert_eq!(files.len(), 4, "{files:?}");
    for file in &files {
        let file = file.canonicalize().unwrap();
        assert!(file.starts_with(store.join(upload_id)), "{file:?}");
        assert!(file.extension().is_some_and(|e| e == "part"), "{file:?}");
    }
    let last = std::fs::read(store.join(upload_id).join("4.part")).unwrap();
    assert_eq!(last, data[3 * 64 * 1024..]);

    // Deleting the asset deletes its bytes.
    let path = format!("/assets/{}", created["asset_id"].as_str().unwrap());
    env.api(reqwest::Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert!(files_under(root.path()).is_empty());
}

#[tokio::test]
async fn discard_storage_keeps_sizes_but_no_digest() {
    let env = Env::start(small_builder().storage(Storage::Discard));
    let data = odd_file();
    let created = env.upload("big.mp4", &data).await;
    let asset = env
        .settled_asset(created["asset_id"].as_str().unwrap())
        .await;
    assert_eq!(asset["status"], "ready");
    assert_eq!(asset["size"], data.len());
    assert!(asset.get("sha256").is_none(), "{asset}");
}

#[tokio::test]
async fn a_session_expires_after_its_ttl() {
    let env = Env::start(small_builder().session_ttl(Duration::from_millis(800)));
    let created = env.create(2 * 64 * 1024).await;
    let id = created["upload_id"].as_str().unwrap();
    let url = created["upload_urls"][0]["url"].as_str().unwrap();
    let etag = env.put_ok(url, vec![0; 64 * 1024]).await;
    let path = format!("/assets/multipart-uploads/{id}");
    // Waiting for real time is the point here: poll until the session expires.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status: Value = env.get(&path).await.json().await.unwrap();
        if status["status"] == "expired" {
            break;
        }
        assert_eq!(status["status"], "active");
        assert!(Instant::now() < deadline, "the session never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = env.report(id, json!([entry(1, &etag, 64 * 1024)])).await;
    assert_error(report, StatusCode::BAD_REQUEST, "parameter_invalid").await;
    let more = env
        .post_json(
            &format!("{path}/presigned-urls"),
            &json!({"start": 1, "count": 1}),
        )
        .await;
    assert_error(more, StatusCode::BAD_REQUEST, "parameter_invalid").await;
    assert_xml_error(
        env.put(url, vec![0; 64 * 1024]).await,
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
    )
    .await;
    let listed: Value = env
        .get("/assets/multipart-uploads")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["upload_id"], id);
    assert_eq!(listed["data"][0]["status"], "expired");
}

#[test]
fn non_loopback_addresses_need_consent() {
    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    let refused = Sandbox::builder().listen(any).start();
    let Err(error) = refused else {
        panic!("a wildcard listen address was accepted")
    };
    assert!(matches!(error, SandboxError::NonLoopback { .. }));
    assert!(error.to_string().contains("non-loopback"), "{error}");
    let allowed = Sandbox::builder()
        .listen(any)
        .allow_non_loopback(true)
        .start()
        .unwrap();
    assert!(
        allowed.url().starts_with("http://127.0.0.1:"),
        "{}",
        allowed.url()
    );
}

#[test]
fn start_errors_are_reported() {
    let first = Sandbox::builder().start().unwrap();
    let taken = Sandbox::builder().listen(first.addr()).start();
    assert!(matches!(taken, Err(SandboxError::Bind { .. })), "{taken:?}");

    let file = tempfile::NamedTempFile::new().unwrap();
    let bad_dir = Sandbox::builder()
        .storage(Storage::Disk(file.path().join("sub")))
        .start();
    assert!(
        matches!(bad_dir, Err(SandboxError::StorageDir { .. })),
        "{bad_dir:?}"
    );
    let no_key = Sandbox::builder().api_key("").start();
    assert!(
        matches!(no_key, Err(SandboxError::InvalidSetting { .. })),
        "{no_key:?}"
    );
}

/// One raw HTTP/1.1 exchange, so this test needs no async runtime at all.
fn raw_get(addr: SocketAddr, path: &str, key: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nx-api-key: {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn many_sandboxes_run_side_by_side_from_sync_code() {
    let sandboxes: Vec<_> = (0..8)
        .map(|i| {
            Sandbox::builder()
                .api_key(format!("key-{i}"))
                .start()
                .unwrap()
        })
        .collect();
    let mut ports: Vec<_> = sandboxes.iter().map(|s| s.addr().port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 8);
    for (i, sandbox) in sandboxes.iter().enumerate() {
        let ok = raw_get(sandbox.addr(), "/v1.3/assets", &format!("key-{i}"));
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        let other = raw_get(sandbox.addr(), "/v1.3/assets", &format!("key-{}", i + 1));
        assert!(other.starts_with("HTTP/1.1 401"), "{other}");
    }
}

#[test]
fn shutdown_stops_the_server() {
    let sandbox = Sandbox::builder().start().unwrap();
    let addr = sandbox.addr();
    assert!(raw_get(addr, "/v1.3/assets", "sandbox-key").starts_with("HTTP/1.1 200"));
    assert!(format!("{sandbox:?}").contains(&addr.to_string()));
    sandbox.shutdown();
    assert!(TcpStream::connect(addr).is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn starting_inside_a_current_thread_runtime_does_not_deadlock() {
    let env = Env::small();
    let created = env.create(10).await;
    assert!(created["upload_id"].is_string());
    drop(env);
}
