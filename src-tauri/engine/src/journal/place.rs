//! Where the journal lives by default, shared by the app and `tlup`, and how a journal left
//! at an older place is taken in.
//!
//! Earlier versions of the app kept their own journal in the app's data directory
//! (`…/io.tluploader.desktop/journal.sqlite3`) while `tlup` used `…/tl-uploader/`; what one
//! started the other could not resume. Now both open [`Journal::open_default`], which
//! copies every session of an old journal it finds (with its chunks and their reported
//! flags) into the shared one and then renames the old file to `*.migrated`, so nothing is
//! lost and nothing is taken in twice.

use std::path::{Path, PathBuf};

use super::{Journal, JournalError, SessionState};

/// The data-directory folder of earlier app versions' own journal.
const LEGACY_APP_DIR: &str = "io.tluploader.desktop";

/// The suffix an old journal gets once its sessions were taken in.
const MIGRATED_SUFFIX: &str = "migrated";

/// What [`Journal::adopt`] did with an old journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adopted {
    /// Its sessions were copied in and the file renamed to this path.
    Migrated {
        /// Sessions that were new to this journal.
        sessions: usize,
        /// Where the old file is now.
        renamed_to: PathBuf,
    },
    /// A process is uploading one of its sessions right now: it was left as it is, to be
    /// taken in at a later start.
    InUse,
}

impl Journal {
    /// The journal's usual place, shared by the app and `tlup`: the platform's data
    /// directory (`~/.local/share/tl-uploader` on Linux, `~/Library/Application
    /// Support/tl-uploader` on macOS, `%APPDATA%\tl-uploader` on Windows).
    pub fn default_path() -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join("tl-uploader").join("journal.sqlite3"))
    }

    /// Journals earlier versions kept elsewhere, which [`open_default`](Self::open_default)
    /// takes in.
    pub fn legacy_paths() -> Vec<PathBuf> {
        dirs::data_dir()
            .map(|d| d.join(LEGACY_APP_DIR).join("journal.sqlite3"))
            .into_iter()
            .collect()
    }

    /// Opens the journal at [`default_path`](Self::default_path) and takes in the journals
    /// of [`legacy_paths`](Self::legacy_paths) that are still there. An old journal that
    /// cannot be taken in now (in use, damaged) is left in place and does not stop this.
    ///
    /// # Errors
    ///
    /// `None` inside when the system has no data directory; otherwise as
    /// [`open`](Self::open).
    pub fn open_default() -> Result<Option<Self>, JournalError> {
        let Some(path) = Self::default_path() else {
            return Ok(None);
        };
        let journal = Self::open(path)?;
        for old in Self::legacy_paths() {
            if old.exists() && old != journal.path() {
                // Best effort: an old journal that cannot be read now is tried next time.
                let _ = journal.adopt(&old);
            }
        }
        Ok(Some(journal))
    }

    /// Copies the sessions of the journal at `old` that this one does not have, with their
    /// chunks, then renames `old` to `old.migrated` (and its side files with it).
    ///
    /// # Errors
    ///
    /// When `old` is not a journal this version can read, or this one cannot be written;
    /// `old` is then left as it was.
    pub fn adopt(&self, old: &Path) -> Result<Adopted, JournalError> {
        let adopted = {
            let source = Self::open(old)?;
            let records = source.sessions()?;
            // Hold every active session's lock while copying, so none moves under us.
            let mut locks = Vec::new();
            for record in &records {
                if record.state == SessionState::Active {
                    match source.lock(&record.upload_id) {
                        Ok(lock) => locks.push(lock),
                        Err(JournalError::Locked { .. }) => return Ok(Adopted::InUse),
                        Err(e) => return Err(e),
                    }
                }
            }
            let mut sessions = 0;
            for record in records {
                if self.session(&record.upload_id)?.is_some() {
                    continue;
                }
                self.record_session(&record)?;
                let chunks = source.chunks(&record.upload_id)?;
                for chunk in &chunks {
                    self.record_chunk(&record.upload_id, chunk.index, &chunk.etag, chunk.size)?;
                }
                let reported: Vec<u64> = chunks
                    .iter()
                    .filter(|c| c.reported)
                    .map(|c| c.index)
                    .collect();
                self.mark_reported(&record.upload_id, &reported)?;
                sessions += 1;
            }
            sessions
        };
        let renamed_to = with_suffix(old, MIGRATED_SUFFIX);
        rename(old, &renamed_to)?;
        for side in ["wal", "shm"] {
            let file = with_suffix(old, &format!("-{side}"));
            if file.exists() {
                rename(&file, &with_suffix(&renamed_to, &format!("-{side}")))?;
            }
        }
        Ok(Adopted::Migrated {
            sessions: adopted,
            renamed_to,
        })
    }
}

