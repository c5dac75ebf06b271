//! `tl-upload`: streamed, parallel, self-healing uploads of large local files to the
//! TwelveLabs multipart upload API.
//!
//! Two layers, named after the official SDKs so their users feel at home:
//!
//! - [`MultipartUploadClient`] has one method per endpoint (`create`,
//!   `list_incomplete_uploads`, `get_status`, `report_chunk_batch`,
//!   `get_additional_presigned_urls`, `retrieve_asset`), with typed request and response
//!   structs ([`wire`]) that tolerate unknown fields and enum values.
//! - The uploader on top of it: one [`Uploader`] per process starts uploads from an
//!   [`UploadSource`] (a new file, a session the journal knows, a session only the server
//!   knows) and returns an [`UploadHandle`] that pauses, resumes, cancels, publishes
//!   [`UploadProgress`] snapshots and resolves to an [`UploadResult`] or an [`UploadError`].
//!   The same object lists [`ResumableSession`]s and forgets them; [`inspect`] is the one
//!   file check. The SDK-named shortcuts [`MultipartUploadClient::upload_file`],
//!   [`MultipartUploadClient::resume_upload`] and
//!   [`MultipartUploadClient::wait_for_upload_completion`] remain.
//!
//! # How data moves
//!
//! Chunks are streamed from their file offsets (no temporary files, memory bounded by the
//! chunks in flight × a small read buffer). Every PUT of every upload of the process takes a
//! slot of one shared link, whose level is fixed or automatic: the automatic one measures
//! goodput while a level is held, doubles it while goodput grows in proportion, settles a
//! margin above the knee where it stops growing, and shrinks on errors, stalls and rising
//! latency; the settled level is kept per API host in the journal for the next start. An
//! earlier upload keeps priority for slots, and a queued one starts its session as soon as
//! the ones before it leave slots free. When nothing is left to start, a straggler among
//! the last chunks is raced by a copy on an idle slot (the same bytes give the same ETag).
//! One token bucket paces all bodies when a bandwidth limit is set. Presigned URLs are minted just in time in slices of at most 50 and are replaced before
//! they expire or after any failed PUT; completed chunks are reported in batches as they
//! finish; completion is confirmed with `get_status`, then the asset can be polled until it
//! is `ready`.
//!
//! # Layout
//!
//! - [`api`]: the HTTP client, its wire types and [`ApiError`].
//! - [`plan`]: the pure chunk planner.
//! - [`retry`]: backoff with full jitter, `Retry-After`, and the per-upload retry budget.
//! - [`progress`]: [`UploadProgress`] and per-chunk [`ChunkState`].
//! - [`upload`]: [`Uploader`], [`UploadHandle`], [`inspect`], resumable sessions, waiting.
//! - [`journal`]: the crash-safe SQLite record of sessions and acknowledged chunks.
//! - [`error`](mod@error): [`UploadError`].
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod api;
pub mod awake;
pub mod error;
pub mod journal;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod upload;

pub use api::wire;
pub use api::{ApiError, ClientBuilder, ConfigError, DEFAULT_BASE_URL, MultipartUploadClient};
pub use error::UploadError;
pub use journal::{Journal, JournalError, SessionState};
pub use plan::{ChunkPlan, ChunkSpec};
pub use progress::{ChunkState, UploadPhase, UploadProgress};
pub use tokio_util::sync::CancellationToken;
pub use upload::{
    FileInfo, Forgotten, LinkStatus, Parallelism, ProgressReceiver, ResumableSession, ResumeState,
    StatusCallback, UploadControls, UploadHandle, UploadOptions, UploadResult, UploadSource,
    UploadStatus, Uploader, WaitOptions, inspect,
};
pub use wire::FileType;
