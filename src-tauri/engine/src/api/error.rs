//! [`ApiError`]: what went wrong in one API call, and whether trying again could help.

use std::time::Duration;

/// The error of one API call (create, report, status, presigned-urls, asset).
///
/// Its `Display` names the request and the host, never the API key or a URL's query
/// string, so it is safe to log and to show.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The server answered with a non-success status.
    #[error("{request}: the server answered {status}{}: {message}", code_suffix(.code))]
    Status {
        /// The request, such as `create` or `report_chunk_batch`.
        request: &'static str,
        /// The HTTP status.
        status: u16,
        /// The machine-readable `code` of the error body, when there was one.
        code: Option<String>,
        /// The `message` of the error body, or the start of a non-JSON body.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The request did not reach the server or the answer did not come back.
    #[error("{request}: could not talk to {host}{}: {}", through(.via), causes(.source))]
    Transport {
        /// The request.
        request: &'static str,
        /// The host (and port) of the base URL.
        host: String,
        /// The proxy the request went through (`scheme://host:port`), when it used one.
        via: Option<String>,
        /// The transport error, with its URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// The server's certificate could not be verified with this computer's trust store.
    /// Trying again does not help; the trust store or the network must change.
    #[error(
        "{request}: the certificate of {host} is not trusted by this computer: {problem}. {}",
        UNTRUSTED_ADVICE
    )]
    Untrusted {
        /// The request.
        request: &'static str,
        /// The host (and port) whose certificate it was.
        host: String,
        /// What is wrong with the certificate.
        problem: String,
    },
    /// A 2xx answer whose body was not what the protocol says.
    #[error("{request}: the server's answer could not be read: {detail}")]
    Decode {
        /// The request.
        request: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// The client was configured wrongly (no key, a malformed base URL).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Why a client could not be built. Front ends match the variant to say where the value
/// came from (a flag, a variable, a settings field); the messages name no such place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No API key, or only whitespace.
    #[error("no API key was given")]
    MissingApiKey,
    /// The API key has control characters (a pasted line break, say).
    #[error("the API key contains control characters")]
    ApiKeyControlCharacters,
    /// The base URL is not an http(s) URL with a host.
    #[error("the base URL `{url}` {reason}")]
    BaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A call was asked for with arguments the protocol does not allow.
    #[error("{0}")]
    InvalidArgument(String),
    /// A bundle of certificates to trust could not be used.
    #[error("the certificates to trust cannot be used: {0}")]
    Certificates(String),
    /// The HTTP stack could not be set up.
    #[error("cannot set up HTTP: {0}")]
    Http(String),
}

/// An error's message and those of its causes that it does not already include, so
/// "error sending request" also says "Connection refused". Transport errors have their URL
/// removed and the layers below (hyper, the OS) carry none, so no secret gets in.
pub(crate) fn causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// What to do about a certificate this computer does not trust, for every such message.
pub(crate) const UNTRUSTED_ADVICE: &str = "Nothing was sent. If this network inspects HTTPS (a \
corporate proxy or security software), add its root certificate to the system's trust store";

/// " through the proxy …" when a request went through one.
pub(crate) fn through(via: &Option<String>) -> String {
    via.as_ref()
        .map(|p| format!(" through the proxy {p}"))
        .unwrap_or_default()
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
}

impl ApiError {
    /// Whether the same call could succeed later: transport errors, timeouts, 408, 429
    /// and 5xx. Other 4xx answers mean the request itself is wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::Transport { .. } => true,
            Self::Untrusted { .. } | Self::Decode { .. } | Self::Config(_) => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error body's `code`, when there was one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The request this error belongs to.
    pub fn request(&self) -> Option<&'static str> {
        match self {
            Self::Status { request, .. }
            | Self::Transport { request, .. }
            | Self::Untrusted { request, .. }
            | Self::Decode { request, .. } => Some(request),
            Self::Config(_) => None,
        }
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the server rejected the API key.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// Whether the server does not know the id that was asked for.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the server refused a parameter of the request as invalid (400
    /// `parameter_invalid`).
    pub fn is_invalid_parameter(&self) -> bool {
        self.status() == Some(400) && self.code() == Some("parameter_invalid")
    }

    pub(crate) fn from_body(
        request: &'static str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        #[derive(serde::Deserialize)]
        struct Flat {
            code: Option<String>,
            message: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Nested {
            error: Flat,
        }
        let (code, message) = if let Ok(f) = serde_json::from_slice::<Flat>(body) {
            if f.code.is_some() || f.message.is_some() {
                (f.code, f.message.unwrap_or_default())
            } else if let Ok(n) = serde_json::from_slice::<Nested>(body) {
                (n.error.code, n.error.message.unwrap_or_default())
            } else {
                (None, snippet(body))
            }
        } else {
            (None, snippet(body))
        };
        let message = if message.is_empty() {
            reason(status).to_owned()
        } else {
            message
        };
        Self::Status {
            request,
            status,
            code,
            message: truncate(&message),
            retry_after,
        }
    }
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
}

/// The start of a response body, as text, for an error message.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
    truncate(
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
    )
}

fn truncate(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX).collect();
    out.push('…');
    out
}

/// A URL with its query string (where presigned URLs keep their signature) removed, for
/// messages and logs.
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((head, _)) => format!("{head}?…"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_nested_error_bodies_are_understood() {
        let e = ApiError::from_body(
            "create",
            400,
            br#"{"code":"parameter_invalid","message":"total_size is too large"}"#,
            None,
        );
        assert_eq!(e.code(), Some("parameter_invalid"));
        assert_eq!(
            e.to_string(),
            "create: the server answered 400 (parameter_invalid): total_size is too large"
        );
        assert!(!e.is_retryable());
        let e = ApiError::from_body(
            "x",
            503,
            br#"{"error":{"code":"busy","message":"m"}}"#,
            None,
        );
        assert_eq!(e.code(), Some("busy"));
        assert!(e.is_retryable());
        let e = ApiError::from_body("x", 502, b"<html>\n  Bad   gateway</html>", None);
        assert_eq!(
            e.to_string(),
            "x: the server answered 502: <html> Bad gateway</html>"
        );
        let e = ApiError::from_body("x", 429, b"", Some(Duration::from_secs(2)));
        assert!(e.to_string().ends_with("Too Many Requests"), "{e}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn long_bodies_are_truncated() {
        let body = "x".repeat(5000);
        let e = ApiError::from_body("x", 500, body.as_bytes(), None);
        assert!(e.to_string().chars().count() < 260);
    }

    #[test]
    fn redaction_drops_the_query() {
        assert_eq!(redact_url("http://h/s/1?sig=secret&x=1"), "http://h/s/1?…");
        assert_eq!(redact_url("http://h/s/1"), "http://h/s/1");
    }
}
