//! The shell's commands through Tauri's mock runtime, against real sandboxes on
//! `127.0.0.1:0` and real journals in temporary directories.

mod control;
mod events;
mod opened;
mod request;
mod restart;
mod settings;
mod shared;
mod support;
mod uploads;
