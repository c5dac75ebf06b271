//! [`MultipartUploadClient`]: one method per endpoint, with retries on transient failures.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ConfigError};
use super::net::{self, ProxyInfo};
use super::pager::{IncompleteUploadsPager, StatusPager};
use super::wire::*;
use crate::retry::{Backoff, parse_retry_after};

/// The TwelveLabs API, version 1.3.
pub const DEFAULT_BASE_URL: &str = "https://api.twelvelabs.io/v1.3";

/// The environment variable that names the base URL when none is given explicitly.
pub const BASE_URL_ENV: &str = "TWELVELABS_BASE_URL";

/// The most presigned URLs one call may ask for.
pub const MAX_URLS_PER_CALL: u64 = 50;

/// The most items one page of a listing may hold.
pub const MAX_PAGE_LIMIT: u64 = 50;

/// A client of the multipart upload and asset endpoints.
///
/// Cheap to clone: clones share one connection pool, which the uploader also uses for the
/// chunk PUTs, so connections are reused across the whole upload.
///
/// API calls are retried on transport errors, 408, 429 and 5xx, with full-jitter backoff
/// and `Retry-After` honoured; other errors come back at once.
#[derive(Clone)]
pub struct MultipartUploadClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    host: String,
    api_key: String,
    timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
    /// The proxy API calls go through, read when the client was built.
    proxy: Option<ProxyInfo>,
    /// How many roots were added beside the system's trust store.
    extra_roots: usize,
}

impl fmt::Debug for MultipartUploadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The API key is deliberately left out.
        f.debug_struct("MultipartUploadClient")
            .field("base_url", &self.inner.base_url)
            .field("max_retries", &self.inner.max_retries)
            .field("proxy", &self.inner.proxy)
            .finish_non_exhaustive()
    }
}

/// Configures a [`MultipartUploadClient`].
#[derive(Clone)]
pub struct ClientBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
    extra_roots: Vec<reqwest::Certificate>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(20),
            max_retries: 4,
            backoff: Backoff {
                base: Duration::from_millis(500),
                cap: Duration::from_secs(20),
            },
            extra_roots: Vec::new(),
        }
    }
}

impl ClientBuilder {
    /// The API key, sent as `x-api-key` on every API call (never on chunk PUTs).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL, including the version prefix (`.../v1.3`). An explicit value wins over
    /// `TWELVELABS_BASE_URL`, which wins over [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The time limit of one API call (not of chunk PUTs, which have a stall watchdog).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times a failed API call is retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The backoff between retries of API calls.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Trusts the certificates of a PEM bundle as roots too, beside the system's trust store
    /// (which stays in use). For a TLS-inspecting gateway whose root is not installed, or a
    /// private test server.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Certificates`] when the bundle holds no certificate or one that
    /// cannot be read.
    pub fn trust_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| ConfigError::Certificates(e.without_url().to_string()))?;
        if certs.is_empty() {
            return Err(ConfigError::Certificates(
                "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        self.extra_roots.extend(certs);
        Ok(self)
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`ApiError::Config`] when there is no API key or the base URL is not an http(s) URL.
    pub fn build(self) -> Result<MultipartUploadClient, ApiError> {
        let api_key = self.api_key.unwrap_or_default();
        if api_key.trim().is_empty() {
            return Err(ConfigError::MissingApiKey.into());
        }
        if api_key.chars().any(|c| c.is_control()) {
            return Err(ConfigError::ApiKeyControlCharacters.into());
        }
        let base_url = self
            .base_url
            .or_else(|| {
                std::env::var(BASE_URL_ENV)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            })
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| ConfigError::BaseUrl {
            url: base_url.clone(),
            reason: format!("is not a valid URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ConfigError::BaseUrl {
                url: base_url,
                reason: "must start with http:// or https://".into(),
            }
            .into());
        }
        let host = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_owned(),
        };
        net::install_tls_provider();
        let extra_roots = self.extra_roots.len();
        // A server on this computer (a sandbox, a test server) is never behind a proxy, as
        // browsers and the Windows "bypass for local addresses" rule have it.
        let local = net::is_loopback(&parsed);
        let mut http = reqwest::Client::builder();
        if local {
            http = http.no_proxy();
        }
        let http = http
            .tls_certs_merge(self.extra_roots)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tl-uploader/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Http(e.without_url().to_string()))?;
        Ok(MultipartUploadClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                host,
                api_key,
                timeout: self.timeout,
                max_retries: self.max_retries,
                backoff: self.backoff,
                // None for a local server too: `proxy_for` applies the same loopback rule.
                proxy: net::proxy_for(parsed.as_str()),
                extra_roots,
            }),
        })
    }
}

