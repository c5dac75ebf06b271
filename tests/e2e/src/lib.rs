//! The harness of TL Uploader's end-to-end tests.
//!
//! Each test gets a [`Harness`]: its own Xvfb display, a temporary directory (the app's data
//! directory, test files, driver logs) and, through [`Harness::launch`], the real
//! `target/debug/tl-uploader` started by `tauri-driver` (which runs Debian's
//! `WebKitWebDriver`) and driven with fantoccini. Every process is killed by a drop guard,
//! whatever way the test ends, and each test leaves a screenshot of the webview and one of
//! the whole screen under `target/e2e-screenshots/`.
//!
//! Tests run one at a time by default (a process-wide lock): the machine may have two cores,
//! throttled uploads are timed, and the measurements need a quiet machine. Set
//! `E2E_PARALLEL=1` to run them in parallel (each has its own display anyway).
//! `E2E_APP_ENV="K=V,K2=V2"` adds variables to the app's environment (for diagnosis, e.g.
//! `WEBKIT_DISABLE_DMABUF_RENDERER=1`).
//!
//! Waiting is done by polling conditions against deadlines ([`poll`]), never by sleeping.

pub mod display;
pub mod drag;
pub mod procs;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub use display::Xvfb;
pub use drag::DragSource;
/// A minimal HTTP/1.1 GET of JSON on loopback, for the sandbox's API.
pub use tl_test_support::http;
/// A sandbox asset's SHA-256 once it is `ready`: `(base_url, key, asset_id, limit)`.
pub use tl_test_support::ready_asset_sha256;

/// One test at a time unless `E2E_PARALLEL=1`.
static SERIAL: Mutex<()> = Mutex::new(());

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The app under test: `TL_UPLOADER_BIN`, else `target/debug/tl-uploader`.
///
/// # Errors
///
/// When the binary does not exist, saying how to build it.
pub fn app_binary() -> Result<PathBuf> {
    let path = std::env::var_os("TL_UPLOADER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join("tl-uploader"));
    if !path.is_file() {
        bail!(
            "{} does not exist: build it first: npm --prefix ui run build && cargo build -p tl-uploader",
            path.display()
        );
    }
    Ok(path.canonicalize()?)
}

/// The CLI: `TLUP_BIN`, else `target/debug/tlup`.
///
/// # Errors
///
/// When the binary does not exist, saying how to build it.
pub fn tlup_binary() -> Result<PathBuf> {
    let path = std::env::var_os("TLUP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join("tlup"));
    if !path.is_file() {
        bail!(
            "{} does not exist: build it first: cargo build -p tlup",
            path.display()
        );
    }
    Ok(path)
}

/// `tauri-driver`: `TAURI_DRIVER`, else on `PATH`, else `~/.cargo/bin/tauri-driver`.
fn tauri_driver() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return Ok(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("tauri-driver"))
        .find(|p| p.is_file());
    let home = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        .filter(|p| p.is_file());
    on_path.or(home).ok_or_else(|| {
        anyhow!("tauri-driver is not installed: cargo install tauri-driver --version '^2' --locked")
    })
}

/// Where screenshots go: `target/e2e-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("e2e-screenshots")
}

/// Polls `check` every `every` until it yields `Some`, for at most `limit`. `what` names
/// the condition in the timeout error, which also carries the last error `check` returned.
///
/// # Errors
///
/// When the deadline passes.
pub async fn poll<T, F, Fut>(what: &str, limit: Duration, every: Duration, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    tl_test_support::poll(what, limit, every, check)
        .await
        .map_err(|timeout| {
            let message = timeout.to_string();
            match timeout.last_error {
                Some(e) => e.context(message),
                None => anyhow!(message),
            }
        })
}

/// How long one WebDriver call may take before the test gives up on it (a hung driver must
/// fail the test, not stall it forever).
pub const CALL_LIMIT: Duration = Duration::from_secs(60);

/// `fut`, or an error naming `what` when it takes longer than `limit`.
///
/// # Errors
///
/// On timeout.
pub async fn timed<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| anyhow!("{what} took longer than {limit:?}"))
}

