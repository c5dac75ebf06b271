//! The app as a user installs it: the binary a platform package put on the system
//! (`TL_UPLOADER_BIN`, e.g. `/usr/bin/tl-uploader` after `apt install ./…deb`), with its
//! embedded UI, under Xvfb and a private D-Bus session bus. Not part of a plain
//! `cargo test`: `src-tauri/scripts/bundle-smoke.sh` builds and installs the package, runs
//! this test against it and removes the package again.
//!
//! One scenario, in the order a user meets these things:
//! 1. the window appears at its default size, and the app's files are in the platform's
//!    directories (XDG data, state and config);
//! 2. while another window has the focus, a second launch with file arguments (Open With)
//!    hands them to the first instance and exits, and the first window takes the focus; the
//!    good file is uploaded to the embedded sandbox with the same SHA-256, the folder is
//!    refused with a banner;
//! 3. the window is moved and resized, Ctrl+Q quits, the log tells what happened and holds
//!    no URL signature, and the next launch opens the window where it was left.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use tl_uploader_e2e::drag::window_geometry;
use tl_uploader_e2e::{
    App, DragSource, E2E_KEY, Harness, poll, procs, ready_asset_sha256, target_dir,
};

const MIB: u64 = 1024 * 1024;
const ID: &str = "io.tluploader.desktop";
/// `xdotool search --name` pattern of the main window.
const TITLE: &str = "^TL Uploader$";
/// Another app's window (the e2e drag source, a plain GTK window).
const OTHER: &str = "^e2e drag source$";
/// The window's size in `tauri.conf.json`.
const DEFAULT_SIZE: (i32, i32) = (1100, 760);

/// The installed binary: `TL_UPLOADER_BIN`, which must be outside the build directory.
fn installed_binary() -> Result<PathBuf> {
    let bin = std::env::var_os("TL_UPLOADER_BIN")
        .map(PathBuf::from)
        .ok_or_else(|| {
            anyhow!(
                "TL_UPLOADER_BIN is not set: this test checks an installed package; \
             run it with bash src-tauri/scripts/bundle-smoke.sh"
            )
        })?;
    let bin = bin
        .canonicalize()
        .with_context(|| format!("{} is not installed", bin.display()))?;
    ensure!(
        !bin.starts_with(target_dir()),
        "{} is a build output, not an installed binary",
        bin.display()
    );
    Ok(bin)
}

/// A private D-Bus session bus (the single-instance plugin finds the first instance on
/// it), killed on drop.
struct SessionBus {
    child: Child,
    address: String,
}

