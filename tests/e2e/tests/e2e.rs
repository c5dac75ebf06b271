//! TL Uploader end to end: the real app binary under Xvfb, driven through WebDriver, with real
//! X11 drag and drop, app kills and restarts, and the command-line tool. See README.md for
//! how to run them.
//!
//! Every scenario runs in [`Harness::finish`], which leaves `target/e2e-screenshots/<test>.png`
//! (the webview) and `<test>-screen.png` (the whole X screen) whatever the outcome.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use tl_uploader_e2e::{
    App, DragSource, E2E_KEY, GridCounts, Harness, poll, procs, ready_asset_sha256, remote_env,
    test_sandbox, tlup_binary,
};

const MIB: u64 = 1024 * 1024;

/// The embedded sandbox with a known key and 1 MiB chunks, plus `extra` flags.
fn embedded(extra: &str) -> Vec<(&'static str, String)> {
    vec![(
        "TL_UPLOADER_SANDBOX_ARGS",
        format!("--api-key {E2E_KEY} --chunk-size {MIB} {extra}")
            .trim()
            .to_owned(),
    )]
}

/// The base URL the app uses (`get_settings().baseUrl`).
async fn base_url(app: &App) -> Result<String> {
    let settings = app.invoke("get_settings", json!({})).await?;
    settings["baseUrl"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no baseUrl in {settings}"))
}

/// Sets the app's parallel chunks to a fixed `level` through its own settings command, so
/// a test's bounds do not depend on what the automatic level happens to be.
async fn fix_parallelism(app: &App, level: u64) -> Result<()> {
    let settings = app.invoke("get_settings", json!({})).await?;
    let input = json!({
        "endpoint": settings["endpoint"],
        "parallelChunks": { "fixed": level },
        "bandwidthLimit": null,
        "filesAtOnce": settings["filesAtOnce"],
        "fileType": settings["fileType"],
    });
    app.invoke("set_settings", json!({ "settings": input }))
        .await?;
    Ok(())
}

/// Checks that the completed upload `name` produced an asset with the file's SHA-256: the
/// row shows the asset id, and the server's assembled bytes hash to `sha`.
async fn check_asset(app: &App, row: &Value, name: &str, base: &str, sha: &str) -> Result<()> {
    let upload = app.upload_named(name).await?;
    let asset_id = upload["assetId"]
        .as_str()
        .ok_or_else(|| anyhow!("completed upload without assetId: {upload}"))?;
    let shown = row["assetId"].as_str().unwrap_or_default();
    ensure!(
        shown.contains(asset_id),
        "the row shows asset id {shown:?}, the app says {asset_id}"
    );
    let server_sha = ready_asset_sha256(base, E2E_KEY, asset_id, Duration::from_secs(30)).await?;
    ensure!(
        server_sha == sha,
        "sha256 mismatch: server {server_sha}, file {sha}"
    );
    eprintln!("asset {asset_id}: sha256 {sha} matches");
    Ok(())
}

/// Makes the page drop `paths` the way Tauri delivers an OS drop (the webview's
/// `tauri://drag-drop` event), so the UI's own drop handler runs.
async fn synthetic_drop(app: &App, paths: &[&std::path::Path]) -> Result<()> {
    let paths: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let v = app
        .js_async(
            r"const [paths, done] = arguments;
              window.__TAURI__.event
                .emitTo({ kind: 'Webview', label: 'main' }, 'tauri://drag-drop',
                        { paths, position: { x: 300, y: 150 } })
                .then(() => done(true), (e) => done(String(e)));",
            vec![json!(paths)],
        )
        .await?;
    ensure!(v == Value::Bool(true), "emitTo failed: {v}");
    Ok(())
}

// a. A real OS drop ----------------------------------------------------------------------

/// A GTK drag source offers a 6 MiB file as text/uri-list; xdotool drags it onto the drop
/// zone. The upload completes on the embedded sandbox and the server's SHA-256 matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_os_drop_uploads_the_file() -> Result<()> {
    let h = Harness::new("a_real_os_drop_uploads_the_file")?;
    let app = h.launch(&embedded("")).await?;
    let r = real_drop(&h, &app).await;
    h.finish(Some(app), r).await
}

async fn real_drop(h: &Harness, app: &App) -> Result<()> {
    // A name with a space and a non-ASCII letter: the URI is percent-encoded on the way.
    let name = "dropped clip é.mp4";
    let (path, sha) = h.random_file(name, 6 * MIB)?;
    poll(
        "#sandbox-badge to show the sandbox",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            let b = app
                .js(
                    "const b = document.getElementById('sandbox-badge'); \
                     return b && !b.hidden ? b.textContent.trim() : null;",
                    vec![],
                )
                .await?;
            Ok(b.as_str()
                .is_some_and(|t| t.contains("nothing leaves this computer"))
                .then_some(()))
        },
    )
    .await?;

    let mut source = DragSource::start(app.display(), &[&path])?;
    let target = app.screen_centre_of("#drop-zone").await?;
    h.screenshots(None, "before-drop").await;
    let outcome = source.drag_to(target)?;
    eprintln!("drag source: {outcome}");
    ensure!(
        outcome == "drag-end",
        "the drag did not end in a drop: {outcome}"
    );

    let row = app
        .wait_row_state(Some(name), "completed", Duration::from_secs(60))
        .await
        .context("after the drop")?;
    let upload = app.upload_named(name).await?;
    ensure!(
        upload["path"].as_str() == Some(path.to_string_lossy().as_ref()),
        "the dropped path arrived as {} instead of {}",
        upload["path"],
        path.display()
    );
    let dragging = app
        .js(
            "return document.getElementById('drop-zone').classList.contains('dragging');",
            vec![],
        )
        .await?;
    ensure!(
        dragging == false,
        "the drop zone still shows a drag after the drop"
    );
    let base = base_url(app).await?;
    check_asset(app, &row, name, &base, &sha).await
}

