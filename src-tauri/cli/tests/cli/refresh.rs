//! Presigned URLs that expire during an upload are replaced, and the refreshes are visible.

use crate::support::*;

#[test]
fn urls_that_expire_mid_upload_are_refreshed() {
    // 2 s URLs and 256 KiB/s per connection: 8 chunks of 256 KiB over two connections take
    // about 4 s, so the URLs minted with the session go stale before their chunks' turn.
    let server = sandbox()
        .chunk_size(256 * KIB)
        .initial_urls(10)
        .url_ttl(std::time::Duration::from_secs(2))
        .bandwidth(Some(256 * KIB))
        .start()
        .unwrap();
    let dir = tempdir();
    let path = file(&dir, "slow.mp4");
    let sha = random_file(&path, 2 * MIB - 1000, 14);

    let run = exec(
        tlup_at(&server)
            .args(["--json", "upload", "--workers", "2"])
            .arg(&path),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let result = &run.events("result")[0];
    assert!(result["urls_refreshed"].as_u64().unwrap() > 0, "{result}");
    assert!(
        server.stats().urls_issued > 8,
        "more URLs than chunks were minted"
    );
    assert_eq!(
        asset_sha256(&server, result["asset_id"].as_str().unwrap()),
        sha
    );
}
