//! `tl-sandbox`: runs a sandbox until SIGINT or SIGTERM.
//!
//! Prints exactly one line on stdout, `tl-sandbox listening on http://HOST:PORT` (`https://`
//! with `--tls-cert`), once the server accepts connections; scripts read it to learn the
//! port. Everything else goes to stderr.

use std::{future::Future, io::Write, pin::Pin, process::ExitCode};

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
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match signals {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tl-sandbox: cannot wait for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // Registered before the line goes out: a script that reads it and signals at once
        // must find the handlers in place, not the default action that kills.
        let stop = stop_signal();
        let mut stdout = std::io::stdout().lock();
        // If nobody reads stdout any more, keep serving: the line is informational.
        let _ = writeln!(stdout, "tl-sandbox listening on {}", handle.url());
        let _ = stdout.flush();
        drop(stdout);
        stop.await;
    });
    eprintln!("tl-sandbox: shutting down");
    handle.shutdown();
    ExitCode::SUCCESS
}

/// Registers for Ctrl-C / SIGINT, and SIGTERM where there is such a thing, at once; the
/// future resolves on the first of them.
fn stop_signal() -> Pin<Box<dyn Future<Output = ()>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
        }
    }
    Box::pin(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}
