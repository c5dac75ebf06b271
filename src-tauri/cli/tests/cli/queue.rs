//! Several files in one command: started together on one link, in order, where one bad
//! file does not stop the others and Ctrl-C skips the files still waiting for their turn.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

#[test]
fn a_bad_file_in_the_queue_does_not_stop_the_others() {
    let server = sandbox().start().unwrap();
    let dir = tempdir();
    let first = file(&dir, "first.mp4");
    let missing = file(&dir, "missing.mp4");
    let last = file(&dir, "last.mp4");
    let sha_first = random_file(&first, 2 * MIB + 5, 3);
    let sha_last = random_file(&last, 700 * KIB, 4);

    let run = exec(
        tlup_at(&server)
            .args(["--json", "upload"])
            .args([&first, &missing, &last]),
    );
    assert_eq!(
        run.code, 2,
        "a refused argument makes the exit code 2: {run:?}"
    );
    // The files upload side by side, so their results come in the order they finish.
    let results = run.events("result");
    assert_eq!(results.len(), 2, "{}", run.stdout);
    for (path, sha) in [(&first, &sha_first), (&last, &sha_last)] {
        let result = results
            .iter()
            .find(|r| r["file"] == path.display().to_string())
            .unwrap_or_else(|| panic!("no result for {}: {}", path.display(), run.stdout));
        assert_eq!(
            asset_sha256(&server, result["asset_id"].as_str().unwrap()),
            *sha
        );
    }
    let errors = run.events("error");
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert_eq!(errors[0]["file"], missing.display().to_string());
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("no such file")
    );
    let summary = &run.events("summary")[0];
    assert_eq!(
        (summary["uploaded"].as_u64(), summary["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
}

#[test]
fn the_human_summary_names_the_file_that_failed() {
    let server = sandbox().max_total_size(MIB).start().unwrap();
    let dir = tempdir();
    let small = file(&dir, "small.mp4");
    let big = file(&dir, "too-big.mp4");
    random_file(&small, 300 * KIB, 5);
    random_file(&big, 2 * MIB, 6);

    // A server-side refusal, unlike a bad argument, exits with 1.
    let run = exec(tlup_at(&server).arg("upload").args([&big, &small]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("file 1 of 2: too-big.mp4"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("file 2 of 2: small.mp4"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("summary: 1 of 2 files uploaded, 1 failed"),
        "{}",
        run.stdout
    );
    let failed = run
        .stdout
        .lines()
        .find(|l| l.contains("FAILED"))
        .unwrap_or_default();
    assert!(failed.contains("too-big.mp4"), "{}", run.stdout);
    let ok = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("ok"))
        .unwrap_or_default();
    assert!(ok.contains("small.mp4"), "{}", run.stdout);
}

/// The first and last index in `lines` of a progress event of `path` with chunks in flight.
fn in_flight_span(lines: &[Value], path: &Path) -> Option<(usize, usize)> {
    let file = path.display().to_string();
    let mut hits = lines.iter().enumerate().filter(|(_, v)| {
        v["event"] == "progress"
            && v["file"] == file.as_str()
            && v["chunks_in_flight"].as_u64() > Some(0)
    });
    let first = hits.next()?.0;
    Some((first, hits.next_back().map_or(first, |(i, _)| i)))
}

#[test]
fn the_files_of_one_command_are_in_flight_together() {
    // 512 KiB/s per connection: each 1 MiB chunk takes about 2 s on the wire, so the chunks
    // of the two files overlap only if both files upload at once.
    let server = sandbox().bandwidth(Some(512 * KIB)).start().unwrap();
    let dir = tempdir();
    let a = file(&dir, "a.mp4");
    let b = file(&dir, "b.mp4");
    let sha_a = random_file(&a, 2 * MIB, 31);
    let sha_b = random_file(&b, 2 * MIB, 32);

    let run = exec(
        tlup_at(&server)
            .args(["--json", "upload", "--workers", "4"])
            .args([&a, &b]),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let stats = server.stats();
    assert!(
        stats.puts_in_flight_peak > 2,
        "more chunk PUTs at once than one file has chunks: {stats:?}"
    );
    let lines = run.json_lines();
    let span_a =
        in_flight_span(&lines, &a).unwrap_or_else(|| panic!("a never in flight: {}", run.stdout));
    let span_b =
        in_flight_span(&lines, &b).unwrap_or_else(|| panic!("b never in flight: {}", run.stdout));
    // Events are thinned to four a second, so their spans need not overlap; the order says
    // it: b had chunks in flight before a had finished sending its own.
    let a_sent = lines
        .iter()
        .position(|v| {
            v["event"] == "progress"
                && v["file"] == a.display().to_string().as_str()
                && (v["status"] == "confirming" || v["status"] == "completed")
        })
        .unwrap_or_else(|| panic!("a never confirmed: {}", run.stdout));
    assert!(
        span_a.0 < a_sent && span_b.0 < a_sent,
        "b was in flight while a still sent: {span_a:?} {span_b:?}, a done sending at {a_sent}\n{}",
        run.stdout
    );
    for p in lines
        .iter()
        .filter(|v| v["event"] == "progress" && v["status"] == "uploading")
    {
        assert_eq!(p["parallelism"], 4, "the fixed level of --workers 4: {p}");
    }
    for (path, sha) in [(&a, &sha_a), (&b, &sha_b)] {
        let result = run
            .events("result")
            .into_iter()
            .find(|r| r["file"] == path.display().to_string())
            .unwrap_or_else(|| panic!("no result for {}: {}", path.display(), run.stdout));
        assert_eq!(
            asset_sha256(&server, result["asset_id"].as_str().unwrap()),
            *sha
        );
    }
    assert_eq!(run.events("summary")[0]["uploaded"], 2);
}

#[test]
fn ctrl_c_stops_the_running_file_and_skips_the_files_still_waiting_their_turn() {
    // One file at a time and 256 KiB/s per connection: the first file's 4 MiB take about
    // 16 s, so the other two are still queued when Ctrl-C comes.
    let server = sandbox().bandwidth(Some(256 * KIB)).start().unwrap();
    let dir = tempdir();
    let first = file(&dir, "first.mp4");
    let second = file(&dir, "second.mp4");
    let third = file(&dir, "third.mp4");
    random_file(&first, 4 * MIB, 33);
    random_file(&second, MIB, 34);
    random_file(&third, MIB, 35);
    let names: Vec<String> = [&first, &second, &third]
        .iter()
        .map(|p| p.display().to_string())
        .collect();

    let mut child = spawn(
        tlup_at(&server)
            .args(["--json", "upload", "--workers", "1", "--max-files", "1"])
            .args([&first, &second, &third]),
    );
    let _dog = Watchdog::new(child.id(), Duration::from_secs(60));
    let stderr = drain(child.stderr.take().unwrap());
    let mut lines = stdout_lines(&mut child);
    let (mut uploading, mut queued) = (false, [false, false]);
    read_until(&mut lines, |line| {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["event"] == "progress" {
            uploading |= v["file"] == names[0].as_str() && v["status"] == "uploading";
            for (seen, name) in queued.iter_mut().zip(&names[1..]) {
                *seen |= v["file"] == name.as_str() && v["status"] == "queued";
            }
        }
        uploading && queued == [true, true]
    });
    assert!(
        uploading && queued == [true, true],
        "the first file uploads while the others wait"
    );
    interrupt(child.id());
    let after: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");

    let errors: Vec<&Value> = after.iter().filter(|v| v["event"] == "error").collect();
    assert_eq!(errors.len(), 1, "only the running file failed: {after:?}");
    assert_eq!(errors[0]["file"], names[0].as_str());
    assert!(errors[0]["upload_id"].is_string(), "{}", errors[0]);
    let summary = after
        .iter()
        .find(|v| v["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary: {after:?}"));
    assert_eq!(
        (
            &summary["uploaded"],
            &summary["failed"],
            &summary["skipped"]
        ),
        (&Value::from(0), &Value::from(1), &Value::from(2)),
        "{summary}"
    );
    let statuses: Vec<&Value> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["status"])
        .collect();
    assert_eq!(statuses, ["failed", "skipped", "skipped"], "{summary}");
    assert_eq!(
        server.stats().sessions_created,
        1,
        "the skipped files never opened a session"
    );
    assert!(
        stderr.contains("file 1 of 3: first.mp4"),
        "the running file's turn came: {stderr}"
    );
    assert!(
        !stderr.contains("file 2 of 3") && !stderr.contains("file 3 of 3"),
        "a skipped file's turn never came: {stderr}"
    );
}
