//! A real OS file drop: `drag_source.py` (a GTK 3 window offering `text/uri-list`) and
//! xdotool pressing on it, moving in small steps onto a point of the app, and releasing.
//! That runs the whole XDND path: X server → GTK → wry → Tauri's drag-drop event → the page.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Where the drag source's window goes: below the app's 1100×760 window.
const SOURCE_AT: (i32, i32) = (60, 840);

/// The drag source script (beside this crate's manifest).
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("drag_source.py")
}

/// A running drag source, killed on drop.
#[derive(Debug)]
pub struct DragSource {
    child: Child,
    lines: mpsc::Receiver<String>,
    display: String,
    /// Centre of its window on screen.
    pub centre: (i32, i32),
}

impl DragSource {
    /// Shows a drag source for `files` on `display` and waits until its window is mapped.
    ///
    /// # Errors
    ///
    /// When python3-gi / GTK 3 are missing or the window does not appear within 20 s.
    pub fn start(display: &str, files: &[&Path]) -> Result<Self> {
        let mut child = Command::new("/usr/bin/python3")
            .arg(script())
            .args([SOURCE_AT.0.to_string(), SOURCE_AT.1.to_string()])
            .args(files)
            .env("DISPLAY", display)
            .env("GDK_BACKEND", "x11")
            .env("NO_AT_BRIDGE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot run /usr/bin/python3 (apt-get install python3-gi gir1.2-gtk-3.0)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut source = Self {
            child,
            lines,
            display: display.to_owned(),
            centre: (0, 0),
        };
        source.wait_line("ready", Duration::from_secs(20))?;
        let (x, y, w, h) = window_geometry(display, "^e2e drag source$")?;
        source.centre = (x + w / 2, y + h / 2);
        Ok(source)
    }

    /// Waits for a line of the script that starts with `prefix`, and returns it.
    fn wait_line(&mut self, prefix: &str, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!("the drag source printed no {prefix:?} within {limit:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    bail!("the drag source exited ({status}) before printing {prefix:?}")
                }
            }
        }
    }

    /// Drags from the source to `target` (screen coordinates) with the left button: press,
    /// 30 small moves, a few moves on the target so XDND position messages are answered,
    /// release. Returns the source's account of the drag ("drag-end" or "drag-failed ...").
    ///
    /// The pauses between the synthetic input events pace them like a hand would (GTK needs
    /// motion past its drag threshold, and XDND a position round trip before the drop); they
    /// are not used to wait for any outcome.
    ///
    /// # Errors
    ///
    /// When xdotool fails or the source reports nothing within 15 s.
    pub fn drag_to(&mut self, target: (i32, i32)) -> Result<String> {
        let (sx, sy) = self.centre;
        let (tx, ty) = target;
        let mut args: Vec<String> = Vec::new();
        let mut push = |words: &[String]| args.extend_from_slice(words);
        push(&s(&[
            "mousemove",
            &sx.to_string(),
            &sy.to_string(),
            "sleep",
            "0.2",
        ]));
        push(&s(&["mousedown", "1", "sleep", "0.2"]));
        let steps = 30;
        for i in 1..=steps {
            let x = sx + (tx - sx) * i / steps;
            let y = sy + (ty - sy) * i / steps;
            push(&s(&[
                "mousemove",
                &x.to_string(),
                &y.to_string(),
                "sleep",
                "0.03",
            ]));
        }
        for d in [1, -1, 1, 0] {
            push(&s(&[
                "mousemove",
                &(tx + d).to_string(),
                &(ty + d).to_string(),
                "sleep",
                "0.1",
            ]));
        }
        push(&s(&["mouseup", "1"]));
        let status = Command::new("xdotool")
            .args(&args)
            .env("DISPLAY", &self.display)
            .status()
            .context("cannot run xdotool (apt-get install xdotool)")?;
        if !status.success() {
            bail!("xdotool failed: {status}");
        }
        self.wait_line("drag-", Duration::from_secs(15))
    }
}

fn s(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

impl Drop for DragSource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(x, y, width, height)` of the first visible window whose name matches `pattern`.
///
/// # Errors
///
/// When no such window exists or xdotool fails.
pub fn window_geometry(display: &str, pattern: &str) -> Result<(i32, i32, i32, i32)> {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", pattern])
        .arg("getwindowgeometry")
        .arg("--shell")
        .env("DISPLAY", display)
        .output()
        .context("cannot run xdotool")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let get = |key: &str| -> Option<i32> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
    };
    match (get("X="), get("Y="), get("WIDTH="), get("HEIGHT=")) {
        (Some(x), Some(y), Some(w), Some(h)) => Ok((x, y, w, h)),
        _ => bail!(
            "no visible window named {pattern:?} on {display}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
