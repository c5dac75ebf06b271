//! The one mapping from the engine's errors to the [`CommandError`] the UI receives.
//!
//! The UI switches on [`ErrorCode`] and shows `message`, so the code must say what kind of
//! trouble it is (the file, the key, the network, the session) and the message must say what
//! to do. Messages come from the engine's `Display`, which never contains the API key or a
//! presigned URL's query string.

use tl_upload::error::ChunkError;
use tl_upload::{ApiError, JournalError, UploadError};

use crate::ipc::{CommandError, ErrorCode};

impl CommandError {
    /// An error of class `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Bad input from the UI.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, message)
    }

    /// An upload id the queue does not know.
    pub(crate) fn unknown_upload(id: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("there is no upload {id} in the list; it may have been removed"),
        )
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

impl From<UploadError> for CommandError {
    fn from(e: UploadError) -> Self {
        let code = match &e {
            UploadError::FileNotFound { .. }
            | UploadError::FileMissing { .. }
            | UploadError::SessionNotFound { .. } => ErrorCode::NotFound,
            UploadError::IsDirectory { .. }
            | UploadError::EmptyFile { .. }
            | UploadError::Unreadable { .. }
            | UploadError::FileTooLarge { .. }
            | UploadError::InvalidOptions(_)
            | UploadError::SessionMismatch { .. }
            | UploadError::OtherEndpoint { .. }
            | UploadError::AlreadyComplete { .. }
            | UploadError::NeedsFile { .. } => ErrorCode::Invalid,
            UploadError::FileChanged { .. } => ErrorCode::FileChanged,
            UploadError::SessionExpired { .. } => ErrorCode::Expired,
            UploadError::Unauthorized { host, .. } => {
                // The engine's wording names the CLI's flags; the app keeps its key in
                // Settings.
                return Self::new(
                    ErrorCode::Unauthorized,
                    format!("the API key was rejected by {host}; save a valid key in Settings"),
                );
            }
            UploadError::Api(api) => api_code(api),
            UploadError::Chunk { source, .. }
            | UploadError::RetryBudgetExhausted { source, .. } => chunk_code(source),
            UploadError::Timeout { .. } | UploadError::NetworkLost { .. } => ErrorCode::Network,
            UploadError::NotConfirmed { .. }
            | UploadError::SessionFailed { .. }
            | UploadError::ChunksFailed { .. }
            | UploadError::AssetFailed { .. }
            | UploadError::Protocol(_) => ErrorCode::Server,
            UploadError::Journal(j) => journal_code(j),
            UploadError::Cancelled { .. } => ErrorCode::Cancelled,
            _ => ErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<JournalError> for CommandError {
    fn from(e: JournalError) -> Self {
        Self::from(UploadError::Journal(e))
    }
}

impl From<ApiError> for CommandError {
    fn from(e: ApiError) -> Self {
        Self::from(UploadError::Api(e))
    }
}

fn api_code(e: &ApiError) -> ErrorCode {
    match e {
        // A certificate this computer does not trust is the network's doing too (an
        // inspecting gateway, a captive portal); the message says what to install.
        ApiError::Transport { .. } | ApiError::Untrusted { .. } => ErrorCode::Network,
        ApiError::Config(_) => ErrorCode::Invalid,
        _ if e.is_unauthorized() => ErrorCode::Unauthorized,
        _ if e.is_not_found() => ErrorCode::NotFound,
        _ => ErrorCode::Server,
    }
}

fn chunk_code(e: &ChunkError) -> ErrorCode {
    match e {
        ChunkError::Transport { .. }
        | ChunkError::Untrusted { .. }
        | ChunkError::Stalled { .. }
        | ChunkError::UrlExpired { .. }
        | ChunkError::Interrupted => ErrorCode::Network,
        ChunkError::Io(_) => ErrorCode::Io,
        ChunkError::Url(api) => api_code(api),
        _ => ErrorCode::Server,
    }
}

fn journal_code(e: &JournalError) -> ErrorCode {
    match e {
        JournalError::Locked { .. } => ErrorCode::Conflict,
        _ => ErrorCode::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_problems_are_invalid_or_not_found() {
        let e = CommandError::from(UploadError::IsDirectory {
            path: "/tmp/videos".into(),
        });
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(e.message.contains("choose a video file"), "{}", e.message);
        let e = CommandError::from(UploadError::EmptyFile {
            path: "/tmp/a.mp4".into(),
        });
        assert_eq!(e.code, ErrorCode::Invalid);
        let e = CommandError::from(UploadError::FileNotFound {
            path: "/tmp/nope.mp4".into(),
        });
        assert_eq!(e.code, ErrorCode::NotFound);
    }

    #[test]
    fn sessions_keys_and_cancellation_have_their_own_codes() {
        let e = CommandError::from(UploadError::SessionExpired {
            upload_id: "u1".into(),
        });
        assert_eq!(e.code, ErrorCode::Expired);
        let e = CommandError::from(UploadError::Unauthorized {
            host: "api.example".into(),
            request: "create",
        });
        assert_eq!(e.code, ErrorCode::Unauthorized);
        assert!(e.message.contains("Settings"), "{}", e.message);
        assert!(e.message.contains("api.example"), "{}", e.message);
        let e = CommandError::from(UploadError::Cancelled {
            upload_id: Some("u1".into()),
        });
        assert_eq!(e.code, ErrorCode::Cancelled);
        assert!(e.message.contains("stays resumable"), "{}", e.message);
        let e = CommandError::from(UploadError::FileChanged {
            path: "/tmp/a.mp4".into(),
            detail: "since the upload began".into(),
        });
        assert_eq!(e.code, ErrorCode::FileChanged);
        let e = CommandError::from(JournalError::Locked {
            upload_id: "u1".into(),
        });
        assert_eq!(e.code, ErrorCode::Conflict);
    }

    #[test]
    fn chunk_failures_are_classified_by_their_cause() {
        let chunk = |source| UploadError::Chunk {
            index: 3,
            attempts: 4,
            source,
        };
        let e = CommandError::from(chunk(ChunkError::Status {
            status: 503,
            message: "busy".into(),
        }));
        assert_eq!(e.code, ErrorCode::Server);
        let e = CommandError::from(chunk(ChunkError::Stalled {
            after: std::time::Duration::from_secs(30),
        }));
        assert_eq!(e.code, ErrorCode::Network);
        let e = CommandError::from(UploadError::Api(ApiError::Config(
            tl_upload::ConfigError::BaseUrl {
                url: "bad url".into(),
                reason: "is not a valid URL".into(),
            },
        )));
        assert_eq!(e.code, ErrorCode::Invalid);
    }

    #[test]
    fn serialises_as_code_and_message() {
        let e = CommandError::invalid("parallel chunks must be 1–64, or automatic");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "invalid", "message": "parallel chunks must be 1–64, or automatic"})
        );
    }
}
