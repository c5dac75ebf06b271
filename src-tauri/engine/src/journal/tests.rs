use super::*;

fn record(id: &str, path: &Path) -> SessionRecord {
    SessionRecord {
        upload_id: id.into(),
        asset_id: Some("asset-1".into()),
        base_url: "http://127.0.0.1:1/v1.3".into(),
        file_path: path.to_path_buf(),
        file_size: 1000,
        file_mtime_ns: Some(1_700_000_000_123_456_789),
        fingerprint: Some("v1:abc".into()),
        filename: "clip é.mp4".into(),
        file_type: "video".into(),
        chunk_size: 300,
        total_chunks: 4,
        created_at: 1_700_000_000,
        expires_at: Some(1_700_086_400),
        state: SessionState::Active,
    }
}

#[test]
fn sessions_and_chunks_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/journal.sqlite3");
    let j = Journal::open(&path).unwrap();
    let rec = record("u1", Path::new("/videos/clip é.mp4"));
    j.record_session(&rec).unwrap();
    j.record_chunk("u1", 2, "etag2", 300).unwrap();
    j.record_chunk("u1", 1, "etag1", 300).unwrap();
    j.record_chunk("u1", 1, "etag1b", 300).unwrap();
    j.mark_reported("u1", &[2]).unwrap();
    drop(j);

    let j = Journal::open(&path).unwrap();
    j.integrity_check().unwrap();
    assert_eq!(j.session("u1").unwrap(), Some(rec));
    assert_eq!(j.session("nope").unwrap(), None);
    let chunks = j.chunks("u1").unwrap();
    assert_eq!(
        chunks,
        vec![
            ChunkRecord {
                index: 1,
                etag: "etag1b".into(),
                size: 300,
                reported: false
            },
            ChunkRecord {
                index: 2,
                etag: "etag2".into(),
                size: 300,
                reported: true
            },
        ]
    );
    j.set_state("u1", SessionState::Completed).unwrap();
    j.set_asset_id("u1", "asset-2").unwrap();
    j.set_file("u1", Path::new("/moved.mp4"), Some(5), "v1:def")
        .unwrap();
    let s = j.session("u1").unwrap().unwrap();
    assert_eq!(s.state, SessionState::Completed);
    assert_eq!(s.asset_id.as_deref(), Some("asset-2"));
    assert_eq!(
        (s.file_path, s.file_mtime_ns),
        (PathBuf::from("/moved.mp4"), Some(5))
    );
    j.forget("u1").unwrap();
    assert!(j.sessions().unwrap().is_empty());
    assert!(
        j.chunks("u1").unwrap().is_empty(),
        "chunks go with their session"
    );
}

#[test]
fn abandoning_works_for_known_and_unknown_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path().join("j.sqlite3")).unwrap();
    j.record_session(&record("known", Path::new("/a.mp4")))
        .unwrap();
    j.abandon("known", "http://x/v1.3").unwrap();
    let known = j.session("known").unwrap().unwrap();
    assert_eq!(known.state, SessionState::Abandoned);
    assert_eq!(
        known.file_path,
        PathBuf::from("/a.mp4"),
        "the rest of the record stays"
    );
    j.abandon("server-only", "http://x/v1.3").unwrap();
    let other = j.session("server-only").unwrap().unwrap();
    assert_eq!(
        (other.state, other.base_url.as_str()),
        (SessionState::Abandoned, "http://x/v1.3")
    );
}

#[test]
fn a_chunk_of_an_unknown_session_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path().join("j.sqlite3")).unwrap();
    assert!(j.record_chunk("ghost", 1, "e", 1).is_err());
}

