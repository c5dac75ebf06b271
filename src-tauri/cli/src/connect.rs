//! Which server to talk to: the API key, base URL and sandbox flags resolved into a client.
//!
//! The rules, in order:
//! 1. `--sandbox`: a sandbox started inside tlup.
//! 2. No key and no base URL anywhere: the same sandbox, announced on stderr, so a first try
//!    without an account works and visibly sends nothing anywhere.
//! 3. A base URL without a key: a usage error (a key is needed for any real server).
//! 4. Otherwise the given (or default) base URL with the key.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tl_sandbox::{Sandbox, SandboxHandle, Storage};
use tl_upload::{DEFAULT_BASE_URL, MultipartUploadClient};

use crate::args::ConnectionArgs;
use crate::failure::Failure;
use crate::format::shell_word;
use crate::output::Output;

/// How long an asset of the embedded sandbox stays `processing`: long enough to show that
/// the state exists, short enough not to slow anyone down.
const SANDBOX_PROCESSING_DELAY: Duration = Duration::from_secs(1);

/// Directories to delete if tlup has to exit without unwinding (a second Ctrl-C).
static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A client, and the sandbox behind it when there is one.
#[derive(Debug)]
pub struct Connection {
    /// The API client.
    pub client: MultipartUploadClient,
    // Field order matters: the server stops (drops) before its directory is removed.
    sandbox: Option<EmbeddedSandbox>,
}

#[derive(Debug)]
struct EmbeddedSandbox {
    _handle: SandboxHandle,
    dir: tempfile::TempDir,
}

impl Drop for EmbeddedSandbox {
    fn drop(&mut self) {
        let path = self.dir.path().to_path_buf();
        TEMP_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| *p != path);
    }
}

impl Connection {
    /// Resolves the flags into a connection, starting a sandbox when rule 1 or 2 applies.
    ///
    /// # Errors
    ///
    /// A usage failure for a base URL without a key or a malformed URL; a failure when the
    /// sandbox cannot start.
    pub fn open(args: &ConnectionArgs, out: &Output) -> Result<Self, Failure> {
        let key = args
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let base = args
            .base_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        if args.sandbox || (key.is_none() && base.is_none()) {
            let (sandbox, base_url, api_key) = EmbeddedSandbox::start()?;
            if args.sandbox {
                out.note(&format!(
                    "using the local sandbox at {base_url} — nothing leaves this computer"
                ));
            } else {
                out.note(&format!(
                    "no TWELVELABS_API_KEY set: using the local sandbox at {base_url} — nothing leaves this computer"
                ));
            }
            let client = MultipartUploadClient::builder()
                .api_key(api_key)
                .base_url(base_url)
                .build()
                .map_err(|e| Failure::failed(e.to_string()))?;
            return Ok(Self {
                client,
                sandbox: Some(sandbox),
            });
        }
        let Some(key) = key else {
            return Err(Failure::usage(
                "no API key: set TWELVELABS_API_KEY or pass --api-key (or use --sandbox to try tlup locally)",
            ));
        };
        let mut builder = MultipartUploadClient::builder().api_key(key);
        if let Some(base) = base {
            builder = builder.base_url(base);
        }
        let client = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
        Ok(Self {
            client,
            sandbox: None,
        })
    }

    /// Whether the server is the sandbox inside this process.
    pub fn is_embedded_sandbox(&self) -> bool {
        self.sandbox.is_some()
    }

    /// The start of a tlup command line that reaches the same server again (never with the
    /// key, which the user has in the environment or their own history).
    pub fn command_prefix(&self) -> String {
        let base = self.client.base_url();
        if base == DEFAULT_BASE_URL {
            "tlup".to_owned()
        } else {
            format!("tlup --base-url {}", shell_word(base))
        }
    }
}

impl EmbeddedSandbox {
    /// Starts a sandbox on a free loopback port with a random key, keeping chunks on disk in
    /// a fresh temporary directory (a memory store would hold whole videos in RAM).
    fn start() -> Result<(Self, String, String), Failure> {
        let dir = tempfile::Builder::new()
            .prefix("tlup-sandbox-")
            .tempdir()
            .map_err(|e| {
                Failure::failed(format!(
                    "cannot create a directory for the local sandbox: {e}"
                ))
            })?;
        TEMP_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dir.path().to_path_buf());
        let api_key = random_key();
        let handle = Sandbox::builder()
            .api_key(api_key.clone())
            .storage(Storage::Disk(dir.path().join("chunks")))
            .processing_delay(SANDBOX_PROCESSING_DELAY)
            .start()
            .map_err(|e| Failure::failed(format!("cannot start the local sandbox: {e}")))?;
        let base_url = handle.base_url();
        Ok((
            Self {
                _handle: handle,
                dir,
            },
            base_url,
            api_key,
        ))
    }
}

/// Deletes the embedded sandbox's directories; for an exit that skips destructors.
pub fn remove_temp_dirs() {
    let dirs = std::mem::take(&mut *TEMP_DIRS.lock().unwrap_or_else(PoisonError::into_inner));
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// 128 random bits as hex, from the standard library's per-process random hash keys (the
/// key only guards a loopback server for the life of one command).
fn random_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut key = String::from("tlup-");
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        key.push_str(&format!("{:016x}", h.finish()));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random() {
        let (a, b) = (random_key(), random_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), "tlup-".len() + 32);
    }

    #[test]
    fn a_base_url_without_a_key_is_a_usage_error() {
        let args = ConnectionArgs {
            base_url: Some("http://127.0.0.1:9/v1.3".into()),
            ..Default::default()
        };
        let e = Connection::open(&args, &Output::new(true)).unwrap_err();
        assert_eq!(e.status, crate::failure::Status::Usage);
        assert!(e.message.contains("TWELVELABS_API_KEY"), "{}", e.message);
    }

    #[test]
    fn the_command_prefix_names_a_custom_server_only() {
        let args = ConnectionArgs {
            api_key: Some("secret".into()),
            base_url: Some("http://127.0.0.1:9/v1.3".into()),
            ..Default::default()
        };
        let c = Connection::open(&args, &Output::new(true)).unwrap();
        assert_eq!(
            c.command_prefix(),
            "tlup --base-url http://127.0.0.1:9/v1.3"
        );
        assert!(!c.is_embedded_sandbox());
        let args = ConnectionArgs {
            api_key: Some("secret".into()),
            base_url: Some(DEFAULT_BASE_URL.into()),
            ..Default::default()
        };
        assert_eq!(
            Connection::open(&args, &Output::new(true))
                .unwrap()
                .command_prefix(),
            "tlup"
        );
    }
}
