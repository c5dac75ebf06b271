//! Progress reaches the UI coalesced: about ten events a second per upload however many
//! chunks move, plus one per state change, each carrying the whole chunk grid.

use std::time::Duration;

use tl_uploader::ipc::UploadState;

use crate::support::{Harness, config, file, states};

#[test]
fn progress_events_are_coalesced_to_about_ten_a_second() {
    let dir = tempfile::tempdir().unwrap();
    // 256 chunks of 8 KiB at 100 KB/s per connection: about four seconds with 5 chunks at
    // once, so hundreds of chunk events are squeezed into a few dozen UI events.
    let app = Harness::start(config(
        &dir.path().join("data"),
        "--chunk-size 8192 --bandwidth 100000 --processing-delay 0",
    ));
    app.set_link(serde_json::json!({ "fixed": 5 }), None, 3);
    let path = file(dir.path(), "many chunks.mp4", 256 * 8192);
    let u = app.add(&path);
    let done = app.wait_state(&u.id, UploadState::Completed, Duration::from_secs(90));
    assert_eq!(done.total_chunks, 256);

    let events = app.events_of(&u.id);
    let moving: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(
                e.view.state,
                UploadState::Uploading | UploadState::Confirming
            )
        })
        .collect();
    let first = moving.first().unwrap().at;
    let last = moving.last().unwrap().at;
    let seconds = (last - first).as_secs_f64();
    assert!(
        seconds > 1.5,
        "the upload was too quick to measure: {seconds}s"
    );
    let changes = states(&events).len();
    let allowed = (12.0 * seconds).ceil() as usize + changes + 2;
    assert!(
        events.len() <= allowed,
        "{} events in {seconds:.2}s ({changes} state changes), at most {allowed} expected",
        events.len()
    );
    // ... and yet progress flows: several events a second while chunks move.
    assert!(
        moving.len() as f64 >= 5.0 * seconds,
        "only {} events in {seconds:.2}s",
        moving.len()
    );
    // Each event carries the whole grid, the link's level, and at most that many attempts
    // still sending (a chunk whose bytes are all out may have left its slot already and
    // still show until the journal has its row).
    for e in &moving {
        assert_eq!(e.view.chunks.len(), 256);
        assert_eq!(e.view.parallelism, 5);
        let sending = e.view.in_flight.iter().filter(|f| f.sent < f.len).count();
        assert!(sending <= 5, "{:?}", e.view.in_flight);
        assert!(
            e.view
                .in_flight
                .iter()
                .all(|f| f.sent <= f.len && f.len == 8192)
        );
    }
    // Percentages never go backwards.
    let percentages: Vec<f64> = events.iter().map(|e| e.view.percentage).collect();
    assert!(
        percentages.windows(2).all(|w| w[0] <= w[1]),
        "{percentages:?}"
    );
    // The grid fills: pending chunks at the start, all done at the end.
    assert!(moving.first().unwrap().view.chunks.contains('p'));
    assert_eq!(done.chunks, "d".repeat(256));
}