#[test]
fn a_version_1_journal_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::V1_FOR_TESTS).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions VALUES ('old1', NULL, 'https://api.twelvelabs.io/v1.3',
               '/data/old movie.mov', 5000, 42, 1000, 5, 1600000000, 'cancelled');
             INSERT INTO chunks VALUES ('old1', 3, 'e3', 1000, 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let j = Journal::open(&path).unwrap();
    let version: i64 = j
        .conn()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let s = j.session("old1").unwrap().unwrap();
    assert_eq!(
        s.state,
        SessionState::Active,
        "an old 'cancelled' session is resumable"
    );
    assert_eq!(s.expires_at, Some(1_600_086_400));
    assert_eq!(s.filename, "old movie.mov");
    assert_eq!(s.file_type, "video");
    assert_eq!(s.fingerprint, None);
    assert_eq!(j.chunks("old1").unwrap().len(), 1);
    drop(j);
    Journal::open(&path).unwrap();
}

#[test]
fn a_journal_from_a_newer_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite3");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert!(
        matches!(err, JournalError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("update the app"));
    let version: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}

#[test]
fn a_newer_journal_not_in_wal_mode_is_not_switched_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer-rollback.sqlite3");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 7;")
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        Journal::open(&path),
        Err(JournalError::TooNew { found: 7, .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before, "not a byte changed");
}

#[test]
fn many_threads_opening_a_new_journal_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..10 {
        let path = dir.path().join(format!("race-{round}.sqlite3"));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Journal::open(&path).map(drop))
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    }
}

#[test]
fn a_file_that_is_not_a_journal_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert!(err.to_string().contains("cannot be used"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_session_lock_excludes_a_second_holder_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path().join("j.sqlite3")).unwrap();
    let held = j.lock("abc123").unwrap();
    let err = j.lock("abc123").unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err:?}");
    j.lock("other").unwrap();
    drop(held);
    j.lock("abc123").unwrap();
}

/// A journal at `dir` with session `id` recorded.
fn journal_with_session(dir: &Path, id: &str) -> (PathBuf, Journal) {
    let path = dir.join("j.sqlite3");
    let j = Journal::open(&path).unwrap();
    j.record_session(&record(id, Path::new("/v.mp4"))).unwrap();
    (path, j)
}

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Holds the journal's connection on another thread until told to let go, so the writer
/// thread cannot commit meanwhile. The holder gives up on its own after a minute, so a
/// broken writer fails its test instead of hanging it.
struct HeldConnection {
    release: std::sync::mpsc::Sender<()>,
    holder: std::thread::JoinHandle<()>,
}

impl HeldConnection {
    fn hold(j: &Journal) -> Self {
        let j = j.clone();
        let (held_tx, held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _conn = j.conn();
            held_tx.send(()).unwrap();
            let _ = released.recv_timeout(std::time::Duration::from_secs(60));
        });
        held.recv().unwrap();
        Self { release, holder }
    }

    fn release(self) {
        self.release.send(()).unwrap();
        self.holder.join().unwrap();
    }
}

#[test]
fn concurrent_async_writes_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let rt = multi_thread_runtime();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8u64 {
            let writer = j.writer();
            tasks.spawn(async move {
                for n in 0..250u64 {
                    let index = worker * 250 + n + 1;
                    let etag = format!("etag-{index}");
                    // Half the workers wait for each write, half only queue theirs.
                    if worker % 2 == 0 {
                        writer.record_chunk("u1", index, &etag, 100 + index).await?;
                        if index.is_multiple_of(2) {
                            writer.mark_reported("u1", &[index]).await?;
                        }
                    } else {
                        writer.queue_chunk("u1", index, &etag, 100 + index).await?;
                        if index.is_multiple_of(2) {
                            writer.queue_reported("u1", &[index]).await?;
                        }
                    }
                }
                writer.flush("u1").await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
    });
    drop(j);
    let chunks = Journal::open(&path).unwrap().chunks("u1").unwrap();
    assert_eq!(chunks.len(), 2000);
    for (i, c) in chunks.iter().enumerate() {
        let index = i as u64 + 1;
        assert_eq!(
            *c,
            ChunkRecord {
                index,
                etag: format!("etag-{index}"),
                size: 100 + index,
                reported: index.is_multiple_of(2),
            }
        );
    }
}

