//! Chunk storage: where the bytes of chunk PUTs (and direct uploads) go.
//!
//! A body is streamed through a [`ChunkWriter`] frame by frame, so memory per request stays
//! bounded by the chunk size for `memory` storage and by a small buffer otherwise. A written
//! chunk becomes visible only when it is committed, and a commit replaces the previous copy
//! whole (last write wins); a writer that is dropped before its commit leaves nothing behind.
//!
//! A writer can be told to damage its chunk (the `corrupt_puts` fault): one byte is flipped
//! before it is hashed and stored, so the ETag is the MD5 of what was stored, as a real
//! storage computes it over what it received.
//!
//! On disk a chunk is `DIR/<blob>/<index>.part`, written through a uniquely named temporary
//! file and renamed into place. `blob` is always a generated 24-hex-digit id, checked again
//! here, so nothing a client sends can steer a path outside `DIR`.

use std::{
    collections::HashMap,
    io::{self, Read},
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, PoisonError},
};

use bytes::{Bytes, BytesMut};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::{config::Storage, error::SandboxError, session::Stored, store::is_id};

/// The storage backend of one sandbox.
#[derive(Debug)]
pub(crate) enum ChunkStorage {
    Memory(Mutex<HashMap<(String, u32), Bytes>>),
    Disk(PathBuf),
    Discard,
}

/// A chunk being written.
#[derive(Debug)]
pub(crate) struct ChunkWriter {
    blob: String,
    index: u32,
    md5: Md5,
    /// Body bytes accepted so far (a byte held back by `damage` included).
    len: u64,
    sink: Sink,
    damage: Option<Damage>,
}

/// A byte to flip on its way into storage (the `corrupt_puts` fault). Until the byte at
/// `at` has gone by, the last byte received is held back, so that a body that ends before
/// `at` has its last byte flipped instead.
#[derive(Debug)]
struct Damage {
    at: u64,
    held: Option<u8>,
    done: bool,
}

#[derive(Debug)]
enum Sink {
    Memory(BytesMut),
    Disk {
        file: BufWriter<tokio::fs::File>,
        temp: TempPath,
        dest: PathBuf,
    },
    Discard,
}

/// A fully received chunk, waiting for its commit.
#[derive(Debug)]
pub(crate) struct Finished {
    blob: String,
    index: u32,
    stored: Stored,
    sink: FinishedSink,
    damaged: bool,
}

#[derive(Debug)]
enum FinishedSink {
    Memory(Bytes),
    Disk { temp: TempPath, dest: PathBuf },
    Discard,
}

/// A temporary file that is removed unless it was renamed into place.
#[derive(Debug)]
struct TempPath(Option<PathBuf>);

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: a leftover temp file is harmless and never read.
            let _ = std::fs::remove_file(path);
        }
    }
}

