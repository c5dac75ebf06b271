//! What the test suites of TL Uploader share, written once: the engine's, the command
//! line's, the app shell's, the sandbox's own and the end-to-end harness.
//!
//! - [`files`]: pseudo-random test files (deterministic per seed, so no two chunks are alike
//!   and a misplaced chunk changes the hash), SHA-256 of bytes and files, temporary
//!   directories.
//! - [`wait`]: polling a real condition against a deadline, blocking or async; tests never
//!   sleep to synchronise.
//! - [`http`]: a minimal HTTP/1.1 GET of JSON on loopback, so a suite can read the sandbox's
//!   API without an HTTP client stack.
//! - [`mod@sandbox`]: a test sandbox on `127.0.0.1:0`, and its assets once processed.
//! - [`process`]: signals to processes through `kill(1)` (the workspace forbids `unsafe`).
//! - [`tls`]: a throwaway certificate authority and a `localhost` certificate it signed, for
//!   HTTPS sandboxes; rustls client settings that trust only that authority; the ring
//!   provider for clients built without one.
//!
//! Helpers that fail the test panic, except those the end-to-end harness uses: it collects
//! screenshots and logs on failure, so those return errors.
//!
//! A dev-dependency only: it depends on neither tauri nor the engine (`tl-upload`); helpers
//! that need their types live in each suite's own `support` module.

#![deny(missing_docs)]

pub mod files;
pub mod http;
pub mod process;
pub mod sandbox;
pub mod tls;
pub mod wait;

pub use files::{
    name_seed, named_random_file, random_bytes, sha256_file, sha256_hex, tempdir, write_random_file,
};
pub use process::send_signal;
pub use sandbox::{ready_asset_sha256, sandbox, settled_asset, settled_asset_over_tls};
pub use tls::{install_ring_provider, throwaway_ca, throwaway_ca_for, tls_client_config};
pub use wait::{Timeout, eventually, poll, poll_blocking, wait_until};