/// Everything one test owns.
#[derive(Debug)]
pub struct Harness {
    /// The test's name (screenshot file names).
    pub name: String,
    /// The test's directory: `data/` (the app's `TL_UPLOADER_DATA_DIR`), files, logs.
    pub dir: tempfile::TempDir,
    /// Its X server.
    pub xvfb: Xvfb,
    _serial: Option<MutexGuard<'static, ()>>,
}

impl Harness {
    /// Takes the serial lock (unless `E2E_PARALLEL=1`), makes the directories and starts Xvfb.
    ///
    /// # Errors
    ///
    /// When the app binary is missing, or Xvfb cannot start.
    pub fn new(name: &str) -> Result<Self> {
        app_binary()?;
        tauri_driver()?;
        let serial = if std::env::var("E2E_PARALLEL").is_ok_and(|v| v == "1") {
            None
        } else {
            Some(SERIAL.lock().unwrap_or_else(PoisonError::into_inner))
        };
        let base = target_dir().join("e2e-tmp");
        std::fs::create_dir_all(&base)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(&base)?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        std::fs::create_dir_all(dir.path().join("files"))?;
        std::fs::create_dir_all(dir.path().join("xdg"))?;
        let xvfb = Xvfb::start()?;
        eprintln!(
            "[{name}] display {} dir {}",
            xvfb.display(),
            dir.path().display()
        );
        Ok(Self {
            name: name.to_owned(),
            dir,
            xvfb,
            _serial: serial,
        })
    }

