//! One chunk PUT to a presigned URL, watched for stalls.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG};

use super::source::Activity;
use crate::error::ChunkError;

/// The most of an error body that is read, to keep a misbehaving storage from filling memory.
const MAX_ERROR_BODY: usize = 4096;

/// How long to wait for a stalled PUT: `stall_timeout` while its body is being handed to
/// the connection, and `drain` longer once all of it has been (`sent` reached the length).
/// The connection's send buffer may then still hold a large part of the chunk, which a slow
/// link needs time to carry, with no byte moving that the sender could see.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StallLimit<'a> {
    pub(crate) stall_timeout: Duration,
    pub(crate) drain: Duration,
    pub(crate) sent: &'a AtomicU64,
}

impl StallLimit<'_> {
    fn now(&self, len: u64) -> Duration {
        if self.sent.load(Ordering::Relaxed) >= len {
            self.stall_timeout + self.drain
        } else {
            self.stall_timeout
        }
    }
}

/// PUTs `body` (`len` bytes) to `url` and returns the ETag, without quotes or `W/`.
///
/// The attempt is abandoned with [`ChunkError::Stalled`] when no bytes move and no answer
/// comes for the stall limit: a dead connection is noticed in seconds, not at a 10-minute
/// timeout, while a slow but moving link is never cut.
pub(crate) async fn put_chunk(
    http: &reqwest::Client,
    url: &str,
    headers: &BTreeMap<String, String>,
    body: reqwest::Body,
    len: u64,
    activity: &Activity,
    stall: StallLimit<'_>,
) -> Result<String, ChunkError> {
    let host = host_of(url);
    let mut request = http
        .put(url)
        .header(CONTENT_LENGTH, len)
        .header(CONTENT_TYPE, "application/octet-stream");
    for (name, value) in headers {
        // The storage may ask for headers of its own; ours come first and cannot be
        // overridden into a wrong length.
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    activity.touch();
    let exchange = async {
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| transport(&host, url, e))?;
        activity.touch();
        let status = response.status();
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(normalize_etag);
        let body = read_limited(response, activity)
            .await
            .map_err(|e| transport(&host, url, e))?;
        Ok::<_, ChunkError>((status, etag, body))
    };
    let (status, etag, body) = tokio::select! {
        result = exchange => result?,
        after = watchdog(activity, stall, len) => {
            return Err(ChunkError::Stalled { after });
        }
    };
    if status.is_success() {
        return match etag {
            Some(tag) if !tag.is_empty() => Ok(tag),
            _ => Err(ChunkError::MissingEtag),
        };
    }
    let message = crate::api::error_snippet(&body);
    let says_expired = {
        let lower = message.to_ascii_lowercase();
        lower.contains("expired") || lower.contains("too old")
    };
    // S3 answers 403 for an expired or invalid signature; some S3 implementations answer
    // 400 "Date is too old". Either way a fresh URL is the cure.
    if status.as_u16() == 403 || (status.as_u16() == 400 && says_expired) {
        return Err(ChunkError::UrlExpired {
            status: Some(status.as_u16()),
        });
    }
    Err(ChunkError::Status {
        status: status.as_u16(),
        message,
    })
}

async fn read_limited(
    mut response: reqwest::Response,
    activity: &Activity,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        activity.touch();
        if out.len() < MAX_ERROR_BODY {
            let room = MAX_ERROR_BODY - out.len();
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }
    Ok(out)
}

/// Resolves once `activity` has been idle for the stall limit of a `len`-byte body, with
/// the limit it waited for.
async fn watchdog(activity: &Activity, stall: StallLimit<'_>, len: u64) -> Duration {
    let step = (stall.stall_timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        let limit = stall.now(len);
        let idle = activity.idle();
        if idle >= limit {
            return limit;
        }
        tokio::time::sleep((limit - idle).min(step)).await;
    }
}

fn transport(host: &str, url: &str, e: reqwest::Error) -> ChunkError {
    match crate::api::net::certificate_problem(&e) {
        Some(problem) => ChunkError::Untrusted {
            host: host.to_owned(),
            problem,
        },
        None => ChunkError::Transport {
            host: host.to_owned(),
            // Looked up on failure only: the proxy rules were read when the process began.
            via: crate::api::net::proxy_for(url).map(|p| p.url),
            source: e.without_url(),
        },
    }
}

/// The host and port of a URL, for messages; never its path or query.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "the storage".to_owned())
}

/// Strips a weak-validator `W/` prefix and the quotes around an ETag.
pub(crate) fn normalize_etag(raw: &str) -> String {
    let t = raw.trim();
    let t = t
        .strip_prefix("W/")
        .or_else(|| t.strip_prefix("w/"))
        .unwrap_or(t);
    t.trim_matches('"').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_lose_quotes_and_weak_prefix() {
        assert_eq!(normalize_etag("\"abc123\""), "abc123");
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("  abc  "), "abc");
        assert_eq!(normalize_etag("\"\""), "");
    }

    #[test]
    fn hosts_never_include_the_query() {
        assert_eq!(
            host_of("http://127.0.0.1:9/s/1?X-Sig=secret"),
            "127.0.0.1:9"
        );
        assert_eq!(
            host_of("https://s3.example.com/b/k?sig=1"),
            "s3.example.com"
        );
        assert_eq!(host_of("::"), "the storage");
    }
}