impl SessionBus {
    fn start() -> Result<Self> {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot run dbus-daemon (Debian package dbus)")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("dbus-daemon has no stdout"))?;
        let mut address = String::new();
        BufReader::new(stdout).read_line(&mut address)?;
        let address = address.trim().to_owned();
        ensure!(!address.is_empty(), "dbus-daemon printed no address");
        Ok(Self { child, address })
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_app_uploads_hands_over_files_and_remembers_its_window() -> Result<()> {
    let bin = installed_binary()?;
    let h = Harness::new("installed_app")?;
    let bus = SessionBus::start()?;
    eprintln!("[installed] {} on bus {}", bin.display(), bus.address);
    let env = vec![
        ("DBUS_SESSION_BUS_ADDRESS", bus.address.clone()),
        (
            "TL_UPLOADER_SANDBOX_ARGS",
            format!("--api-key {E2E_KEY} --chunk-size {MIB}"),
        ),
    ];

    let app = h.launch_installed(&env).await?;
    let first = first_run(&h, &app, &bin, &bus).await;
    if let Err(e) = first {
        h.screenshots(Some(&app), "failed").await;
        let tail = app.log_tail();
        app.close().await;
        return Err(e.context(format!("driver/app log tail:\n{tail}")));
    }
    // The app quit itself; what is left of the session goes.
    app.abandon();

    let app = h.launch_installed(&env).await?;
    let r = second_run(&h).await;
    h.finish(Some(app), r).await
}

/// Steps 1–3 of the module docs, ending with the app quit by Ctrl+Q.
async fn first_run(h: &Harness, app: &App, bin: &Path, bus: &SessionBus) -> Result<()> {
    let display = h.xvfb.display();
    let (_, _, w, height) = window_geometry(&display, TITLE)?;
    ensure!(
        (w, height) == DEFAULT_SIZE,
        "the first window is {w}x{height}, not the default {DEFAULT_SIZE:?}"
    );
    let pid = app
        .pid()
        .ok_or_else(|| anyhow!("the app's process was not found"))?;

    // 1. The platform's directories (XDG here).
    let xdg = |var: &str| -> PathBuf {
        h.xdg_env()
            .into_iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    let settings = app.invoke("get_settings", json!({})).await?;
    // The journal is the one tlup shares, not in the app's own directory.
    let journal = xdg("XDG_DATA_HOME")
        .join("tl-uploader")
        .join("journal.sqlite3");
    let logs = xdg("XDG_STATE_HOME").join(ID).join("logs");
    ensure!(
        settings["journalPath"] == json!(journal.to_string_lossy()),
        "journal at {}, expected {}",
        settings["journalPath"],
        journal.display()
    );
    ensure!(
        settings["logDir"] == json!(logs.to_string_lossy()),
        "logs in {}, expected {}",
        settings["logDir"],
        logs.display()
    );
    ensure!(settings["endpoint"] == "sandbox", "endpoint: {settings}");
    ensure!(journal.is_file(), "no journal at {}", journal.display());
    let base_url = settings["baseUrl"]
        .as_str()
        .ok_or_else(|| anyhow!("no baseUrl: {settings}"))?
        .to_owned();

    // 2. A second launch, as a file manager's Open With does it: relative names and the
    // launch directory.
    let (file, sha) = h.random_file("handed over.mp4", 6 * MIB + 12_345)?;
    let files_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(files_dir.join("not-a-video"))?;
    // The user is working in another app's window when they Open With.
    let other = DragSource::start(&display, &[&file])?;
    xdotool(&display, OTHER, &["windowfocus", "--sync", "%1"])?;
    ensure!(
        focused_window(&display)? == "e2e drag source",
        "the other window did not take the focus"
    );
    let mut second = Command::new(bin);
    second
        .args(["handed over.mp4", "not-a-video"])
        .current_dir(&files_dir)
        .env("DISPLAY", &display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .envs(h.xdg_env())
        .env("NO_AT_BRIDGE", "1")
        .env_remove("TL_UPLOADER_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = second.spawn().context("cannot start the second instance")?;
    let status = poll(
        "the second instance to hand over its files and exit",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let r = child.try_wait();
            async move { Ok(r?) }
        },
    )
    .await;
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            let _ = child.kill();
            let out = child.wait_with_output()?;
            bail!("{e}; its stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
    };
    ensure!(status.success(), "the second instance exited with {status}");
    let focused = poll(
        "the first window to come forward with the focus",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let name = focused_window(&display);
            async move { Ok(Some(name?).filter(|n| n == "TL Uploader")) }
        },
    )
    .await?;
    drop(other);
    eprintln!("[installed] the second launch exited and {focused:?} has the focus");
    ensure!(
        procs::running(bin) == vec![pid],
        "one instance should run, the first ({pid}); running: {:?}",
        procs::running(bin)
    );

    let row = app
        .wait_row_state(
            Some("handed over.mp4"),
            "completed",
            Duration::from_secs(90),
        )
        .await?;
    let upload = app.upload_named("handed over.mp4").await?;
    ensure!(
        upload["path"] == json!(file.to_string_lossy()),
        "queued as {}, expected {}",
        upload["path"],
        file.display()
    );
    let asset_id = upload["assetId"]
        .as_str()
        .ok_or_else(|| anyhow!("no asset id: {upload}"))?;
    let server_sha =
        ready_asset_sha256(&base_url, E2E_KEY, asset_id, Duration::from_secs(30)).await?;
    ensure!(server_sha == sha, "sha256: server {server_sha}, file {sha}");
    eprintln!("[installed] handed-over file uploaded: asset {asset_id}, sha256 matches ({row})");
    let banners = poll(
        "a banner about the folder",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let text = app
                .js(
                    "return document.getElementById('banners').innerText;",
                    vec![],
                )
                .await?;
            let text = text.as_str().unwrap_or_default().to_owned();
            Ok(text.contains("not-a-video").then_some(text))
        },
    )
    .await?;
    ensure!(banners.contains("directory"), "banner: {banners}");

    // 3. Move and resize the window (there is no window manager: X applies it as asked),
    // then quit with Ctrl+Q from the keyboard.
    let placed = (40, 30, 900, 640);
    xdotool(
        &display,
        TITLE,
        &[
            "windowsize",
            "%@",
            "900",
            "640",
            "windowmove",
            "%@",
            "40",
            "30",
        ],
    )?;
    poll(
        "the window to take its new place",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let g = window_geometry(&display, TITLE);
            async move { Ok((g? == placed).then_some(())) }
        },
    )
    .await?;
    h.screenshots(Some(app), "before-quit").await;
    xdotool(
        &display,
        TITLE,
        &[
            "windowfocus",
            "--sync",
            "%1",
            "key",
            "--clearmodifiers",
            "ctrl+q",
        ],
    )?;
    poll(
        "the app to quit on Ctrl+Q",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async { Ok((!procs::alive(pid)).then_some(())) },
    )
    .await?;

    let state_file = xdg("XDG_CONFIG_HOME").join(ID).join(".window-state.json");
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(&state_file)
            .with_context(|| format!("no window state at {}", state_file.display()))?,
    )?;
    ensure!(
        state["main"]["width"] == 900 && state["main"]["height"] == 640,
        "saved window state: {state}"
    );

