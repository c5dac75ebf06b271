//! Request and response bodies of the multipart upload and asset endpoints, with the
//! protocol's wire names.
//!
//! Responses tolerate what a newer server may send: unknown fields are ignored (or kept, on
//! [`Asset`]), unknown enum values become an `Other` variant instead of an error, and every
//! field the protocol marks optional is an `Option` or has a default.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Declares a string enum that keeps unknown values in an `Other(String)` variant, so a
/// server that adds a status does not break every client that parses it.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client does not know yet, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($wire => Self::$variant,)+
                    _ => Self::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_owned()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum! {
    /// The kind of media a session uploads (`type` in the create request).
    FileType {
        /// A video file (the default).
        Video => "video",
        /// An audio file.
        Audio => "audio",
        /// An image file.
        Image => "image",
    }
}

impl std::str::FromStr for FileType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Self::from(s.to_ascii_lowercase()) {
            Self::Other(other) => Err(format!(
                "unknown file type `{other}`: expected video, audio or image"
            )),
            known => Ok(known),
        }
    }
}

// The macro cannot derive `Default` for only one of its enums.
#[allow(clippy::derivable_impls)]
impl Default for FileType {
    fn default() -> Self {
        Self::Video
    }
}

open_enum! {
    /// The status of an upload session.
    MultipartUploadStatus {
        /// Chunks are still being uploaded and reported.
        Active => "active",
        /// Every chunk was reported; the platform received the file.
        Completed => "completed",
        /// The session failed and must be started again.
        Failed => "failed",
        /// More than the session lifetime (24 h) has passed.
        Expired => "expired",
    }
}

open_enum! {
    /// The status of one chunk as the server sees it.
    ChunkStatus {
        /// Not reported yet (it may have been uploaded already).
        Pending => "pending",
        /// Uploaded and reported.
        Completed => "completed",
        /// Must be uploaded again.
        Failed => "failed",
    }
}

open_enum! {
    /// The processing status of an asset.
    AssetStatus {
        /// The platform is validating the file.
        Processing => "processing",
        /// The asset can be used.
        Ready => "ready",
        /// Processing failed; see [`Asset::error`].
        Failed => "failed",
    }
}

/// Body of `POST /assets/multipart-uploads`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateAssetUploadRequest {
    /// The original file name (1–255 characters).
    pub filename: String,
    /// The kind of media.
    #[serde(rename = "type")]
    pub file_type: FileType,
    /// The file size in bytes; the server derives the chunk size from it.
    pub total_size: u64,
    /// Ask for an HLS rendition (video and audio only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_hls: Option<bool>,
    /// Ask for a thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_thumbnail: Option<bool>,
    /// User metadata: string keys to strings, numbers or booleans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One presigned chunk URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedUrlChunk {
    /// The 1-based chunk index.
    pub chunk_index: u64,
    /// Absolute URL; its query string carries the signature, so it is a secret.
    pub url: String,
    /// When the URL stops working.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// Response of `POST /assets/multipart-uploads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAssetUploadResponse {
    /// The session id.
    #[serde(default)]
    pub upload_id: String,
    /// The asset id, reserved at once; usable only after completion.
    #[serde(default)]
    pub asset_id: Option<String>,
    /// The initial URLs; they may not cover every chunk.
    #[serde(default)]
    pub upload_urls: Vec<PresignedUrlChunk>,
    /// Headers the storage may want on chunk PUTs.
    #[serde(default)]
    pub upload_headers: std::collections::BTreeMap<String, String>,
    /// Bytes per chunk, except the last.
    #[serde(default)]
    pub chunk_size: u64,
    /// `ceil(total_size / chunk_size)`.
    #[serde(default)]
    pub total_chunks: Option<u64>,
    /// When the session expires.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// The proof kind of a completed chunk; only `etag` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProofType {
    /// The storage's ETag of the chunk.
    #[default]
    Etag,
}

/// One entry of a chunk report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedChunk {
    /// The 1-based chunk index.
    pub chunk_index: u64,
    /// The ETag the storage returned, without quotes.
    pub proof: String,
    /// Always [`ProofType::Etag`].
    pub proof_type: ProofType,
    /// Bytes uploaded for this chunk.
    pub chunk_size: u64,
}

/// Body of `POST /assets/multipart-uploads/{upload_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportChunkBatchRequest {
    /// The chunks being reported.
    pub completed_chunks: Vec<CompletedChunk>,
}

