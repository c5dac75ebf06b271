//! The upload journal as tlup uses it: which file, and opening it with a message that says
//! what to do when it cannot be used.
//!
//! The engine writes every session and every stored chunk there, so after a crash, a kill
//! or a reboot `tlup resume` knows which file a session belongs to and which chunks need no
//! second sending. The file is shared with the desktop app (same default place).

use std::path::{Path, PathBuf};

use tl_upload::{Journal, JournalError};

use crate::args::ConnectionArgs;
use crate::failure::Failure;

/// Set to `1`, tlup keeps no journal at all, as on a system without a data directory. Not
/// in `--help`: it exists only so `scripts/bench-journal.sh` can measure what journalling
/// costs against the same server.
const NO_JOURNAL_FOR_BENCHMARKS: &str = "TLUP_BENCH_NO_JOURNAL";

/// The journal the flags name: `--journal` or `TLUP_JOURNAL`, else the platform's default.
/// Absolute, so the commands tlup suggests work from any directory. `None` only when the
/// system has no data directory and no path was given (or the benchmarks' switch is set).
pub fn path(args: &ConnectionArgs) -> Option<PathBuf> {
    if std::env::var_os(NO_JOURNAL_FOR_BENCHMARKS).is_some_and(|v| v == "1") {
        return None;
    }
    let path = args
        .journal
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(Journal::default_path)?;
    Some(std::path::absolute(&path).unwrap_or(path))
}

/// Whether `path` is the default journal, which suggested commands need not name.
pub fn is_default(path: &Path) -> bool {
    Journal::default_path().is_some_and(|d| d == path)
}

/// Opens (or creates) the journal at `path`.
///
/// # Errors
///
/// A failure (exit code 1) naming the file and the way out. A file that is not a journal,
/// or one from a newer version, is left as it is.
pub fn open(path: &Path) -> Result<Journal, Failure> {
    // The default place is the app's too, and takes in a journal an older app left.
    let shared = if is_default(path) {
        Journal::open_default().transpose()
    } else {
        None
    };
    shared
        .unwrap_or_else(|| Journal::open(path))
        .map_err(|e| cannot_open(&e))
}

/// The failure of a journal that cannot be opened: what is wrong with it, and that another
/// file can be used meanwhile (the user may not want to delete a journal that holds
/// unfinished sessions).
fn cannot_open(e: &JournalError) -> Failure {
    let message = match e {
        // Its message already ends with "update the app".
        JournalError::TooNew { .. } => {
            format!("{e}, or pass --journal PATH to use another journal")
        }
        _ => format!("{e}; move it away or pass --journal PATH to use another journal"),
    };
    Failure::failed(message)
}

/// The journal for commands that need one: the failure says why there is none.
///
/// # Errors
///
/// A usage failure when the system has no data directory and no `--journal` was given.
pub fn required(args: &ConnectionArgs) -> Result<(PathBuf, Journal), Failure> {
    let Some(path) = path(args) else {
        return Err(Failure::usage(
            "there is no data directory for the upload journal; pass --journal PATH",
        ));
    };
    let journal = open(&path)?;
    Ok((path, journal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_default_and_is_made_absolute() {
        let args = ConnectionArgs {
            journal: Some("rel/j.sqlite3".into()),
            ..Default::default()
        };
        let p = path(&args).unwrap();
        assert!(p.is_absolute() && p.ends_with("rel/j.sqlite3"), "{p:?}");
        assert!(!is_default(&p));
        if let Some(default) = Journal::default_path() {
            assert_eq!(path(&ConnectionArgs::default()), Some(default.clone()));
            assert!(is_default(&default));
        }
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "shopping list\n").unwrap();
        let e = open(&path).unwrap_err();
        assert_eq!(e.status, crate::failure::Status::Failed);
        assert!(e.message.contains("notes.txt"), "{}", e.message);
        assert!(e.message.contains("--journal PATH"), "{}", e.message);
        assert_eq!(std::fs::read(&path).unwrap(), b"shopping list\n");
    }
}
