//! The local file: checks before an upload, and chunk bodies streamed from their offsets.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use bytes::BytesMut;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::UploadError;
use crate::plan::ChunkSpec;

/// How much of a chunk is read from disk at a time. Memory per chunk in flight is a few
/// times this (the read, and what the connection still holds), whatever the chunk size, so
/// 64 chunks in flight stay within a few tens of MiB.
const READ_BUF: usize = 128 * 1024;

/// A file that passed [`inspect`]: what it looked like then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The file, made absolute so a journal entry still names it from another directory.
    pub path: PathBuf,
    /// Its size in bytes (never 0).
    pub size: u64,
    /// Its modification time, when the OS keeps one.
    pub modified: Option<SystemTime>,
}

/// Checks that `path` is an existing, readable, non-empty regular file, and says what it
/// looks like. The engine checks every file with it before an upload, and the front ends
/// call it to refuse a bad file at once, with the same words.
///
/// # Errors
///
/// [`UploadError::FileNotFound`], [`UploadError::IsDirectory`], [`UploadError::EmptyFile`]
/// or [`UploadError::Unreadable`] (also for what is not a regular file).
pub fn inspect(path: &Path) -> Result<FileInfo, UploadError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(UploadError::FileNotFound { path });
        }
        Err(source) => return Err(UploadError::Unreadable { path, source }),
    };
    if meta.is_dir() {
        return Err(UploadError::IsDirectory { path });
    }
    if !meta.is_file() {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        return Err(UploadError::Unreadable { path, source });
    }
    if meta.len() == 0 {
        return Err(UploadError::EmptyFile { path });
    }
    // Reading a byte, not just opening, also catches files that open but cannot be read.
    let mut byte = [0u8; 1];
    if let Err(source) = std::fs::File::open(&path).and_then(|mut f| f.read(&mut byte)) {
        return Err(UploadError::Unreadable { path, source });
    }
    Ok(FileInfo {
        path,
        size: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// A file being uploaded: [`FileInfo`] with the reads the engine makes of it.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) modified: Option<SystemTime>,
}

impl SourceFile {
    /// [`inspect`]s `path` off the async runtime's threads.
    pub(crate) async fn inspect(path: &Path) -> Result<Self, UploadError> {
        let owned = path.to_path_buf();
        let info = tokio::task::spawn_blocking(move || inspect(&owned))
            .await
            .map_err(|e| UploadError::Protocol(format!("the file check stopped: {e}")))??;
        Ok(Self {
            path: info.path,
            size: info.size,
            modified: info.modified,
        })
    }

    /// The file's content fingerprint (see [`crate::journal::fingerprint`]).
    pub(crate) async fn fingerprint(&self) -> Result<String, UploadError> {
        let path = self.path.clone();
        match tokio::task::spawn_blocking(move || crate::journal::fingerprint(&path)).await {
            Ok(result) => result.map_err(|e| self.io_error(e)),
            Err(e) => Err(UploadError::Protocol(format!(
                "fingerprinting stopped: {e}"
            ))),
        }
    }

    /// Fails when the file's size or modification time differs from what was inspected.
    pub(crate) async fn check_unchanged(&self) -> Result<(), UploadError> {
        let meta = tokio::fs::metadata(&self.path)
            .await
            .map_err(|e| self.io_error(e))?;
        if meta.len() != self.size {
            return Err(UploadError::FileChanged {
                path: self.path.clone(),
                detail: format!(
                    "size from {} to {} bytes during the upload",
                    self.size,
                    meta.len()
                ),
            });
        }
        if meta.modified().ok() != self.modified {
            return Err(UploadError::FileChanged {
                path: self.path.clone(),
                detail: "(it was modified) during the upload".into(),
            });
        }
        Ok(())
    }

    /// The error for a failed read of this file: gone, changed or unreadable.
    pub(crate) fn io_error(&self, e: io::Error) -> UploadError {
        match e.kind() {
            io::ErrorKind::NotFound => UploadError::FileChanged {
                path: self.path.clone(),
                detail: "(it was deleted or moved) during the upload".into(),
            },
            io::ErrorKind::UnexpectedEof => UploadError::FileChanged {
                path: self.path.clone(),
                detail: "(it became shorter) during the upload".into(),
            },
            _ => UploadError::Unreadable {
                path: self.path.clone(),
                source: e,
            },
        }
    }

    /// A request body that streams chunk `spec` from the file, counting bytes into `sent`
    /// and into the attempt's goodput `credit`, paced by its link's bandwidth limit, and
    /// stamping `activity` as data moves. The MD5 of the bytes goes into `digest` as the last
    /// of them is handed over (no second read of the file). A file that turns out shorter
    /// than planned ends the body with an `UnexpectedEof` error rather than sending a short
    /// chunk.
    pub(crate) async fn body(
        &self,
        spec: ChunkSpec,
        sent: Arc<AtomicU64>,
        activity: Arc<Activity>,
        credit: Arc<super::link::Credit>,
        digest: Arc<OnceLock<[u8; 16]>>,
    ) -> io::Result<reqwest::Body> {
        let mut file = tokio::fs::File::open(&self.path).await?;
        file.seek(io::SeekFrom::Start(spec.offset)).await?;
        let reader = file.take(spec.len);
        let len = spec.len;
        let start = (reader, 0u64, Md5::new());
        let stream = futures_util::stream::try_unfold(start, move |(mut reader, done, mut md5)| {
            let sent = sent.clone();
            let activity = activity.clone();
            let credit = credit.clone();
            let digest = digest.clone();
            async move {
                let want = READ_BUF.min((len - done).try_into().unwrap_or(READ_BUF));
                if want == 0 {
                    return Ok(None);
                }
                let mut buf = BytesMut::with_capacity(want);
                let n = reader.read_buf(&mut buf).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file is shorter than when the upload began",
                    ));
                }
                md5.update(&buf);
                let done = done + n as u64;
                if done == len {
                    let _ = digest.set(md5.finalize_reset().into());
                }
                credit.pace(n).await;
                sent.fetch_add(n as u64, Ordering::Relaxed);
                credit.sent(n as u64);
                activity.touch();
                Ok(Some((buf.freeze(), (reader, done, md5))))
            }
        });
        Ok(reqwest::Body::wrap_stream(stream))
    }
}

