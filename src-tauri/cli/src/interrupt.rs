//! Ctrl-C: the first one stops the work cleanly, the second one quits at once.
//!
//! A clean stop matters for uploads: the engine reports the chunks already stored before it
//! returns, so a later `tlup resume` sends only the rest. That takes a moment, and a user who
//! does not want to wait presses Ctrl-C again.

use tl_upload::CancellationToken;

use crate::output::Output;

/// The exit code of a second Ctrl-C: 128 + SIGINT, what shells report for an interrupt.
const HARD_EXIT: i32 = 130;

/// Starts listening for Ctrl-C and returns the token the first one cancels. Must be called
/// inside the runtime.
pub fn install(out: &Output) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let out = out.clone();
    tokio::spawn(async move {
        let mut presses = 0u32;
        // If the signal cannot be watched, Ctrl-C keeps its default effect (exit at once).
        while tokio::signal::ctrl_c().await.is_ok() {
            presses += 1;
            if presses == 1 {
                out.note("interrupted: stopping cleanly (press Ctrl-C again to quit at once)");
                cancel.cancel();
            } else {
                out.note("interrupted again: quitting now");
                // `exit` skips destructors: the embedded sandbox's chunks go here instead.
                tl_sandbox::embedded::remove_live_dirs();
                std::process::exit(HARD_EXIT);
            }
        }
    });
    token
}
