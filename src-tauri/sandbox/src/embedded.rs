//! The embedded sandbox: a sandbox that a front end (the desktop app, `tlup`) starts inside
//! its own process when there is no real server to talk to, so a first try works offline and
//! visibly sends nothing anywhere.
//!
//! ```no_run
//! use tl_sandbox::embedded::EmbeddedSandbox;
//!
//! let words = vec!["--chunk-size".to_owned(), "65536".to_owned()];
//! let sandbox = EmbeddedSandbox::builder()
//!     .extra_args(&words, "TL_UPLOADER_SANDBOX_ARGS")
//!     .start()?;
//! println!("{} with key {}", sandbox.base_url(), sandbox.api_key());
//! # Ok::<(), tl_sandbox::embedded::EmbeddedError>(())
//! ```
//!
//! It listens on a free loopback port with a random API key, and assets stay `processing`
//! for a second, long enough to show that the state exists. Chunks are kept on disk (a
//! memory store would hold whole videos in RAM) in a fresh `tl-sandbox-XXXX` directory,
//! removed when the sandbox is dropped. A process that is killed cannot remove its
//! directory, so each running sandbox holds an OS lock on a file in it, and every start
//! removes the directories in the same parent that nobody holds. A process that must exit
//! without unwinding calls [`remove_live_dirs`] first.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use clap::Parser;

use crate::cli::SandboxArgs;
use crate::{SandboxError, SandboxHandle};

/// The start of a chunk directory's name; the sweep touches nothing else.
const DIR_PREFIX: &str = "tl-sandbox-";

/// The file in a chunk directory that its sandbox holds locked while it runs.
const OWNER_LOCK: &str = "owner.lock";

/// A chunk directory changed more recently than this is never swept, even when nobody holds
/// its lock: its sandbox may be starting (between making the directory and locking the
/// file). A killed process's directory goes at a later start.
const GRACE: Duration = Duration::from_secs(60);

/// Flags given before the caller's extra flags, which come after them and win.
const DEFAULT_FLAGS: [&str; 4] = ["--listen", "127.0.0.1:0", "--processing-delay", "1"];

/// What the extra flags are called in errors when the caller gave no name.
const DEFAULT_ORIGIN: &str = "the extra sandbox flags";

/// Chunk directories of the sandboxes alive in this process, for [`remove_live_dirs`].
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// [`SandboxArgs`] on a command line where a later flag replaces an earlier one, so the
/// caller's extra flags override the defaults instead of clashing with them.
#[derive(Parser)]
#[command(name = "tl-sandbox", args_override_self = true)]
struct Flags {
    #[command(flatten)]
    args: SandboxArgs,
}

/// Why an embedded sandbox could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// The parent directory or the fresh chunk directory in it could not be made.
    #[error(
        "cannot create a directory for the local sandbox's chunks in `{}`: {source}; \
         make sure that directory is writable and its disk is not full",
        parent.display()
    )]
    Directory {
        /// The parent directory.
        parent: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lock file that marks the chunk directory as in use could not be made or locked.
    #[error(
        "cannot lock `{}`, which marks the local sandbox's chunks as in use: {source}; \
         the directory must be on a local disk that supports file locks",
        path.display()
    )]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The extra flags are not flags of `tl-sandbox`, or ask for something it refuses.
    #[error("{origin} is not valid: {reason} (it takes the flags listed by `tl-sandbox --help`)")]
    BadFlags {
        /// Where the flags came from, as the caller named it (e.g. an environment variable).
        origin: String,
        /// What is wrong with them.
        reason: String,
    },
    /// The server could not start (the port could not be bound, the chunk store could not
    /// be opened, no thread could be started).
    #[error("cannot start the local sandbox: {0}")]
    Server(#[source] SandboxError),
}

/// A running embedded sandbox. Dropping it stops the server, then removes its chunk
/// directory.
#[derive(Debug)]
pub struct EmbeddedSandbox {
    // Field order matters: the server stops before the lock file is closed, and both before
    // the directory is removed (Windows removes no open file).
    handle: SandboxHandle,
    _owner: File,
    dir: tempfile::TempDir,
}

/// Settings of an embedded sandbox: [`EmbeddedSandbox::builder`], then [`start`](Self::start).
pub struct EmbeddedBuilder {
    parent: Option<PathBuf>,
    extra: Vec<String>,
    origin: String,
    grace: Duration,
}

