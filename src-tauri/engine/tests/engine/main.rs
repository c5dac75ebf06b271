//! Integration tests of the engine against `tl-sandbox` on 127.0.0.1:0, over real HTTP.
//!
//! One test binary; each module covers one concern.

mod support;

/// The low-level client: pagers, errors, secrets.
mod client;
/// The window: never more than `max_workers` in flight, no head-of-line blocking.
mod concurrency;
/// Faults on the storage and the API side: each heals, or ends in a clear error.
mod faults;
/// The real world: slow confirmation, outages, early answers, damaged bytes.
mod field;
/// The uploader's handle (progress, pause, drop), forgetting sessions, choosing a source,
/// and the file check.
mod handle;
/// The journal: crash recovery, changed and moved files, expiry, pause, locks.
mod journal;
/// The process's link: the bandwidth limit, slots across files, automatic parallelism,
/// racing a straggler.
mod link;
/// Cancel, resume and wait.
mod resume;
/// Files of every awkward size, checked byte for byte through the sandbox's sha256.
mod sizes;
/// HTTPS: trusted roots, untrusted certificates.
mod tls;
