//! Why a command failed, and the exit code that says so.

use std::process::ExitCode;

use serde_json::{Value, json};
use tl_upload::{ApiError, MultipartUploadClient, UploadError, error::ChunkError};

/// How a command ended. The order matters: when several files fail in different ways, the
/// highest wins, so a refused argument (which the user must fix) is never hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Everything was done.
    Done,
    /// The work failed (network, server, key, size, session, cancellation).
    Failed,
    /// The command line was wrong, or a file argument cannot be uploaded at all.
    Usage,
}

impl Status {
    /// The process exit code: 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Failed => 1,
            Self::Usage => 2,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status.code())
    }
}

/// A failure with a message for people and the details scripts want.
///
/// Messages come from the engine's errors, whose `Display` never contains the API key or a
/// presigned URL's query string.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The exit status this failure calls for.
    pub status: Status,
    /// What went wrong and what to do.
    pub message: String,
    /// The chunk it is about, if any.
    pub chunk_index: Option<u64>,
    /// The API request it is about, if any.
    pub request: Option<&'static str>,
    /// Whether trying again later could succeed.
    pub retryable: bool,
    /// The upload session it left behind, if any (resumable unless the message says not).
    pub upload_id: Option<String>,
}

impl Failure {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Status::Usage, message)
    }

    /// A failed command (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Status::Failed, message)
    }

    fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            chunk_index: None,
            request: None,
            retryable: false,
            upload_id: None,
        }
    }

    /// An upload, resume or wait error. Problems with the file argument or the options are
    /// usage errors; everything else is a failure.
    pub fn upload(e: &UploadError) -> Self {
        let status = match e {
            UploadError::FileNotFound { .. }
            | UploadError::IsDirectory { .. }
            | UploadError::EmptyFile { .. }
            | UploadError::Unreadable { .. }
            | UploadError::InvalidOptions(_) => Status::Usage,
            _ => Status::Failed,
        };
        Self {
            status,
            message: with_network_hint(e.to_string(), network_problem_of(e)),
            chunk_index: e.chunk_index(),
            request: e.request(),
            retryable: e.is_retryable(),
            upload_id: match e {
                UploadError::Cancelled { upload_id } => upload_id.clone(),
                _ => None,
            },
        }
    }

    /// An API error of a single call; `missing` names what a 404 means for this call.
    pub fn api(
        client: &MultipartUploadClient,
        e: &ApiError,
        missing: impl FnOnce() -> String,
    ) -> Self {
        let message = if e.is_unauthorized() {
            UploadError::Unauthorized {
                host: client.host().to_owned(),
                request: e.request().unwrap_or("api"),
            }
            .to_string()
        } else if e.is_not_found() {
            format!("{} on {}", missing(), client.host())
        } else {
            with_network_hint(e.to_string(), network_problem(e))
        };
        Self {
            status: Status::Failed,
            message,
            chunk_index: None,
            request: e.request(),
            retryable: e.is_retryable(),
            upload_id: None,
        }
    }

    /// The `{"event":"error",…}` object of `--json` output.
    pub fn to_json(&self, file: Option<&str>) -> Value {
        let mut v = json!({
            "event": "error",
            "message": self.message,
            "chunk_index": self.chunk_index,
            "request": self.request,
            "retryable": self.retryable,
            "exit_code": self.status.code(),
        });
        if let Some(file) = file {
            v["file"] = Value::from(file);
        }
        if let Some(id) = &self.upload_id {
            v["upload_id"] = Value::from(id.as_str());
        }
        v
    }
}

/// A problem of the path to the server that tlup's own flags or the environment can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetworkProblem {
    /// A certificate the system does not trust.
    Untrusted,
    /// A request through a proxy that failed on the way.
    Proxy,
}

fn network_problem(e: &ApiError) -> Option<NetworkProblem> {
    match e {
        ApiError::Untrusted { .. } => Some(NetworkProblem::Untrusted),
        ApiError::Transport { via: Some(_), .. } => Some(NetworkProblem::Proxy),
        _ => None,
    }
}

fn network_problem_of(e: &UploadError) -> Option<NetworkProblem> {
    match e {
        UploadError::Api(api) => network_problem(api),
        UploadError::Chunk { source, .. } | UploadError::RetryBudgetExhausted { source, .. } => {
            match source {
                ChunkError::Untrusted { .. } => Some(NetworkProblem::Untrusted),
                ChunkError::Transport { via: Some(_), .. } => Some(NetworkProblem::Proxy),
                ChunkError::Url(api) => network_problem(api),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The message with what tlup can do about a network problem, when it is one.
fn with_network_hint(message: String, problem: Option<NetworkProblem>) -> String {
    match problem {
        None => message,
        Some(NetworkProblem::Untrusted) => {
            format!("{message}, or give it to tlup with --ca-cert FILE (PEM)")
        }
        Some(NetworkProblem::Proxy) => format!(
            "{message}; check that the proxy is up and that HTTPS_PROXY, HTTP_PROXY and NO_PROXY \
(or the system's proxy settings) are right; `tlup -v` shows the proxy in use"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_problems_are_usage_errors_and_the_worst_status_wins() {
        let e = UploadError::EmptyFile { path: "/x".into() };
        assert_eq!(Failure::upload(&e).status, Status::Usage);
        let e = UploadError::Cancelled {
            upload_id: Some("u".into()),
        };
        assert_eq!(Failure::upload(&e).status, Status::Failed);
        assert_eq!(
            [Status::Failed, Status::Usage, Status::Done]
                .into_iter()
                .max(),
            Some(Status::Usage)
        );
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = UploadError::Unreadable {
            path: "/x".into(),
            source: io,
        };
        assert_eq!(
            Failure::upload(&e).message.matches("denied").count(),
            1,
            "no repeats"
        );
        let v = Failure::failed("boom").to_json(Some("a.mp4"));
        assert_eq!(v["event"], "error");
        assert_eq!(v["file"], "a.mp4");
        assert_eq!(v["exit_code"], 1);
    }
}
