//! [`UploadError`]: why an upload stopped, which chunk or request it was, and whether
//! trying again could help.
//!
//! Messages say what happened and what to do. They never contain the API key or a
//! presigned URL's query string.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::ApiError;

/// Why an upload, resume or wait stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The path does not exist.
    #[error("no such file: {}; check the path", path.display())]
    FileNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The path is a directory.
    #[error("{} is a directory; choose a video file inside it", path.display())]
    IsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The file has no bytes.
    #[error("{} is empty (0 bytes); there is nothing to upload", path.display())]
    EmptyFile {
        /// The path given.
        path: PathBuf,
    },
    /// The file cannot be opened or read.
    #[error("cannot read {}: {source}; check its permissions", path.display())]
    Unreadable {
        /// The path given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The server refused the file's size.
    #[error("{} is {size} bytes, more than the server accepts: {message}", path.display())]
    FileTooLarge {
        /// The path given.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// What the server said.
        message: String,
    },
    /// The file changed while it was being uploaded or since its session began.
    #[error("{} changed {detail}; start a new upload of the current file", path.display())]
    FileChanged {
        /// The path given.
        path: PathBuf,
        /// What changed.
        detail: String,
    },
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOptions(String),
    /// The server rejected the API key.
    #[error(
        "the API key was rejected by {host} ({request}: 401); check that the key is right and active"
    )]
    Unauthorized {
        /// The API host.
        host: String,
        /// The request that was refused.
        request: &'static str,
    },
    /// An API call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A chunk could not be stored.
    #[error("chunk {index} failed after {attempts} attempt(s): {source}")]
    Chunk {
        /// The 1-based chunk index.
        index: u64,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's failure.
        #[source]
        source: ChunkError,
    },
    /// The upload used up its retry budget.
    #[error(
        "gave up after {retries} retries across the upload (last: chunk {index}: {source}); the network or server is failing, try again later"
    )]
    RetryBudgetExhausted {
        /// Retries spent.
        retries: u64,
        /// The chunk whose failure found the budget empty.
        index: u64,
        /// That failure.
        #[source]
        source: ChunkError,
    },
    /// The session does not belong to this file.
    #[error("session {upload_id} does not fit {}: {detail}", path.display())]
    SessionMismatch {
        /// The session id.
        upload_id: String,
        /// The file given.
        path: PathBuf,
        /// What does not match.
        detail: String,
    },
    /// The session cannot be found among the account's incomplete uploads.
    #[error(
        "session {upload_id} is not among the incomplete uploads of this account (it may have completed or expired)"
    )]
    SessionNotFound {
        /// The session id.
        upload_id: String,
    },
    /// The session expired on the server.
    #[error("upload session {upload_id} has expired; start the upload again")]
    SessionExpired {
        /// The session id.
        upload_id: String,
    },
    /// The session failed on the server.
    #[error("upload session {upload_id} failed on the server; start the upload again")]
    SessionFailed {
        /// The session id.
        upload_id: String,
    },
    /// The server lists failed chunks for the session.
    #[error(
        "the server lists chunks {indices:?} of session {upload_id} as failed; resume the upload to send them again"
    )]
    ChunksFailed {
        /// The session id.
        upload_id: String,
        /// The failed chunks.
        indices: Vec<u64>,
    },
    /// The asset failed processing.
    #[error("asset {asset_id} failed processing: {message}")]
    AssetFailed {
        /// The asset id.
        asset_id: String,
        /// The server's reason.
        message: String,
    },
    /// A wait ran out of time.
    #[error("gave up waiting for {what} after {}s", waited.as_secs())]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// The network stayed away longer than the upload may wait for it.
    #[error(
        "no network for {} (since {since}): {detail}; session {upload_id} stays resumable, resume it when the network is back",
        crate::error::format_span(*.waited)
    )]
    NetworkLost {
        /// The session, which stays resumable until it expires.
        upload_id: String,
        /// How long the upload waited.
        waited: Duration,
        /// When the network went away, as UTC `HH:MM:SS`.
        since: String,
        /// Why the wait ended: the offline limit, or the session's end.
        detail: String,
    },
    /// Every chunk is stored and reported, but the platform has not said the session is
    /// complete within the confirmation limit.
    #[error(
        "the platform has not confirmed session {upload_id} after {}: it is still `{status}` with {completed} of {total} chunks completed; every chunk was sent and reported, so resume the session later to confirm it",
        crate::error::format_span(*.waited)
    )]
    NotConfirmed {
        /// The session, which stays resumable until it expires.
        upload_id: String,
        /// The status the server last gave.
        status: String,
        /// Chunks it counted complete.
        completed: u64,
        /// Chunks of the file.
        total: u64,
        /// How long the engine asked.
        waited: Duration,
    },
    /// The server answered something the protocol does not allow.
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The file of a journalled session is no longer where it was.
    #[error("the file of session {upload_id} is no longer at {}; resume with its new path", path.display())]
    FileMissing {
        /// The session.
        upload_id: String,
        /// Where the file was.
        path: std::path::PathBuf,
    },
    /// The session belongs to another API endpoint.
    #[error("session {upload_id} belongs to {base_url}; resume it against that endpoint")]
    OtherEndpoint {
        /// The session.
        upload_id: String,
        /// Its base URL.
        base_url: String,
    },
    /// The session is complete already: there is nothing to resume.
    #[error("session {upload_id} is already complete{}; there is nothing to resume", asset_suffix(.asset_id))]
    AlreadyComplete {
        /// The session id.
        upload_id: String,
        /// Its asset, when known.
        asset_id: Option<String>,
    },
    /// The server has the session but the journal does not know its file: resuming it needs
    /// the file.
    #[error(
        "session {upload_id} is on the server, but this computer's journal does not know its file; resume it with the file"
    )]
    NeedsFile {
        /// The session id.
        upload_id: String,
    },
    /// The caller cancelled.
    #[error("{}", cancelled_message(.upload_id))]
    Cancelled {
        /// The session, which stays resumable until it expires.
        upload_id: Option<String>,
    },
}