// b. The chunk grid -------------------------------------------------------------------------

/// 40 chunks of 1 MiB through a throttled embedded sandbox: at some moment the grid counts
/// uploading, done and pending chunks at once; at the end every chunk is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_chunk_grid_shows_each_chunk_state() -> Result<()> {
    let h = Harness::new("b_chunk_grid_shows_each_chunk_state")?;
    let app = h.launch(&embedded("--bandwidth 1000000")).await?;
    let r = chunk_grid(&h, &app).await;
    h.finish(Some(app), r).await
}

async fn chunk_grid(h: &Harness, app: &App) -> Result<()> {
    let name = "grid.mp4";
    let (path, sha) = h.random_file(name, 40 * MIB)?;
    let added = app
        .invoke("add_uploads", json!({ "paths": [path.to_string_lossy()] }))
        .await?;
    ensure!(
        added[0]["error"].is_null(),
        "add_uploads refused the file: {added}"
    );

    // Sample the grid's counts until one sample has all three states at once.
    let mut samples = 0u32;
    let mut seen: Vec<(u128, GridCounts)> = Vec::new();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(60);
    let mixed = loop {
        samples += 1;
        let c = app.grid_counts().await?;
        if seen.last().map(|s| s.1) != Some(c) {
            seen.push((t0.elapsed().as_millis(), c));
        }
        ensure!(c.state_sum() == c.total, "grid counts do not add up: {c:?}");
        if c.uploading > 0 && c.done > 0 && c.pending > 0 {
            break c;
        }
        if Instant::now() > deadline {
            bail!("the grid never showed uploading, done and pending chunks at once: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "mixed grid: {mixed:?} (after {samples} samples); states seen (ms, counts): {seen:?}"
    );
    ensure!(
        mixed.total == 40,
        "the grid should have 40 cells: {mixed:?}"
    );
    h.screenshots(Some(app), "mid").await;

    let row = app
        .wait_row_state(Some(name), "completed", Duration::from_secs(120))
        .await?;
    let end = poll(
        "the grid to show every chunk done",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let c = app.grid_counts().await?;
            Ok((c.total == 40 && c.done == c.total).then_some(c))
        },
    )
    .await?;
    eprintln!("final grid: {end:?}");
    let base = base_url(app).await?;
    check_asset(app, &row, name, &base, &sha).await
}

trait Sum {
    fn state_sum(&self) -> u64;
}

impl Sum for GridCounts {
    fn state_sum(&self) -> u64 {
        self.pending + self.uploading + self.retrying + self.stored + self.done + self.failed
    }
}

// c. Kill the app mid-upload, start it again, resume --------------------------------------

/// The app is SIGKILLed mid-upload to a sandbox of the test process; started again on the
/// same data directory it offers to resume, "Resume all" finishes the upload with the right
/// bytes, and the server received at most the file plus five chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_killed_app_resumes_after_restart() -> Result<()> {
    let h = Harness::new("c_killed_app_resumes_after_restart")?;
    let sandbox = test_sandbox(MIB, Some(1_000_000))?;
    let app = h.launch(&remote_env(&sandbox)).await?;
    let name = "interrupted.mp4";
    let size = 24 * MIB;
    let (path, sha) = h.random_file(name, size)?;
    let first = kill_mid_upload(&h, &app, &path, name, &sandbox).await;
    if let Err(e) = first {
        return h.finish(Some(app), Err(e)).await;
    }
    app.abandon();

    let app = h.launch(&remote_env(&sandbox)).await?;
    let r = resume_all(&app, name, size, &sha, &sandbox).await;
    h.finish(Some(app), r).await
}

async fn kill_mid_upload(
    h: &Harness,
    app: &App,
    path: &std::path::Path,
    name: &str,
    sandbox: &tl_sandbox::SandboxHandle,
) -> Result<()> {
    // Five chunks at a time, so the bound below is exact: what a kill can cost is the chunks
    // in flight, and the automatic level may be anything.
    fix_parallelism(app, 5).await?;
    let added = app
        .invoke("add_uploads", json!({ "paths": [path.to_string_lossy()] }))
        .await?;
    ensure!(
        added[0]["error"].is_null(),
        "add_uploads refused the file: {added}"
    );
    let progress = poll(
        "some chunks to be done",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let u = app.upload_named(name).await?;
            let done = u["completedChunks"].as_u64().unwrap_or(0);
            Ok((done >= 5).then_some(u))
        },
    )
    .await?;
    let total = progress["totalChunks"].as_u64().unwrap_or(0);
    let done = progress["completedChunks"].as_u64().unwrap_or(0);
    ensure!(
        done < total,
        "the upload finished before it could be killed: {progress}"
    );
    h.screenshots(Some(app), "before-kill").await;
    app.kill_app().await?;
    let stats = sandbox.stats();
    eprintln!(
        "killed the app at {done}/{total} chunks; sandbox: {} PUTs completed, {} bytes received",
        stats.puts_completed, stats.bytes_received
    );
    Ok(())
}

