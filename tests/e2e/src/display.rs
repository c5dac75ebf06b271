//! One private X server per test: `Xvfb :N` on a display number nobody uses, so tests never
//! share a screen (a stray window or drag of one test cannot disturb another), and the tests
//! do not depend on being started under `xvfb-run`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tl_test_support::poll_blocking;

/// The screen size: room for the app's 1100×760 window and, below it, the drag source.
pub const SCREEN: (u32, u32) = (1280, 1024);

/// Display numbers are tried from 200 + 20 × (pid mod 50) on: above `xvfb-run -a`'s first
/// picks (:99 and up), and offset by the process id so two test runs rarely try the same
/// numbers (a taken number is skipped anyway).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A running Xvfb, killed on drop.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    number: u32,
}

impl Xvfb {
    /// Starts an Xvfb on a free display and returns once it accepts connections.
    ///
    /// # Errors
    ///
    /// When `Xvfb` is not installed or no display could be started in 20 attempts.
    pub fn start() -> Result<Self> {
        let base = 200 + (std::process::id() % 50) * 20;
        for _ in 0..20 {
            let number = base + NEXT.fetch_add(1, Ordering::SeqCst);
            let lock = format!("/tmp/.X{number}-lock");
            let socket = format!("/tmp/.X11-unix/X{number}");
            if Path::new(&lock).exists() || Path::new(&socket).exists() {
                continue;
            }
            let (w, h) = SCREEN;
            let mut child = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args(["-screen", "0", &format!("{w}x{h}x24")])
                .args(["-nolisten", "tcp", "-noreset"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot run Xvfb (apt-get install xvfb)")?;
            // Some(true): it answers; Some(false): it ended, having lost a race for this
            // number, so the next one is tried.
            let answered = poll_blocking(
                &format!("Xvfb on :{number}"),
                Duration::from_secs(15),
                Duration::from_millis(50),
                || -> Result<Option<bool>> {
                    if Path::new(&socket).exists() && xdpyinfo_ok(number) {
                        return Ok(Some(true));
                    }
                    Ok(child.try_wait()?.is_some().then_some(false))
                },
            );
            match answered {
                Ok(true) => return Ok(Self { child, number }),
                Ok(false) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        bail!("could not start an Xvfb server on any display number")
    }

    /// `:N`, for `DISPLAY`.
    pub fn display(&self) -> String {
        format!(":{}", self.number)
    }

    /// Saves a PNG of the whole screen (ImageMagick's `import`); best effort.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        let status = Command::new("import")
            .args(["-display", &self.display(), "-window", "root"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run import (apt-get install imagemagick)")?;
        if !status.success() {
            bail!("import failed: {status}");
        }
        Ok(())
    }
}

/// Whether a client can connect to display `number` (the socket exists a moment before the
/// server answers).
fn xdpyinfo_ok(number: u32) -> bool {
    Command::new("xdotool")
        .arg("getdisplaygeometry")
        .env("DISPLAY", format!(":{number}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
