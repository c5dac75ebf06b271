//! `tl-sandbox`: runs a sandbox until SIGINT or SIGTERM.
//!
//! Prints exactly one line on stdout, `tl-sandbox listening on http://HOST:PORT`, once the
//! server accepts connections; scripts read it to learn the port. Everything else goes to
//! stderr.

use std::{io::Write, process::ExitCode};

use clap::Parser;
use tl_sandbox::cli::SandboxArgs;

/// A local server that speaks the TwelveLabs multipart upload protocol.
#[derive(Debug, Parser)]
#[command(name = "tl-sandbox", version)]
struct Cli {
    #[command(flatten)]
    args: SandboxArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let builder = match cli.args.into_builder() {
        Ok(builder) => builder,
        Err(e) => {
            eprintln!("tl-sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    let handle = match builder.start() {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("tl-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    // If nobody reads stdout any more, keep serving: the line is informational.
    let _ = writeln!(stdout, "tl-sandbox listening on {}", handle.url());
    let _ = stdout.flush();
    drop(stdout);

    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match signals {
        Ok(runtime) => runtime.block_on(wait_for_signal()),
        Err(e) => {
            eprintln!("tl-sandbox: cannot wait for signals: {e}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("tl-sandbox: shutting down");
    handle.shutdown();
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C / SIGINT, and on SIGTERM where there is such a thing.
async fn wait_for_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                () = interrupt => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    interrupt.await;
}
