//! Several files in one command: a queue where one bad file does not stop the others.

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
    let results = run.events("result");
    assert_eq!(results.len(), 2, "{}", run.stdout);
    assert_eq!(results[0]["file"], first.display().to_string());
    assert_eq!(results[1]["file"], last.display().to_string());
    assert_eq!(
        asset_sha256(&server, results[0]["asset_id"].as_str().unwrap()),
        sha_first
    );
    assert_eq!(
        asset_sha256(&server, results[1]["asset_id"].as_str().unwrap()),
        sha_last
    );
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