/// `path` with `suffix` after its whole name (`journal.sqlite3` → `journal.sqlite3.migrated`,
/// or `journal.sqlite3-wal` for `-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    if !suffix.starts_with('-') {
        name.push(".");
    }
    name.push(suffix);
    PathBuf::from(name)
}

fn rename(from: &Path, to: &Path) -> Result<(), JournalError> {
    std::fs::rename(from, to).map_err(|source| JournalError::Io {
        path: from.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::SessionRecord;

    fn record(id: &str, state: SessionState) -> SessionRecord {
        SessionRecord {
            upload_id: id.to_owned(),
            asset_id: None,
            base_url: "http://127.0.0.1:9/v1.3".into(),
            file_path: format!("/v/{id}.mp4").into(),
            file_size: 30,
            file_mtime_ns: Some(1),
            fingerprint: Some("f".into()),
            filename: format!("{id}.mp4"),
            file_type: "video".into(),
            chunk_size: 10,
            total_chunks: 3,
            created_at: 1,
            expires_at: None,
            state,
        }
    }

    #[test]
    fn an_old_journal_is_taken_in_once_with_its_chunks_and_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let old_path = dir.path().join("old").join("journal.sqlite3");
        {
            let old = Journal::open(&old_path).unwrap();
            old.record_session(&record("a", SessionState::Active))
                .unwrap();
            old.record_chunk("a", 1, "e1", 10).unwrap();
            old.record_chunk("a", 2, "e2", 10).unwrap();
            old.mark_reported("a", &[1]).unwrap();
            old.record_session(&record("both", SessionState::Abandoned))
                .unwrap();
        }
        let shared = Journal::open(dir.path().join("journal.sqlite3")).unwrap();
        // A session both know keeps the shared journal's record.
        shared
            .record_session(&record("both", SessionState::Active))
            .unwrap();
        let Adopted::Migrated {
            sessions,
            renamed_to,
        } = shared.adopt(&old_path).unwrap()
        else {
            panic!("not migrated");
        };
        assert_eq!(sessions, 1);
        assert!(!old_path.exists());
        assert!(
            renamed_to.ends_with("journal.sqlite3.migrated"),
            "{renamed_to:?}"
        );
        assert_eq!(
            shared.session("a").unwrap(),
            Some(record("a", SessionState::Active))
        );
        let chunks = shared.chunks("a").unwrap();
        let seen: Vec<(u64, &str, bool)> = chunks
            .iter()
            .map(|c| (c.index, c.etag.as_str(), c.reported))
            .collect();
        assert_eq!(seen, [(1, "e1", true), (2, "e2", false)]);
        assert_eq!(
            shared.session("both").unwrap().unwrap().state,
            SessionState::Active
        );
        // The renamed file is still a journal with the session, for the record.
        let kept = Journal::open(&renamed_to).unwrap();
        assert!(kept.session("a").unwrap().is_some());
    }

    #[test]
    fn an_old_journal_whose_session_is_uploading_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let old_path = dir.path().join("old.sqlite3");
        let old = Journal::open(&old_path).unwrap();
        old.record_session(&record("busy", SessionState::Active))
            .unwrap();
        let _uploading = old.lock("busy").unwrap();
        let shared = Journal::open(dir.path().join("journal.sqlite3")).unwrap();
        assert_eq!(shared.adopt(&old_path).unwrap(), Adopted::InUse);
        assert!(old_path.exists());
        assert!(shared.session("busy").unwrap().is_none());
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_not_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let old_path = dir.path().join("notes.sqlite3");
        std::fs::write(&old_path, "shopping list\n").unwrap();
        let shared = Journal::open(dir.path().join("journal.sqlite3")).unwrap();
        assert!(shared.adopt(&old_path).is_err());
        assert_eq!(std::fs::read(&old_path).unwrap(), b"shopping list\n");
    }
}
