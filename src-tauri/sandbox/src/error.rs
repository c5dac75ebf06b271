//! Errors: the ones [`crate::SandboxBuilder::start`] returns, and the two wire shapes the
//! server answers with.
//!
//! The API answers errors as a flat JSON `{code, message}` object (the documented TwelveLabs
//! shape). The storage side (the presigned chunk URLs) answers like S3 does, with an XML
//! `<Error>` document, because that is what a client of a real presigned URL has to cope with.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The listen address is not a loopback address and that was not explicitly allowed.
    #[error(
        "refusing to listen on non-loopback address `{addr}`: the sandbox has no real security; \
         pass --allow-non-loopback (or `allow_non_loopback(true)`) if you really mean it"
    )]
    NonLoopback {
        /// The refused address.
        addr: SocketAddr,
    },
    /// Binding the listening socket failed (address in use, permission denied, ...).
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The `disk:` storage directory could not be created or is not a directory.
    #[error("cannot use storage directory `{}`: {source}", path.display())]
    StorageDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A setting has a value the sandbox cannot work with.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// The builder method / flag name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate chain or the private key given for HTTPS cannot be used: no PEM
    /// section of the right kind, bad base64, an unsupported key, a key that does not match
    /// the certificate.
    #[error("cannot use {what} for HTTPS: {reason}")]
    Tls {
        /// What could not be used: `--tls-cert `FILE`` or `--tls-key `FILE`` from the command
        /// line, "the TLS certificate chain" or "the TLS private key" from the builder, or
        /// both when they do not belong together.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server thread or its tokio runtime could not be started.
    #[error("cannot start the server thread: {0}")]
    Runtime(#[source] std::io::Error),
}

/// An API error: a status plus the flat `{code, message}` body of protocol §1.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `parameter_not_provided`: a required field is missing (or `null`).
    pub(crate) fn not_provided(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "parameter_not_provided",
            format!("the `{field}` parameter is required"),
        )
    }

    /// 400 `parameter_invalid`: a field has the wrong type or an out-of-range value.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "parameter_invalid", message)
    }

    /// 404 `resource_not_exist`.
    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "resource_not_exist",
            format!("{what} `{id}` does not exist"),
        )
    }

    /// 401 `api_key_invalid`. The message never echoes the key that was sent.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
            "the `x-api-key` header is missing or does not match the sandbox's API key",
        )
    }

    /// 413: the request body is larger than the server buffers for a JSON or form request.
    pub(crate) fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "parameter_invalid",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    #[cfg(test)]
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            code: self.code,
            message: &self.message,
        })
        .unwrap_or_default();
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(after) = self.retry_after {
            // Retry-After takes whole seconds; round up so a client never retries early.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A storage (presigned URL) error, answered as an S3-style XML document.
#[derive(Debug, Clone)]
pub(crate) struct StorageError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl StorageError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 403 `AccessDenied` "Request has expired": the URL's `X-Tl-Expires` has passed.
    pub(crate) fn expired() -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired")
    }

    /// 403 `SignatureDoesNotMatch`: the signature is missing, malformed or wrong.
    pub(crate) fn bad_signature(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", message)
    }

    /// 404 `NoSuchUpload`: unknown, completed or expired session.
    pub(crate) fn no_such_upload(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NoSuchUpload", message)
    }

    /// 400 `EntityTooLarge`: the body is longer than this chunk can be.
    pub(crate) fn too_large(expected: u64) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            format!("Your proposed upload exceeds the maximum allowed size of {expected} bytes"),
        )
    }

    /// 400 `InvalidArgument`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            xml_escape(&self.message)
        );
        (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            )],
            body,
        )
            .into_response()
    }
}

/// Escapes the five XML special characters; messages can contain user-chosen ids.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_messages_are_escaped() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }

    #[test]
    fn retry_after_rounds_up() {
        let response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", "slow")
            .with_retry_after(Some(Duration::from_millis(1500)))
            .into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