/// Response of a chunk report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReportChunkBatchResponse {
    /// Present only once every chunk has been reported.
    #[serde(default)]
    pub url: Option<String>,
    /// The asset id.
    #[serde(default)]
    pub asset_id: Option<String>,
    /// Chunks newly accepted by this request.
    #[serde(default)]
    pub processed_chunks: u64,
    /// Chunks in this request that had been reported before.
    #[serde(default)]
    pub duplicate_chunks: u64,
    /// Unique chunks reported so far.
    #[serde(default)]
    pub total_completed: u64,
}

/// Body of `POST /assets/multipart-uploads/{upload_id}/presigned-urls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAdditionalPresignedUrlsRequest {
    /// The first 1-based chunk index.
    pub start: u64,
    /// How many URLs, 1–50.
    pub count: u64,
}

/// Response of the presigned-urls call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAdditionalPresignedUrlsResponse {
    /// The session id.
    #[serde(default)]
    pub upload_id: String,
    /// Echoes `start`.
    #[serde(default)]
    pub start_index: u64,
    /// Echoes `count`.
    #[serde(default)]
    pub count: u64,
    /// The URLs.
    #[serde(default)]
    pub upload_urls: Vec<PresignedUrlChunk>,
    /// When the URLs were made.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub generated_at: Option<OffsetDateTime>,
    /// When they expire.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// The pagination envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PageInfo {
    /// Items per page.
    #[serde(default)]
    pub limit_per_page: Option<u64>,
    /// This page, 1-based.
    #[serde(default)]
    pub page: Option<u64>,
    /// How many pages there are.
    #[serde(default)]
    pub total_page: Option<u64>,
    /// How many items there are.
    #[serde(default)]
    pub total_results: Option<u64>,
}

/// One chunk in a status response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    /// The 1-based chunk index.
    pub index: u64,
    /// Its status.
    pub status: ChunkStatus,
    /// When it was completed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub uploaded_at: Option<OffsetDateTime>,
    /// When it last changed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// Response of `GET /assets/multipart-uploads/{upload_id}` (one page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUploadStatusResponse {
    /// The session id.
    #[serde(default)]
    pub upload_id: String,
    /// The session status.
    pub status: MultipartUploadStatus,
    /// This page of per-chunk detail.
    #[serde(default)]
    pub uploaded_chunks: Vec<ChunkInfo>,
    /// Chunks uploaded and reported.
    #[serde(default)]
    pub chunks_completed: u64,
    /// Chunks that must be uploaded again.
    #[serde(default)]
    pub chunks_failed: u64,
    /// Chunks not reported yet.
    #[serde(default)]
    pub chunks_pending: u64,
    /// The pagination envelope.
    #[serde(default)]
    pub page_info: Option<PageInfo>,
    /// The size given at creation.
    #[serde(default)]
    pub total_size: Option<u64>,
    /// Bytes of reported chunks.
    #[serde(default)]
    pub uploaded_size: Option<u64>,
    /// When the session was created.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// When it last changed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

impl GetUploadStatusResponse {
    /// The session's chunk count, from the counters.
    pub fn total_chunks(&self) -> u64 {
        self.chunks_completed + self.chunks_failed + self.chunks_pending
    }
}

/// One session in the incomplete-uploads list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteUploadSummary {
    /// The session id.
    pub upload_id: String,
    /// Its status.
    pub status: MultipartUploadStatus,
    /// The file size.
    pub total_size: u64,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// How many chunks.
    pub total_chunks: u64,
    /// When it was created.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// When it expires.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// Response of `GET /assets/multipart-uploads` (one page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListIncompleteUploadsResponse {
    /// The sessions on this page.
    #[serde(default)]
    pub data: Vec<IncompleteUploadSummary>,
    /// The pagination envelope.
    #[serde(default)]
    pub page_info: Option<PageInfo>,
}