#[test]
fn an_async_write_resolves_only_once_another_connection_can_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let reader = Journal::open(&path).unwrap();
    let rt = multi_thread_runtime();
    rt.block_on(async {
        let writer = j.writer();
        for index in 1..=200u64 {
            writer.record_chunk("u1", index, "e", 1).await.unwrap();
            let seen = reader.chunks("u1").unwrap();
            assert_eq!(
                seen.last().map(|c| c.index),
                Some(index),
                "chunk {index} resolved before it was committed"
            );
            if index.is_multiple_of(10) {
                let indices: Vec<u64> = (index - 9..=index).collect();
                writer.mark_reported("u1", &indices).await.unwrap();
                let reported = reader.chunks("u1").unwrap();
                assert!(
                    reported
                        .iter()
                        .filter(|c| c.index > index - 10)
                        .all(|c| c.reported),
                    "reports up to {index} resolved before they were committed"
                );
            }
        }
    });
}

#[test]
fn a_failing_async_write_gets_its_own_error_and_the_rest_of_its_group_lands() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let rt = current_thread_runtime();
    let held = HeldConnection::hold(&j);
    let writer = j.writer();
    let (first, ghost, second) = rt.block_on(async {
        let writes = tokio::spawn(async move {
            tokio::join!(
                writer.record_chunk("u1", 1, "e1", 1),
                writer.record_chunk("ghost", 1, "e", 1),
                writer.record_chunk("u1", 2, "e2", 1),
            )
        });
        // Let the writes queue up behind the held connection, so that the failing one
        // shares a transaction with at least one of the others.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        held.release();
        writes.await.unwrap()
    });
    let err = ghost.unwrap_err();
    assert!(matches!(err, JournalError::Database { .. }), "{err:?}");
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    assert!(err.to_string().contains("j.sqlite3"), "{err}");
    first.unwrap();
    second.unwrap();
    let commits = j
        .inner
        .db
        .group_commits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=2).contains(&commits), "{commits} commits for 3 writes");
    let reopened = Journal::open(&path).unwrap();
    assert_eq!(
        reopened
            .chunks("u1")
            .unwrap()
            .iter()
            .map(|c| c.etag.as_str())
            .collect::<Vec<_>>(),
        ["e1", "e2"]
    );
    assert!(reopened.chunks("ghost").unwrap().is_empty());
}

#[test]
fn the_runtime_keeps_running_while_writes_wait_and_those_writes_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    // One thread for everything async: a write that blocked it would stop the ticks.
    let rt = current_thread_runtime();
    let held = HeldConnection::hold(&j);
    let writer = j.writer();
    let ticks = rt.block_on(async {
        let writes = tokio::spawn(async move {
            let all = (1..=50u64).map(|i| writer.record_chunk("u1", i, "e", 1));
            futures_util::future::join_all(all).await
        });
        let mut ticks = 0u32;
        while ticks < 1000 {
            tokio::task::yield_now().await;
            assert!(
                !writes.is_finished(),
                "the writes finished while the journal was held"
            );
            ticks += 1;
        }
        held.release();
        for outcome in writes.await.unwrap() {
            outcome.unwrap();
        }
        ticks
    });
    assert_eq!(ticks, 1000);
    // All 50 were queued while the connection was held: the thread took the first (or the
    // first few) before it blocked, and the rest together once it was let go.
    let commits = j
        .inner
        .db
        .group_commits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        (1..=2).contains(&commits),
        "{commits} commits for 50 writes"
    );
    assert_eq!(
        Journal::open(&path).unwrap().chunks("u1").unwrap().len(),
        50
    );
}

#[test]
fn sync_and_async_writes_mix_and_a_dropped_journal_closes_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let rt = multi_thread_runtime();
    j.record_chunk("u1", 1, "sync", 1).unwrap();
    rt.block_on(j.writer().record_chunk("u1", 2, "async", 1))
        .unwrap();
    j.mark_reported("u1", &[2]).unwrap();
    rt.block_on(j.writer().mark_reported("u1", &[1])).unwrap();
    assert!(j.chunks("u1").unwrap().iter().all(|c| c.reported));
    drop(j);
    // The last connection to close checkpoints the WAL into the file and removes it: with
    // the writer thread joined on drop, that has happened by now.
    let wal = path.with_extension("sqlite3-wal");
    assert!(!wal.exists(), "{} is still there", wal.display());
    assert_eq!(Journal::open(&path).unwrap().chunks("u1").unwrap().len(), 2);
}