// By hand: the extra flags may hold an API key.
impl fmt::Debug for EmbeddedBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedBuilder")
            .field("parent", &self.parent)
            .field("extra", &format_args!("<{} words>", self.extra.len()))
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl EmbeddedSandbox {
    /// A builder: chunks under the system temp directory, no extra flags.
    pub fn builder() -> EmbeddedBuilder {
        EmbeddedBuilder {
            parent: None,
            extra: Vec::new(),
            origin: DEFAULT_ORIGIN.to_owned(),
            grace: GRACE,
        }
    }

    /// The base URL a client uses, `http://127.0.0.1:PORT/v1.3`.
    pub fn base_url(&self) -> String {
        self.handle.base_url()
    }

    /// The API key the server requires.
    pub fn api_key(&self) -> &str {
        self.handle.api_key()
    }

    /// The sandbox's own directory (chunks are stored under it), removed on drop.
    pub fn chunk_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for EmbeddedSandbox {
    fn drop(&mut self) {
        let path = self.dir.path();
        LIVE_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| p != path);
    }
}

impl EmbeddedBuilder {
    /// Makes the chunk directory inside `parent` (created if missing) instead of the system
    /// temp directory. The start also removes the abandoned chunk directories found there.
    pub fn chunk_dir_in(mut self, parent: impl Into<PathBuf>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    /// Extra `tl-sandbox` flags, applied after the defaults so that they win (a later flag
    /// replaces an earlier one). `origin` names where they came from, such as the
    /// environment variable they were read from, in the error when they are not valid.
    pub fn extra_args(mut self, args: &[String], origin: impl Into<String>) -> Self {
        self.extra = args.to_vec();
        self.origin = origin.into();
        self
    }

    /// Sweeps abandoned directories, makes and locks a fresh chunk directory, and starts
    /// the server; returns once it accepts connections.
    ///
    /// # Errors
    ///
    /// [`EmbeddedError::Directory`] or [`EmbeddedError::Lock`] when the chunk directory
    /// cannot be made or marked as in use, [`EmbeddedError::BadFlags`] for extra flags that
    /// do not parse or that the sandbox refuses, [`EmbeddedError::Server`] when the server
    /// cannot start.
    pub fn start(self) -> Result<EmbeddedSandbox, EmbeddedError> {
        let parent = self.parent.unwrap_or_else(std::env::temp_dir);
        let dir_error = |source| EmbeddedError::Directory {
            parent: parent.clone(),
            source,
        };
        std::fs::create_dir_all(&parent).map_err(dir_error)?;
        sweep(&parent, self.grace);
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(&parent)
            .map_err(dir_error)?;
        let lock_path = dir.path().join(OWNER_LOCK);
        let owner = File::create(&lock_path)
            .and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::from))
            .map_err(|source| EmbeddedError::Lock {
                path: lock_path,
                source,
            })?;

        let bad_flags = |reason: String| EmbeddedError::BadFlags {
            origin: self.origin.clone(),
            reason,
        };
        let storage = format!("disk:{}", dir.path().join("chunks").display());
        let mut words: Vec<String> = vec!["tl-sandbox".into()];
        words.extend(DEFAULT_FLAGS.iter().map(|s| (*s).to_owned()));
        words.extend(["--storage".into(), storage]);
        words.extend(["--api-key".into(), crate::random_api_key()]);
        words.extend(self.extra.iter().cloned());
        let flags = Flags::try_parse_from(&words).map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            bad_flags(first.trim_start_matches("error: ").to_owned())
        })?;
        let builder = flags.args.into_builder().map_err(bad_flags)?;
        // The defaults are valid, so a refused setting comes from the extra flags.
        let handle = builder.start().map_err(|e| match e {
            SandboxError::NonLoopback { .. }
            | SandboxError::InvalidSetting { .. }
            | SandboxError::Tls { .. } => bad_flags(e.to_string()),
            e => EmbeddedError::Server(e),
        })?;

        LIVE_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dir.path().to_path_buf());
        Ok(EmbeddedSandbox {
            handle,
            _owner: owner,
            dir,
        })
    }

    /// Sweeps with a shorter grace period, so tests need not age directories.
    #[cfg(test)]
    fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