async fn resume_all(
    app: &App,
    name: &str,
    size: u64,
    sha: &str,
    sandbox: &tl_sandbox::SandboxHandle,
) -> Result<()> {
    poll(
        "#resume-offer to show",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async { Ok(app.visible("#resume-offer").await?.then_some(())) },
    )
    .await?;
    let text = app
        .js(
            "return document.getElementById('resume-offer').innerText;",
            vec![],
        )
        .await?;
    eprintln!("resume offer: {text}");
    sandbox.set_bandwidth(None);
    app.click("#resume-all").await?;
    let row = app
        .wait_row_state(Some(name), "completed", Duration::from_secs(60))
        .await?;
    check_asset(app, &row, name, &sandbox.base_url(), sha).await?;
    let stats = sandbox.stats();
    // At most the chunks in flight at the kill are lost (the journal records each stored
    // chunk before anything else happens). Over loopback a whole 1 MiB chunk fits in the
    // socket buffers, so each of the 5 chunks this test allows in flight usually reaches the
    // server in full after the kill and is sent again: the total is then exactly file + 5
    // chunks.
    let limit = size + 5 * MIB;
    eprintln!(
        "sandbox received {} bytes in all for a {size}-byte file (limit {limit}); {} PUTs received, {} completed, {} sessions",
        stats.bytes_received, stats.puts_received, stats.puts_completed, stats.sessions_created
    );
    ensure!(
        stats.sessions_created == 1,
        "the resume created a new session instead of resuming: {stats:?}"
    );
    ensure!(
        stats.bytes_received <= limit,
        "the sandbox received {} bytes, more than the file plus five chunks ({limit})",
        stats.bytes_received
    );
    Ok(())
}

// d. A session started by tlup, resumed from the incomplete-uploads view -----------------

/// tlup uploads into the app's journal and is SIGKILLed after some chunks; the app lists the
/// session under "Incomplete uploads" and its Resume button finishes it (the journal knows
/// the file, so no dialog).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_tlup_session_resumes_from_the_sessions_view() -> Result<()> {
    let h = Harness::new("d_tlup_session_resumes_from_the_sessions_view")?;
    let sandbox = test_sandbox(MIB, Some(1_000_000))?;
    let name = "from-tlup.mp4";
    let (path, sha) = h.random_file(name, 20 * MIB)?;
    let upload_id = tlup_then_kill(&h, &path, &sandbox).await?;
    let app = h.launch(&remote_env(&sandbox)).await?;
    let r = resume_from_sessions(&h, &app, &upload_id, name, &sha, &sandbox).await;
    h.finish(Some(app), r).await
}

/// Runs tlup on the app's journal until a few chunks are stored, SIGKILLs it, and returns
/// the session's upload id.
async fn tlup_then_kill(
    h: &Harness,
    path: &std::path::Path,
    sandbox: &tl_sandbox::SandboxHandle,
) -> Result<String> {
    let journal = h.data_dir().join("journal.sqlite3");
    let mut child = tlup_upload(sandbox, &journal, path)?
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run tlup")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut upload_id: Option<String> = None;
    let mut last_line = String::new();
    let result = poll(
        "tlup to store some chunks",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            while let Ok(line) = rx.try_recv() {
                if upload_id.is_none()
                    && let Ok(v) = serde_json::from_str::<Value>(&line)
                    && let Some(id) = v["upload_id"].as_str()
                {
                    upload_id = Some(id.to_owned());
                }
                last_line = line;
            }
            let stats = sandbox.stats();
            let exited = child.try_wait();
            async move {
                if let Ok(Some(status)) = exited {
                    bail!("tlup exited early ({status})");
                }
                Ok((stats.puts_completed >= 5 && stats.reports_received >= 1).then_some(stats))
            }
        },
    )
    .await;
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let stats = result.with_context(|| format!("tlup's last line: {last_line}"))?;
    eprintln!(
        "killed tlup after {:.1} s: {} PUTs completed, {} reports; last line {last_line}",
        started.elapsed().as_secs_f64(),
        stats.puts_completed,
        stats.reports_received
    );
    ensure!(
        journal.is_file(),
        "tlup wrote no journal at {}",
        journal.display()
    );
    // The server's list of incomplete sessions names the one to expect.
    let (status, list) = tl_uploader_e2e::http::get_json(
        &format!("{}/assets/multipart-uploads", sandbox.base_url()),
        E2E_KEY,
    )?;
    ensure!(status == 200, "listing sessions: {status} {list}");
    let from_server = list["data"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|s| s["upload_id"].as_str())
        .map(str::to_owned);
    match (upload_id, from_server) {
        (Some(a), Some(b)) if a != b => bail!("tlup said session {a}, the server lists {b}"),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => bail!("no session id from tlup or the server: {list}"),
    }
}

async fn resume_from_sessions(
    h: &Harness,
    app: &App,
    upload_id: &str,
    name: &str,
    sha: &str,
    sandbox: &tl_sandbox::SandboxHandle,
) -> Result<()> {
    let row_css = format!("#sessions li.session[data-upload-id=\"{upload_id}\"]");
    let state = poll(
        "the tlup session in #sessions",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let v = app
                .js(
                    "const li = document.querySelector(arguments[0]); \
                     return li ? [li.dataset.state, li.innerText] : null;",
                    vec![json!(row_css)],
                )
                .await?;
            Ok((!v.is_null()).then_some(v))
        },
    )
    .await?;
    eprintln!("session row: {state}");
    ensure!(
        state[0] == "resumable",
        "the tlup session should be resumable: {state}"
    );
    ensure!(
        state[1].as_str().is_some_and(|t| t.contains(name)),
        "the session row should name the file {name}: {state}"
    );
    h.screenshots(Some(app), "sessions").await;
    sandbox.set_bandwidth(None);
    app.click(&format!("{row_css} .resume-session")).await?;
    let row = app
        .wait_row_state(Some(name), "completed", Duration::from_secs(60))
        .await?;
    check_asset(app, &row, name, &sandbox.base_url(), sha).await?;
    ensure!(
        sandbox.stats().sessions_created == 1,
        "resuming created a new session: {:?}",
        sandbox.stats()
    );
    poll(
        "the finished session to leave #sessions",
        Duration::from_secs(15),
        Duration::from_millis(200),
        || async {
            let v = app
                .js(
                    "const li = document.querySelector(arguments[0]); \
                     return li ? li.dataset.state : null;",
                    vec![json!(row_css)],
                )
                .await?;
            Ok((v.is_null() || v == "completed").then_some(()))
        },
    )
    .await
}