    /// The app's data directory (`TL_UPLOADER_DATA_DIR`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A path for a test file named `name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join("files").join(name)
    }

    /// Writes a random file of `size` bytes; returns its path and SHA-256.
    ///
    /// # Errors
    ///
    /// When it cannot be written.
    pub fn random_file(&self, name: &str, size: u64) -> Result<(PathBuf, String)> {
        let path = self.file(name);
        // Seeded by the whole path, which names the test's own directory: other content on
        // every run, as a real user's files would be.
        let seed = tl_test_support::name_seed(&path.to_string_lossy());
        let sha = tl_test_support::write_random_file(&path, size, seed)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok((path, sha))
    }

    /// Starts tauri-driver with `env` added to the app's environment, opens a WebDriver
    /// session on the app, and waits until its page is up (`#drop-zone` there and
    /// `window.__TAURI__` ready).
    ///
    /// The app always gets `TL_UPLOADER_DATA_DIR` = [`Self::data_dir`] and its own XDG
    /// directories (so WebKit's storage is private to the test), and none of the caller's
    /// `TWELVELABS_*` / `TL_UPLOADER_*` variables except those in `env`.
    ///
    /// # Errors
    ///
    /// When the driver or the session cannot be started, or the page does not come up.
    pub async fn launch(&self, env: &[(&str, String)]) -> Result<App> {
        self.launch_with(env, true).await
    }

    /// [`Self::launch`] without `TL_UPLOADER_DATA_DIR`: the app finds its directories the
    /// way an installed app does, in the test's own XDG directories ([`Self::xdg_env`]).
    ///
    /// # Errors
    ///
    /// As [`Self::launch`].
    pub async fn launch_installed(&self, env: &[(&str, String)]) -> Result<App> {
        self.launch_with(env, false).await
    }

    /// The XDG base directories every app of this test gets (under `xdg/`).
    pub fn xdg_env(&self) -> Vec<(&'static str, PathBuf)> {
        let xdg = self.dir.path().join("xdg");
        vec![
            ("XDG_DATA_HOME", xdg.join("data")),
            ("XDG_CACHE_HOME", xdg.join("cache")),
            ("XDG_CONFIG_HOME", xdg.join("config")),
            ("XDG_STATE_HOME", xdg.join("state")),
        ]
    }

    async fn launch_with(&self, env: &[(&str, String)], data_dir: bool) -> Result<App> {
        let app = app_binary()?;
        let driver_bin = tauri_driver()?;
        let port = free_port()?;
        let native_port = free_port()?;
        let launch_no = std::fs::read_dir(self.dir.path())?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("driver-"))
            .count();
        let log_path = self.dir.path().join(format!("driver-{launch_no}.log"));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = Command::new(&driver_bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("DISPLAY", self.xvfb.display())
        .envs(self.xdg_env())
        .env_remove("TL_UPLOADER_DATA_DIR")
        .env("NO_AT_BRIDGE", "1")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
        for (key, _) in std::env::vars() {
            if key.starts_with("TWELVELABS_") || key.starts_with("TL_UPLOADER_SANDBOX") {
                cmd.env_remove(key);
            }
        }
        if data_dir {
            cmd.env("TL_UPLOADER_DATA_DIR", self.data_dir());
        }
        for (key, value) in env {
            cmd.env(key, value);
        }
        // Extra variables for the app, for diagnosis: E2E_APP_ENV="K=V,K2=V2".
        if let Ok(extra) = std::env::var("E2E_APP_ENV") {
            for (key, value) in extra.split(',').filter_map(|kv| kv.split_once('=')) {
                cmd.env(key.trim(), value);
            }
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", driver_bin.display()))?;
        let driver = DriverGuard { child };
        let url = format!("http://127.0.0.1:{port}");
        let caps = json!({
            "browserName": "wry",
            "tauri:options": { "application": app.to_string_lossy() }
        });
        let caps = caps.as_object().cloned().unwrap_or_default();
        let started = Instant::now();
        let client = poll(
            "the WebDriver session",
            Duration::from_secs(60),
            Duration::from_millis(200),
            || {
                let caps = caps.clone();
                let url = url.clone();
                async move {
                    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                    let mut builder = ClientBuilder::new(connector);
                    let connect = builder.capabilities(caps).connect(&url);
                    match timed(
                        "creating the WebDriver session",
                        Duration::from_secs(30),
                        connect,
                    )
                    .await?
                    {
                        Ok(c) => Ok(Some(c)),
                        Err(e) => Err(anyhow!("{e}")),
                    }
                }
            },
        )
        .await
        .with_context(|| format!("driver log {}", log_path.display()))?;
        let app = App {
            client,
            driver,
            binary: app,
            display: self.xvfb.display(),
            log_path,
        };
        app.wait_ready().await?;
        eprintln!(
            "[{}] app up in {:.1} s (pid {:?})",
            self.name,
            started.elapsed().as_secs_f64(),
            app.pid()
        );
        Ok(app)
    }

    /// Saves the webview's screenshot as `<test>.png` (or `<test>-<suffix>.png`) and the
    /// whole screen's as `<test>[-suffix]-screen.png`; best effort, prints the paths.
    pub async fn screenshots(&self, app: Option<&App>, suffix: &str) {
        let dir = screenshot_dir();
        let _ = std::fs::create_dir_all(&dir);
        let stem = if suffix.is_empty() {
            self.name.clone()
        } else {
            format!("{}-{suffix}", self.name)
        };
        if let Some(app) = app {
            match timed(
                "the WebDriver screenshot",
                Duration::from_secs(20),
                app.client.screenshot(),
            )
            .await
            .and_then(|r| r.map_err(|e| anyhow!("{e}")))
            {
                Ok(png) => {
                    let path = dir.join(format!("{stem}.png"));
                    if std::fs::write(&path, png).is_ok() {
                        eprintln!("[{}] screenshot {}", self.name, path.display());
                    }
                }
                Err(e) => eprintln!("[{}] no webview screenshot: {e}", self.name),
            }
        }
        let path = dir.join(format!("{stem}-screen.png"));
        match self.xvfb.screenshot(&path) {
            Ok(()) => eprintln!("[{}] screenshot {}", self.name, path.display()),
            Err(e) => eprintln!("[{}] no screen screenshot: {e}", self.name),
        }
    }

    /// Runs a test body: screenshots at the end (success or failure), then the app's
    /// session is closed and every process killed; a failure is re-raised with the driver
    /// log's tail.
    ///
    /// # Errors
    ///
    /// The body's error.
    pub async fn finish(&self, app: Option<App>, result: Result<()>) -> Result<()> {
        self.screenshots(app.as_ref(), "").await;
        let tail = app.as_ref().map(App::log_tail).unwrap_or_default();
        if let Some(app) = app {
            app.close().await;
        }
        result.map_err(|e| {
            if tail.is_empty() {
                e
            } else {
                e.context(format!("driver/app log tail:\n{tail}"))
            }
        })
    }
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// tauri-driver and everything under it (WebKitWebDriver, the app, its web processes),
/// killed on drop.
#[derive(Debug)]
struct DriverGuard {
    child: Child,
}

impl DriverGuard {
    fn kill_all(&mut self) {
        let tree = procs::descendants(self.child.id());
        procs::kill9(&tree);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// A running app with a WebDriver session on it.
#[derive(Debug)]
pub struct App {
    /// The WebDriver client.
    pub client: Client,
    driver: DriverGuard,
    binary: PathBuf,
    display: String,
    log_path: PathBuf,
}

/// The JS of [`App::invoke`]: resolves to `{ok: value}` or `{err: error}`.
const INVOKE_JS: &str = r"
const [cmd, args, done] = arguments;
try {
  window.__TAURI__.core.invoke(cmd, args).then(
    (v) => done({ ok: v === undefined ? null : v }),
    (e) => done({ err: e === undefined ? null : e }),
  );
} catch (e) {
  done({ err: String(e) });
}
";

impl App {
    /// The app's process id (found under the driver by its executable).
    pub fn pid(&self) -> Option<u32> {
        procs::find_descendant(self.driver.child.id(), &self.binary)
    }

    /// The app's web content processes (WebKitWebProcess and friends under it).
    pub fn web_pids(&self) -> Vec<u32> {
        self.pid().map(procs::descendants).unwrap_or_default()
    }

    /// The `DISPLAY` the app is on.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Waits until the page is loaded and the Tauri API is there.
    async fn wait_ready(&self) -> Result<()> {
        poll(
            "the app's page (#drop-zone and window.__TAURI__)",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async {
                let v = self
                    .js(
                        "return document.readyState === 'complete' \
                         && !!document.getElementById('drop-zone') \
                         && !!(window.__TAURI__ && window.__TAURI__.core);",
                        vec![],
                    )
                    .await?;
                Ok((v == Value::Bool(true)).then_some(()))
            },
        )
        .await
    }

    /// Runs synchronous JS in the page and returns its value.
    ///
    /// # Errors
    ///
    /// When the WebDriver call fails (a JS exception included).
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        timed("execute", CALL_LIMIT, self.client.execute(script, args))
            .await?
            .map_err(|e| anyhow!("execute failed: {e}"))
    }

    /// Runs asynchronous JS in the page (the last argument is the callback).
    ///
    /// # Errors
    ///
    /// When the WebDriver call fails or times out.
    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        timed(
            "execute_async",
            CALL_LIMIT,
            self.client.execute_async(script, args),
        )
        .await?
        .map_err(|e| anyhow!("execute_async failed: {e}"))
    }

    /// `window.__TAURI__.core.invoke(cmd, args)`: `Ok(value)` or `Err(the command's error)`
    /// (the outer `Result` is the WebDriver call's).
    ///
    /// # Errors
    ///
    /// When the WebDriver call fails.
    pub async fn invoke_raw(
        &self,
        cmd: &str,
        args: Value,
    ) -> Result<std::result::Result<Value, Value>> {
        let v = self.js_async(INVOKE_JS, vec![json!(cmd), args]).await?;
        match (v.get("ok"), v.get("err")) {
            (Some(ok), _) => Ok(Ok(ok.clone())),
            (_, Some(err)) => Ok(Err(err.clone())),
            _ => bail!("unexpected answer of invoke({cmd}): {v}"),
        }
    }

    /// Like [`Self::invoke_raw`], with the command's error as an error.
    ///
    /// # Errors
    ///
    /// When the WebDriver call or the command fails.
    pub async fn invoke(&self, cmd: &str, args: Value) -> Result<Value> {
        self.invoke_raw(cmd, args)
            .await?
            .map_err(|e| anyhow!("invoke({cmd}) failed: {e}"))
    }

    /// The app's upload (from `list_uploads`) whose file name is `name`.
    ///
    /// # Errors
    ///
    /// When the command fails or no upload has that name.
    pub async fn upload_named(&self, name: &str) -> Result<Value> {
        let list = self.invoke("list_uploads", json!({})).await?;
        list.as_array()
            .and_then(|a| a.iter().find(|u| u["fileName"] == name))
            .cloned()
            .ok_or_else(|| anyhow!("no upload named {name} in {list}"))
    }

    /// The `data-*` attributes of the upload rows: `[{id, state, name, assetId}]`.
    ///
    /// # Errors
    ///
    /// When the WebDriver call fails.
    pub async fn queue_rows(&self) -> Result<Vec<Value>> {
        let v = self
            .js(
                r"return [...document.querySelectorAll('#queue li.upload')].map((li) => ({
                    id: li.dataset.id,
                    state: li.dataset.state,
                    name: li.querySelector('.name')?.textContent ?? null,
                    assetId: li.querySelector('.asset-id')?.textContent?.trim() ?? null,
                }));",
                vec![],
            )
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Waits until the queue has a row in `state` (and, when `name` is given, for that file
    /// name) and returns the row. Fails early when a row of that name fails.
    ///
    /// # Errors
    ///
    /// On timeout, or when the row ends `failed`/`cancelled` instead.
    pub async fn wait_row_state(
        &self,
        name: Option<&str>,
        state: &str,
        limit: Duration,
    ) -> Result<Value> {
        poll(
            &format!("an upload row in state {state:?}"),
            limit,
            Duration::from_millis(200),
            || async {
                let rows = self.queue_rows().await?;
                let matching = rows.iter().filter(|r| {
                    name.is_none_or(|n| r["name"].as_str().is_some_and(|t| t.contains(n)))
                });
                for row in matching {
                    let s = row["state"].as_str().unwrap_or_default();
                    if s == state {
                        return Ok(Some(row.clone()));
                    }
                    if s != state && (s == "failed" || s == "cancelled") {
                        let error = self
                            .js(
                                "const li = document.querySelector(`#queue li.upload[data-id=\"${arguments[0]}\"]`); \
                                 return li ? li.innerText : null;",
                                vec![row["id"].clone()],
                            )
                            .await
                            .unwrap_or(Value::Null);
                        bail!("upload ended {s} instead of {state}: {row} / {error}");
                    }
                }
                Ok(None)
            },
        )
        .await
    }

    /// The chunk grid's counts (`data-total`, `data-pending`, ... of `#chunk-grid`).
    ///
    /// # Errors
    ///
    /// When the WebDriver call fails or the canvas is missing.
    pub async fn grid_counts(&self) -> Result<GridCounts> {
        let v = self
            .js(
                r"const c = document.getElementById('chunk-grid');
                  if (!c) return null;
                  const n = (k) => Number(c.getAttribute('data-' + k) ?? 'NaN');
                  return [n('total'), n('pending'), n('uploading'), n('retrying'),
                          n('stored'), n('done'), n('failed')];",
                vec![],
            )
            .await?;
        let a: Vec<u64> = v
            .as_array()
            .ok_or_else(|| anyhow!("#chunk-grid is missing"))?
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN) as u64)
            .collect();
        if a.len() != 7 {
            bail!("bad grid counts {v}");
        }
        Ok(GridCounts {
            total: a[0],
            pending: a[1],
            uploading: a[2],
            retrying: a[3],
            stored: a[4],
            done: a[5],
            failed: a[6],
        })
    }

    /// Clicks the element `css` (a WebDriver click: real pointer events in the page).
    ///
    /// # Errors
    ///
    /// When it is missing or not clickable.
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = timed("find", CALL_LIMIT, self.client.find(Locator::Css(css)))
            .await?
            .map_err(|e| anyhow!("find {css}: {e}"))?;
        timed("click", CALL_LIMIT, element.click())
            .await?
            .map_err(|e| anyhow!("click {css}: {e}"))?;
        Ok(())
    }

    /// Whether `css` matches an element that is rendered (not `hidden`, has a box).
    ///
    /// # Errors
    ///
    /// When the WebDriver call fails.
    pub async fn visible(&self, css: &str) -> Result<bool> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); \
                 return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;",
                vec![json!(css)],
            )
            .await?;
        Ok(v == Value::Bool(true))
    }

    /// The centre of element `css` in screen coordinates (the app's X window origin plus
    /// the element's box; the page is at device pixel ratio 1 under Xvfb).
    ///
    /// # Errors
    ///
    /// When the window or element cannot be found.
    pub async fn screen_centre_of(&self, css: &str) -> Result<(i32, i32)> {
        let (wx, wy, _, _) = drag::window_geometry(&self.display, "^TL Uploader$")?;
        let v = self
            .js(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
                 return [r.left + r.width / 2, r.top + r.height / 2, window.devicePixelRatio];",
                vec![json!(css)],
            )
            .await?;
        let x = v[0]
            .as_f64()
            .ok_or_else(|| anyhow!("no box for {css}: {v}"))?;
        let y = v[1]
            .as_f64()
            .ok_or_else(|| anyhow!("no box for {css}: {v}"))?;
        let ratio = v[2].as_f64().unwrap_or(1.0);
        Ok((wx + (x * ratio) as i32, wy + (y * ratio) as i32))
    }

    /// SIGKILLs the app process (not just the WebDriver session) and waits until it is gone.
    ///
    /// # Errors
    ///
    /// When the app's process cannot be found or does not die.
    pub async fn kill_app(&self) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("the app's process was not found"))?;
        procs::kill9(&[pid]);
        poll(
            "the app to die",
            Duration::from_secs(10),
            Duration::from_millis(50),
            || async { Ok((!procs::alive(pid)).then_some(())) },
        )
        .await
    }

    /// The last lines of the driver's log (which has the app's stderr too).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Ends the session and kills the driver, the app and its web processes.
    pub async fn close(self) {
        let Self {
            client, mut driver, ..
        } = self;
        let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
        driver.kill_all();
    }

    /// Kills everything without closing the session (after the app was killed).
    pub fn abandon(self) {
        let Self { mut driver, .. } = self;
        driver.kill_all();
    }
}

