//! Keeping the computer from falling asleep while uploads run.
//!
//! A long upload dies with the network when the machine goes to sleep for lack of keyboard
//! and mouse activity. [`KeepAwake::acquire`] asks the system not to do that, until the
//! guard is dropped:
//!
//! - **Linux:** an `idle` inhibitor lock of systemd-logind (`org.freedesktop.login1`),
//!   asked for over the system D-Bus (see `systemd-inhibit --list`).
//! - **macOS:** an IOKit `PreventUserIdleSystemSleep` assertion (see `pmset -g assertions`).
//! - **Windows:** `ES_SYSTEM_REQUIRED` for the holding thread (see `powercfg /requests`).
//!
//! Only idle sleep is held off: the display may still turn off and the screen lock still
//! engages, and the user can put the machine to sleep or close the lid as ever.
//!
//! Keeping awake is a courtesy, never a condition: every failure (no D-Bus, no logind, a
//! refusal, a system that does not answer within [`KeepAwake::ANSWER_WITHIN`]) comes back
//! as a [`NotAwake`] that says why, and the caller uploads anyway. Nothing here panics.
//!
//! The request lives on a thread of its own, which takes it, waits for the guard to drop,
//! and gives it back: Windows ties the request to the thread that made it, and a D-Bus
//! round trip never blocks an async runtime's worker for longer than the caller allows.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Keeps the computer from idle sleep until dropped. Make one with [`KeepAwake::acquire`].
pub struct KeepAwake {
    /// Dropped to tell the holding thread to give the request back.
    release: Option<mpsc::Sender<()>>,
    /// The thread that holds the request, joined on drop so the request is gone by then.
    holder: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for KeepAwake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAwake").finish_non_exhaustive()
    }
}

/// Why the computer could not be kept awake. Its message is a sentence for people, such as
/// `systemd-logind cannot be asked over the system D-Bus (…)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotAwake {
    message: String,
}

impl NotAwake {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl KeepAwake {
    /// How long [`acquire`](Self::acquire) waits for the system's answer before it gives up
    /// (a D-Bus service being activated can take a while; an upload should not wait).
    pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

