//! Kill and resume: `tlup upload` SIGKILLed at many points of a 128 MiB upload, then
//! `tlup resume ID` finishes it from the journal, byte for byte, re-sending at most the
//! chunks that were in flight.
//!
//! Each kill point gets a fresh sandbox, throttled so that a whole upload would take about
//! 5 s; the throttle is lifted for the resume to keep the suite fast. The bytes PUT across
//! both runs are the sandbox's own count, so a client that re-sent more than it claims could
//! not hide it. Run with `--nocapture` to see the re-sent bytes per kill point and overall:
//!
//! ```text
//! cargo test -p tlup --test cli crash -- --nocapture
//! ```

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tl_sandbox::{SandboxHandle, Stats};

use crate::support::*;

/// The file: large enough for 128 chunks, so kill points land between many of them.
const SIZE: u64 = 128 * MIB;
/// The sandbox's chunk size.
const CHUNK: u64 = MIB;
/// The fixed `--workers` of every run here: at most this many chunks are in flight when the
/// kill comes (the automatic level could grow far beyond it on this throttled link).
const WORKERS: u64 = 5;
/// Per connection: five connections move about 25 MiB/s, a whole upload in about 5 s.
const BANDWIDTH: u64 = 5 * MIB;

/// Where in the upload the kill comes.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// As soon as the server has created the session (the journal may not know it yet).
    SessionCreated,
    /// Once the sandbox has received this percentage of the file's bytes.
    Percent(u64),
    /// Once every byte is in, before the last reports and the confirmation.
    AllBytesIn,
}

impl Point {
    fn reached(self, stats: &Stats) -> bool {
        match self {
            Self::SessionCreated => stats.sessions_created >= 1,
            Self::Percent(p) => stats.bytes_received >= SIZE * p / 100,
            Self::AllBytesIn => stats.bytes_received >= SIZE,
        }
    }

    fn label(self) -> String {
        match self {
            Self::SessionCreated => "session creation".to_owned(),
            Self::Percent(p) => format!("{p}%"),
            Self::AllBytesIn => "all bytes in".to_owned(),
        }
    }
}

/// What one kill point cost.
#[derive(Debug, Clone)]
struct Cost {
    label: String,
    /// Chunk bytes the sandbox had received when the kill came.
    at_kill: u64,
    /// Bytes PUT across both runs beyond the file's size: what was sent twice.
    resent: u64,
    /// What was unusual about it, if anything (how it was listed, or that it finished).
    note: Option<String>,
}

/// Every kill point measured so far by this test binary, for the summary line.
static COSTS: Mutex<Vec<Cost>> = Mutex::new(Vec::new());

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// Uploads one 128 MiB file, killing and resuming it at each of `points` in turn, then
/// prints the summary of every point measured so far.
fn kill_and_resume(seed: u64, points: &[Point]) {
    let dir = tempdir();
    let path = file(&dir, "recording.mp4");
    let sha = random_file(&path, SIZE, seed);
    // One journal for all the points: it holds completed sessions of earlier sandboxes,
    // which the listing of a new one must leave out.
    let journal = file(&dir, "journal.sqlite3");
    for &point in points {
        let cost = kill_and_resume_at(point, &path, &sha, &journal);
        let note = cost
            .note
            .as_ref()
            .map(|n| format!(", {n}"))
            .unwrap_or_default();
        eprintln!(
            "kill at {} ({} in{note}): re-sent {} on resume",
            cost.label,
            mib(cost.at_kill),
            mib(cost.resent)
        );
        COSTS.lock().unwrap().push(cost);
    }
    let costs = COSTS.lock().unwrap();
    let total: u64 = costs.iter().map(|c| c.resent).sum();
    let worst = costs.iter().max_by_key(|c| c.resent).unwrap();
    eprintln!(
        "kill-and-resume summary over {} kill points so far: average re-sent {}, worst {} (kill at {}); bound {} ({WORKERS} workers × {})",
        costs.len(),
        mib(total / costs.len() as u64),
        mib(worst.resent),
        worst.label,
        mib(WORKERS * CHUNK),
        mib(CHUNK),
    );
}

