//! The embedded sandbox: a `tl-sandbox` server on a free loopback port, started when the app
//! has no API key (or the user chose the sandbox), so a first try works offline and visibly
//! sends nothing anywhere.
//!
//! [`tl_sandbox::embedded`] does the work (defaults, a chunk directory on disk, cleanup of
//! the directories of killed apps); here its chunk directory goes under the app's cache
//! directory, `TL_UPLOADER_SANDBOX_ARGS` adds flags, and its errors become command errors.

use std::path::Path;

use tl_sandbox::embedded::{self, EmbeddedError};
use tl_upload::MultipartUploadClient;

use crate::ipc::{CommandError, ErrorCode};

/// The variable whose words are extra `tl-sandbox` flags.
const ARGS_VAR: &str = "TL_UPLOADER_SANDBOX_ARGS";

/// A running sandbox and a client for it. Dropping it stops the server, then removes its
/// chunk directory.
#[derive(Debug)]
pub struct EmbeddedSandbox {
    client: MultipartUploadClient,
    _sandbox: embedded::EmbeddedSandbox,
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
        let sandbox = embedded::EmbeddedSandbox::builder()
            .chunk_dir_in(cache_dir)
            .extra_args(extra, ARGS_VAR)
            .start()
            .map_err(|e| {
                let code = match e {
                    EmbeddedError::BadFlags { .. } => ErrorCode::Invalid,
                    _ => ErrorCode::Io,
                };
                CommandError::new(code, e.to_string())
            })?;
        let client = MultipartUploadClient::builder()
            .api_key(sandbox.api_key())
            .base_url(sandbox.base_url())
            .build()
            .map_err(CommandError::from)?;
        Ok(Self {
            client,
            _sandbox: sandbox,
        })
    }

    /// The client for this sandbox.
    pub fn client(&self) -> &MultipartUploadClient {
        &self.client
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
    fn starts_under_the_cache_dir_with_the_variable_s_flags_and_cleans_up() {
        let cache = tempfile::tempdir().unwrap();
        let extra = split_args("  --chunk-size 65536   --processing-delay 0 ");
        let s = EmbeddedSandbox::start(&cache.path().join("cache"), &extra).unwrap();
        assert!(s.client().base_url().starts_with("http://127.0.0.1:"));
        let dirs = std::fs::read_dir(cache.path().join("cache"))
            .unwrap()
            .count();
        assert_eq!(dirs, 1);
        drop(s);
        let dirs = std::fs::read_dir(cache.path().join("cache"))
            .unwrap()
            .count();
        assert_eq!(dirs, 0);
    }

    #[test]
    fn bad_flags_are_invalid_and_name_the_variable() {
        let cache = tempfile::tempdir().unwrap();
        for bad in ["--no-such-flag", "--listen 192.0.2.1:0"] {
            let e = EmbeddedSandbox::start(cache.path(), &split_args(bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::Invalid, "{bad}");
            assert!(e.message.contains(ARGS_VAR), "{}", e.message);
        }
    }

    #[test]
    fn an_unusable_cache_dir_is_an_io_error() {
        let cache = tempfile::tempdir().unwrap();
        let file = cache.path().join("not-a-directory");
        std::fs::write(&file, b"").unwrap();
        let e = EmbeddedSandbox::start(&file, &[]).unwrap_err();
        assert_eq!(e.code, ErrorCode::Io);
    }
}