    /// Asks the system to keep the computer from idle sleep until the guard is dropped.
    /// `app_name` and `reason` are what the system shows as holding it (`tlup`, `Uploading
    /// video files`). Blocks for at most [`ANSWER_WITHIN`](Self::ANSWER_WITHIN), so call it
    /// off an async runtime's worker threads when that matters.
    ///
    /// # Errors
    ///
    /// [`NotAwake`], saying why: the system has no such service, refused, or did not
    /// answer in time. The computer then sleeps as it always would; nothing else changes.
    pub fn acquire(app_name: &str, reason: &str) -> Result<Self, NotAwake> {
        let (app_name, reason) = (app_name.to_owned(), reason.to_owned());
        hold(move || inhibit(app_name, reason), Self::ANSWER_WITHIN)
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        // The holding thread wakes up when the sender is gone, and drops the request.
        drop(self.release.take());
        if let Some(holder) = self.holder.take() {
            // Giving the request back is a single system call; a panic in it has nothing
            // left to undo.
            let _ = holder.join();
        }
    }
}

/// Takes what `make` returns on a thread of its own and holds it there until the returned
/// guard drops; gives up when `make` has not answered within `wait`.
fn hold<G, F>(make: F, wait: Duration) -> Result<KeepAwake, NotAwake>
where
    F: FnOnce() -> Result<G, String> + Send + 'static,
    G: 'static,
{
    let (answer_tx, answer_rx) = mpsc::sync_channel::<Result<(), String>>(1);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = std::thread::Builder::new()
        .name("keep-awake".into())
        .spawn(move || {
            let request = match make() {
                Ok(request) => request,
                Err(why) => {
                    let _ = answer_tx.send(Err(why));
                    return;
                }
            };
            if answer_tx.send(Ok(())).is_err() {
                // The caller stopped waiting: give the request back at once.
                return;
            }
            // Returns when the guard is dropped (nothing is ever sent).
            let _ = release_rx.recv();
            drop(request);
        })
        .map_err(|e| NotAwake::new(format!("cannot start a thread to hold the request: {e}")))?;
    match answer_rx.recv_timeout(wait) {
        Ok(Ok(())) => Ok(KeepAwake {
            release: Some(release_tx),
            holder: Some(holder),
        }),
        Ok(Err(why)) => Err(NotAwake::new(why)),
        // The thread lets go of a late answer when it sees nobody waits (release_tx is
        // dropped here too).
        Err(mpsc::RecvTimeoutError::Timeout) => Err(NotAwake::new(format!(
            "the system did not answer within {} s",
            wait.as_secs_f64()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(NotAwake::new(
            "the request to keep the computer awake failed unexpectedly",
        )),
    }
}

/// The system's request against idle sleep.
#[cfg(any(windows, target_os = "macos", target_os = "linux"))]
fn inhibit(app_name: String, reason: String) -> Result<keepawake::KeepAwake, String> {
    keepawake::Builder::default()
        .idle(true)
        .app_name(app_name)
        .reason(reason)
        .create()
        .map_err(|e| match e {
            keepawake::Error::System(e) => refused(&e.to_string()),
            keepawake::Error::Builder(e) => format!("the request could not be made: {e}"),
        })
}

/// What a system error means, in the platform's words.
#[cfg(any(windows, target_os = "macos", target_os = "linux"))]
fn refused(error: &str) -> String {
    if cfg!(target_os = "linux") {
        format!("systemd-logind cannot be asked over the system D-Bus ({error})")
    } else if cfg!(target_os = "macos") {
        format!("macOS refused the power assertion ({error})")
    } else {
        format!("Windows refused the power request ({error})")
    }
}

/// Systems the app is not built for have no request to make.
#[cfg(not(any(windows, target_os = "macos", target_os = "linux")))]
fn inhibit(_app_name: String, _reason: String) -> Result<(), String> {
    Err("this system offers no way to keep the computer awake".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    /// Records its drop.
    struct Request(Arc<AtomicBool>);

    impl Drop for Request {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_request_is_held_until_the_guard_drops() {
        let released = Arc::new(AtomicBool::new(false));
        let flag = released.clone();
        let guard = hold(move || Ok(Request(flag)), Duration::from_secs(5)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !released.load(Ordering::SeqCst),
            "held while the guard lives"
        );
        drop(guard);
        assert!(released.load(Ordering::SeqCst), "given back when it drops");
    }

    #[test]
    fn a_refusal_says_why() {
        let e = hold(
            || Err::<(), _>("no D-Bus here".to_owned()),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "no D-Bus here");
    }

    #[test]
    fn a_system_that_does_not_answer_is_given_up_on_and_its_late_request_let_go() {
        let released = Arc::new(AtomicBool::new(false));
        let flag = released.clone();
        let started = Instant::now();
        let e = hold(
            move || {
                std::thread::sleep(Duration::from_millis(300));
                Ok(Request(flag))
            },
            Duration::from_millis(50),
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(250));
        assert!(e.to_string().contains("did not answer"), "{e}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !released.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            released.load(Ordering::SeqCst),
            "the late request is given back"
        );
    }

    #[test]
    fn a_request_that_panics_is_a_reason_not_a_panic() {
        let e = hold(
            || -> Result<(), String> { panic!("a broken system library") },
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(e.to_string().contains("failed unexpectedly"), "{e}");
    }

    #[test]
    fn the_real_request_gives_a_guard_or_a_reason() {
        // Whatever this machine has (a logind, or no D-Bus at all), the answer comes in time
        // and either way nothing panics.
        let started = Instant::now();
        match KeepAwake::acquire("tl-upload tests", "testing the keep-awake guard") {
            Ok(guard) => drop(guard),
            Err(why) => assert!(!why.to_string().is_empty()),
        }
        assert!(started.elapsed() <= KeepAwake::ANSWER_WITHIN + Duration::from_secs(1));
    }
}