impl MultipartUploadClient {
    /// A builder with the defaults: 60 s per call, 4 retries.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client with `api_key`, the base URL from `TWELVELABS_BASE_URL` or the default.
    ///
    /// # Errors
    ///
    /// As [`ClientBuilder::build`].
    pub fn new(api_key: impl Into<String>) -> Result<Self, ApiError> {
        Self::builder().api_key(api_key).build()
    }

    /// The base URL in use, such as `https://api.twelvelabs.io/v1.3`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The host (and port) of the base URL, for messages.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// The proxy API calls go through (host and port, never credentials), or `None` for a
    /// direct connection. Chunk PUTs go to the storage host, which follows the same rules.
    pub fn proxy(&self) -> Option<&ProxyInfo> {
        self.inner.proxy.as_ref()
    }

    /// How many roots [`ClientBuilder::trust_pem`] added beside the system's trust store.
    pub fn extra_roots(&self) -> usize {
        self.inner.extra_roots
    }

    /// The pooled HTTP client the uploader uses for chunk PUTs.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Creates an upload session (`POST /assets/multipart-uploads`).
    ///
    /// # Errors
    ///
    /// [`ApiError`] after retries, or at once for a 4xx such as an invalid size.
    pub async fn create(
        &self,
        request: &CreateAssetUploadRequest,
    ) -> Result<CreateAssetUploadResponse, ApiError> {
        self.call(
            "create",
            Method::POST,
            "assets/multipart-uploads",
            &[],
            Some(request),
        )
        .await
        .map(|(body, _)| body)
    }

    /// Like [`create`](Self::create), also returning the server's clock reading from the
    /// response's `Date` header, so URL lifetimes can be measured without trusting the
    /// local clock.
    pub(crate) async fn create_with_date(
        &self,
        request: &CreateAssetUploadRequest,
    ) -> Result<(CreateAssetUploadResponse, Option<SystemTime>), ApiError> {
        self.call(
            "create",
            Method::POST,
            "assets/multipart-uploads",
            &[],
            Some(request),
        )
        .await
    }

    /// One page of the account's incomplete upload sessions.
    ///
    /// # Errors
    ///
    /// [`ApiError`] after retries.
    pub async fn list_incomplete_uploads_page(
        &self,
        page: u64,
        page_limit: u64,
    ) -> Result<ListIncompleteUploadsResponse, ApiError> {
        let query = page_query(page, page_limit);
        self.call::<_, ()>(
            "list_incomplete_uploads",
            Method::GET,
            "assets/multipart-uploads",
            &query,
            None,
        )
        .await
        .map(|(body, _)| body)
    }

    /// A pager over every incomplete upload session, `page_limit` per request (at most 50).
    pub fn list_incomplete_uploads(&self, page_limit: u64) -> IncompleteUploadsPager {
        IncompleteUploadsPager::new(self.clone(), page_limit)
    }

    /// One page of a session's status, with per-chunk detail.
    ///
    /// # Errors
    ///
    /// [`ApiError`] after retries; 404 for an unknown session.
    pub async fn get_status_page(
        &self,
        upload_id: &str,
        page: u64,
        page_limit: u64,
    ) -> Result<GetUploadStatusResponse, ApiError> {
        let path = format!("assets/multipart-uploads/{}", encode_segment(upload_id));
        let query = page_query(page, page_limit);
        self.call::<_, ()>("get_status", Method::GET, &path, &query, None)
            .await
            .map(|(body, _)| body)
    }

