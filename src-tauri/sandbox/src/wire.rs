//! The JSON the server sends, with the wire names of the protocol (its own types: the sandbox
//! must not share code with the client it tests, or a shared misreading would go unnoticed).
//!
//! Requests are not deserialised into structs: they are read field by field
//! ([`crate::extract::Fields`]) so each problem maps to the documented error code.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A date-time on the wire: RFC 3339, UTC, whole seconds (`2026-01-02T03:04:05Z`), the form
/// both official SDKs parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(pub(crate) OffsetDateTime);

impl Timestamp {
    pub(crate) fn format(&self) -> String {
        let t = self.0.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.format())
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t)
    }
}

/// `PageInfo`, the pagination envelope.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct PageInfo {
    pub(crate) limit_per_page: u64,
    pub(crate) page: u64,
    pub(crate) total_page: u64,
    pub(crate) total_results: u64,
}

/// `PresignedUrlChunk`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PresignedUrl {
    pub(crate) chunk_index: u32,
    pub(crate) url: String,
    pub(crate) expires_at: Timestamp,
}

/// `CreateAssetUploadResponse`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateUploadResponse {
    pub(crate) upload_id: String,
    pub(crate) asset_id: String,
    pub(crate) upload_urls: Vec<PresignedUrl>,
    pub(crate) chunk_size: u64,
    pub(crate) total_chunks: u32,
    pub(crate) expires_at: Timestamp,
}

/// `RequestAdditionalPresignedUrLsResponse`.
#[derive(Debug, Serialize)]
pub(crate) struct PresignedUrlsResponse {
    pub(crate) upload_id: String,
    pub(crate) start_index: u32,
    pub(crate) count: u32,
    pub(crate) upload_urls: Vec<PresignedUrl>,
    pub(crate) generated_at: Timestamp,
    pub(crate) expires_at: Timestamp,
}

/// `ReportChunkBatchResponse`. `url` is present only once every chunk is reported.
#[derive(Debug, Serialize)]
pub(crate) struct ReportResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    pub(crate) asset_id: String,
    pub(crate) processed_chunks: u32,
    pub(crate) duplicate_chunks: u32,
    pub(crate) total_completed: u32,
}

/// `MultipartUploadStatusType`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SessionStatus {
    Active,
    Completed,
    Expired,
}

/// A chunk's status in `ChunkInfo`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChunkStatus {
    Pending,
    Completed,
    Failed,
}

/// `ChunkInfo`. `uploaded_at` is always present, `null` unless the chunk is completed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChunkInfo {
    pub(crate) index: u32,
    pub(crate) status: ChunkStatus,
    pub(crate) uploaded_at: Option<Timestamp>,
    pub(crate) updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// `GetUploadStatusResponse`.
#[derive(Debug, Serialize)]
pub(crate) struct StatusResponse {
    pub(crate) upload_id: String,
    pub(crate) status: SessionStatus,
    pub(crate) uploaded_chunks: Vec<ChunkInfo>,
    pub(crate) chunks_completed: u32,
    pub(crate) chunks_failed: u32,
    pub(crate) chunks_pending: u32,
    pub(crate) page_info: PageInfo,
    pub(crate) total_size: u64,
    pub(crate) uploaded_size: u64,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

/// `IncompleteUploadSummary`.
#[derive(Debug, Serialize)]
pub(crate) struct IncompleteUpload {
    pub(crate) upload_id: String,
    pub(crate) status: SessionStatus,
    pub(crate) total_size: u64,
    pub(crate) chunk_size: u64,
    pub(crate) total_chunks: u32,
    pub(crate) created_at: Timestamp,
    pub(crate) expires_at: Timestamp,
}

/// A paginated list: `ListIncompleteUploadsResponse` and the asset list.
#[derive(Debug, Serialize)]
pub(crate) struct Page<T> {
    pub(crate) data: Vec<T>,
    pub(crate) page_info: PageInfo,
}

/// Asset `method`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AssetMethod {
    Direct,
    Url,
    Multipart,
}

/// Asset `status`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AssetStatus {
    Processing,
    Ready,
    Failed,
}

/// The `hls` and `thumbnail` objects (only present when requested at creation).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Rendition {
    pub(crate) status: &'static str,
}

/// The asset `error` object.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AssetFailure {
    pub(crate) message: String,
}

/// `AssetDetail` (also used for `Asset`: the extra fields are harmless), plus the sandbox's
/// `sha256` extension: the hex SHA-256 of the assembled bytes, once known.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AssetDetail {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) method: AssetMethod,
    pub(crate) status: AssetStatus,
    pub(crate) filename: String,
    pub(crate) file_type: String,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hls: Option<Rendition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) thumbnail: Option<Rendition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<AssetFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_whole_seconds_and_a_z() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_323_045).unwrap()
            + time::Duration::milliseconds(999);
        assert_eq!(Timestamp(t).format(), "2026-01-02T03:04:05Z");
        assert_eq!(
            serde_json::to_string(&Timestamp(t)).unwrap(),
            "\"2026-01-02T03:04:05Z\""
        );
    }

    #[test]
    fn chunk_info_keeps_a_null_uploaded_at() {
        let info = ChunkInfo {
            index: 1,
            status: ChunkStatus::Pending,
            uploaded_at: None,
            updated_at: Timestamp(OffsetDateTime::UNIX_EPOCH),
            error: None,
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["uploaded_at"], Value::Null);
        assert!(json.get("error").is_none());
        assert_eq!(json["status"], "pending");
    }
}