/// Checks a storage ETag against the MD5 of the bytes sent. An ETag of 32 hex digits is the
/// MD5 of the part (S3 and compatible storage, without SSE-KMS), so any other value means
/// the stored bytes differ from those sent; an ETag of another shape (SSE-KMS, a gateway's
/// own) says nothing and is accepted.
pub(crate) fn check_etag(etag: &str, sent: &[u8; 16]) -> Result<(), crate::error::ChunkError> {
    let is_md5 = etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit());
    let sent = hex::encode(sent);
    if !is_md5 || etag.eq_ignore_ascii_case(&sent) {
        return Ok(());
    }
    Err(crate::error::ChunkError::Damaged {
        sent,
        etag: etag.to_owned(),
    })
}

/// When data last moved on one attempt, for the stall watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let ms = self.start.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long since data last moved.
    pub(crate) fn idle(&self) -> std::time::Duration {
        let last = std::time::Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_md5_etags_are_checked_and_other_shapes_accepted() {
        let sent: [u8; 16] = Md5::digest(b"chunk bytes").into();
        let good = hex::encode(sent);
        assert!(check_etag(&good, &sent).is_ok());
        assert!(check_etag(&good.to_uppercase(), &sent).is_ok());
        let other: [u8; 16] = Md5::digest(b"chunk bytez").into();
        let err = check_etag(&hex::encode(other), &sent).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        // SSE-KMS and multipart-style ETags are not MD5s of the part.
        assert!(check_etag("3858f62230ac3c915f300c664312c11f-9", &sent).is_ok());
        assert!(check_etag("kms-7f3a", &sent).is_ok());
    }

    #[tokio::test]
    async fn bad_paths_get_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mp4");
        assert!(matches!(
            SourceFile::inspect(&missing).await,
            Err(UploadError::FileNotFound { .. })
        ));
        assert!(matches!(
            SourceFile::inspect(dir.path()).await,
            Err(UploadError::IsDirectory { .. })
        ));
        let empty = dir.path().join("empty.mp4");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            SourceFile::inspect(&empty).await,
            Err(UploadError::EmptyFile { .. })
        ));
        let ok = dir.path().join("ok.mp4");
        std::fs::write(&ok, b"abc").unwrap();
        let f = SourceFile::inspect(&ok).await.unwrap();
        assert_eq!(f.size, 3);
        f.check_unchanged().await.unwrap();
        std::fs::write(&ok, b"abcd").unwrap();
        assert!(matches!(
            f.check_unchanged().await,
            Err(UploadError::FileChanged { .. })
        ));
    }
}
