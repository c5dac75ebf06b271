//! The network going away mid-upload: `tlup upload` waits for it instead of spending
//! retries (there are none to spend here: `--max-retries 0`), says so in its progress, and
//! finishes the upload when it comes back, sending again at most the chunks that were on
//! the wire. One test per kind of outage the sandbox stands for.

use std::time::Duration;

use serde_json::Value;
use tl_sandbox::OutageKind;

use crate::support::*;

/// How long each outage lasts.
const OUTAGE: Duration = Duration::from_secs(20);
/// The chunk size of the sandbox (see [`sandbox`]).
const CHUNK: u64 = MIB;
/// Chunk PUTs in flight at once: fixed, so the upload's pace and what an outage can catch on
/// the wire are known.
const WORKERS: &str = "4";
/// What each connection gets: half a second per chunk, well inside the 2 s stall timeout
/// even when a whole chunk sits in the socket buffers, so no stall but the outage's happens.
const BANDWIDTH: u64 = 2 * MIB;
/// The chunks reported before the outage begins.
const BEFORE: u64 = 2;

/// A 32 MiB upload (about four seconds on this link) that meets an outage of `kind` once
/// its first chunks are reported.
fn upload_through(kind: OutageKind, seed: u64) {
    let server = sandbox().bandwidth(Some(BANDWIDTH)).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    let len = 32 * MIB;
    let sha = random_file(&path, len, seed);

    let mut child = spawn(
        tlup_at(&server)
            .args([
                "upload",
                "--json",
                "--max-retries",
                "0",
                "--probe-interval",
                "1",
                "--stall-timeout",
                "2",
                "--workers",
                WORKERS,
            ])
            .arg(&path),
    );
    let _dog = Watchdog::new(child.id(), Duration::from_secs(60));
    let stderr = drain(child.stderr.take().unwrap());
    let mut lines = stdout_lines(&mut child);
    let parse = |line: &str| -> Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };

    // Until the first chunks are reported; the last progress event then tells how many
    // chunks are on the wire.
    let mut in_flight = None;
    let before = read_until(&mut lines, |line| {
        let v = parse(line);
        let reported = v["completed_chunks"].as_u64().unwrap_or(0);
        let ready = v["event"] == "progress"
            && v["status"] == "uploading"
            && reported >= BEFORE
            && reported < v["total_chunks"].as_u64().unwrap_or(0);
        if ready {
            in_flight = v["chunks_in_flight"].as_u64();
        }
        ready
    });
    let Some(in_flight) = in_flight else {
        let stderr = stderr.join().unwrap();
        panic!("tlup never reported {BEFORE} chunks with more to go: {before:?}\n{stderr}");
    };
    server.start_outage(kind, OUTAGE);
    let after: Vec<Value> = lines.map(|l| parse(&l.unwrap())).collect();
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    assert_eq!(status.code(), Some(0), "{after:?}\n{stderr}");

    let waiting = |v: &Value| v["event"] == "progress" && v["status"] == "waiting_for_network";
    assert!(
        !before.iter().any(|l| waiting(&parse(l))),
        "waiting for the network before the outage: {before:?}"
    );
    let result_at = after
        .iter()
        .position(|v| v["event"] == "result")
        .unwrap_or_else(|| panic!("no result: {after:?}\n{stderr}"));
    let offline = after[..result_at]
        .iter()
        .find(|v| waiting(v))
        .unwrap_or_else(|| panic!("no waiting_for_network event before the result: {after:?}"));
    assert!(
        offline["offline_since_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0),
        "the wait says since when: {offline}"
    );
    let back = after[..result_at]
        .iter()
        .skip_while(|v| !waiting(v))
        .any(|v| v["event"] == "progress" && v["status"] == "uploading");
    assert!(back, "uploading again after the wait: {after:?}");

    let result = &after[result_at];
    assert!(result["outages"].as_u64().unwrap() >= 1, "{result}");
    assert_eq!(result["retries"], 0, "an outage costs no retry: {result}");
    assert_eq!(result["total_bytes"], len, "{result}");
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha,
        "the asset is the file"
    );

    let stats = server.stats();
    let fired = stats.faults_fired;
    assert!(
        fired.outage_connections + fired.outage_requests >= 1,
        "the {kind} outage caught the upload: {fired:?}"
    );
    let twice = stats.bytes_received.saturating_sub(len);
    let bound = (in_flight + 1) * CHUNK;
    assert!(
        twice <= bound,
        "{twice} bytes sent twice, more than the {in_flight} chunks in flight at the outage \
         plus one ({bound} bytes): {stats:?} {result}"
    );
}

#[test]
fn a_refused_connection_outage_is_waited_out_without_retries() {
    upload_through(OutageKind::Refuse, 51);
}

#[test]
fn a_blackhole_outage_is_seen_by_the_stall_timeout_and_waited_out_without_retries() {
    upload_through(OutageKind::Blackhole, 52);
}

#[test]
fn a_reset_outage_is_waited_out_without_retries() {
    upload_through(OutageKind::Reset, 53);
}
