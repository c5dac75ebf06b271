//! What the tests share: sandboxes on port 0, test files, running the real `tlup` binary
//! with a watchdog so a hang fails the test instead of stalling the run, and looking into
//! the journals it writes.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tl_sandbox::{SandboxBuilder, SandboxHandle};
use tl_test_support::{send_signal, settled_asset};

/// A fresh temporary directory.
pub use tl_test_support::tempdir;
/// Polls a condition about every millisecond; fails the test after the limit, naming it.
pub use tl_test_support::wait_until;

/// The longest any single tlup run may take before the watchdog kills it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;

/// A sandbox builder with a small chunk size, so small files have several chunks.
pub fn sandbox() -> SandboxBuilder {
    tl_test_support::sandbox("test-key", MIB)
}

/// The home (and data) directory of every tlup the tests run, so that the default journal
/// lands under `target/` and never in the developer's `~/.local/share`. Tests that read a
/// journal pass their own `--journal`.
pub fn test_home() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("tlup-home")
}

/// `tlup` with no TwelveLabs variables inherited from the developer's shell, and its home
/// directory in [`test_home`].
pub fn tlup() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tlup"));
    let home = test_home();
    cmd.env_remove("TWELVELABS_API_KEY")
        .env_remove("TWELVELABS_BASE_URL")
        .env_remove("TLUP_JOURNAL")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"));
    cmd
}

/// `tlup` pointed at `server`: `--base-url URL --api-key KEY` before the command.
pub fn tlup_at(server: &SandboxHandle) -> Command {
    let mut cmd = tlup();
    cmd.args([
        "--base-url",
        &server.base_url(),
        "--api-key",
        server.api_key(),
    ]);
    cmd
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Every stdout line parsed as JSON; fails the test on any line that is not.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The JSON lines whose `event` is `name`.
    pub fn events(&self, name: &str) -> Vec<Value> {
        self.json_lines()
            .into_iter()
            .filter(|v| v["event"] == name)
            .collect()
    }

    /// The whole stdout as one JSON value (commands other than upload print one).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", self.stdout))
    }
}

/// Kills process `pid` if it is still running after `limit`, unless dropped first.
pub struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    pub fn new(pid: u32, limit: Duration) -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                let _ = send_signal("KILL", &[pid]);
            }
        });
        Self {
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A tlup run in the background, its output read on threads so it never blocks on a pipe.
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    _dog: Watchdog,
}

impl Running {
    /// Starts `cmd` with the watchdog.
    pub fn start(cmd: &mut Command) -> Self {
        let mut child = spawn(cmd);
        let dog = Watchdog::new(child.id(), RUN_LIMIT);
        let stdout = Some(drain(child.stdout.take().unwrap()));
        let stderr = Some(drain(child.stderr.take().unwrap()));
        Self {
            child,
            stdout,
            stderr,
            _dog: dog,
        }
    }

    /// The exit status, if it has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Kills it with SIGKILL, as a crash, the OOM killer or a power cut would stop it: no
    /// handler runs, nothing is flushed.
    pub fn kill(mut self) -> Run {
        let _ = self.child.kill();
        self.finish()
    }

    /// Waits for the end and returns the outcome.
    pub fn finish(mut self) -> Run {
        let status = self.child.wait().unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.take().unwrap().join().unwrap(),
            stderr: self.stderr.take().unwrap().join().unwrap(),
        }
    }
}

/// Starts `tlup upload PATH` with `journal` against `server`, and SIGKILLs it once the
/// sandbox has received `bytes` chunk bytes. Returns the session the journal recorded, after
/// checking that the journal survived the kill intact.
pub fn upload_and_kill(server: &SandboxHandle, journal: &Path, path: &Path, bytes: u64) -> String {
    let mut run = Running::start(
        tlup_at(server)
            .args(["--json", "--journal"])
            .arg(journal)
            .arg("upload")
            .arg(path),
    );
    wait_until("the upload to reach the kill point", RUN_LIMIT, || {
        if let Some(status) = run.exited() {
            panic!("tlup upload ended before the kill point: {status}");
        }
        server.stats().bytes_received >= bytes
    });
    let killed = run.kill();
    assert_eq!(killed.code, -1, "killed by a signal: {killed:?}");
    only_session(journal)
}

/// The one session in `journal`, after SQLite's integrity check.
pub fn only_session(journal: &Path) -> String {
    let journal = tl_upload::Journal::open(journal).unwrap();
    journal.integrity_check().unwrap();
    let sessions = journal.sessions().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    sessions[0].upload_id.clone()
}

/// Every row of the journal's `sessions` and `chunks` tables, every column, as SQLite
/// stores them: for checking that a refused command changed nothing at all.
pub fn journal_rows(journal: &Path) -> Vec<Vec<rusqlite::types::Value>> {
    let db = rusqlite::Connection::open(journal).unwrap();
    let mut rows = Vec::new();
    for sql in [
        "SELECT * FROM sessions ORDER BY upload_id",
        "SELECT * FROM chunks ORDER BY upload_id, chunk_index",
    ] {
        let mut stmt = db.prepare(sql).unwrap();
        let columns = stmt.column_count();
        let table = stmt
            .query_map([], |r| {
                (0..columns)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        rows.extend(table.map(Result::unwrap));
    }
    rows
}

/// Reads a pipe to the end on its own thread, so a full pipe never blocks the child.
pub fn drain(pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut text);
        text
    })
}

/// Runs `cmd` to the end, with the watchdog.
pub fn exec(cmd: &mut Command) -> Run {
    let mut child = spawn(cmd);
    let _dog = Watchdog::new(child.id(), RUN_LIMIT);
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let status = child.wait().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Starts `cmd` with piped stdout and stderr.
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Calls `on_line` with each stdout line of `child` until it returns true; returns the
/// lines read so far.
pub fn read_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    mut on_line: impl FnMut(&str) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = on_line(&line);
        seen.push(line);
        if done {
            break;
        }
    }
    seen
}

/// The stdout lines of `child`, which keeps running on its own.
pub fn stdout_lines(child: &mut Child) -> std::io::Lines<BufReader<std::process::ChildStdout>> {
    BufReader::new(child.stdout.take().unwrap()).lines()
}

/// Sends SIGINT, as Ctrl-C does.
pub fn interrupt(pid: u32) {
    let status = send_signal("INT", &[pid]).unwrap();
    assert!(status.success(), "kill -INT {pid}");
}

/// Writes `len` pseudo-random bytes (different for each `seed`) and returns their SHA-256.
pub fn random_file(path: &Path, len: u64, seed: u64) -> String {
    tl_test_support::write_random_file(path, len, seed)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()))
}

/// `path` in `dir`.
pub fn file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// The asset as the sandbox serves it, once the sandbox has hashed the assembled bytes (it
/// does so right after the last report).
pub fn asset(server: &SandboxHandle, asset_id: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base_url = server.base_url();
    let settled = settled_asset(
        &base_url,
        server.api_key(),
        asset_id,
        Duration::from_secs(20),
    );
    runtime.block_on(settled).unwrap()
}

/// The SHA-256 the sandbox computed over the asset's assembled bytes.
pub fn asset_sha256(server: &SandboxHandle, asset_id: &str) -> String {
    let asset = asset(server, asset_id);
    asset["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("no sha256 on {asset}"))
        .to_owned()
}
