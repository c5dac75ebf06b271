//! Without a key or a base URL, tlup runs against a sandbox inside itself.

use crate::support::*;

#[test]
fn without_a_key_tlup_uses_its_own_sandbox_and_cleans_up() {
    let dir = tempdir();
    let path = file(&dir, "first-try.mp4");
    let sha = random_file(&path, 6 * MIB + 99, 12);
    // The sandbox keeps its chunks under TMPDIR; a private one shows that it is removed.
    let tmp = tempdir();

    let run = exec(tlup().env("TMPDIR", tmp.path()).arg("upload").arg(&path));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("no TWELVELABS_API_KEY set: using the local sandbox at http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("/v1.3 — nothing leaves this computer"),
        "{}",
        run.stderr
    );
    let line = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("sha256 (sandbox): "))
        .unwrap_or_else(|| panic!("no sha256 line: {}", run.stdout));
    assert_eq!(line, sha);
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "the sandbox directory was removed: {left:?}"
    );
}

#[test]
fn the_sandbox_flag_wins_over_a_configured_server() {
    let dir = tempdir();
    let path = file(&dir, "clip.mp4");
    let sha = random_file(&path, 100 * KIB, 13);
    // A key and an unreachable server in the environment: --sandbox must not use them.
    let run = exec(
        tlup()
            .env("TWELVELABS_API_KEY", "real-key")
            .env("TWELVELABS_BASE_URL", "http://127.0.0.1:9/v1.3")
            .args(["--sandbox", "--json", "upload"])
            .arg(&path),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("using the local sandbox at http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    let result = &run.events("result")[0];
    assert_eq!(result["sandbox_sha256"], sha.as_str());
}
