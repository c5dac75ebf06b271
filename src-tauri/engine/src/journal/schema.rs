//! The journal's schema and its migrations.
//!
//! The version lives in SQLite's `user_version`. Every journal, new or old, is brought to
//! [`SCHEMA_VERSION`] by running the migrations after its version in order, each in one
//! transaction, so a crash mid-migration leaves the previous version intact.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::JournalError;

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 3;

/// Version 1: sessions with their file's size and time, and acknowledged chunks.
const V1: &str = "
CREATE TABLE sessions (
    upload_id     TEXT PRIMARY KEY NOT NULL,
    asset_id      TEXT,
    base_url      TEXT NOT NULL,
    file_path     TEXT NOT NULL,
    file_size     INTEGER NOT NULL,
    file_mtime_ns INTEGER,
    chunk_size    INTEGER NOT NULL,
    total_chunks  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    state         TEXT NOT NULL
);
CREATE TABLE chunks (
    upload_id   TEXT NOT NULL REFERENCES sessions (upload_id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL,
    etag        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    reported    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (upload_id, chunk_index)
);
";

/// Version 2: a content fingerprint, the session's expiry, the name and type sent to the
/// server, and when the row last changed. Expiry of older rows is taken as the documented
/// 24 hours after creation.
const V2: &str = "
ALTER TABLE sessions ADD COLUMN fingerprint TEXT;
ALTER TABLE sessions ADD COLUMN expires_at INTEGER;
ALTER TABLE sessions ADD COLUMN filename TEXT;
ALTER TABLE sessions ADD COLUMN file_type TEXT;
ALTER TABLE sessions ADD COLUMN updated_at INTEGER;
UPDATE sessions SET expires_at = created_at + 86400, updated_at = created_at;
CREATE INDEX sessions_by_state ON sessions (state);
";

/// Version 3: the parallelism the automatic controller settled on, per API host, so the
/// next upload to the same host starts there.
const V3: &str = "
CREATE TABLE link_levels (
    host       TEXT PRIMARY KEY NOT NULL,
    level      INTEGER NOT NULL,
    goodput    REAL,
    updated_at INTEGER NOT NULL
);
";

const MIGRATIONS: [&str; 3] = [V1, V2, V3];

fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Fails with [`JournalError::TooNew`] for a journal of a newer schema; reads only.
pub(super) fn refuse_newer(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let found = version(conn).map_err(|source| JournalError::Database {
        path: path.to_path_buf(),
        source,
    })?;
    if found > SCHEMA_VERSION {
        return Err(JournalError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Brings the journal to [`SCHEMA_VERSION`], one migration per immediate transaction that
/// re-reads the version inside it: two processes opening a new journal at once take turns
/// instead of both creating the tables.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), JournalError> {
    let db = |source| JournalError::Database {
        path: path.to_path_buf(),
        source,
    };
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let found = version(&tx).map_err(db)?;
        if found > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: path.to_path_buf(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        let Some(sql) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return tx.commit().map_err(db);
        };
        tx.execute_batch(sql).map_err(db)?;
        tx.pragma_update(None, "user_version", found + 1)
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
}

/// The version-1 schema, for tests that build an old journal.
#[cfg(test)]
pub(super) const V1_FOR_TESTS: &str = V1;
