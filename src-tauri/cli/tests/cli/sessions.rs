//! An upload interrupted with Ctrl-C leaves a session that `list`, `status`, `wait`,
//! `resume` and `asset` then work with.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

#[test]
fn an_interrupted_upload_can_be_listed_inspected_waited_for_and_resumed() {
    // 256 KiB/s per connection and two workers: the 17 chunks would take about 8 s, so there
    // is ample time to interrupt once a few chunks are reported.
    let server = sandbox()
        .chunk_size(256 * KIB)
        .bandwidth(Some(256 * KIB))
        .start()
        .unwrap();
    let dir = tempdir();
    let path = file(&dir, "interrupted clip.mp4");
    let len = 4 * MIB + 777;
    let sha = random_file(&path, len, 15);
    let journal = file(&dir, "journal.sqlite3");

    // 1. Upload, and press Ctrl-C once the progress shows two reported chunks.
    let mut child = spawn(
        tlup_at(&server)
            .arg("--journal")
            .arg(&journal)
            .args(["--json", "upload", "--workers", "2"])
            .arg(&path),
    );
    let _dog = Watchdog::new(child.id(), Duration::from_secs(60));
    let stderr = drain(child.stderr.take().unwrap());
    let mut lines = stdout_lines(&mut child);
    let pid = child.id();
    let before = read_until(&mut lines, |line| {
        let v: Value = serde_json::from_str(line).unwrap();
        v["event"] == "progress" && v["completed_chunks"].as_u64() >= Some(2)
    });
    assert!(!before.is_empty());
    interrupt(pid);
    let after: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let error: Value = serde_json::from_str(after.last().unwrap()).unwrap();
    assert_eq!(error["event"], "error", "{after:?}");
    let id = error["upload_id"].as_str().unwrap().to_owned();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("stays resumable"),
        "{error}"
    );
    assert!(
        after.iter().any(|l| l.contains(r#""status":"cancelled""#)),
        "{after:?}"
    );
    // The journal knows the file, so the session is all the command needs.
    let hint = format!(
        "\n  tlup --base-url {} --journal {} resume {id}\n",
        server.base_url(),
        journal.display()
    );
    assert!(stderr.contains(&hint), "the exact resume command: {stderr}");

    // 2. `list` shows the session, in JSON and as a table.
    let run = exec(tlup_at(&server).args(["--json", "list"]));
    assert_eq!(run.code, 0, "{run:?}");
    let sessions = run.json();
    let session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["upload_id"] == id.as_str())
        .unwrap();
    assert_eq!(session["total_size"], len);
    assert_eq!(session["chunk_size"], 256 * KIB);
    assert_eq!(session["total_chunks"], 17);
    assert_eq!(session["status"], "active");
    let run = exec(tlup_at(&server).arg("list"));
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("active")),
        "{}",
        run.stdout
    );

    // 3. `status`, with and without the chunk list.
    let run = exec(tlup_at(&server).args(["--json", "status", &id, "--chunks"]));
    assert_eq!(run.code, 0, "{run:?}");
    let st = run.json();
    let done = st["chunks_completed"].as_u64().unwrap();
    assert!((2..17).contains(&done), "{st}");
    let chunks = st["uploaded_chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 17);
    assert_eq!(
        chunks.iter().filter(|c| c["status"] == "completed").count() as u64,
        done
    );
    let run = exec(tlup_at(&server).args(["status", &id]));
    assert!(
        run.stdout.contains(&format!("{done} of 17 completed")),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("CHUNK"),
        "no chunk list without --chunks"
    );
    let run = exec(tlup_at(&server).args(["status", &id, "--chunks"]));
    let pending_rows = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.contains("pending"))
        .count();
    assert_eq!(pending_rows as u64, 17 - done, "{}", run.stdout);

    // 4. `wait` on the incomplete session gives up on time.
    let started = Instant::now();
    let run = exec(tlup_at(&server).args(["wait", &id, "--timeout", "1", "--interval", "0.2"]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("gave up waiting"), "{}", run.stderr);

    // 5. `resume` sends only the missing chunks, at full speed now.
    server.set_bandwidth(None);
    let run = exec(
        tlup_at(&server)
            .arg("--journal")
            .arg(&journal)
            .args(["--json", "resume", &id]),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let result = &run.events("result")[0];
    assert_eq!(result["upload_id"], id.as_str());
    assert_eq!(
        result["chunks_uploaded"].as_u64().unwrap(),
        17 - done,
        "{result}"
    );
    let asset_id = result["asset_id"].as_str().unwrap().to_owned();
    assert_eq!(asset_sha256(&server, &asset_id), sha);

    // 6. Now `wait` returns at once, and `asset --wait` shows the ready asset.
    let run = exec(tlup_at(&server).args(["--json", "wait", &id]));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["status"], "completed");
    assert_eq!(run.json()["completed_chunks"], 17);
    let run =
        exec(tlup_at(&server).args(["--json", "asset", &asset_id, "--wait", "--interval", "0.1"]));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["status"], "ready");
    assert_eq!(run.json()["sha256"], sha.as_str());
    let run = exec(tlup_at(&server).args(["asset", &asset_id]));
    assert!(run.stdout.contains("status     ready"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("sha256     {sha}")),
        "{}",
        run.stdout
    );

    // 7. The session is no longer incomplete.
    let run = exec(tlup_at(&server).args(["--json", "list"]));
    assert!(!run.stdout.contains(&id), "{}", run.stdout);
}

#[test]
fn unknown_ids_are_reported_as_such() {
    let server = sandbox().start().unwrap();
    let id = "0123456789abcdef01234567";
    for args in [
        vec!["status", id],
        vec!["wait", id, "--timeout", "5"],
        vec!["asset", id],
    ] {
        let run = exec(tlup_at(&server).args(&args));
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains(id), "{args:?}: {}", run.stderr);
    }
    let run = exec(tlup_at(&server).args(["--json", "status", id]));
    assert_eq!(run.events("error").len(), 1, "{}", run.stdout);
    let run = exec(tlup_at(&server).arg("list"));
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("no incomplete upload sessions"),
        "{}",
        run.stderr
    );
}