// e. Bad input ------------------------------------------------------------------------------

/// A directory and an empty file dropped on the window each give a clear error banner and
/// no upload; a good file dropped afterwards still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_bad_input_shows_an_error_and_nothing_breaks() -> Result<()> {
    let h = Harness::new("e_bad_input_shows_an_error_and_nothing_breaks")?;
    let app = h.launch(&embedded("")).await?;
    let r = bad_input(&h, &app).await;
    h.finish(Some(app), r).await
}

async fn bad_input(h: &Harness, app: &App) -> Result<()> {
    let dir = h.file("a folder");
    std::fs::create_dir_all(&dir)?;
    let empty = h.file("empty.mp4");
    std::fs::write(&empty, b"")?;
    synthetic_drop(app, &[&dir, &empty]).await?;
    let banners = poll(
        "error banners for the folder and the empty file",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            let v = app
                .js(
                    "return [...document.querySelectorAll('#banners .banner.error')] \
                       .map((b) => [b.dataset.code, b.innerText]);",
                    vec![],
                )
                .await?;
            let all = v.as_array().cloned().unwrap_or_default();
            let text = all
                .iter()
                .map(|b| b[1].as_str().unwrap_or_default().to_lowercase())
                .collect::<Vec<_>>()
                .join(" | ");
            let folder = text.contains("folder") || text.contains("directory");
            Ok((folder && text.contains("empty")).then_some(all))
        },
    )
    .await?;
    eprintln!("banners: {}", Value::Array(banners.clone()));
    ensure!(
        banners.iter().all(|b| b[0] == "invalid"),
        "bad input should be reported as invalid: {banners:?}"
    );
    let rows = app.queue_rows().await?;
    ensure!(rows.is_empty(), "bad input must not be queued: {rows:?}");

    let name = "good.mp4";
    let (good, sha) = h.random_file(name, 3 * MIB)?;
    synthetic_drop(app, &[&good]).await?;
    let row = app
        .wait_row_state(Some(name), "completed", Duration::from_secs(60))
        .await?;
    let rows = app.queue_rows().await?;
    ensure!(
        rows.len() == 1,
        "only the good file should be queued: {rows:?}"
    );
    let base = base_url(app).await?;
    check_asset(app, &row, name, &base, &sha).await
}

// f. Measurements ---------------------------------------------------------------------------

/// A 1 GiB upload to the embedded sandbox (`--storage discard`, 5 MiB chunks, throttled to
/// 25 MB/s per connection so it lasts long enough to measure): the worst gap between
/// animation frames and the `list_uploads` round trip while the grid updates, then the
/// app's idle CPU use over 10 s. Prints them; asserts only that they were measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f_measure_frames_ipc_and_idle_cpu() -> Result<()> {
    let h = Harness::new("f_measure_frames_ipc_and_idle_cpu")?;
    let app = h
        .launch(&[(
            "TL_UPLOADER_SANDBOX_ARGS",
            format!("--api-key {E2E_KEY} --storage discard --bandwidth 25000000"),
        )])
        .await?;
    let r = measure(&h, &app).await;
    h.finish(Some(app), r).await
}

/// The in-page measurement: requestAnimationFrame deltas for `ms` milliseconds, and the
/// round trip of `invoke('list_uploads')` every 50 ms meanwhile.
const MEASURE_JS: &str = r"
const [ms, done] = arguments;
const grid = document.getElementById('chunk-grid');
const doneAt = () => Number(grid.getAttribute('data-done'));
const doneBefore = doneAt();
const invoke = window.__TAURI__.core.invoke;
const gaps = [];
const rtts = [];
const t0 = performance.now();
let last = null;
let framesOver = false;
function frame(t) {
  if (last !== null) gaps.push(t - last);
  last = t;
  if (performance.now() - t0 < ms) requestAnimationFrame(frame);
  else framesOver = true;
}
requestAnimationFrame(frame);
(async () => {
  while (performance.now() - t0 < ms) {
    const s = performance.now();
    await invoke('list_uploads');
    rtts.push(performance.now() - s);
    await new Promise((r) => setTimeout(r, 50));
  }
  const finish = () => framesOver
    ? done({ gaps, rtts, doneBefore, doneAfter: doneAt() })
    : setTimeout(finish, 20);
  finish();
})().catch((e) => done({ error: String(e) }));
";

