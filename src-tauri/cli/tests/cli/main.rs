//! End-to-end tests of the `tlup` binary: each test starts a sandbox in-process on
//! `127.0.0.1:0` and runs the real binary against it over real HTTP.

mod crash;
mod default_sandbox;
mod journal;
mod link;
mod network;
/// Outages of each kind mid-upload: waited out without retries, the file intact.
mod outage;
mod queue;
mod refresh;
mod resume;
mod sandbox_command;
mod sessions;
mod support;
mod upload;
mod usage;
