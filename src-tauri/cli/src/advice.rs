//! What to run next: the commands tlup suggests after an interrupted upload, for each session
//! `tlup resume` lists, and with the errors of a resume that cannot go on.
//!
//! Every suggestion is a whole command line (server and journal included, never the key), so
//! it can be pasted as it is. Placeholders are in capitals: `NEW_PATH`, `FILE`.

use std::path::Path;

use tl_upload::{JournalError, ResumableSession, ResumeState, UploadError};

use crate::connect::Connection;
use crate::format::shell_word;

/// Suggestions for one connection.
#[derive(Debug, Clone)]
pub struct Advice {
    prefix: String,
    /// Whether sessions are recorded in a journal, so `tlup resume ID` finds their file.
    journaled: bool,
    /// Whether the server is the sandbox inside this tlup, whose sessions die with it.
    embedded: bool,
}

impl Advice {
    /// Suggestions that reach the same server and journal as `conn`.
    pub fn new(conn: &Connection) -> Self {
        Self {
            prefix: conn.command_prefix(),
            journaled: conn.journal_path().is_some(),
            embedded: conn.is_embedded_sandbox(),
        }
    }

    /// `tlup … ARGS`, ready to paste.
    fn command(&self, args: &str) -> String {
        format!("{} {args}", self.prefix)
    }

    /// `tlup … resume`, which lists what can be resumed.
    pub fn list(&self) -> String {
        self.command("resume")
    }

    /// `tlup … resume ID`.
    pub fn resume(&self, id: &str) -> String {
        self.command(&format!("resume {}", shell_word(id)))
    }

    /// `tlup … resume ID FILE` with `file` as given (a path or a placeholder).
    pub fn resume_with(&self, id: &str, file: &str) -> String {
        self.command(&format!("resume {} {file}", shell_word(id)))
    }

    /// `tlup … upload PATH`, or with the placeholder `FILE` when the path is unknown.
    fn upload(&self, path: Option<&Path>) -> String {
        let file = path.map_or_else(|| "FILE".to_owned(), quoted);
        self.command(&format!("upload {file}"))
    }

    /// `tlup … forget ID`.
    fn forget(&self, id: &str) -> String {
        self.command(&format!("forget {}", shell_word(id)))
    }

    /// The note after an upload stopped (Ctrl-C, a failing network) with session `id` left
    /// on the server: the command that sends the rest.
    pub fn after_stop(&self, id: &str, path: &Path) -> String {
        if self.embedded {
            return "the local sandbox stops with tlup, so this session cannot be resumed; run the upload again".to_owned();
        }
        let command = if self.journaled {
            // The journal knows the file and the chunks stored so far.
            self.resume(id)
        } else {
            // An absolute path, so the command works from any directory.
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            self.resume_with(id, &quoted(&path))
        };
        format!("to send the rest later, run:\n  {command}")
    }

    /// "Start over" for a session that cannot be finished, and how to drop it from the list.
    fn start_over(&self, id: &str, path: Option<&Path>, in_journal: bool) -> String {
        let mut text = format!("start over with `{}`", self.upload(path));
        if in_journal && self.journaled {
            text.push_str(&format!(
                " (and drop this session with `{}`)",
                self.forget(id)
            ));
        }
        text
    }

    /// What to do with a session of the `tlup resume` list.
    pub fn for_session(&self, s: &ResumableSession) -> String {
        let id = s.upload_id.as_str();
        let path = s.file_path.as_deref();
        match s.state {
            ResumeState::Resumable => format!("resume with `{}`", self.resume(id)),
            ResumeState::FileMissing => format!(
                "the file is no longer at {}; resume with `{}`",
                path.map_or_else(|| "its old path".to_owned(), |p| p.display().to_string()),
                self.resume_with(id, "NEW_PATH")
            ),
            ResumeState::FileChanged => format!(
                "the file changed since the upload began, so the session cannot be resumed; {}",
                self.start_over(id, path, s.in_journal)
            ),
            ResumeState::NeedsFile => format!(
                "the journal does not know its file; resume with `{}`",
                self.resume_with(id, "FILE")
            ),
            ResumeState::Expired => format!(
                "the session expired on the server; {}",
                self.start_over(id, path, s.in_journal)
            ),
            ResumeState::Failed => format!(
                "the server failed the session; {}",
                self.start_over(id, path, s.in_journal)
            ),
            ResumeState::Completed => "already complete; nothing to do".to_owned(),
        }
    }

