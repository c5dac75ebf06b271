//! Single-file uploads: JSON output, human output, and the options reaching the server.

use serde_json::{Value, json};

use crate::support::*;

#[test]
fn a_json_upload_of_an_odd_sized_file_arrives_byte_for_byte() {
    // Two initial URLs make the engine ask for the rest; the last chunk is short.
    let server = sandbox().initial_urls(2).start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    let len = 5 * MIB + MIB / 2 + 123;
    let sha = random_file(&path, len, 1);

    let run = exec(
        tlup_at(&server)
            .args(["--json", "upload", "--workers", "3"])
            .arg(&path),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let lines = run.json_lines();
    let progress: Vec<&Value> = lines.iter().filter(|v| v["event"] == "progress").collect();
    assert!(!progress.is_empty(), "no progress events: {}", run.stdout);
    for p in &progress {
        assert!(
            p.get("chunks").is_none(),
            "the per-chunk array is left out: {p}"
        );
        assert_eq!(p["file"], path.display().to_string());
        if p["status"] != "starting" && p["status"] != "queued" {
            // Before the session exists the sizes are not known yet.
            assert_eq!(p["total_bytes"], len);
            assert_eq!(p["total_chunks"], 6);
        }
        for key in [
            "percentage",
            "bytes_sent",
            "bytes_per_second",
            "eta_seconds",
            "completed_chunks",
            "retries",
            "urls_refreshed",
            "parallelism",
            "chunks_in_flight",
            "status",
        ] {
            assert!(p.get(key).is_some(), "{key} missing from {p}");
        }
    }
    let uploading: Vec<&&Value> = progress
        .iter()
        .filter(|p| p["status"] == "uploading")
        .collect();
    assert!(!uploading.is_empty(), "{}", run.stdout);
    for p in uploading {
        assert_eq!(p["parallelism"], 3, "the level --workers 3 fixes: {p}");
    }
    assert_eq!(progress.last().unwrap()["status"], "completed");
    let result = lines.last().unwrap();
    assert_eq!(
        result["event"], "result",
        "the result comes last: {}",
        run.stdout
    );
    assert_eq!(result["total_bytes"], len);
    assert_eq!(result["total_chunks"], 6);
    assert_eq!(result["chunks_uploaded"], 6);
    assert!(result["copies_raced"].is_u64(), "{result}");
    assert_eq!(result["file"], path.display().to_string());
    let asset_id = result["asset_id"].as_str().unwrap();
    assert_eq!(asset_sha256(&server, asset_id), sha);
    assert!(server.stats().puts_completed >= 6);
    assert!(!run.stdout.contains("test-key") && !run.stderr.contains("test-key"));
}

#[test]
fn a_human_upload_prints_the_asset_and_sends_the_session_options() {
    let server = sandbox().start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "raw.bin");
    let sha = random_file(&path, 3 * MIB + 7, 2);

    // Connection flags after the command work as well as before it.
    let run = exec(
        tlup()
            .arg("upload")
            .arg(&path)
            .args([
                "--base-url",
                &server.base_url(),
                "--api-key",
                server.api_key(),
            ])
            .args([
                "--filename",
                "renamed.mp4",
                "--hls",
                "--thumbnail",
                "--wait",
            ])
            .args([
                "--metadata",
                "take=3",
                "--metadata",
                "ratio=1.5",
                "--metadata",
                "final=true",
            ])
            .args(["--metadata", "note=hello world"]),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("uploaded raw.bin"), "{}", run.stdout);
    assert!(
        run.stdout.contains("asset status: ready"),
        "--wait waits: {}",
        run.stdout
    );
    let asset_id = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("asset id:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no asset id line: {}", run.stdout));
    let asset = asset(&server, asset_id);
    assert_eq!(asset["sha256"], sha.as_str());
    assert_eq!(asset["filename"], "renamed.mp4");
    assert_eq!(asset["status"], "ready");
    assert_eq!(
        asset["user_metadata"],
        json!({"take": 3, "ratio": 1.5, "final": true, "note": "hello world"})
    );
    assert!(asset.get("hls").is_some_and(|h| !h.is_null()), "{asset}");
    assert!(
        asset.get("thumbnail").is_some_and(|t| !t.is_null()),
        "{asset}"
    );
}
