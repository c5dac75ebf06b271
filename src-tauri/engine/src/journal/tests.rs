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
