//! `tlup sandbox`: the local sandbox server in the foreground, with the flags and the
//! listening line of the `tl-sandbox` binary, so scripts can use either.

use std::io::Write;

use tl_sandbox::SandboxHandle;

use super::Context;
use crate::args::SandboxCommandArgs;
use crate::failure::Failure;

/// Resolves on SIGTERM (how service managers and `kill` stop a server), like `tl-sandbox`.
#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        // Without the handler SIGTERM keeps its default effect; wait for Ctrl-C only.
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}

/// Serves until Ctrl-C (or SIGTERM), then stops gracefully.
pub async fn run(ctx: &Context, args: SandboxCommandArgs) -> Result<(), Failure> {
    let builder = args.sandbox.into_builder().map_err(Failure::usage)?;
    // Starting binds and spawns the server's own thread; quick, but blocking.
    let handle: SandboxHandle = tokio::task::spawn_blocking(move || builder.start())
        .await
        .map_err(|e| Failure::failed(format!("the sandbox did not start: {e}")))?
        .map_err(|e| Failure::failed(format!("cannot start the sandbox: {e}")))?;
    {
        let mut out = std::io::stdout().lock();
        // Scripts wait for this exact line to learn the port.
        let _ = writeln!(out, "tl-sandbox listening on {}", handle.url());
        let _ = out.flush();
    }
    ctx.out.note(&format!(
        "API base URL {}; press Ctrl-C to stop",
        handle.base_url()
    ));
    tokio::select! {
        () = ctx.cancel.cancelled() => {}
        () = terminated() => ctx.out.note("terminated: stopping"),
    }
    tokio::task::spawn_blocking(move || handle.shutdown())
        .await
        .map_err(|e| Failure::failed(format!("the sandbox did not stop cleanly: {e}")))?;
    Ok(())
}
