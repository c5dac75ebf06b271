//! The link flags: `--limit-rate` holds the upload to its rate.

use crate::support::*;

#[test]
fn limit_rate_holds_an_upload_to_its_rate() {
    // 6 MB at 2 MB/s: three seconds, however fast the sandbox could take them.
    let server = sandbox().start().unwrap();
    let dir = tempdir();
    let path = file(&dir, "paced.mp4");
    let len = 6_000_000;
    let sha = random_file(&path, len, 41);

    let run = exec(
        tlup_at(&server)
            .args(["--json", "upload", "--limit-rate", "2MB/s"])
            .arg(&path),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let result = &run.events("result")[0];
    assert_eq!(result["bytes_uploaded"], len, "{result}");
    let seconds = result["transfer_seconds"].as_f64().unwrap();
    assert!(
        (2.7..=3.3).contains(&seconds),
        "6 MB at 2 MB/s took {seconds:.2} s, not 3 s ± 10 %: {result}"
    );
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha
    );
}
