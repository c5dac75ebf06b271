//! The crash-safe local journal of upload sessions, in one SQLite file.
//!
//! The server cannot say which local file a session belongs to, nor the ETags of chunks it
//! stored but never heard reported, so the journal keeps both:
//!
//! - a row per session: id, asset id, base URL, file path, size, modification time, content
//!   fingerprint, chunk size, chunk count, creation and expiry times, state;
//! - a row per acknowledged chunk: index, ETag, size, and whether it was reported.
//!
//! A chunk row is written only after its PUT returned an ETag, and `reported` flips only
//! after the report call succeeded, each committed (WAL, synchronous FULL) before the
//! upload goes on: a process killed at any moment loses at most the chunks in flight, and
//! the file is never left half-written. Sessions are locked with an OS file lock while an
//! upload runs, so two processes never upload the same session, and a dead process leaves
//! no stale lock.
//!
//! The async engine writes through [`Journal::writer`], whose writes run on a thread of the
//! journal's own and are committed in groups (see [`JournalWriter`]), so no fsync ever
//! holds a thread of the async runtime: a chunk worker queues its chunk's row, and the
//! reporter flushes the journal before each report. The methods of [`Journal`] itself
//! write at once, on the calling thread, for the front ends' occasional calls.

mod fingerprint;
mod place;
mod schema;
mod writer;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::{Connection, OptionalExtension, params};

pub use fingerprint::fingerprint;
pub use place::Adopted;
pub use schema::SCHEMA_VERSION;
pub use writer::JournalWriter;

/// What went wrong with the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The SQLite file could not be opened, read or written.
    #[error("the upload journal at {} cannot be used: {source}", path.display())]
    Database {
        /// The journal file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The journal was written by a newer version of the app.
    #[error(
        "the upload journal at {} was written by a newer TL Uploader (schema {found}, this one knows {known}); update the app",
        path.display()
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// SQLite found the file damaged.
    #[error("the upload journal at {} is damaged: {findings}", path.display())]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// What SQLite found.
        findings: String,
    },
    /// Another process is uploading this session.
    #[error("session {upload_id} is being uploaded by another TL Uploader process")]
    Locked {
        /// The session.
        upload_id: String,
    },
    /// A file beside the journal (its folder, a lock file) could not be made, or the
    /// journal's writer thread could not be started.
    #[error("cannot prepare {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The journal's writer thread ended before it confirmed a write, so whether the write
    /// is on disk is unknown. It ends only with its journal, so this means a bug.
    #[error("the upload journal at {} stopped before it confirmed a write", path.display())]
    WriterStopped {
        /// The journal file.
        path: PathBuf,
    },
}

/// Where a session stands in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Not finished: it can be resumed while the server keeps it.
    Active,
    /// Every chunk was reported and the server confirmed it.
    Completed,
    /// The user gave it up (or started over); kept only for the record.
    Abandoned,
}

impl SessionState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Abandoned => "abandoned",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "completed" => Self::Completed,
            "abandoned" => Self::Abandoned,
            // Older journals knew "cancelled" and "failed"; both are resumable.
            _ => Self::Active,
        }
    }
}

/// One session as the journal knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    /// The session id.
    pub upload_id: String,
    /// The asset id, once known.
    pub asset_id: Option<String>,
    /// The API base URL the session lives on.
    pub base_url: String,
    /// The local file.
    pub file_path: PathBuf,
    /// Its size.
    pub file_size: u64,
    /// Its modification time, in nanoseconds since the Unix epoch.
    pub file_mtime_ns: Option<i64>,
    /// Its content fingerprint (see [`fingerprint`]); `None` for sessions migrated from a
    /// journal that had none.
    pub fingerprint: Option<String>,
    /// The name sent to the server.
    pub filename: String,
    /// The media type sent to the server.
    pub file_type: String,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Chunks in the session.
    pub total_chunks: u64,
    /// When the session was created (Unix seconds).
    pub created_at: i64,
    /// When it expires on the server (Unix seconds).
    pub expires_at: Option<i64>,
    /// Where it stands.
    pub state: SessionState,
}

/// One chunk the storage acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkRecord {
    /// The 1-based index.
    pub index: u64,
    /// The ETag, without quotes.
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether the server accepted its report.
    pub reported: bool,
}