    /// One status call of session `upload_id`, without retries, with `within` to answer:
    /// the cheap "is the API there?" asked while an upload waits for the network. `None`
    /// when no answer came in time.
    pub(crate) async fn probe_status(
        &self,
        upload_id: &str,
        within: Duration,
    ) -> Option<Result<GetUploadStatusResponse, ApiError>> {
        let url = format!(
            "{}/assets/multipart-uploads/{}",
            self.inner.base_url,
            encode_segment(upload_id)
        );
        let query = page_query(1, 1);
        let once = self.call_once::<_, ()>("get_status", Method::GET, &url, &query, None);
        tokio::time::timeout(within, once)
            .await
            .ok()
            .map(|answer| answer.map(|(body, _)| body))
    }

    /// A pager over a session's chunk list, `page_limit` per request (at most 50).
    pub fn get_status(&self, upload_id: &str, page_limit: u64) -> StatusPager {
        StatusPager::new(self.clone(), upload_id.to_owned(), page_limit)
    }

    /// Reports completed chunks (`POST /assets/multipart-uploads/{upload_id}`).
    ///
    /// # Errors
    ///
    /// [`ApiError`] after retries; 400 when a proof or size does not match.
    pub async fn report_chunk_batch(
        &self,
        upload_id: &str,
        completed_chunks: &[CompletedChunk],
    ) -> Result<ReportChunkBatchResponse, ApiError> {
        #[derive(Serialize)]
        struct Body<'a> {
            completed_chunks: &'a [CompletedChunk],
        }
        let path = format!("assets/multipart-uploads/{}", encode_segment(upload_id));
        self.call(
            "report_chunk_batch",
            Method::POST,
            &path,
            &[],
            Some(&Body { completed_chunks }),
        )
        .await
        .map(|(body, _)| body)
    }

    /// Asks for presigned URLs for chunks `start..start + count` (`count` at most 50).
    ///
    /// # Errors
    ///
    /// [`ApiError::Config`] for a `count` outside 1–50 or a `start` of 0 (checked before
    /// sending), else [`ApiError`] after retries.
    pub async fn get_additional_presigned_urls(
        &self,
        upload_id: &str,
        start: u64,
        count: u64,
    ) -> Result<RequestAdditionalPresignedUrlsResponse, ApiError> {
        self.presigned_urls_with_date(upload_id, start, count)
            .await
            .map(|(body, _)| body)
    }

    pub(crate) async fn presigned_urls_with_date(
        &self,
        upload_id: &str,
        start: u64,
        count: u64,
    ) -> Result<(RequestAdditionalPresignedUrlsResponse, Option<SystemTime>), ApiError> {
        if start == 0 || count == 0 || count > MAX_URLS_PER_CALL {
            return Err(ApiError::Config(ConfigError::InvalidArgument(format!(
                "presigned URLs: start must be at least 1 and count 1–50 (got start {start}, count {count})"
            ))));
        }
        let path = format!(
            "assets/multipart-uploads/{}/presigned-urls",
            encode_segment(upload_id)
        );
        let body = RequestAdditionalPresignedUrlsRequest { start, count };
        self.call(
            "get_additional_presigned_urls",
            Method::POST,
            &path,
            &[],
            Some(&body),
        )
        .await
    }

    /// Retrieves an asset (`GET /assets/{asset_id}`).
    ///
    /// # Errors
    ///
    /// [`ApiError`] after retries; 404 for an unknown asset.
    pub async fn retrieve_asset(&self, asset_id: &str) -> Result<Asset, ApiError> {
        let path = format!("assets/{}", encode_segment(asset_id));
        self.call::<_, ()>("retrieve_asset", Method::GET, &path, &[], None)
            .await
            .map(|(body, _)| body)
    }

    /// Sends one API call, retrying transient failures, and decodes the JSON answer.
    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        request: &'static str,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<&B>,
    ) -> Result<(T, Option<SystemTime>), ApiError> {
        let url = format!("{}/{}", self.inner.base_url, path);
        let mut attempt = 0;
        loop {
            let result = self
                .call_once(request, method.clone(), &url, query, body)
                .await;
            match result {
                Err(err) if err.is_retryable() && attempt < self.inner.max_retries => {
                    let delay = self
                        .inner
                        .backoff
                        .delay_with_hint(attempt, err.retry_after());
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    async fn call_once<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        request: &'static str,
        method: Method,
        url: &str,
        query: &[(&'static str, String)],
        body: Option<&B>,
    ) -> Result<(T, Option<SystemTime>), ApiError> {
        let transport = |source: reqwest::Error| match net::certificate_problem(&source) {
            Some(problem) => ApiError::Untrusted {
                request,
                host: self.inner.host.clone(),
                problem,
            },
            None => ApiError::Transport {
                request,
                host: self.inner.host.clone(),
                via: self.inner.proxy.as_ref().map(|p| p.url.clone()),
                source: source.without_url(),
            },
        };
        let mut builder = self
            .inner
            .http
            .request(method, url)
            .header("x-api-key", &self.inner.api_key)
            .header("accept", "application/json")
            .timeout(self.inner.timeout);
        if !query.is_empty() {
            builder = builder.query(query);
        }
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(ApiError::from_body(
                request,
                status.as_u16(),
                &bytes,
                retry_after,
            ));
        }
        if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            return serde_json::from_slice(b"{}")
                .map(|v| (v, date))
                .map_err(|_| ApiError::Decode {
                    request,
                    detail: "the answer was empty".into(),
                });
        }
        serde_json::from_slice(&bytes)
            .map(|v| (v, date))
            .map_err(|e| ApiError::Decode {
                request,
                detail: format!("{e} (body starts: {})", super::error::snippet(&bytes)),
            })
    }
}

fn page_query(page: u64, page_limit: u64) -> Vec<(&'static str, String)> {
    vec![
        ("page", page.max(1).to_string()),
        (
            "page_limit",
            page_limit.clamp(1, MAX_PAGE_LIMIT).to_string(),
        ),
    ]
}

/// Percent-encodes an id for use as one path segment.
fn encode_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_as_one_segment() {
        assert_eq!(
            encode_segment("507f1f77bcf86cd799439011"),
            "507f1f77bcf86cd799439011"
        );
        assert_eq!(encode_segment("../a b/?"), "..%2Fa%20b%2F%3F");
    }

    #[test]
    fn builder_refuses_a_missing_key_and_a_bad_url() {
        let e = MultipartUploadClient::builder()
            .base_url("http://h/v1.3")
            .build()
            .unwrap_err();
        assert!(
            matches!(e, ApiError::Config(ConfigError::MissingApiKey)),
            "{e:?}"
        );
        let e = MultipartUploadClient::builder()
            .api_key("k")
            .base_url("ftp://h")
            .build();
        assert!(e.unwrap_err().to_string().contains("http://"));
        let e = MultipartUploadClient::builder()
            .api_key("k")
            .base_url("not a url")
            .build();
        assert!(e.unwrap_err().to_string().contains("not a valid URL"));
    }

    #[test]
    fn explicit_base_url_wins_and_trailing_slash_is_dropped() {
        let c = MultipartUploadClient::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9/v1.3/")
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:9/v1.3");
        assert_eq!(c.host(), "127.0.0.1:9");
        assert!(!format!("{c:?}").contains("\"k\""));
    }

    #[test]
    fn page_limits_are_clamped_to_the_protocol() {
        assert_eq!(
            page_query(0, 500),
            vec![("page", "1".into()), ("page_limit", "50".into())]
        );
    }
}
