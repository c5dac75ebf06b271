//! Signals to processes, through `kill(1)`: the workspace forbids `unsafe`, so no libc.

use std::process::{Command, ExitStatus, Stdio};

/// Sends `signal` (a name such as `INT` or `KILL`) to every pid in `pids`, and returns the
/// exit status of `kill`: a failure means at least one of them did not get it (it may have
/// ended already). `kill`'s own messages are discarded.
///
/// # Errors
///
/// When `kill` cannot be run.
pub fn send_signal(signal: &str, pids: &[u32]) -> std::io::Result<ExitStatus> {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_killed_process_ends_by_that_signal() {
        let mut child = Command::new("sleep").arg("600").spawn().unwrap();
        // A signal `kill` does not know is a failure, and reaches no one.
        assert!(
            !send_signal("NO-SUCH-SIGNAL", &[child.id()])
                .unwrap()
                .success()
        );
        assert!(child.try_wait().unwrap().is_none());
        assert!(send_signal("KILL", &[child.id()]).unwrap().success());
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "{status}");
    }

    #[test]
    fn an_interrupt_reaches_the_process() {
        let mut child = Command::new("sleep").arg("600").spawn().unwrap();
        assert!(send_signal("INT", &[child.id()]).unwrap().success());
        let mut status = None;
        crate::wait_until("sleep to end", Duration::from_secs(10), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        assert_eq!(status.unwrap().signal(), Some(2));
    }
}