async fn measure(h: &Harness, app: &App) -> Result<()> {
    // When the page's first animation frame ran, counted from the start of its navigation.
    let first_frame = app
        .js_async(
            "const done = arguments[0]; requestAnimationFrame(() => done(performance.now()));",
            vec![],
        )
        .await?
        .as_f64()
        .unwrap_or(f64::NAN);
    let name = "one-gib.mp4";
    let t = Instant::now();
    let (path, _) = h.random_file(name, 1024 * MIB)?;
    eprintln!("wrote 1 GiB in {:.1} s", t.elapsed().as_secs_f64());
    let started = Instant::now();
    app.invoke("add_uploads", json!({ "paths": [path.to_string_lossy()] }))
        .await?;
    poll(
        "the 1 GiB upload to be under way",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let c = app.grid_counts().await?;
            Ok((c.total > 0 && c.done > 0).then_some(()))
        },
    )
    .await?;
    let pid = app.pid().ok_or_else(|| anyhow!("no app process"))?;
    let web = app.web_pids();
    let hz = procs::ticks_per_second() as f64;
    let ticks = |pids: &[u32]| {
        pids.iter()
            .filter_map(|&p| procs::cpu_ticks(p))
            .sum::<u64>()
    };
    let (busy_a0, busy_w0, busy_t0) = (ticks(&[pid]), ticks(&web), Instant::now());
    let m = app.js_async(MEASURE_JS, vec![json!(5000)]).await?;
    let busy_secs = busy_t0.elapsed().as_secs_f64();
    let busy_app = (ticks(&[pid]) - busy_a0) as f64 / hz / busy_secs * 100.0;
    let busy_web = (ticks(&web) - busy_w0) as f64 / hz / busy_secs * 100.0;
    if let Some(e) = m.get("error") {
        bail!("the measurement script failed: {e}");
    }
    let mut gaps = floats(&m["gaps"]);
    let mut rtts = floats(&m["rtts"]);
    ensure!(
        gaps.len() > 10,
        "too few animation frames measured: {}",
        gaps.len()
    );
    ensure!(
        rtts.len() > 10,
        "too few IPC round trips measured: {}",
        rtts.len()
    );
    gaps.sort_by(f64::total_cmp);
    rtts.sort_by(f64::total_cmp);
    let worst_gap = gaps[gaps.len() - 1];
    let (rtt_median, rtt_worst) = (rtts[rtts.len() / 2], rtts[rtts.len() - 1]);
    let grid_moved =
        m["doneAfter"].as_f64().unwrap_or(0.0) - m["doneBefore"].as_f64().unwrap_or(0.0);
    let mean_gap = gaps.iter().sum::<f64>() / gaps.len() as f64;

    let row = app
        .wait_row_state(Some(name), "completed", Duration::from_secs(300))
        .await?;
    let upload_secs = started.elapsed().as_secs_f64();
    eprintln!("1 GiB upload completed in {upload_secs:.1} s: {row}");

    // Idle: nothing queued or moving. The row is completed; give the UI its last frames.
    tokio::time::sleep(Duration::from_secs(2)).await; // measurement design: skip the settling
    let (a0, w0, t0) = (ticks(&[pid]), ticks(&web), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await; // the measured idle period
    let (a1, w1, secs) = (ticks(&[pid]), ticks(&web), t0.elapsed().as_secs_f64());
    let idle_app = (a1 - a0) as f64 / hz / secs * 100.0;
    let idle_web = (w1 - w0) as f64 / hz / secs * 100.0;
    // The same frame and IPC measurement with nothing moving, to tell the upload's cost
    // from the machine's.
    let quiet = app.js_async(MEASURE_JS, vec![json!(3000)]).await?;
    let mut quiet_gaps = floats(&quiet["gaps"]);
    let mut quiet_rtts = floats(&quiet["rtts"]);
    quiet_gaps.sort_by(f64::total_cmp);
    quiet_rtts.sort_by(f64::total_cmp);
    let quiet_gap = quiet_gaps.last().copied().unwrap_or(f64::NAN);
    let quiet_rtt = quiet_rtts
        .get(quiet_rtts.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let line = format!(
        "e2e measure: worst frame gap {worst_gap:.1} ms, IPC round trip median {rtt_median:.1} ms / worst {rtt_worst:.1} ms, idle CPU {idle_app:.1} %"
    );
    let detail = format!(
        "e2e measure detail: first animation frame {first_frame:.0} ms after navigation start; {} frames in 5 s (mean gap {mean_gap:.1} ms), {} IPC calls, grid advanced {grid_moved} chunks meanwhile; CPU meanwhile: app {busy_app:.0} %, web processes {busy_web:.0} %; 1 GiB upload {upload_secs:.1} s at 25 MB/s per connection; idle CPU of the web processes {idle_web:.1} % ({} pids); idle page: worst frame gap {quiet_gap:.1} ms over {} frames, IPC median {quiet_rtt:.1} ms; load average {}",
        gaps.len() + 1,
        rtts.len(),
        web.len(),
        quiet_gaps.len() + 1,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    report(&format!("{line}\n{detail}\n"));
    ensure!(worst_gap.is_finite() && rtt_worst.is_finite() && idle_app.is_finite());
    Ok(())
}

// g. Two files at once ----------------------------------------------------------------------

/// Two files through a throttled embedded sandbox, driven by the rows' own buttons: both
/// upload at the same time (the engine lets the second in while the first leaves slots
/// free), pausing the second does not stop the first, the resumed second goes on in its own
/// session, and both end completed with the right bytes.
///
/// The second is the one paused because it is the one sure to have chunks not yet started
/// when both are in flight: the first keeps priority for slots, so by the time the second
/// has any, the first may have started all of its own (and a pause lets chunks in flight
/// land).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_two_files_upload_at_once_and_pause_alone() -> Result<()> {
    let h = Harness::new("g_two_files_upload_at_once_and_pause_alone")?;
    let app = h.launch(&embedded("--bandwidth 500000")).await?;
    let r = two_at_once(&h, &app).await;
    h.finish(Some(app), r).await
}

async fn two_at_once(h: &Harness, app: &App) -> Result<()> {
    // A fixed level, so both rows must show the same number however far apart they are
    // read. 24 chunks each at 0.5 MB/s per connection: a chunk takes two seconds, so the
    // two files overlap for seconds, not for a moment a slow machine could miss.
    const LEVEL: u64 = 6;
    fix_parallelism(app, LEVEL).await?;
    let (first, first_sha) = h.random_file("first-long.mp4", 24 * MIB)?;
    let (second, second_sha) = h.random_file("second-long.mp4", 24 * MIB)?;
    let added = app
        .invoke(
            "add_uploads",
            json!({ "paths": [first.to_string_lossy(), second.to_string_lossy()] }),
        )
        .await?;
    ensure!(
        added
            .as_array()
            .is_some_and(|a| a.iter().all(|r| r["error"].is_null())),
        "add_uploads refused a file: {added}"
    );
    let in_flight = |u: &Value| u["inFlight"].as_array().map_or(0, Vec::len);
    let (first_row, second_row) = poll(
        "both files to have chunks in flight at the same time",
        Duration::from_secs(90),
        Duration::from_millis(100),
        || async {
            let a = app.upload_named("first-long.mp4").await?;
            let b = app.upload_named("second-long.mp4").await?;
            Ok((in_flight(&a) > 0 && in_flight(&b) > 0).then_some((a, b)))
        },
    )
    .await?;
    let second_css = format!(
        "#queue li.upload[data-id=\"{}\"]",
        second_row["id"].as_str().unwrap_or_default()
    );
    app.click(&format!("{second_css} button.pause")).await?;
    ensure!(
        first_row["parallelism"].as_u64() == Some(LEVEL)
            && second_row["parallelism"].as_u64() == Some(LEVEL),
        "both rows show the process's parallelism, {LEVEL}: {first_row} / {second_row}"
    );
    app.wait_row_state(Some("second-long.mp4"), "paused", Duration::from_secs(20))
        .await?;
    h.screenshots(Some(app), "two-at-once").await;
    // Chunks in flight at the pause may still land and be reported; once every chunk is
    // either done or pending in the grid (`d`/`p`), no new one starts.
    let settled = |u: &Value| {
        u["chunks"]
            .as_str()
            .is_some_and(|c| c.chars().all(|s| s == 'd' || s == 'p'))
    };
    let paused = poll(
        "the paused file's chunks in flight to land and be reported",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let row = app.upload_named("second-long.mp4").await?;
            Ok(settled(&row).then_some(row))
        },
    )
    .await?;
    let held = paused["completedChunks"].as_u64().unwrap_or(u64::MAX);
    // The first goes on to the end while the second stays paused.
    let first_done = app
        .wait_row_state(
            Some("first-long.mp4"),
            "completed",
            Duration::from_secs(120),
        )
        .await?;
    let still = app.upload_named("second-long.mp4").await?;
    let after = still["completedChunks"].as_u64().unwrap_or(u64::MAX);
    ensure!(
        still["state"] == "paused" && held < 24 && after == held,
        "the paused file stayed paused, {held} chunks done, while the other finished: {still}"
    );
    ensure!(
        still["uploadId"].is_string(),
        "the paused file kept its session: {still}"
    );

    app.click(&format!("{second_css} button.resume")).await?;
    let second_done = app
        .wait_row_state(
            Some("second-long.mp4"),
            "completed",
            Duration::from_secs(120),
        )
        .await?;
    let ended = app.upload_named("second-long.mp4").await?;
    ensure!(
        ended["uploadId"] == paused["uploadId"],
        "the second file should finish its own session: {ended}"
    );
    let base = base_url(app).await?;
    check_asset(app, &first_done, "first-long.mp4", &base, &first_sha).await?;
    check_asset(app, &second_done, "second-long.mp4", &base, &second_sha).await
}

