//! The embedded sandbox: a `tl-sandbox` server on a free loopback port, started when the app
//! has no API key (or the user chose the sandbox), so a first try works offline and visibly
//! sends nothing anywhere.
//!
//! Chunks are kept on disk in a fresh directory under the app's cache directory (a memory
//! store would hold whole videos in RAM); the directory goes when the sandbox stops. An app
//! that was killed cannot remove its directory, so each running sandbox holds an OS lock on
//! a file in it, and the next start removes the directories nobody holds. Assets stay
//! `processing` for a second, long enough to show that the state exists.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use tl_sandbox::SandboxHandle;
use tl_sandbox::cli::SandboxArgs;
use tl_upload::MultipartUploadClient;

use crate::ipc::{CommandError, ErrorCode};

/// Flags given first; `TL_UPLOADER_SANDBOX_ARGS` come after them and win.
const DEFAULT_FLAGS: [&str; 4] = ["--listen", "127.0.0.1:0", "--processing-delay", "1"];

/// `SandboxArgs` on a command line where a later flag replaces an earlier one, so the
/// user's flags override the app's defaults instead of clashing with them.
#[derive(Parser)]
#[command(name = "TL_UPLOADER_SANDBOX_ARGS", args_override_self = true)]
struct Flags {
    #[command(flatten)]
    args: SandboxArgs,
}

/// The file in a chunk directory that its sandbox holds locked while it runs.
const OWNER_LOCK: &str = "owner.lock";

/// A directory without its lock file younger than this may be another app's that is just
/// starting; older ones are leftovers.
const GRACE: Duration = Duration::from_secs(60);

/// A running sandbox and a client for it. Dropping it stops the server, then removes its
/// chunk directory (fields drop in order).
#[derive(Debug)]
pub struct EmbeddedSandbox {
    client: MultipartUploadClient,
    _handle: SandboxHandle,
    _owner: File,
    _dir: tempfile::TempDir,
}

impl EmbeddedSandbox {
    /// Starts a sandbox with its chunks under `cache_dir`, with `extra` flags (the words of
    /// `TL_UPLOADER_SANDBOX_ARGS`) after the defaults.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Invalid`] for flags the sandbox does not accept; [`ErrorCode::Io`] when
    /// the directory cannot be made or the server cannot listen.
    pub fn start(cache_dir: &Path, extra: &[String]) -> Result<Self, CommandError> {
        let io = |what: &str, e: &dyn std::fmt::Display| {
            CommandError::new(
                ErrorCode::Io,
                format!("cannot start the local sandbox: {what}: {e}"),
            )
        };
        std::fs::create_dir_all(cache_dir).map_err(|e| io("cache directory", &e))?;
        sweep(cache_dir);
        let dir = tempfile::Builder::new()
            .prefix("sandbox-")
            .tempdir_in(cache_dir)
            .map_err(|e| io("chunk directory", &e))?;
        let owner = File::create(dir.path().join(OWNER_LOCK))
            .and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::from))
            .map_err(|e| io("chunk directory lock", &e))?;
        let storage = format!("disk:{}", dir.path().join("chunks").display());
        let key = tl_sandbox::random_api_key();
        let mut words: Vec<String> = vec!["sandbox".into()];
        words.extend(DEFAULT_FLAGS.iter().map(|s| (*s).to_owned()));
        words.extend(["--storage".into(), storage, "--api-key".into(), key]);
        words.extend(extra.iter().cloned());
        let flags = Flags::try_parse_from(&words).map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            CommandError::invalid(format!(
                "TL_UPLOADER_SANDBOX_ARGS is not valid: {}",
                first.trim_start_matches("error: ")
            ))
        })?;
        let builder = flags.args.into_builder().map_err(CommandError::invalid)?;
        let handle = builder.start().map_err(|e| io("server", &e))?;
        let client = MultipartUploadClient::builder()
            .api_key(handle.api_key())
            .base_url(handle.base_url())
            .build()
            .map_err(CommandError::from)?;
        Ok(Self {
            client,
            _handle: handle,
            _owner: owner,
            _dir: dir,
        })
    }

    /// The client for this sandbox.
    pub fn client(&self) -> &MultipartUploadClient {
        &self.client
    }
}

/// Removes the chunk directories under `cache_dir` that no running sandbox holds.
fn sweep(cache_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(cache_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry.file_name().to_string_lossy().starts_with("sandbox-");
        if !ours || !path.is_dir() {
            continue;
        }
        let abandoned = match OpenOptions::new().write(true).open(path.join(OWNER_LOCK)) {
            Ok(lock) => lock.try_lock().is_ok(),
            Err(_) => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > GRACE),
        };
        if abandoned {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// The words of `TL_UPLOADER_SANDBOX_ARGS`, split at whitespace (paths with spaces are not
/// supported there; the variable is for tests and power users).
pub fn split_args(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_loopback_with_a_random_key_and_takes_extra_flags() {
        let cache = tempfile::tempdir().unwrap();
        let extra = split_args("  --chunk-size 65536   --processing-delay 0 ");
        let s = EmbeddedSandbox::start(cache.path(), &extra).unwrap();
        assert!(s.client().base_url().starts_with("http://127.0.0.1:"));
        let dirs = std::fs::read_dir(cache.path()).unwrap().count();
        assert_eq!(dirs, 1);
        drop(s);
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }

    #[test]
    fn directories_of_killed_apps_are_removed_and_live_ones_kept() {
        let cache = tempfile::tempdir().unwrap();
        let live = EmbeddedSandbox::start(cache.path(), &[]).unwrap();
        // A killed app's directory: its lock file is there but nobody holds it.
        let dead = cache.path().join("sandbox-dead");
        std::fs::create_dir_all(dead.join("chunks")).unwrap();
        std::fs::write(dead.join(OWNER_LOCK), b"").unwrap();
        // Another app's directory being created right now (no lock file yet).
        let young = cache.path().join("sandbox-young");
        std::fs::create_dir(&young).unwrap();
        let other = EmbeddedSandbox::start(cache.path(), &[]).unwrap();
        assert!(!dead.exists());
        assert!(young.exists());
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 3);
        drop((live, other));
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_flags_are_reported() {
        let cache = tempfile::tempdir().unwrap();
        let e = EmbeddedSandbox::start(cache.path(), &split_args("--no-such-flag")).unwrap_err();
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(
            e.message.contains("TL_UPLOADER_SANDBOX_ARGS"),
            "{}",
            e.message
        );
    }
}