impl ChunkStorage {
    /// Opens the configured storage; for `disk:` the directory is created if needed.
    pub(crate) fn open(storage: &Storage) -> Result<Self, SandboxError> {
        Ok(match storage {
            Storage::Memory => Self::Memory(Mutex::default()),
            Storage::Discard => Self::Discard,
            Storage::Disk(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SandboxError::StorageDir {
                    path: dir.clone(),
                    source,
                })?;
                let dir = dir
                    .canonicalize()
                    .map_err(|source| SandboxError::StorageDir {
                        path: dir.clone(),
                        source,
                    })?;
                Self::Disk(dir)
            }
        })
    }

    fn memory(
        map: &Mutex<HashMap<(String, u32), Bytes>>,
    ) -> MutexGuard<'_, HashMap<(String, u32), Bytes>> {
        map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The directory of one blob. Refuses anything but a generated id.
    fn blob_dir(dir: &Path, blob: &str) -> io::Result<PathBuf> {
        if !is_id(blob) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "storage blob names must be generated ids",
            ));
        }
        Ok(dir.join(blob))
    }

    /// Starts writing chunk `index` of `blob`, expected to be at most `max_len` bytes.
    pub(crate) async fn writer(
        &self,
        blob: &str,
        index: u32,
        max_len: u64,
    ) -> io::Result<ChunkWriter> {
        let sink = match self {
            Self::Memory(_) => {
                // Reserve what the chunk may hold, but never trust a huge hint blindly.
                let hint = usize::try_from(max_len.min(64 * 1024 * 1024)).unwrap_or(0);
                Sink::Memory(BytesMut::with_capacity(hint))
            }
            Self::Disk(dir) => {
                let blob_dir = Self::blob_dir(dir, blob)?;
                tokio::fs::create_dir_all(&blob_dir).await?;
                let nonce: u64 = rand::random();
                let temp = blob_dir.join(format!("{index}.part.{nonce:016x}.tmp"));
                let file = tokio::fs::File::create(&temp).await?;
                Sink::Disk {
                    file: BufWriter::with_capacity(1024 * 1024, file),
                    temp: TempPath(Some(temp)),
                    dest: blob_dir.join(format!("{index}.part")),
                }
            }
            Self::Discard => Sink::Discard,
        };
        Ok(ChunkWriter {
            blob: blob.to_owned(),
            index,
            md5: Md5::new(),
            len: 0,
            sink,
            damage: None,
        })
    }

    /// Makes a finished chunk the current copy. Called with the store locked, so the stored
    /// bytes and the recorded ETag always change together. Disk commits are one rename.
    pub(crate) fn commit(&self, finished: Finished) -> io::Result<Stored> {
        match (self, finished.sink) {
            (Self::Memory(map), FinishedSink::Memory(bytes)) => {
                Self::memory(map).insert((finished.blob, finished.index), bytes);
            }
            (Self::Disk(_), FinishedSink::Disk { mut temp, dest }) => {
                if let Some(path) = temp.0.take() {
                    std::fs::rename(&path, &dest).inspect_err(|_| {
                        let _ = std::fs::remove_file(&path);
                    })?;
                }
            }
            (_, FinishedSink::Discard) | (Self::Discard, _) => {}
            _ => return Err(io::Error::other("chunk written for another storage")),
        }
        Ok(finished.stored)
    }

    /// The SHA-256 (hex) of the blob's pieces in order; `None` for `discard` storage.
    /// Fails if a piece is missing or does not have its recorded length.
    pub(crate) async fn digest(
        &self,
        blob: &str,
        pieces: &[(u32, u64)],
    ) -> Result<Option<String>, String> {
        match self {
            Self::Discard => Ok(None),
            Self::Memory(map) => {
                let parts: Vec<Bytes> = {
                    let map = Self::memory(map);
                    pieces
                        .iter()
                        .map(|&(index, len)| match map.get(&(blob.to_owned(), index)) {
                            Some(bytes) if bytes.len() as u64 == len => Ok(bytes.clone()),
                            _ => Err(format!("chunk {index} is missing from storage")),
                        })
                        .collect::<Result<_, _>>()?
                };
                let hashed = tokio::task::spawn_blocking(move || {
                    let mut sha = Sha256::new();
                    for part in &parts {
                        sha.update(part);
                    }
                    hex::encode(sha.finalize())
                })
                .await;
                hashed.map(Some).map_err(|e| format!("hashing failed: {e}"))
            }
            Self::Disk(dir) => {
                let blob_dir = Self::blob_dir(dir, blob).map_err(|e| e.to_string())?;
                let pieces = pieces.to_vec();
                tokio::task::spawn_blocking(move || hash_files(&blob_dir, &pieces))
                    .await
                    .map_err(|e| format!("hashing failed: {e}"))?
                    .map(Some)
            }
        }
    }

    /// Deletes every piece of a blob.
    pub(crate) async fn remove(&self, blob: &str) {
        match self {
            Self::Memory(map) => Self::memory(map).retain(|(b, _), _| b != blob),
            Self::Disk(dir) => {
                if let Ok(blob_dir) = Self::blob_dir(dir, blob) {
                    let _ = tokio::fs::remove_dir_all(blob_dir).await;
                }
            }
            Self::Discard => {}
        }
    }
}

fn hash_files(blob_dir: &Path, pieces: &[(u32, u64)]) -> Result<String, String> {
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    for &(index, len) in pieces {
        let missing = || format!("chunk {index} is missing from storage");
        let mut file =
            std::fs::File::open(blob_dir.join(format!("{index}.part"))).map_err(|_| missing())?;
        let mut seen = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| format!("chunk {index}: {e}"))?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            seen += n as u64;
        }
        if seen != len {
            return Err(missing());
        }
    }
    Ok(hex::encode(sha.finalize()))
}

impl ChunkWriter {
    /// Damages the chunk: the byte at offset `at` (or the last one, if the body is shorter)
    /// is stored flipped, and the ETag is computed over the damaged bytes.
    pub(crate) fn damage_at(&mut self, at: u64) {
        self.damage = Some(Damage {
            at,
            held: None,
            done: false,
        });
    }