/// The chunk grid's per-state counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GridCounts {
    /// Cells.
    pub total: u64,
    /// Not started.
    pub pending: u64,
    /// Being sent.
    pub uploading: u64,
    /// Being retried.
    pub retrying: u64,
    /// Stored, not yet reported.
    pub stored: u64,
    /// Done.
    pub done: u64,
    /// Failed.
    pub failed: u64,
}

/// A sandbox in the test process (it outlives app restarts), with the key `e2e`.
///
/// # Errors
///
/// When it cannot start.
pub fn test_sandbox(chunk_size: u64, bandwidth: Option<u64>) -> Result<tl_sandbox::SandboxHandle> {
    tl_test_support::sandbox(E2E_KEY, chunk_size)
        .bandwidth(bandwidth)
        .processing_delay(Duration::from_millis(300))
        .start()
        .map_err(|e| anyhow!("cannot start the sandbox: {e}"))
}

/// A sandbox in the test process emulating a link: `per_connection` bytes/s for each
/// connection, `latency_ms` per request, `link_rate` bytes/s shared by all, and chunks of
/// `chunk_size`.
///
/// # Errors
///
/// When it cannot start.
pub fn link_sandbox(
    chunk_size: u64,
    per_connection: u64,
    latency_ms: u64,
    link_rate: u64,
) -> Result<tl_sandbox::SandboxHandle> {
    tl_test_support::sandbox(E2E_KEY, chunk_size)
        .bandwidth(Some(per_connection))
        .latency(Duration::from_millis(latency_ms))
        .link_rate(Some(link_rate))
        .processing_delay(Duration::from_millis(300))
        .start()
        .map_err(|e| anyhow!("cannot start the sandbox: {e}"))
}

/// The API key of every sandbox in these tests.
pub const E2E_KEY: &str = "e2e";

/// The app's environment for a test-process sandbox.
pub fn remote_env(sandbox: &tl_sandbox::SandboxHandle) -> Vec<(&'static str, String)> {
    vec![
        ("TWELVELABS_API_KEY", sandbox.api_key().to_owned()),
        ("TWELVELABS_BASE_URL", sandbox.base_url()),
    ]
}