#[test]
fn queued_writes_are_on_disk_once_a_later_flush_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let reader = Journal::open(&path).unwrap();
    let rt = current_thread_runtime();
    let held = HeldConnection::hold(&j);
    let writer = j.writer();
    rt.block_on(async {
        // Queueing does not wait for the commit: these resolve while nothing can commit.
        for index in 1..=100u64 {
            writer.queue_chunk("u1", index, "e", 1).await.unwrap();
        }
        writer.queue_reported("u1", &[1, 2, 3]).await.unwrap();
        let flush = tokio::spawn({
            let writer = writer.clone();
            async move { writer.flush("u1").await }
        });
        for _ in 0..1000 {
            tokio::task::yield_now().await;
            assert!(!flush.is_finished(), "the flush finished before the commit");
        }
        held.release();
        flush.await.unwrap().unwrap();
    });
    let chunks = reader.chunks("u1").unwrap();
    assert_eq!(chunks.len(), 100);
    let reported: Vec<u64> = chunks
        .iter()
        .filter(|c| c.reported)
        .map(|c| c.index)
        .collect();
    assert_eq!(reported, [1, 2, 3]);
    // Nothing queued: a flush needs no transaction.
    let before = j
        .inner
        .db
        .group_commits
        .load(std::sync::atomic::Ordering::Relaxed);
    rt.block_on(writer.flush("u1")).unwrap();
    let after = j
        .inner
        .db
        .group_commits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(before, after);
}

#[test]
fn a_failed_queued_write_is_told_to_the_next_flush_of_its_upload_only() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let rt = current_thread_runtime();
    let writer = j.writer();
    rt.block_on(async {
        writer.queue_chunk("ghost", 1, "e", 1).await.unwrap();
        writer.queue_chunk("u1", 1, "e1", 1).await.unwrap();
        writer.flush("u1").await.unwrap();
        let err = writer.flush("ghost").await.unwrap_err();
        assert!(matches!(err, JournalError::Database { .. }), "{err:?}");
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        // Told once: the next flush has nothing new to tell.
        writer.flush("ghost").await.unwrap();
        // A failure queued after a flush was asked for belongs to the flush after it.
        let (first, ()) = tokio::join!(writer.flush("ghost"), async {
            writer.queue_chunk("ghost", 2, "e", 1).await.unwrap();
        });
        first.unwrap();
        assert!(writer.flush("ghost").await.is_err());
    });
    let reopened = Journal::open(&path).unwrap();
    assert_eq!(reopened.chunks("u1").unwrap().len(), 1);
    assert!(reopened.chunks("ghost").unwrap().is_empty());
}

#[test]
fn writes_still_queued_when_the_journal_is_dropped_are_made() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let rt = current_thread_runtime();
    let held = HeldConnection::hold(&j);
    rt.block_on(async {
        let writer = j.writer();
        for index in 1..=20u64 {
            writer.queue_chunk("u1", index, "e", 1).await.unwrap();
        }
    });
    // The holder's clone is the last: dropped as it lets go, it waits for the queued writes.
    drop(j);
    held.release();
    assert_eq!(
        Journal::open(&path).unwrap().chunks("u1").unwrap().len(),
        20
    );
}

#[test]
fn queued_writes_go_in_on_their_own_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let (path, j) = journal_with_session(dir.path(), "u1");
    let reader = Journal::open(&path).unwrap();
    let rt = current_thread_runtime();
    let writer = j.writer();
    rt.block_on(async {
        for index in 1..=3u64 {
            writer.queue_chunk("u1", index, "e", 1).await.unwrap();
        }
    });
    // Nobody flushes or waits; the writer commits them after its short delay.
    tl_test_support::wait_until(
        "the queued rows to be committed",
        std::time::Duration::from_secs(20),
        || reader.chunks("u1").unwrap().len() == 3,
    );
}