// h. The app on an emulated long-haul link ---------------------------------------------------

/// The same file through the same emulated link (1.5 MB/s per connection, 50 ms per request,
/// 100 Mbit/s shared), first with `tlup`, then with the app; the app's rate is read from its
/// own numbers (the rows' `bytesPerSecond` and the time from its first chunk to the end of
/// the transfer) and must be within a quarter of tlup's. Both figures are reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h_the_app_fills_an_emulated_long_haul_link_like_tlup() -> Result<()> {
    let h = Harness::new("h_the_app_fills_an_emulated_long_haul_link_like_tlup")?;
    let sandbox = tl_uploader_e2e::link_sandbox(5 * MIB, 1_500_000, 50, 12_500_000)?;
    let (path, sha) = h.random_file("long-haul.mp4", 96 * MIB)?;
    let tlup_rate = tlup_rate(&h, &sandbox, &path)?;
    let app = h.launch(&remote_env(&sandbox)).await?;
    let r = app_rate(&h, &app, &path, &sha, tlup_rate).await;
    h.finish(Some(app), r).await
}

/// tlup's rate through `sandbox`: bytes over its own `transfer_seconds`.
fn tlup_rate(
    h: &Harness,
    sandbox: &tl_sandbox::SandboxHandle,
    path: &std::path::Path,
) -> Result<f64> {
    let out = tlup_upload(sandbox, &h.file("tlup-journal.sqlite3"), path)?.output()?;
    ensure!(
        out.status.success(),
        "tlup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "result")
        .ok_or_else(|| anyhow!("no result from tlup: {stdout}"))?;
    let bytes = result["total_bytes"].as_f64().unwrap_or(0.0);
    let seconds = result["transfer_seconds"].as_f64().unwrap_or(f64::INFINITY);
    Ok(bytes / seconds)
}

async fn app_rate(
    h: &Harness,
    app: &App,
    path: &std::path::Path,
    sha: &str,
    tlup_rate: f64,
) -> Result<()> {
    app.invoke("add_uploads", json!({ "paths": [path.to_string_lossy()] }))
        .await?;
    let mut shown = Vec::new();
    let mut first_chunk: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (ended, total) = loop {
        ensure!(
            Instant::now() < deadline,
            "the upload did not finish in 120 s"
        );
        let u = app.upload_named("long-haul.mp4").await?;
        let state = u["state"].as_str().unwrap_or_default().to_owned();
        if state == "uploading" && first_chunk.is_none() && u["bytesSent"].as_u64().unwrap_or(0) > 0
        {
            first_chunk = Some(Instant::now());
        }
        if state == "uploading" {
            shown.push(u["bytesPerSecond"].as_f64().unwrap_or(0.0));
        }
        if matches!(state.as_str(), "processing" | "completed") {
            break (Instant::now(), u["totalBytes"].as_f64().unwrap_or(0.0));
        }
        ensure!(
            state != "failed" && state != "cancelled",
            "the upload ended {state}: {u}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let started = first_chunk.ok_or_else(|| anyhow!("never saw the upload sending"))?;
    let app_rate = total / ended.duration_since(started).as_secs_f64();
    // The UI's own rate once the link is full: the median of the second half of the upload.
    let mut late: Vec<f64> = shown[shown.len() / 2..].to_vec();
    late.sort_by(f64::total_cmp);
    let ui_rate = late.get(late.len() / 2).copied().unwrap_or(0.0);
    report(&format!(
        "h: long-haul emulator (1.5 MB/s per connection, 50 ms, 12.5 MB/s link), 96 MiB: \
         tlup {:.2} MB/s ({:.2} of the link); app {:.2} MB/s first chunk to transferred \
         ({:.2} of the link), the UI's shown rate {:.2} MB/s (median of the second half)\n",
        tlup_rate / 1e6,
        tlup_rate / 12.5e6,
        app_rate / 1e6,
        app_rate / 12.5e6,
        ui_rate / 1e6,
    ));
    ensure!(
        app_rate >= 0.75 * tlup_rate && ui_rate >= 0.75 * tlup_rate,
        "the app moved {app_rate:.0} B/s (shown {ui_rate:.0}) against tlup's {tlup_rate:.0}"
    );
    h.screenshots(Some(app), "long-haul").await;
    let row = app
        .wait_row_state(Some("long-haul.mp4"), "completed", Duration::from_secs(60))
        .await?;
    let base = base_url(app).await?;
    check_asset(app, &row, "long-haul.mp4", &base, sha).await
}

/// `tlup --json upload PATH` against `sandbox` with its own `journal`, none of the
/// environment's API settings, and no stdin.
fn tlup_upload(
    sandbox: &tl_sandbox::SandboxHandle,
    journal: &std::path::Path,
    path: &std::path::Path,
) -> Result<Command> {
    let mut cmd = Command::new(tlup_binary()?);
    cmd.arg("--base-url")
        .arg(sandbox.base_url())
        .args(["--api-key", E2E_KEY, "--json", "--journal"])
        .arg(journal)
        .arg("upload")
        .arg(path)
        .env_remove("TWELVELABS_API_KEY")
        .env_remove("TWELVELABS_BASE_URL")
        .env_remove("TLUP_JOURNAL")
        .stdin(Stdio::null());
    Ok(cmd)
}

/// Prints past the test harness's capture (straight to stderr, so the lines show in any
/// `cargo test` log) and appends to `target/e2e-screenshots/measurements.txt`.
fn report(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(text.as_bytes());
    let dir = tl_uploader_e2e::screenshot_dir();
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("measurements.txt"))
    {
        let _ = f.write_all(text.as_bytes());
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

// i. The network goes away -------------------------------------------------------------------

/// One upload from the app through a sandbox in the test process, while the network goes
/// away three times, one of each kind: connections refused, reset mid-body, and a blackhole
/// (accepted, never answered) long enough for the app's 30-second stall limit to notice.
/// Each time the row says it waits for the network, since when, and goes on by itself; the
/// upload completes with the right bytes, no retry spent, and what was sent twice is at
/// most the chunks in flight when each outage began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i_the_app_waits_for_the_network_and_goes_on_by_itself() -> Result<()> {
    let h = Harness::new("i_the_app_waits_for_the_network_and_goes_on_by_itself")?;
    let sandbox = tl_uploader_e2e::test_sandbox(MIB, Some(1_000_000))?;
    let app = h.launch(&remote_env(&sandbox)).await?;
    let r = outages(&h, &app, &sandbox).await;
    h.finish(Some(app), r).await
}

async fn outages(h: &Harness, app: &App, sandbox: &tl_sandbox::SandboxHandle) -> Result<()> {
    use tl_sandbox::OutageKind;
    const LEVEL: u64 = 4;
    const CHUNKS: u64 = 40;
    fix_parallelism(app, LEVEL).await?;
    let (path, sha) = h.random_file("outages.mp4", CHUNKS * MIB)?;
    let added = app
        .invoke("add_uploads", json!({ "paths": [path.to_string_lossy()] }))
        .await?;
    ensure!(
        added[0]["error"].is_null(),
        "add_uploads refused the file: {added}"
    );
    // Two minutes each unless ended sooner: each is ended once the row has shown the wait
    // for a few seconds (a blackhole is noticed only after the app's 30-second stall limit
    // and a probe that gets no answer).
    let kinds = [OutageKind::Refuse, OutageKind::Reset, OutageKind::Blackhole];
    let outage = Duration::from_secs(120);
    let mut in_flight_at_outages = 0;
    let mut done_before = 0;
    for (n, kind) in kinds.into_iter().enumerate() {
        // Some chunks go up after the last outage, so each begins mid-transfer.
        let before = poll(
            &format!("more chunks reported before the {kind} outage"),
            Duration::from_secs(90),
            Duration::from_millis(100),
            || async {
                let row = app.upload_named("outages.mp4").await?;
                let done = row["completedChunks"].as_u64().unwrap_or(0);
                Ok((row["state"] == "uploading" && done >= done_before + 3).then_some(row))
            },
        )
        .await?;
        in_flight_at_outages += before["inFlight"].as_array().map_or(0, Vec::len) as u64;
        sandbox.start_outage(kind, outage);
        let waiting = poll(
            &format!("the row to wait for the network ({kind})"),
            outage + Duration::from_secs(40),
            Duration::from_millis(100),
            || async {
                let row = app.upload_named("outages.mp4").await?;
                Ok((row["state"] == "waitingForNetwork").then_some(row))
            },
        )
        .await?;
        ensure!(
            waiting["offlineSinceMs"].as_u64().is_some(),
            "the row says since when it waits: {waiting}"
        );
        let row_css = format!(
            "#queue li.upload[data-id=\"{}\"]",
            waiting["id"].as_str().unwrap_or_default()
        );
        // The page hears of it with its next progress event.
        poll(
            "the row to tell the user it waits for the network",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || async {
                let text = app
                    .js(
                        "const r = document.querySelector(arguments[0]); return r ? r.textContent : '';",
                        vec![json!(row_css)],
                    )
                    .await?;
                Ok(text
                    .as_str()
                    .is_some_and(|t| t.to_lowercase().contains("waiting for network since"))
                    .then_some(()))
            },
        )
        .await?;
        if n == 0 {
            h.screenshots(Some(app), "waiting-for-network").await;
        }
        // While the network is gone the row keeps waiting: nothing fails, nothing moves.
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            let row = app.upload_named("outages.mp4").await?;
            ensure!(
                row["state"] == "waitingForNetwork",
                "the row stopped waiting while the network was still gone: {row}"
            );
        }
        sandbox.end_outage();
        let back = poll(
            &format!("the upload to go on by itself after the {kind} outage"),
            Duration::from_secs(60),
            Duration::from_millis(100),
            || async {
                let row = app.upload_named("outages.mp4").await?;
                let moving = row["state"] == "uploading"
                    || row["state"] == "processing"
                    || row["state"] == "completed"
                    || row["state"] == "confirming";
                Ok(moving.then_some(row))
            },
        )
        .await?;
        done_before = back["completedChunks"].as_u64().unwrap_or(0);
    }
    let done = app
        .wait_row_state(Some("outages.mp4"), "completed", Duration::from_secs(120))
        .await?;
    let ended = app.upload_named("outages.mp4").await?;
    ensure!(
        ended["retries"].as_u64() == Some(0),
        "time offline spent no retries: {ended}"
    );
    let resent = sandbox.stats().bytes_received.saturating_sub(CHUNKS * MIB);
    eprintln!(
        "i: three outages (refused, reset, blackhole): {:.1} MiB sent twice, {} chunks were in flight when they began",
        resent as f64 / MIB as f64,
        in_flight_at_outages
    );
    ensure!(
        // One more chunk per outage may have started between the last snapshot and it.
        resent <= (in_flight_at_outages + kinds.len() as u64) * MIB,
        "sent twice: {resent} bytes, more than the {in_flight_at_outages} chunks in flight at the outages"
    );
    let base = base_url(app).await?;
    check_asset(app, &done, "outages.mp4", &base, &sha).await
}

/// A corporate network: the app takes the proxy from `HTTPS_PROXY`, and Settings shows it —
/// its host only, never the credentials in the variable. The proxy refuses, so the sessions
/// view says the API cannot be reached, naming the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn j_settings_show_the_proxy_in_use() -> Result<()> {
    let h = Harness::new("j_settings_show_the_proxy_in_use")?;
    // A port nothing listens on: the proxy refuses every connection.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let env = vec![
        ("TWELVELABS_API_KEY", "not-a-real-key".to_owned()),
        (
            "TWELVELABS_BASE_URL",
            "https://api.twelvelabs.invalid/v1.3".to_owned(),
        ),
        (
            "HTTPS_PROXY",
            format!("http://someone:hunter2@127.0.0.1:{closed}"),
        ),
    ];
    let app = h.launch(&env).await?;
    let r = proxy_shown(&h, &app, closed).await;
    h.finish(Some(app), r).await
}