/// The journal. Cheap to clone; clones share one connection (and one writer thread).
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Db>,
    /// Started by the first write through [`Journal::writer`]; dropping it (with the last
    /// clone of the journal) lets the thread finish what it was given, then joins it.
    writer: OnceLock<writer::Writer>,
}

/// The connection, shared by the journal's callers and its writer thread.
struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Transactions the writer thread committed, for the tests of group commit.
    group_commits: AtomicU64,
}

impl Db {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic in another thread mid-call leaves SQLite consistent (each statement is
        // atomic, a transaction rolls back when dropped), so the connection stays usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Database {
            path: self.path.clone(),
            source,
        }
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.inner.db.path)
            .finish_non_exhaustive()
    }
}

/// Holds a session's lock; dropping it (or the process dying) releases it.
#[derive(Debug)]
pub struct SessionLock {
    _file: File,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, migrating an older schema.
    ///
    /// # Errors
    ///
    /// [`JournalError`] when the file is not a journal, is from a newer version, or cannot
    /// be written. A file that is not a journal is left as it is.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // Opening a journal that another process is creating or migrating at the same
        // moment can meet SQLITE_BUSY in places where SQLite does not wait on its own (a
        // lock upgrade to switch to WAL); such an open is simply tried again, briefly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let conn = loop {
            match Self::connect(&path) {
                Err(JournalError::Database {
                    source: rusqlite::Error::SqliteFailure(e, _),
                    ..
                }) if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                db: Arc::new(Db {
                    path,
                    conn: Mutex::new(conn),
                    group_commits: AtomicU64::new(0),
                }),
                writer: OnceLock::new(),
            }),
        })
    }

    /// One attempt at opening and migrating the journal at `path`.
    fn connect(path: &Path) -> Result<Connection, JournalError> {
        let db = |source| JournalError::Database {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        // Read before anything writes: a journal from a newer version is left byte for byte.
        schema::refuse_newer(&conn, path)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        schema::migrate(&mut conn, path)?;
        Ok(conn)
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.inner.db.path
    }

    /// A handle for async code: its writes wait for durability without blocking the
    /// runtime, and writes that arrive together are committed together. Cheap; every
    /// writer of a journal (and of its clones) feeds the same thread, started on first use.
    pub fn writer(&self) -> JournalWriter {
        JournalWriter::new(self.clone())
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.inner.db.conn()
    }

    fn db(&self, source: rusqlite::Error) -> JournalError {
        self.inner.db.error(source)
    }

    /// Records a new session (or replaces the record of the same id).
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn record_session(&self, s: &SessionRecord) -> Result<(), JournalError> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO sessions (upload_id, asset_id, base_url, file_path,
                   file_size, file_mtime_ns, fingerprint, filename, file_type, chunk_size,
                   total_chunks, created_at, expires_at, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    s.upload_id,
                    s.asset_id,
                    s.base_url,
                    path_to_db(&s.file_path),
                    to_i64(s.file_size),
                    s.file_mtime_ns,
                    s.fingerprint,
                    s.filename,
                    s.file_type,
                    to_i64(s.chunk_size),
                    to_i64(s.total_chunks),
                    s.created_at,
                    s.expires_at,
                    s.state.as_str(),
                    now_unix(),
                ],
            )
            .map(drop)
            .map_err(|e| self.db(e))
    }

    /// Records that the storage acknowledged chunk `index` with `etag`, on the calling
    /// thread (async code uses [`JournalWriter::record_chunk`]).
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`], also when the journal has no session `upload_id`.
    pub fn record_chunk(
        &self,
        upload_id: &str,
        index: u64,
        etag: &str,
        size: u64,
    ) -> Result<(), JournalError> {
        insert_chunk(&self.conn(), upload_id, index, etag, size).map_err(|e| self.db(e))
    }

    /// Records that the server accepted the reports of `indices`, on the calling thread
    /// (async code uses [`JournalWriter::mark_reported`]). Indices the journal has no row
    /// for are skipped.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn mark_reported(&self, upload_id: &str, indices: &[u64]) -> Result<(), JournalError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.db(e))?;
        set_reported(&tx, upload_id, indices).map_err(|e| self.db(e))?;
        tx.commit().map_err(|e| self.db(e))
    }

    /// Changes a session's state.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn set_state(&self, upload_id: &str, state: SessionState) -> Result<(), JournalError> {
        self.update(
            "UPDATE sessions SET state = ?2, updated_at = ?3 WHERE upload_id = ?1",
            params![upload_id, state.as_str(), now_unix()],
        )
    }

    /// The parallelism the automatic controller settled on for API `host` last time.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn link_level(&self, host: &str) -> Result<Option<usize>, JournalError> {
        use rusqlite::OptionalExtension as _;
        let level: Option<i64> = self
            .conn()
            .query_row(
                "SELECT level FROM link_levels WHERE host = ?1",
                params![host],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db(e))?;
        Ok(level.and_then(|l| usize::try_from(l).ok()))
    }

    /// Remembers that the automatic controller settled on `level` chunks in flight for API
    /// `host`, moving `goodput` bytes per second.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn set_link_level(
        &self,
        host: &str,
        level: usize,
        goodput: f64,
    ) -> Result<(), JournalError> {
        self.conn()
            .execute(
                "INSERT INTO link_levels (host, level, goodput, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (host) DO UPDATE SET level = ?2, goodput = ?3, updated_at = ?4",
                params![host, to_i64(level as u64), goodput, now_unix()],
            )
            .map(drop)
            .map_err(|e| self.db(e))
    }

    /// Gives session `upload_id` up, so listings skip it. A session the journal does not
    /// know (one only the server has) gets a record that says just that, since the API
    /// cannot drop a session and listings show the server's sessions the journal lacks.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn abandon(&self, upload_id: &str, base_url: &str) -> Result<(), JournalError> {
        self.conn()
            .execute(
                "INSERT INTO sessions (upload_id, base_url, file_path, file_size, chunk_size,
                   total_chunks, created_at, state, updated_at)
                 VALUES (?1, ?2, '', 0, 0, 0, ?3, 'abandoned', ?3)
                 ON CONFLICT (upload_id) DO UPDATE SET state = 'abandoned', updated_at = ?3",
                params![upload_id, base_url, now_unix()],
            )
            .map(drop)
            .map_err(|e| self.db(e))
    }

    /// Records the session's asset id.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn set_asset_id(&self, upload_id: &str, asset_id: &str) -> Result<(), JournalError> {
        self.update(
            "UPDATE sessions SET asset_id = ?2, updated_at = ?3 WHERE upload_id = ?1",
            params![upload_id, asset_id, now_unix()],
        )
    }

    /// Points a session at a file that moved, with its current modification time and
    /// fingerprint.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn set_file(
        &self,
        upload_id: &str,
        path: &Path,
        mtime_ns: Option<i64>,
        fingerprint: &str,
    ) -> Result<(), JournalError> {
        self.update(
            "UPDATE sessions SET file_path = ?2, file_mtime_ns = ?3, fingerprint = ?4,
               updated_at = ?5 WHERE upload_id = ?1",
            params![
                upload_id,
                path_to_db(path),
                mtime_ns,
                fingerprint,
                now_unix()
            ],
        )
    }

    fn update(&self, sql: &str, params: impl rusqlite::Params) -> Result<(), JournalError> {
        self.conn()
            .execute(sql, params)
            .map(drop)
            .map_err(|e| self.db(e))
    }

    /// The record of session `upload_id`.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn session(&self, upload_id: &str) -> Result<Option<SessionRecord>, JournalError> {
        self.conn()
            .query_row(
                &format!("{SELECT_SESSION} WHERE upload_id = ?1"),
                params![upload_id],
                session_from_row,
            )
            .optional()
            .map_err(|e| self.db(e))
    }

    /// Every session, newest first.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn sessions(&self) -> Result<Vec<SessionRecord>, JournalError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "{SELECT_SESSION} ORDER BY created_at DESC, upload_id"
            ))
            .map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map([], session_from_row)
            .map_err(|e| self.db(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.db(e))
    }

    /// The acknowledged chunks of session `upload_id`, by index.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn chunks(&self, upload_id: &str) -> Result<Vec<ChunkRecord>, JournalError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT chunk_index, etag, size, reported FROM chunks
                 WHERE upload_id = ?1 ORDER BY chunk_index",
            )
            .map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map(params![upload_id], |r| {
                Ok(ChunkRecord {
                    index: from_i64(r.get(0)?),
                    etag: r.get(1)?,
                    size: from_i64(r.get(2)?),
                    reported: r.get::<_, i64>(3)? != 0,
                })
            })
            .map_err(|e| self.db(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.db(e))
    }

    /// Removes session `upload_id` and its chunks.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`].
    pub fn forget(&self, upload_id: &str) -> Result<(), JournalError> {
        self.update(
            "DELETE FROM sessions WHERE upload_id = ?1",
            params![upload_id],
        )
    }

    /// Runs SQLite's own consistency check over the whole file.
    ///
    /// # Errors
    ///
    /// [`JournalError::Corrupt`] with SQLite's findings, or [`JournalError::Database`].
    pub fn integrity_check(&self) -> Result<(), JournalError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| self.db(e))?;
        let findings = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.db(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.db(e))?;
        if findings == ["ok"] {
            Ok(())
        } else {
            Err(JournalError::Corrupt {
                path: self.path().to_path_buf(),
                findings: findings.join("; "),
            })
        }
    }

    /// Takes the lock of session `upload_id` for this process.
    ///
    /// # Errors
    ///
    /// [`JournalError::Locked`] when another live process holds it.
    pub fn lock(&self, upload_id: &str) -> Result<SessionLock, JournalError> {
        let dir = self.path().with_extension("locks");
        std::fs::create_dir_all(&dir).map_err(|source| JournalError::Io {
            path: dir.clone(),
            source,
        })?;
        // Ids come from the server; keep only safe characters in the file name.
        let name: String = upload_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let path = dir.join(format!("{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| JournalError::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(SessionLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Locked {
                upload_id: upload_id.to_owned(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(JournalError::Io { path, source }),
        }
    }
}

/// The row of an acknowledged chunk; a chunk stored again replaces its ETag and is no
/// longer reported.
fn insert_chunk(
    conn: &Connection,
    upload_id: &str,
    index: u64,
    etag: &str,
    size: u64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO chunks (upload_id, chunk_index, etag, size, reported)
         VALUES (?1, ?2, ?3, ?4, 0)
         ON CONFLICT (upload_id, chunk_index)
         DO UPDATE SET etag = excluded.etag, size = excluded.size, reported = 0",
    )?
    .execute(params![upload_id, to_i64(index), etag, to_i64(size)])
    .map(drop)
}

