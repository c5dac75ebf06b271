//! `tlup`: the command-line front end of the TL Uploader engine.
//!
//! # Layout
//!
//! - `args`: the command line (clap).
//! - `connect`: API key, base URL and sandbox flags resolved into a client.
//! - `journal`: the upload journal that makes uploads resumable after a crash.
//! - `advice`: the commands tlup suggests next (resume, upload again, forget).
//! - `commands`: one module per command.
//! - `files`: checks of file arguments before anything is sent.
//! - `progress`: the progress bars (one per file) and JSON progress events.
//! - `output`: results on stdout, messages on stderr, JSON lines.
//! - `failure`: errors and exit codes (0 done, 1 failed, 2 usage).
//! - `interrupt`: Ctrl-C handling.
//! - `format`: sizes, rates, dates and tables for people.

mod advice;
mod args;
mod commands;
mod connect;
mod failure;
mod files;
mod format;
mod interrupt;
mod journal;
mod output;
mod progress;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::failure::Status;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version also come here, and are not errors.
            return if e.use_stderr() {
                Status::Usage.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // While the process still has one thread: only then can the time zone be read.
    format::read_local_offset();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Status::Failed.into();
        }
    };
    let status = runtime.block_on(commands::run(cli));
    // A file read still running on a blocking thread must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    status.into()
}
