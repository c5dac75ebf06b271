//! Helpers shared by the integration tests: a started sandbox plus an HTTP client, and the
//! protocol steps (create, PUT, report, full upload) spelled once.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tl_sandbox::config::DEFAULT_API_KEY;
use tl_sandbox::{SandboxBuilder, SandboxHandle};

// Not every test binary uses them (see `dead_code` above).
/// Deterministic pseudo-random bytes, so failures reproduce: `bytes(len, seed)`.
#[allow(unused_imports)]
pub use tl_test_support::random_bytes as bytes;
/// The SHA-256 of bytes, in hex.
#[allow(unused_imports)]
pub use tl_test_support::sha256_hex;

/// A running sandbox and a client for it.
pub struct Env {
    pub sandbox: SandboxHandle,
    pub http: reqwest::Client,
}

/// A reqwest client builder. reqwest is built with `rustls-no-provider`, and building any
/// client (plain HTTP too) panics without a TLS provider: this installs ring's first.
pub fn client_builder() -> reqwest::ClientBuilder {
    tl_test_support::install_ring_provider();
    reqwest::Client::builder()
}

/// A client that trusts `ca_pem` only (see [`tl_test_support::tls_client_config`]).
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tl_test_support::tls_client_config(ca_pem))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Env {
    pub fn start(builder: SandboxBuilder) -> Self {
        Self {
            sandbox: builder.start().expect("sandbox starts"),
            http: client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// A sandbox serving HTTPS with a certificate for `localhost` from a fresh throwaway CA,
    /// and a client that trusts that CA only. Returns the CA's PEM too.
    pub fn start_tls(builder: SandboxBuilder) -> (Self, String) {
        let (ca_pem, cert_pem, key_pem) = tl_test_support::throwaway_ca();
        let env = Self {
            sandbox: builder
                .tls(cert_pem, key_pem)
                .start()
                .expect("sandbox starts"),
            http: https_client(&ca_pem),
        };
        (env, ca_pem)
    }

    /// A sandbox with small chunks (64 KiB) and no processing delay.
    pub fn small() -> Self {
        Self::start(small_builder())
    }

    /// An API request with the right key.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.sandbox.base_url()))
            .header("x-api-key", self.sandbox.api_key())
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.api(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.api(Method::GET, path).send().await.unwrap()
    }

    /// Creates a session for `total_size` bytes; returns the create response.
    pub async fn create(&self, total_size: u64) -> Value {
        self.create_named("clip.mp4", total_size).await
    }

    pub async fn create_named(&self, filename: &str, total_size: u64) -> Value {
        let body = json!({"filename": filename, "type": "video", "total_size": total_size});
        let response = self.post_json("/assets/multipart-uploads", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// Fresh URLs for chunks `start ..= start + count - 1`, by index.
    pub async fn urls(&self, upload_id: &str, start: u64, count: u64) -> Vec<String> {
        let response = self
            .post_json(
                &format!("/assets/multipart-uploads/{upload_id}/presigned-urls"),
                &json!({"start": start, "count": count}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["upload_urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["url"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn url(&self, upload_id: &str, index: u64) -> String {
        self.urls(upload_id, index, 1).await.remove(0)
    }

    pub async fn put(&self, url: &str, body: Vec<u8>) -> Response {
        self.http.put(url).body(body).send().await.unwrap()
    }

    /// PUTs a chunk and returns its ETag, unquoted.
    pub async fn put_ok(&self, url: &str, body: Vec<u8>) -> String {
        let response = self.put(url, body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        etag.trim_matches('"').to_owned()
    }

    pub async fn report(&self, upload_id: &str, chunks: Value) -> Response {
        self.post_json(
            &format!("/assets/multipart-uploads/{upload_id}"),
            &json!({ "completed_chunks": chunks }),
        )
        .await
    }

    /// Uploads `data` the way a good client does: create, PUT every chunk (fetching URLs
    /// beyond the initial set), report everything. Returns the create response.
    pub async fn upload(&self, filename: &str, data: &[u8]) -> Value {
        let created = self.create_named(filename, data.len() as u64).await;
        let upload_id = created["upload_id"].as_str().unwrap();
        let chunk_size = created["chunk_size"].as_u64().unwrap() as usize;
        let total = created["total_chunks"].as_u64().unwrap();
        let mut urls: Vec<String> = created["upload_urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["url"].as_str().unwrap().to_owned())
            .collect();
        while (urls.len() as u64) < total {
            let start = urls.len() as u64 + 1;
            urls.extend(self.urls(upload_id, start, 50).await);
        }
        let mut reported = Vec::new();
        for (i, chunk) in data.chunks(chunk_size).enumerate() {
            let etag = self.put_ok(&urls[i], chunk.to_vec()).await;
            reported.push(json!({
                "chunk_index": i + 1, "proof": etag, "proof_type": "etag", "chunk_size": chunk.len()
            }));
        }
        for batch in reported.chunks(7) {
            let response = self.report(upload_id, json!(batch)).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        created
    }

    /// Polls `GET /assets/{id}` until the asset leaves `processing` (over this client when
    /// the sandbox speaks HTTPS, which the shared helper's plain HTTP GET does not).
    pub async fn settled_asset(&self, asset_id: &str) -> Value {
        let (base_url, key) = (self.sandbox.base_url(), self.sandbox.api_key());
        let limit = Duration::from_secs(20);
        if !base_url.starts_with("https://") {
            return tl_test_support::settled_asset(&base_url, key, asset_id, limit)
                .await
                .unwrap();
        }
        let path = format!("/assets/{asset_id}");
        let path = path.as_str();
        let every = Duration::from_millis(20);
        let settled = tl_test_support::poll("the asset to settle", limit, every, || async move {
            let response = self.get(path).await;
            if response.status() != StatusCode::OK {
                return Ok::<_, String>(None);
            }
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            Ok((body["status"] != "processing").then_some(body))
        });
        settled.await.unwrap()
    }
}

/// A sandbox with the default key, small chunks (64 KiB), 3 initial URLs and no processing
/// delay.
pub fn small_builder() -> SandboxBuilder {
    tl_test_support::sandbox(DEFAULT_API_KEY, 64 * 1024).initial_urls(3)
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

/// Asserts a JSON error body with the given status and code.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "wrong status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// Asserts an S3-style XML error with the given status and code; returns the body.
pub async fn assert_xml_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let body = response.text().await.unwrap();
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(body.contains(&format!("<Code>{code}</Code>")), "{body}");
    body
}

/// Whether a string is an RFC 3339 `YYYY-MM-DDTHH:MM:SSZ` date-time.
pub fn is_timestamp(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let b = text.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

pub fn is_id(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 24 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A report entry.
pub fn entry(index: u64, etag: &str, size: usize) -> Value {
    json!({"chunk_index": index, "proof": etag, "proof_type": "etag", "chunk_size": size})
}

/// The path and query of a URL (`/storage/..?..`), for raw requests.
pub fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// Reads one HTTP/1.1 response head from a raw socket: the status line and headers, lower
/// cased, up to the blank line. `None` if the connection ends first.
pub async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).to_ascii_lowercase())
}
