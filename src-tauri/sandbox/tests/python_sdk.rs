//! Compatibility with the official TwelveLabs Python SDK, unchanged: its `upload_file` must
//! work against the sandbox, and its pagers must terminate with the right items.
//!
//! The SDK is installed from PyPI into a virtualenv under the build directory (created once,
//! reused afterwards). If Python, venv or pip fail, the test fails and says why: it is never
//! silently skipped.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tl_sandbox::Sandbox;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_sdk.py");
const SDK: &str = "twelvelabs>=1.3,<2";

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// A virtualenv with the SDK, created on first use.
fn sdk_python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk-venv");
    let python = venv_python(&venv);
    if !python.exists() {
        let system = if cfg!(windows) { "python" } else { "python3" };
        run(
            Command::new(system).args(["-m", "venv"]).arg(&venv),
            "creating the Python virtualenv for the SDK test (needs python3 with venv)",
        );
    }
    let installed = Command::new(&python)
        .args(["-c", "import twelvelabs"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--quiet",
                    SDK,
                ])
                .env_remove("PIP_REQUIRE_VIRTUALENV"),
            "installing the official `twelvelabs` SDK from PyPI",
        );
    }
    python
}

#[test]
fn the_official_python_sdk_uploads_through_the_sandbox() {
    let python = sdk_python();
    let sandbox = Sandbox::builder()
        .api_key("sdk-key")
        .chunk_size(1024 * 1024)
        .initial_urls(5)
        .processing_delay(Duration::from_millis(200))
        .start()
        .unwrap();

    // 11 full chunks and an odd remainder: the SDK must ask for URLs beyond the first five.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clip.mp4");
    let data: Vec<u8> = (0..11 * 1024 * 1024 + 12_345u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &data).unwrap();
    let local_sha = hex::encode(Sha256::digest(&data));

    let output = run(
        Command::new(&python)
            .arg(SCRIPT)
            .arg(sandbox.base_url())
            .arg(sandbox.api_key())
            .arg(&file)
            // The SDK lets this variable override `base_url`; never inherit it.
            .env_remove("TWELVELABS_BASE_URL")
            .env_remove("TWELVE_LABS_API_KEY"),
        "the SDK script",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    let result: Value = serde_json::from_str(line).unwrap();

    assert_eq!(result["status"], "ready", "{result}");
    assert_eq!(result["size"], data.len());
    assert_eq!(
        result["sha256"], local_sha,
        "the assembled file differs from the local one"
    );
    assert!(
        result["asset_url"]
            .as_str()
            .unwrap()
            .starts_with(&sandbox.url())
    );
    // The pagers terminate and see every item.
    assert_eq!(
        result["incomplete"].as_array().unwrap().len(),
        2,
        "{result}"
    );
    assert_eq!(result["incomplete"][1], result["first_upload_id"]);
    assert_eq!(result["chunk_indices"], serde_json::json!([1, 2, 3, 4]));
    assert_eq!(result["chunk_statuses"], serde_json::json!(["pending"]));

    let stats = sandbox.stats();
    assert_eq!(stats.puts_completed, 12, "{stats:?}");
    assert!(
        stats.urls_issued >= 12 + 5,
        "the SDK must have requested more URLs: {stats:?}"
    );
    assert_eq!(stats.sessions_created, 3);
}
