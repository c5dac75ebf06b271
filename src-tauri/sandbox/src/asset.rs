//! Assets: what a completed multipart session (or a direct upload) becomes.
//!
//! An asset is `processing` until two things are true: its content has been checked (the
//! SHA-256 of the assembled bytes computed) and the configured processing delay has passed
//! since it was created. It is then `ready`, or `failed` if the content could not be
//! assembled. The status is derived from the clock when asked, so no timer is needed.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::wire::{AssetDetail, AssetFailure, AssetMethod, AssetStatus, Rendition, Timestamp};

/// `video`, `audio` or `image`: the `type` of a session, and the kind of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssetKind {
    Video,
    Audio,
    Image,
}

impl AssetKind {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "video" => Some(Self::Video),
            "audio" => Some(Self::Audio),
            "image" => Some(Self::Image),
            _ => None,
        }
    }
}

/// Options that carry over from the creation request to the asset.
#[derive(Debug, Clone, Default)]
pub(crate) struct AssetOptions {
    pub(crate) enable_hls: bool,
    pub(crate) enable_thumbnail: bool,
    pub(crate) user_metadata: Option<Map<String, Value>>,
}

/// Where an asset's bytes are kept in the chunk storage: `blob` is the storage namespace
/// (the upload id for multipart assets, the asset id for direct uploads).
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub(crate) id: String,
    /// `(index, len)` of each stored piece, in order.
    pub(crate) pieces: Vec<(u32, u64)>,
}

/// The result of checking an asset's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    /// Still being assembled and hashed.
    Checking,
    /// Checked; the digest is `None` when the storage keeps no bytes (`discard`).
    Checked { sha256: Option<String> },
    /// The content could not be assembled; the message says why.
    Failed(String),
}

/// An asset.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub(crate) id: String,
    pub(crate) method: AssetMethod,
    pub(crate) kind: AssetKind,
    pub(crate) filename: String,
    pub(crate) created_at: OffsetDateTime,
    /// When the processing delay ends.
    pub(crate) ready_at: OffsetDateTime,
    pub(crate) size: Option<u64>,
    pub(crate) options: AssetOptions,
    pub(crate) content: Content,
    pub(crate) blob: Option<Blob>,
    /// Creation order, to list assets created within the same instant newest first.
    pub(crate) seq: u64,
}

impl Asset {
    pub(crate) fn status(&self, now: OffsetDateTime) -> AssetStatus {
        if now < self.ready_at {
            return AssetStatus::Processing;
        }
        match self.content {
            Content::Checking => AssetStatus::Processing,
            Content::Checked { .. } => AssetStatus::Ready,
            Content::Failed(_) => AssetStatus::Failed,
        }
    }

    /// The `AssetDetail` view at time `now`.
    pub(crate) fn detail(&self, now: OffsetDateTime) -> AssetDetail {
        let status = self.status(now);
        let rendition = |wanted: bool| {
            wanted.then_some(Rendition {
                status: match status {
                    AssetStatus::Processing => "processing",
                    AssetStatus::Ready => "ready",
                    AssetStatus::Failed => "error",
                },
            })
        };
        let (sha256, error) = match (&self.content, status) {
            (Content::Checked { sha256 }, _) => (sha256.clone(), None),
            (Content::Failed(why), AssetStatus::Failed) => (
                None,
                Some(AssetFailure {
                    message: why.clone(),
                }),
            ),
            _ => (None, None),
        };
        let updated_at = if status == AssetStatus::Processing {
            self.created_at
        } else {
            self.ready_at
        };
        AssetDetail {
            id: self.id.clone(),
            method: self.method,
            status,
            filename: self.filename.clone(),
            file_type: file_type(&self.filename).to_owned(),
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(updated_at),
            size: self.size,
            user_metadata: self.options.user_metadata.clone(),
            hls: rendition(self.options.enable_hls),
            thumbnail: rendition(self.options.enable_thumbnail),
            error,
            sha256,
        }
    }

    /// Whether the asset passes the `GET /assets` filters.
    pub(crate) fn matches(&self, ids: &[&str], kinds: &[AssetKind], name: Option<&str>) -> bool {
        (ids.is_empty() || ids.contains(&self.id.as_str()))
            && (kinds.is_empty() || kinds.contains(&self.kind))
            && name.is_none_or(|n| self.filename.to_lowercase().contains(&n.to_lowercase()))
    }
}

/// A MIME type guessed from the file name's extension.
pub(crate) fn file_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" => "video/mp4",
        "m4v" => "video/x-m4v",
        "mov" | "qt" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "wmv" => "video/x-ms-wmv",
        "flv" => "video/x-flv",
        "mpeg" | "mpg" => "video/mpeg",
        "ts" | "mts" | "m2ts" => "video/mp2t",
        "3gp" => "video/3gpp",
        "ogv" => "video/ogg",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "heic" => "image/heic",
        _ => "application/octet-stream",
    }
}

/// The kind of a directly uploaded file, from its MIME type (video when unknown).
pub(crate) fn kind_of(filename: &str) -> AssetKind {
    let mime = file_type(filename);
    if mime.starts_with("audio/") {
        AssetKind::Audio
    } else if mime.starts_with("image/") {
        AssetKind::Image
    } else {
        AssetKind::Video
    }
}

/// Validates a file name: 1–255 characters (characters, not bytes). It is only ever stored
/// as metadata, never used as a path, so `../../x` is a valid (odd) name.
pub(crate) fn check_filename(name: &str) -> Result<(), String> {
    match name.chars().count() {
        0 => Err("`filename` must not be empty".into()),
        1..=255 => Ok(()),
        n => Err(format!("`filename` has {n} characters; the limit is 255")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_come_from_the_extension() {
        assert_eq!(file_type("a.MP4"), "video/mp4");
        assert_eq!(file_type("song.mp3"), "audio/mpeg");
        assert_eq!(file_type("noext"), "application/octet-stream");
        assert_eq!(file_type("../../x"), "application/octet-stream");
        assert_eq!(kind_of("p.png"), AssetKind::Image);
    }

    #[test]
    fn filenames_count_characters() {
        assert!(check_filename(&"é".repeat(255)).is_ok());
        assert!(check_filename(&"é".repeat(256)).is_err());
        assert!(check_filename("").is_err());
    }

    #[test]
    fn an_asset_is_ready_only_after_the_delay_and_the_check() {
        let now = OffsetDateTime::now_utc();
        let mut asset = Asset {
            id: "a".into(),
            method: AssetMethod::Multipart,
            kind: AssetKind::Video,
            filename: "f.mp4".into(),
            created_at: now,
            ready_at: now + time::Duration::seconds(1),
            size: Some(1),
            options: AssetOptions::default(),
            content: Content::Checking,
            blob: None,
            seq: 0,
        };
        let later = now + time::Duration::seconds(2);
        assert_eq!(asset.status(now), AssetStatus::Processing);
        assert_eq!(asset.status(later), AssetStatus::Processing);
        asset.content = Content::Checked {
            sha256: Some("x".into()),
        };
        assert_eq!(asset.status(now), AssetStatus::Processing);
        assert_eq!(asset.status(later), AssetStatus::Ready);
        asset.content = Content::Failed("gone".into());
        assert_eq!(asset.detail(later).error.unwrap().message, "gone");
    }
}