    /// Appends body bytes.
    pub(crate) async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.len += data.len() as u64;
        let Some(damage) = self.damage.as_mut().filter(|d| !d.done) else {
            return self.emit(data).await;
        };
        let mut bytes = Vec::with_capacity(data.len() + 1);
        bytes.extend(damage.held.take());
        bytes.extend_from_slice(data);
        let start = self.len - bytes.len() as u64;
        let target = damage
            .at
            .checked_sub(start)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < bytes.len());
        match target {
            Some(i) => {
                bytes[i] ^= 0xFF;
                damage.done = true;
            }
            None => damage.held = bytes.pop(),
        }
        self.emit(&bytes).await
    }

    /// Hashes and stores bytes as they are.
    async fn emit(&mut self, data: &[u8]) -> io::Result<()> {
        self.md5.update(data);
        match &mut self.sink {
            Sink::Memory(buf) => buf.extend_from_slice(data),
            Sink::Disk { file, .. } => file.write_all(data).await?,
            Sink::Discard => {}
        }
        Ok(())
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Ends the body: flushes, and computes the ETag (MD5 hex).
    pub(crate) async fn finish(mut self) -> io::Result<Finished> {
        let held = self.damage.as_mut().and_then(|d| {
            let byte = d.held.take()?;
            d.done = true;
            Some(byte)
        });
        if let Some(byte) = held {
            self.emit(&[byte ^ 0xFF]).await?;
        }
        let damaged = self.damage.as_ref().is_some_and(|d| d.done);
        let etag = hex::encode(self.md5.finalize());
        let sink = match self.sink {
            Sink::Memory(buf) => FinishedSink::Memory(buf.freeze()),
            Sink::Disk {
                mut file,
                temp,
                dest,
            } => {
                // No fsync: this is a test server; a crash loses nothing anyone relies on.
                file.flush().await?;
                FinishedSink::Disk { temp, dest }
            }
            Sink::Discard => FinishedSink::Discard,
        };
        Ok(Finished {
            blob: self.blob,
            index: self.index,
            stored: Stored {
                etag,
                len: self.len,
            },
            sink,
            damaged,
        })
    }
}

impl Finished {
    /// The ETag and length the commit will record.
    pub(crate) fn stored(&self) -> &Stored {
        &self.stored
    }

    /// Whether a byte was flipped on the way in ([`ChunkWriter::damage_at`]).
    pub(crate) fn damaged(&self) -> bool {
        self.damaged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOB: &str = "0123456789abcdef01234567";

    async fn stored(damage: Option<u64>, frames: &[&[u8]]) -> (Bytes, Stored, bool) {
        let storage = ChunkStorage::open(&Storage::Memory).unwrap();
        let mut writer = storage.writer(BLOB, 1, 100).await.unwrap();
        if let Some(at) = damage {
            writer.damage_at(at);
        }
        for frame in frames {
            writer.write(frame).await.unwrap();
        }
        let finished = writer.finish().await.unwrap();
        let damaged = finished.damaged();
        let stored = storage.commit(finished).unwrap();
        let ChunkStorage::Memory(map) = &storage else {
            unreachable!()
        };
        let bytes = map.lock().unwrap()[&(BLOB.to_owned(), 1)].clone();
        (bytes, stored, damaged)
    }

    fn md5_hex(data: &[u8]) -> String {
        hex::encode(Md5::digest(data))
    }

    #[tokio::test]
    async fn damage_flips_one_byte_and_the_etag_follows() {
        let (bytes, s, damaged) = stored(Some(3), &[b"ab", b"cdef"]).await;
        assert!(damaged);
        assert_eq!(&bytes[..], b"abc\x9bef");
        assert_eq!(s.etag, md5_hex(&bytes));
        assert_eq!(s.len, 6);

        let (bytes, s, damaged) = stored(Some(50), &[b"ab", b"cd"]).await;
        assert!(damaged, "a short body has its last byte flipped");
        assert_eq!(&bytes[..], b"abc\x9b");
        assert_eq!(s.etag, md5_hex(&bytes));

        let (bytes, s, damaged) = stored(None, &[b"ab", b"cd"]).await;
        assert!(!damaged);
        assert_eq!(&bytes[..], b"abcd");
        assert_eq!(s.etag, md5_hex(b"abcd"));
    }
}