/// A span for messages: "45 s", "2 min 5 s", "1 h 3 min".
pub(crate) fn format_span(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

fn asset_suffix(asset_id: &Option<String>) -> String {
    asset_id
        .as_ref()
        .map(|a| format!(" (asset {a})"))
        .unwrap_or_default()
}

fn cancelled_message(upload_id: &Option<String>) -> String {
    match upload_id {
        Some(id) => format!(
            "upload cancelled; the API has no way to abort, so session {id} stays resumable until it expires"
        ),
        None => "upload cancelled before a session was created".to_owned(),
    }
}

impl UploadError {
    /// The chunk this error is about, if any.
    pub fn chunk_index(&self) -> Option<u64> {
        match self {
            Self::Chunk { index, .. } | Self::RetryBudgetExhausted { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// The API request this error is about, if any.
    pub fn request(&self) -> Option<&'static str> {
        match self {
            Self::Api(e) => e.request(),
            Self::Unauthorized { request, .. } => Some(request),
            Self::Chunk { .. } | Self::RetryBudgetExhausted { .. } => Some("upload_chunk"),
            _ => None,
        }
    }

    /// Whether doing the same again later could succeed (a flaky network or a busy server),
    /// as opposed to a problem with the input, the key or the session.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api(e) => e.is_retryable(),
            Self::Chunk { source, .. } => source.is_retryable(),
            Self::RetryBudgetExhausted { .. }
            | Self::Timeout { .. }
            | Self::NetworkLost { .. }
            | Self::NotConfirmed { .. } => true,
            _ => false,
        }
    }

    /// Whether the caller cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }

    /// Whether another process (or another upload of this one) holds the session's lock.
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            Self::Journal(crate::journal::JournalError::Locked { .. })
        )
    }

    /// The session this error is about, when it names one.
    pub fn upload_id(&self) -> Option<&str> {
        match self {
            Self::SessionMismatch { upload_id, .. }
            | Self::SessionNotFound { upload_id }
            | Self::SessionExpired { upload_id }
            | Self::SessionFailed { upload_id }
            | Self::FileMissing { upload_id, .. }
            | Self::OtherEndpoint { upload_id, .. }
            | Self::AlreadyComplete { upload_id, .. }
            | Self::NeedsFile { upload_id }
            | Self::NetworkLost { upload_id, .. }
            | Self::NotConfirmed { upload_id, .. }
            | Self::Journal(crate::journal::JournalError::Locked { upload_id }) => Some(upload_id),
            Self::Cancelled { upload_id } => upload_id.as_deref(),
            _ => None,
        }
    }
}