    /// The message for a resume of session `id` (file `path`, when known) that cannot go
    /// on, when tlup knows better than the engine's words what to run next.
    pub fn explain(&self, e: &UploadError, id: &str, path: Option<&Path>) -> Option<String> {
        let text = match e {
            // The engine's own words end with "start again"; say how instead.
            UploadError::FileChanged { path, detail } => format!(
                "cannot resume session {id}: {} changed {detail}; {}",
                path.display(),
                self.start_over(id, Some(path), true)
            ),
            UploadError::SessionExpired { .. } => format!(
                "upload session {id} has expired on the server, so it cannot be resumed; {}",
                self.start_over(id, path, true)
            ),
            UploadError::SessionFailed { .. } => format!(
                "upload session {id} failed on the server, so it cannot be resumed; {}",
                self.start_over(id, path, true)
            ),
            UploadError::FileMissing { .. } => {
                format!("{e}: `{}`", self.resume_with(id, "NEW_PATH"))
            }
            UploadError::Journal(JournalError::Locked { .. }) => format!(
                "session {id} is being uploaded by another tlup (or the TL Uploader app) right now; wait for it to finish, or stop it and run `{}` again",
                self.resume(id)
            ),
            UploadError::NetworkLost { .. } | UploadError::NotConfirmed { .. } => {
                format!("{e}: `{}`", self.resume(id))
            }
            UploadError::OtherEndpoint { base_url, .. } => format!(
                "{e}: `tlup --base-url {} resume {}`",
                shell_word(base_url),
                shell_word(id)
            ),
            _ => return None,
        };
        Some(text)
    }
}

/// A path as one shell word.
fn quoted(path: &Path) -> String {
    shell_word(&path.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advice() -> Advice {
        Advice {
            prefix: "tlup --base-url http://h/v1.3".into(),
            journaled: true,
            embedded: false,
        }
    }

    fn session(state: ResumeState) -> ResumableSession {
        ResumableSession {
            upload_id: "u1".into(),
            state,
            in_journal: true,
            file_path: Some("/videos/my clip.mp4".into()),
            filename: Some("my clip.mp4".into()),
            asset_id: None,
            total_size: 10,
            chunk_size: 5,
            total_chunks: 2,
            chunks_done: 1,
            bytes_done: 5,
            created_at: Some(0),
            expires_at: Some(86_400),
        }
    }

    #[test]
    fn each_state_gets_its_command() {
        let a = advice();
        let hint = |state| a.for_session(&session(state));
        assert_eq!(
            hint(ResumeState::Resumable),
            "resume with `tlup --base-url http://h/v1.3 resume u1`"
        );
        assert!(hint(ResumeState::FileMissing).ends_with("resume u1 NEW_PATH`"));
        assert!(hint(ResumeState::FileMissing).contains("no longer at /videos/my clip.mp4"));
        let changed = hint(ResumeState::FileChanged);
        assert!(changed.contains("cannot be resumed"), "{changed}");
        assert!(
            changed.contains("upload '/videos/my clip.mp4'`"),
            "{changed}"
        );
        assert!(changed.contains("forget u1`"), "{changed}");
        assert!(hint(ResumeState::NeedsFile).ends_with("resume u1 FILE`"));
        assert!(hint(ResumeState::Expired).contains("start over"));
    }

    #[test]
    fn the_stop_note_names_the_session_only_when_a_journal_knows_the_file() {
        let mut a = advice();
        let path = Path::new("/nowhere/clip.mp4");
        assert!(
            a.after_stop("u1", path)
                .ends_with("\n  tlup --base-url http://h/v1.3 resume u1")
        );
        a.journaled = false;
        assert!(
            a.after_stop("u1", path)
                .ends_with("resume u1 /nowhere/clip.mp4")
        );
        a.embedded = true;
        assert!(a.after_stop("u1", path).contains("cannot be resumed"));
    }

    #[test]
    fn a_locked_session_names_the_other_uploader() {
        let e = UploadError::Journal(JournalError::Locked {
            upload_id: "u1".into(),
        });
        let text = advice().explain(&e, "u1", None).unwrap();
        assert!(text.contains("another tlup"), "{text}");
        let e = UploadError::Cancelled { upload_id: None };
        assert!(advice().explain(&e, "u1", None).is_none());
    }

    #[test]
    fn a_changed_file_or_an_expired_session_means_starting_over() {
        let e = UploadError::FileChanged {
            path: "/v/a.mp4".into(),
            detail: "since the upload began (it was modified)".into(),
        };
        assert_eq!(
            advice().explain(&e, "u1", None).unwrap(),
            "cannot resume session u1: /v/a.mp4 changed since the upload began (it was modified); start over with `tlup --base-url http://h/v1.3 upload /v/a.mp4` (and drop this session with `tlup --base-url http://h/v1.3 forget u1`)"
        );
        let e = UploadError::SessionExpired {
            upload_id: "u1".into(),
        };
        let text = advice()
            .explain(&e, "u1", Some(Path::new("/v/a.mp4")))
            .unwrap();
        assert!(text.starts_with("upload session u1 has expired"), "{text}");
        assert!(text.contains("start over with `tlup --base-url http://h/v1.3 upload /v/a.mp4`"));
    }
}