/// An asset, as `GET /assets/{asset_id}` returns it (AssetDetail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// The asset id.
    #[serde(rename = "_id")]
    pub id: String,
    /// How it was created: `direct`, `url` or `multipart`.
    #[serde(default)]
    pub method: Option<String>,
    /// Its processing status.
    pub status: AssetStatus,
    /// The file name.
    #[serde(default)]
    pub filename: Option<String>,
    /// The MIME type.
    #[serde(default)]
    pub file_type: Option<String>,
    /// When it was created.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// Size in bytes, final once ready.
    #[serde(default)]
    pub size: Option<u64>,
    /// Duration in seconds (video and audio).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Why processing failed.
    #[serde(default)]
    pub error: Option<AssetError>,
    /// Every other field the server sent (`hls`, `thumbnail`, `user_metadata`, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The `error` object of a failed asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetError {
    /// What went wrong.
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unknown_enum_values_are_kept() {
        let s: MultipartUploadStatus = serde_json::from_str("\"paused\"").unwrap();
        assert_eq!(s, MultipartUploadStatus::Other("paused".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"paused\"");
        let s: MultipartUploadStatus = serde_json::from_str("\"expired\"").unwrap();
        assert_eq!(s, MultipartUploadStatus::Expired);
    }

    #[test]
    fn unknown_fields_are_ignored_and_optional_fields_may_be_absent() {
        let body = r#"{"upload_id":"u1","status":"active","uploaded_chunks":[
            {"index":1,"status":"completed","uploaded_at":"2026-01-02T03:04:05Z","novel":true},
            {"index":2,"status":"pending","uploaded_at":null}],
            "chunks_completed":1,"chunks_pending":1,"brand_new_field":{"x":1}}"#;
        let r: GetUploadStatusResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.total_chunks(), 2);
        assert_eq!(r.uploaded_chunks[0].status, ChunkStatus::Completed);
        assert!(r.uploaded_chunks[0].uploaded_at.is_some());
        assert!(r.page_info.is_none());
    }

    #[test]
    fn create_request_leaves_out_unset_options() {
        let req = CreateAssetUploadRequest {
            filename: "a.mp4".into(),
            file_type: FileType::Video,
            total_size: 10,
            enable_hls: None,
            enable_thumbnail: None,
            user_metadata: None,
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"filename":"a.mp4","type":"video","total_size":10}"#
        );
    }

    #[test]
    fn dates_with_fractions_and_offsets_parse() {
        let u: PresignedUrlChunk = serde_json::from_str(
            r#"{"chunk_index":3,"url":"http://h/x","expires_at":"2026-05-06T07:08:09.123+00:00"}"#,
        )
        .unwrap();
        assert_eq!(u.expires_at.unwrap().unix_timestamp(), 1_778_051_289);
    }

    #[test]
    fn asset_keeps_extension_fields() {
        let a: Asset = serde_json::from_str(
            r#"{"_id":"a1","status":"ready","size":5,"sha256":"ab","hls":{"status":"ready"}}"#,
        )
        .unwrap();
        assert_eq!(a.status, AssetStatus::Ready);
        assert_eq!(a.extra["sha256"], "ab");
        let back = serde_json::to_value(&a).unwrap();
        assert_eq!(back["_id"], "a1");
        assert_eq!(back["sha256"], "ab");
    }

    fn arb_status() -> impl Strategy<Value = MultipartUploadStatus> {
        prop_oneof![
            Just(MultipartUploadStatus::Active),
            Just(MultipartUploadStatus::Completed),
            Just(MultipartUploadStatus::Failed),
            Just(MultipartUploadStatus::Expired),
            "[a-z_]{1,12}".prop_map(MultipartUploadStatus::from),
        ]
    }

    fn arb_date() -> impl Strategy<Value = Option<OffsetDateTime>> {
        proptest::option::of(
            (0i64..4_000_000_000).prop_map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap()),
        )
    }

    proptest! {
        #[test]
        fn summaries_round_trip(
            id in "[0-9a-f]{24}", status in arb_status(), total in 1u64..u64::MAX / 2,
            chunk in 1u64..u64::MAX / 2, n in 0u64..10_001, created in arb_date(), expires in arb_date(),
        ) {
            let s = IncompleteUploadSummary {
                upload_id: id, status, total_size: total, chunk_size: chunk, total_chunks: n,
                created_at: created, expires_at: expires,
            };
            let json = serde_json::to_string(&s).unwrap();
            let back: IncompleteUploadSummary = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn report_requests_round_trip(chunks in proptest::collection::vec(
            (1u64..1_000_000, "[0-9a-f]{32}", 1u64..u64::MAX), 0..60)
        ) {
            let req = ReportChunkBatchRequest {
                completed_chunks: chunks.into_iter().map(|(i, p, n)| CompletedChunk {
                    chunk_index: i, proof: p, proof_type: ProofType::Etag, chunk_size: n,
                }).collect(),
            };
            let json = serde_json::to_value(&req).unwrap();
            for c in json["completed_chunks"].as_array().unwrap() {
                prop_assert_eq!(&c["proof_type"], "etag");
            }
            let back: ReportChunkBatchRequest = serde_json::from_value(json).unwrap();
            prop_assert_eq!(back, req);
        }

        #[test]
        fn responses_survive_unknown_fields(key in "[a-z]{1,10}", value in any::<i64>()) {
            let mut v = serde_json::json!({
                "url": null, "asset_id": "a", "processed_chunks": 2,
                "duplicate_chunks": 0, "total_completed": 2
            });
            if !v.as_object().unwrap().contains_key(&key) {
                v[&key] = serde_json::json!(value);
            }
            let r: ReportChunkBatchResponse = serde_json::from_value(v).unwrap();
            prop_assert_eq!(r.total_completed, 2);
        }
    }
}
