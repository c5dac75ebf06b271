//! `tlup sandbox`: the sandbox server in the foreground, as scripts use it.

use std::time::Duration;

use crate::support::*;

#[test]
fn tlup_sandbox_serves_uploads_until_interrupted() {
    let mut child = spawn(tlup().args([
        "sandbox",
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        "k",
        "--chunk-size",
        "1048576",
        "--storage",
        "discard",
    ]));
    let _dog = Watchdog::new(child.id(), Duration::from_secs(60));
    let stderr = drain(child.stderr.take().unwrap());
    let mut lines = stdout_lines(&mut child);
    let first = lines.next().unwrap().unwrap();
    let origin = first
        .strip_prefix("tl-sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    assert!(origin.starts_with("http://127.0.0.1:"), "{origin}");

    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    random_file(&path, 3 * MIB + 1, 16);
    let base = format!("{origin}/v1.3");
    let run = exec(
        tlup()
            .args(["--json", "--base-url", &base, "--api-key", "k", "upload"])
            .arg(&path),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let result = &run.events("result")[0];
    assert_eq!(result["total_chunks"], 4);

    interrupt(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", stderr.join().unwrap());
    assert_eq!(lines.count(), 0, "exactly one line on stdout");
}