/// Why one attempt to store a chunk failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The storage answered with an error status.
    #[error("the storage answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of its body.
        message: String,
    },
    /// The presigned URL had expired (403, or 400 "date is too old"; or the storage closed
    /// the connection after the URL's expiry, as S3 does before reading the body).
    #[error("the presigned URL had expired{}", .status.map(|s| format!(" ({s})")).unwrap_or_else(|| " (the storage closed the connection)".into()))]
    UrlExpired {
        /// The HTTP status, when the answer could be read.
        status: Option<u16>,
    },
    /// The connection failed.
    #[error("the connection to {host}{} failed: {}", crate::api::error_through(.via), crate::api::error_causes(.source))]
    Transport {
        /// The storage host.
        host: String,
        /// The proxy the PUT went through, when it used one.
        via: Option<String>,
        /// The transport error, with its URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// The storage's certificate could not be verified with this computer's trust store.
    #[error(
        "the certificate of {host} is not trusted by this computer: {problem}. {}",
        crate::api::UNTRUSTED_ADVICE
    )]
    Untrusted {
        /// The storage host.
        host: String,
        /// What is wrong with the certificate.
        problem: String,
    },
    /// No bytes moved and no answer came for too long.
    #[error("no progress for {}s; the connection stalled", .after.as_secs_f32())]
    Stalled {
        /// The stall limit.
        after: Duration,
    },
    /// A 2xx answer without an ETag.
    #[error("the storage answered without an ETag (a proxy or antivirus may be removing it)")]
    MissingEtag,
    /// Reading the file failed.
    #[error("reading the file failed: {0}")]
    Io(#[source] std::io::Error),
    /// Getting a presigned URL for the retry failed.
    #[error("could not get a presigned URL: {0}")]
    Url(#[source] ApiError),
    /// The storage stored other bytes than those sent: its ETag is an MD5, and not the
    /// MD5 of the bytes sent.
    #[error(
        "the storage's ETag {etag} is not the MD5 of the bytes sent ({sent}); the chunk arrived damaged"
    )]
    Damaged {
        /// The MD5 of the bytes sent, hex.
        sent: String,
        /// The storage's ETag.
        etag: String,
    },
    /// The attempt was stopped because the network went away (or the machine slept) while
    /// it ran; it is sent again without counting as a retry.
    #[error("the network went away during the attempt")]
    Interrupted,
}

impl ChunkError {
    /// Whether another attempt could succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::UrlExpired { .. }
            | Self::Transport { .. }
            | Self::Stalled { .. }
            | Self::MissingEtag
            | Self::Damaged { .. }
            | Self::Interrupted => true,
            Self::Io(_) | Self::Untrusted { .. } => false,
            Self::Url(e) => e.is_retryable(),
        }
    }

    /// Whether the failure could mean the network is gone (no answer of any kind), so the
    /// API is asked before the failure is held against the chunk.
    pub(crate) fn may_be_offline(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. }
                | Self::Stalled { .. }
                | Self::Interrupted
                | Self::Url(ApiError::Transport { .. })
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        let s = Duration::from_secs;
        assert_eq!(format_span(s(45)), "45 s");
        assert_eq!(format_span(s(120)), "2 min");
        assert_eq!(format_span(s(125)), "2 min 5 s");
        assert_eq!(format_span(s(3780)), "1 h 3 min");
    }

    #[test]
    fn the_network_and_confirmation_errors_say_the_session_stays_resumable() {
        let e = UploadError::NetworkLost {
            upload_id: "u1".into(),
            waited: Duration::from_secs(600),
            since: "14:02:00 UTC".into(),
            detail: "the offline limit of 10 min was reached".into(),
        };
        assert_eq!(
            e.to_string(),
            "no network for 10 min (since 14:02:00 UTC): the offline limit of 10 min was reached; session u1 stays resumable, resume it when the network is back"
        );
        assert!(e.is_retryable() && e.upload_id() == Some("u1"));
        let e = UploadError::NotConfirmed {
            upload_id: "u2".into(),
            status: "active".into(),
            completed: 4,
            total: 4,
            waited: Duration::from_secs(600),
        };
        assert!(
            e.to_string()
                .contains("still `active` with 4 of 4 chunks completed")
                && e.to_string().contains("resume the session later"),
            "{e}"
        );
        let expired = ChunkError::UrlExpired { status: None };
        assert_eq!(
            expired.to_string(),
            "the presigned URL had expired (the storage closed the connection)"
        );
        assert!(!expired.may_be_offline() && ChunkError::Interrupted.may_be_offline());
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = UploadError::EmptyFile {
            path: "/tmp/a.mp4".into(),
        };
        assert_eq!(
            e.to_string(),
            "/tmp/a.mp4 is empty (0 bytes); there is nothing to upload"
        );
        let e = UploadError::Cancelled {
            upload_id: Some("abc".into()),
        };
        assert!(e.to_string().contains("stays resumable"));
        assert!(e.is_cancelled() && !e.is_retryable());
    }

    #[test]
    fn chunk_errors_carry_index_request_and_retryability() {
        let e = UploadError::Chunk {
            index: 7,
            attempts: 4,
            source: ChunkError::Status {
                status: 500,
                message: "boom".into(),
            },
        };
        assert_eq!(e.chunk_index(), Some(7));
        assert_eq!(e.request(), Some("upload_chunk"));
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "chunk 7 failed after 4 attempt(s): the storage answered 500: boom"
        );
        let e = UploadError::Chunk {
            index: 2,
            attempts: 1,
            source: ChunkError::Status {
                status: 400,
                message: "bad".into(),
            },
        };
        assert!(!e.is_retryable());
    }
}
