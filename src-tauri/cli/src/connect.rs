//! Which server to talk to: the API key, base URL and sandbox flags resolved into a client.
//!
//! The rules, in order:
//! 1. `--sandbox`: a sandbox started inside tlup.
//! 2. No key and no base URL anywhere: the same sandbox, announced on stderr, so a first try
//!    without an account works and visibly sends nothing anywhere.
//! 3. A base URL without a key: a usage error (a key is needed for any real server).
//! 4. Otherwise the given (or default) base URL with the key.
//!
//! Sessions on a real server are recorded in the upload journal (see [`crate::journal`]);
//! those of the embedded sandbox are not, since that server dies with tlup.

use std::path::PathBuf;

use tl_sandbox::embedded::EmbeddedSandbox;
use tl_upload::{DEFAULT_BASE_URL, Journal, MultipartUploadClient, Uploader};

use crate::args::ConnectionArgs;
use crate::failure::Failure;
use crate::format::shell_word;
use crate::journal;
use crate::output::Output;

/// A client, and the sandbox behind it when there is one.
#[derive(Debug)]
pub struct Connection {
    /// The API client.
    pub client: MultipartUploadClient,
    /// The journal file sessions are recorded in; `None` for the embedded sandbox (and in
    /// the rare system without a data directory).
    journal_path: Option<PathBuf>,
    /// The sandbox inside tlup (its chunks in a directory under the system temp directory,
    /// removed when it drops).
    sandbox: Option<EmbeddedSandbox>,
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
        if args.uses_embedded_sandbox() {
            let sandbox = EmbeddedSandbox::builder()
                .start()
                .map_err(|e| Failure::failed(e.to_string()))?;
            let base_url = sandbox.base_url();
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
                .api_key(sandbox.api_key())
                .base_url(base_url)
                .build()
                .map_err(|e| Failure::failed(e.to_string()))?;
            return Ok(Self {
                client,
                journal_path: None,
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
        if let Some(path) = &args.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                Failure::usage(format!(
                    "--ca-cert {}: cannot read it: {e}",
                    shell_word(&path.display().to_string())
                ))
            })?;
            builder = builder.trust_pem(&pem).map_err(|e| {
                Failure::usage(format!(
                    "--ca-cert {}: {e}",
                    shell_word(&path.display().to_string())
                ))
            })?;
        }
        let client = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
        Ok(Self {
            client,
            journal_path: journal::path(args),
            sandbox: None,
        })
    }

    /// How requests reach the server, for `-v`: the proxy (host only) and what is trusted.
    pub fn network_summary(&self) -> Vec<String> {
        let host = self.client.host();
        let route = match self.client.proxy() {
            Some(proxy) => format!("API calls to {host} go through the proxy {proxy}"),
            None => format!("API calls to {host} go direct (no proxy applies)"),
        };
        let trust = match self.client.extra_roots() {
            0 => "HTTPS trusts the system's trust store".to_owned(),
            n => format!(
                "HTTPS trusts the system's trust store and {n} certificate{} from --ca-cert",
                if n == 1 { "" } else { "s" }
            ),
        };
        vec![route, trust]
    }

    /// Opens the journal this connection records its sessions in; `None` with the embedded
    /// sandbox, whose sessions cannot outlive tlup.
    ///
    /// # Errors
    ///
    /// A failure (exit code 1) when the file is not a journal this version can use.
    pub fn journal(&self) -> Result<Option<Journal>, Failure> {
        self.journal_path.as_deref().map(journal::open).transpose()
    }

    /// The engine's uploader for this run of tlup, recording into [`journal`](Self::journal).
    ///
    /// # Errors
    ///
    /// As [`journal`](Self::journal).
    pub fn uploader(&self) -> Result<Uploader, Failure> {
        Ok(Uploader::new(self.journal()?))
    }

    /// The journal file, when sessions are recorded.
    pub fn journal_path(&self) -> Option<&std::path::Path> {
        self.journal_path.as_deref()
    }

    /// Whether the server is the sandbox inside this process.
    pub fn is_embedded_sandbox(&self) -> bool {
        self.sandbox.is_some()
    }

    /// The start of a tlup command line that reaches the same server and journal again
    /// (never with the key, which the user has in the environment or their own history).
    pub fn command_prefix(&self) -> String {
        let mut prefix = "tlup".to_owned();
        let base = self.client.base_url();
        if base != DEFAULT_BASE_URL {
            prefix.push_str(&format!(" --base-url {}", shell_word(base)));
        }
        if let Some(path) = self
            .journal_path
            .as_deref()
            .filter(|p| !journal::is_default(p))
        {
            prefix.push_str(&format!(
                " --journal {}",
                shell_word(&path.to_string_lossy())
            ));
        }
        prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let args = ConnectionArgs {
            journal: Some("/tmp/my journal.sqlite3".into()),
            ..args
        };
        assert_eq!(
            Connection::open(&args, &Output::new(true))
                .unwrap()
                .command_prefix(),
            "tlup --journal '/tmp/my journal.sqlite3'"
        );
    }
}