fn kill_and_resume_at(point: Point, path: &Path, sha: &str, journal: &Path) -> Cost {
    let label = point.label();
    let server = sandbox()
        .chunk_size(CHUNK)
        .bandwidth(Some(BANDWIDTH))
        .start()
        .unwrap();
    let mut upload = Running::start(
        tlup_at(&server)
            .args(["--json", "--journal"])
            .arg(journal)
            .args(["upload", "--workers", &WORKERS.to_string()])
            .arg(path),
    );
    let mut finished = None;
    wait_until(
        &format!("the kill point {label}"),
        Duration::from_secs(40),
        || {
            finished = upload.exited();
            finished.is_some() || point.reached(&server.stats())
        },
    );
    let at_kill = server.stats().bytes_received;
    let killed = upload.kill();
    if let Some(status) = finished {
        // Only the last point can be too late to catch, on a busy machine.
        assert!(
            matches!(point, Point::AllBytesIn) && status.success(),
            "tlup upload ended before the kill at {label}: {killed:?}"
        );
    } else {
        assert_eq!(killed.code, -1, "{label}: killed by a signal: {killed:?}");
    }

    // The journal survived the kill whole.
    let j = tl_upload::Journal::open(journal).unwrap();
    j.integrity_check()
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    drop(j);

    // `tlup resume` lists the session and says how to finish it.
    server.set_bandwidth(None);
    let listed = resumable(&server, journal);
    let Some(session) = listed.first() else {
        // Killed after the last report: the server completed the session, and the listing
        // marked it so in the journal. Nothing to resume, nothing lost.
        assert!(
            matches!(point, Point::AllBytesIn),
            "{label}: nothing listed"
        );
        return complete_before_the_kill(&server, journal, sha, at_kill);
    };
    assert_eq!(
        listed.len(),
        1,
        "{label}: only this server's session: {listed:?}"
    );
    let id = session["upload_id"].as_str().unwrap().to_owned();
    let mut resume = tlup_at(&server);
    resume.args(["--json", "--journal"]).arg(journal).args([
        "resume",
        &id,
        "--workers",
        &WORKERS.to_string(),
    ]);
    let state = session["state"].as_str().unwrap_or_default().to_owned();
    match state.as_str() {
        "resumable" => {}
        // Killed between the session's creation and its journal entry: the server has it,
        // and the file is named by hand.
        "needs_file" if matches!(point, Point::SessionCreated) => {
            assert!(
                session["hint"].as_str().unwrap().contains("FILE"),
                "{session}"
            );
            resume.arg(path);
        }
        _ => panic!("{label}: unexpected listing {session}"),
    }

    // `tlup resume ID` finishes it, byte for byte, without sending much twice.
    let resumed = exec(&mut resume);
    assert_eq!(resumed.code, 0, "{label}: {resumed:?}");
    let result = &resumed.events("result")[0];
    assert_eq!(result["upload_id"], id.as_str(), "{label}");
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha,
        "{label}: the asset is the file"
    );
    let received = server.stats().bytes_received;
    assert!(
        received <= SIZE + WORKERS * CHUNK,
        "{label}: {received} bytes PUT in all, more than the file and {WORKERS} chunks in flight: {result}"
    );
    assert!(
        resumable(&server, journal).is_empty(),
        "{label}: nothing left"
    );
    Cost {
        label,
        at_kill,
        resent: received.saturating_sub(SIZE),
        note: (state != "resumable").then(|| format!("listed as {state}")),
    }
}

/// The sessions `tlup --json resume` lists.
fn resumable(server: &SandboxHandle, journal: &Path) -> Vec<Value> {
    let run = exec(
        tlup_at(server)
            .args(["--json", "--journal"])
            .arg(journal)
            .arg("resume"),
    );
    assert_eq!(run.code, 0, "{run:?}");
    run.json().as_array().unwrap().clone()
}

/// The kill came after the server completed the session: the journal says so now, the
/// asset is the file, and `tlup resume ID` says there is nothing to do.
fn complete_before_the_kill(
    server: &SandboxHandle,
    journal: &Path,
    sha: &str,
    at_kill: u64,
) -> Cost {
    let j = tl_upload::Journal::open(journal).unwrap();
    let session = j
        .sessions()
        .unwrap()
        .into_iter()
        .find(|s| s.base_url == server.base_url())
        .unwrap();
    drop(j);
    assert_eq!(session.state, tl_upload::SessionState::Completed);
    let asset_id = session.asset_id.unwrap();
    assert_eq!(
        asset_sha256(server, &asset_id),
        sha,
        "the asset is the file"
    );
    let run = exec(
        tlup_at(server)
            .arg("--journal")
            .arg(journal)
            .args(["resume", &session.upload_id]),
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already complete"), "{}", run.stderr);
    let received = server.stats().bytes_received;
    Cost {
        label: Point::AllBytesIn.label(),
        at_kill,
        resent: received.saturating_sub(SIZE),
        note: Some("complete before the kill".to_owned()),
    }
}

// Four tests, so the kill points run in parallel; each has about the same throttled time.

#[test]
fn kill_at_session_creation_10_40_and_97_percent_then_resume() {
    kill_and_resume(
        101,
        &[
            Point::SessionCreated,
            Point::Percent(97),
            Point::Percent(40),
            Point::Percent(10),
        ],
    );
}

#[test]
fn kill_with_all_bytes_in_and_at_3_20_50_percent_then_resume() {
    kill_and_resume(
        102,
        &[
            Point::AllBytesIn,
            Point::Percent(3),
            Point::Percent(50),
            Point::Percent(20),
        ],
    );
}

#[test]
fn kill_at_30_60_90_percent_then_resume() {
    kill_and_resume(
        103,
        &[Point::Percent(90), Point::Percent(30), Point::Percent(60)],
    );
}

#[test]
fn kill_at_70_80_percent_then_resume() {
    kill_and_resume(104, &[Point::Percent(80), Point::Percent(70)]);
}