async fn proxy_shown(h: &Harness, app: &App, port: u16) -> Result<()> {
    let settings = app.invoke("get_settings", json!({})).await?;
    let host = format!("127.0.0.1:{port}");
    ensure!(
        settings["proxy"] == json!({ "host": host, "source": "HTTPS_PROXY" }),
        "get_settings names the proxy and its source: {settings}"
    );
    ensure!(
        !settings.to_string().contains("hunter2") && !settings.to_string().contains("someone"),
        "no credentials cross IPC: {settings}"
    );
    app.js(
        "document.getElementById('settings-button').click();",
        vec![],
    )
    .await?;
    let shown = poll(
        "Settings to show the proxy",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let text = app
                .js(
                    "const d = document.getElementById('settings'); \
                     const p = document.getElementById('settings-proxy'); \
                     return d && d.open && p ? p.textContent : null;",
                    vec![],
                )
                .await?;
            Ok(text.as_str().filter(|t| !t.is_empty()).map(str::to_owned))
        },
    )
    .await?;
    ensure!(
        shown == format!("Through the proxy {host} (from HTTPS_PROXY)"),
        "the Network section says which proxy: {shown:?}"
    );
    let page = app.js("return document.body.innerText;", vec![]).await?;
    ensure!(
        !page.as_str().unwrap_or_default().contains("hunter2"),
        "the page never shows the proxy's password"
    );
    app.js(
        "document.getElementById('settings-proxy').scrollIntoView({ block: 'center' });",
        vec![],
    )
    .await?;
    h.screenshots(Some(app), "settings-proxy").await;
    app.js("document.getElementById('settings-close').click();", vec![])
        .await?;
    // The account's sessions cannot be listed: the error names the proxy it went through.
    let through = format!("through the proxy http://{host}");
    poll(
        "the sessions view to say the proxy could not be reached",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let text = app.js("return document.body.innerText;", vec![]).await?;
            let text = text.as_str().unwrap_or_default().to_owned();
            ensure!(
                !text.contains("hunter2"),
                "the page shows the proxy's password"
            );
            Ok(text.contains(&through).then_some(()))
        },
    )
    .await?;
    h.screenshots(Some(app), "proxy-refused").await;
    Ok(())
}
