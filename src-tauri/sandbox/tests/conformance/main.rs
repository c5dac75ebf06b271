//! Protocol conformance of the sandbox, over real HTTP on loopback. Each test starts its own
//! sandbox on port 0.

#[path = "../support/mod.rs"]
mod support;

mod assets;
mod chunks;
mod completion;
mod corrupt;
mod early;
mod faults;
mod lifecycle;
mod link;
mod outage;
mod reports;
mod sessions;
mod stats;
mod status;
mod tls;