/// Removes the chunk directories of the embedded sandboxes alive in this process, for an
/// exit that skips destructors (such as `std::process::exit` on a second Ctrl-C). Best
/// effort: the servers keep running until the process ends, and a directory that cannot be
/// removed now is swept by a later start.
pub fn remove_live_dirs() {
    remove_live_dirs_where(|_| true);
}

/// Removes the live chunk directories that `pick` chooses (tests pick their own, so that
/// the sandboxes of tests running alongside keep theirs).
fn remove_live_dirs_where(pick: impl Fn(&Path) -> bool) {
    let picked: Vec<PathBuf> = {
        let mut live = LIVE_DIRS.lock().unwrap_or_else(PoisonError::into_inner);
        let (picked, kept) = live.drain(..).partition(|p| pick(p));
        *live = kept;
        picked
    };
    for dir in picked {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Removes the chunk directories under `parent` whose sandbox is gone: nobody holds their
/// lock file (or they have none), and they have not changed for `grace`.
fn sweep(parent: &Path, grace: Duration) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry.file_name().to_string_lossy().starts_with(DIR_PREFIX);
        if !ours || !path.is_dir() {
            continue;
        }
        let settled = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= grace);
        let unowned = match OpenOptions::new().write(true).open(path.join(OWNER_LOCK)) {
            // The lock is released when `lock` closes, at the end of this arm.
            Ok(lock) => lock.try_lock().is_ok(),
            Err(_) => true,
        };
        if settled && unowned {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain HTTP client; reqwest (`rustls-no-provider`) needs a TLS provider to build one.
    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A chunk directory as a killed process leaves it: the lock file is there, unlocked.
    fn abandoned(parent: &Path, name: &str) -> PathBuf {
        let dir = parent.join(name);
        std::fs::create_dir_all(dir.join("chunks")).unwrap();
        std::fs::write(dir.join(OWNER_LOCK), b"").unwrap();
        dir
    }

    #[tokio::test]
    async fn answers_the_api_with_its_key_and_removes_its_directory_on_drop() {
        let parent = tempfile::tempdir().unwrap();
        let s = EmbeddedSandbox::builder()
            .chunk_dir_in(parent.path())
            .start()
            .unwrap();
        assert!(
            s.base_url().starts_with("http://127.0.0.1:"),
            "{}",
            s.base_url()
        );
        assert!(s.base_url().ends_with("/v1.3"), "{}", s.base_url());
        assert!(s.api_key().starts_with("sandbox-"), "{}", s.api_key());
        assert_eq!(s.chunk_dir().parent(), Some(parent.path()));
        assert!(s.chunk_dir().join(OWNER_LOCK).is_file());

        let url = format!("{}/assets/multipart-uploads", s.base_url());
        let http = client();
        let ok = http
            .get(&url)
            .header("x-api-key", s.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), reqwest::StatusCode::OK);
        let refused = http.get(&url).header("x-api-key", "wrong").send().await;
        assert_eq!(refused.unwrap().status(), reqwest::StatusCode::UNAUTHORIZED);

        let dir = s.chunk_dir().to_path_buf();
        assert!(LIVE_DIRS.lock().unwrap().contains(&dir));
        drop(s);
        assert!(!dir.exists());
        assert!(!LIVE_DIRS.lock().unwrap().contains(&dir));
        assert!(names(parent.path()).is_empty());
    }

    #[test]
    fn the_default_parent_is_the_system_temp_directory() {
        let s = EmbeddedSandbox::builder().start().unwrap();
        assert_eq!(s.chunk_dir().parent(), Some(std::env::temp_dir().as_path()));
        let name = s.chunk_dir().file_name().unwrap().to_string_lossy();
        assert!(name.starts_with(DIR_PREFIX), "{name}");
    }

    #[test]
    fn a_start_sweeps_directories_of_dead_owners_and_keeps_live_and_other_ones() {
        let parent = tempfile::tempdir().unwrap();
        let live = EmbeddedSandbox::builder()
            .chunk_dir_in(parent.path())
            .start()
            .unwrap();
        let dead = abandoned(parent.path(), "tl-sandbox-dead");
        // Killed between making its directory and its lock file.
        let bare = parent.path().join("tl-sandbox-bare");
        std::fs::create_dir(&bare).unwrap();
        // Not a chunk directory, even with a lock file nobody holds.
        let other = abandoned(parent.path(), "sandbox-other");

        let next = EmbeddedSandbox::builder()
            .chunk_dir_in(parent.path())
            .grace(Duration::ZERO)
            .start()
            .unwrap();
        assert!(!dead.exists());
        assert!(!bare.exists());
        assert!(live.chunk_dir().is_dir(), "a locked directory is kept");
        assert!(other.exists());
        assert_eq!(names(parent.path()).len(), 3);
        drop((live, next));
        assert_eq!(names(parent.path()), ["sandbox-other"]);
    }

    #[test]
    fn young_directories_are_kept_whatever_their_lock_says() {
        let parent = tempfile::tempdir().unwrap();
        // Another process's sandbox, starting right now: before or after its lock file.
        let bare = parent.path().join("tl-sandbox-bare");
        std::fs::create_dir(&bare).unwrap();
        let unlocked = abandoned(parent.path(), "tl-sandbox-unlocked");
        let s = EmbeddedSandbox::builder()
            .chunk_dir_in(parent.path())
            .start()
            .unwrap();
        assert!(bare.exists());
        assert!(unlocked.exists());
        drop(s);
        assert_eq!(
            names(parent.path()),
            ["tl-sandbox-bare", "tl-sandbox-unlocked"]
        );
    }

    #[test]
    fn extra_flags_override_the_defaults() {
        let parent = tempfile::tempdir().unwrap();
        let extra = words("--api-key mine --listen 127.0.0.1:0 --processing-delay 0");
        let s = EmbeddedSandbox::builder()
            .chunk_dir_in(parent.path())
            .extra_args(&extra, "TEST_ARGS")
            .start()
            .unwrap();
        assert_eq!(s.api_key(), "mine");
    }

    #[tokio::test]
    async fn extra_flags_can_shape_the_link() {
        let parent = tempfile::tempdir().unwrap();
        let extra = words("--link-rate 4000000 --bandwidth 1000000");
        let s = EmbeddedSandbox::builder()
            .chunk_dir_in(parent.path())
            .extra_args(&extra, "TEST_ARGS")
            .start()
            .unwrap();
        let view: serde_json::Value = client()
            .get(format!("{}/sandbox/faults", s.base_url()))
            .header("x-api-key", s.api_key())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(view["link_rate"], 4_000_000);
        assert_eq!(view["bandwidth"], 1_000_000);
    }

    #[test]
    fn bad_extra_flags_are_a_typed_error_naming_their_origin() {
        let parent = tempfile::tempdir().unwrap();
        for bad in [
            "--no-such-flag",
            "--chunk-size lots",
            "--api-key=",
            "--listen 192.0.2.1:0",
            "--chunk-size 0",
        ] {
            let e = EmbeddedSandbox::builder()
                .chunk_dir_in(parent.path())
                .extra_args(&words(bad), "TEST_ARGS")
                .start()
                .unwrap_err();
            let EmbeddedError::BadFlags { origin, reason } = &e else {
                panic!("{bad}: {e:?}");
            };
            assert_eq!(origin, "TEST_ARGS");
            assert!(
                !reason.is_empty() && !reason.starts_with("error:"),
                "{reason}"
            );
            assert!(e.to_string().starts_with("TEST_ARGS is not valid: "), "{e}");
        }
        assert!(
            names(parent.path()).is_empty(),
            "a failed start leaves no directory"
        );
    }

    #[test]
    fn an_unusable_parent_is_a_directory_error() {
        let parent = tempfile::tempdir().unwrap();
        let file = parent.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let e = EmbeddedSandbox::builder()
            .chunk_dir_in(&file)
            .start()
            .unwrap_err();
        assert!(matches!(e, EmbeddedError::Directory { .. }), "{e:?}");
        assert!(e.to_string().contains("a-file"), "{e}");
    }

    #[test]
    fn remove_live_dirs_removes_the_directories_of_running_sandboxes() {
        let parent = tempfile::tempdir().unwrap();
        let s = EmbeddedSandbox::builder()
            .chunk_dir_in(parent.path())
            .start()
            .unwrap();
        remove_live_dirs_where(|p| p.starts_with(parent.path()));
        // Windows may keep a directory whose lock file is open; a later start sweeps it.
        if cfg!(unix) {
            assert!(!s.chunk_dir().exists());
        }
        drop(s);
        assert!(names(parent.path()).is_empty());
    }
}