    let log_file = logs.join("tl-uploader.log");
    let log = std::fs::read_to_string(&log_file)
        .with_context(|| format!("no log at {}", log_file.display()))?;
    for expected in [
        "TL Uploader 0.1.0 starting",
        "asked to open 2 file(s)",
        "not-a-video",
        "all 7 chunks are in",
        &format!("asset {asset_id} is ready"),
        "quit from the window",
        "TL Uploader exits",
    ] {
        ensure!(log.contains(expected), "the log lacks {expected:?}:\n{log}");
    }
    for secret in ["Signature", "X-Tl-Expires", E2E_KEY_IN_LOG] {
        ensure!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
    eprintln!(
        "[installed] log {} ({} lines), window state {}",
        log_file.display(),
        log.lines().count(),
        state_file.display()
    );
    Ok(())
}

/// What would give the key away in the log: the sandbox's key as a header value.
const E2E_KEY_IN_LOG: &str = "x-api-key";

/// The relaunched window is where and as large as it was left.
async fn second_run(h: &Harness) -> Result<()> {
    let display = h.xvfb.display();
    let g = window_geometry(&display, TITLE)?;
    ensure!(
        g == (40, 30, 900, 640),
        "the window came back at {g:?}, not where it was left (40, 30, 900x640)"
    );
    Ok(())
}

/// Runs `xdotool search --onlyvisible --name PATTERN ARGS…` on `display`; its output.
fn xdotool(display: &str, pattern: &str, args: &[&str]) -> Result<String> {
    run_xdotool(
        display,
        &[&["search", "--onlyvisible", "--name", pattern], args].concat(),
    )
}

/// The name of the window with the keyboard focus.
fn focused_window(display: &str) -> Result<String> {
    Ok(run_xdotool(display, &["getwindowfocus", "getwindowname"])?
        .trim()
        .to_owned())
}

fn run_xdotool(display: &str, args: &[&str]) -> Result<String> {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .context("cannot run xdotool")?;
    ensure!(
        out.status.success(),
        "xdotool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