/// Flags chunks as reported; meant to run inside a transaction, so all or none flip.
fn set_reported(conn: &Connection, upload_id: &str, indices: &[u64]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE chunks SET reported = 1 WHERE upload_id = ?1 AND chunk_index = ?2",
    )?;
    for &i in indices {
        stmt.execute(params![upload_id, to_i64(i)])?;
    }
    Ok(())
}

const SELECT_SESSION: &str = "SELECT upload_id, asset_id, base_url, file_path, file_size,
    file_mtime_ns, fingerprint, filename, file_type, chunk_size, total_chunks, created_at,
    expires_at, state FROM sessions";

fn session_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let file_path = path_from_db(&r.get::<_, String>(3)?);
    let filename: Option<String> = r.get(7)?;
    Ok(SessionRecord {
        upload_id: r.get(0)?,
        asset_id: r.get(1)?,
        base_url: r.get(2)?,
        filename: filename.unwrap_or_else(|| {
            file_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        file_path,
        file_size: from_i64(r.get(4)?),
        file_mtime_ns: r.get(5)?,
        fingerprint: r.get(6)?,
        file_type: r
            .get::<_, Option<String>>(8)?
            .unwrap_or_else(|| "video".to_owned()),
        chunk_size: from_i64(r.get(9)?),
        total_chunks: from_i64(r.get(10)?),
        created_at: r.get(11)?,
        expires_at: r.get(12)?,
        state: SessionState::parse(&r.get::<_, String>(13)?),
    })
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Paths are stored as text; a path that is not valid Unicode is stored lossily, which can
/// only make a later resume report the file as missing, never pick a wrong file silently
/// (size and fingerprint are checked too).
fn path_to_db(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn path_from_db(s: &str) -> PathBuf {
    PathBuf::from(s)
}

pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A file's modification time in nanoseconds since the Unix epoch.
pub fn mtime_ns(modified: Option<std::time::SystemTime>) -> Option<i64> {
    let since = modified?.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_nanos()).ok()
}

#[cfg(test)]
mod tests;
