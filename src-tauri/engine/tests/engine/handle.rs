use std::path::{Path, PathBuf};
use std::time::Duration;

use tl_upload::wire::{CreateAssetUploadRequest, FileType};
use tl_upload::{
    ChunkState, Forgotten, Journal, MultipartUploadClient, ResumeState, SessionState, UploadError,
    UploadHandle, UploadOptions, UploadPhase, UploadSource, Uploader, inspect,
};

use crate::support::*;

fn journal(dir: &Path) -> Journal {
    Journal::open(dir.join("journal.sqlite3")).unwrap()
}

/// A session created on the server and nothing else: no journal knows it.
async fn server_session(c: &MultipartUploadClient, size: u64) -> String {
    let request = CreateAssetUploadRequest {
        filename: "server-only.mp4".into(),
        file_type: FileType::Video,
        total_size: size,
        enable_hls: None,
        enable_thumbnail: None,
        user_metadata: None,
    };
    c.create(&request).await.unwrap().upload_id
}

/// Starts `source` paused before its first chunk and waits until it says so: the session
/// exists (and, with a journal, is recorded and locked) but no chunk is being sent.
async fn paused(
    uploader: &Uploader,
    c: &MultipartUploadClient,
    source: UploadSource,
) -> (UploadHandle, String) {
    let handle = uploader.start(c, source, options());
    handle.pause();
    let mut progress = handle.progress();
    let snapshot = progress_until(&mut progress, "the pause", |p| {
        p.status == UploadPhase::Paused
    })
    .await;
    assert!(
        !snapshot
            .chunks
            .iter()
            .any(|c| matches!(c, ChunkState::Uploading { .. })),
        "paused before the first chunk: {:?}",
        snapshot.chunks
    );
    let id = snapshot.upload_id.expect("a paused upload has its session");
    (handle, id)
}

/// A journalled session left active with no chunk sent: paused at once, then cancelled.
async fn active_session(uploader: &Uploader, c: &MultipartUploadClient, path: &Path) -> String {
    let (handle, id) = paused(uploader, c, UploadSource::NewFile(path.to_path_buf())).await;
    let controls = handle.controls();
    controls.cancel();
    assert!(controls.is_cancelled());
    let err = handle.result().await.unwrap_err();
    assert_eq!(err.upload_id(), Some(id.as_str()), "{err:?}");
    assert!(err.is_cancelled(), "{err:?}");
    id
}

/// The listing's entry for `id`, if it has one.
async fn listed(
    uploader: &Uploader,
    c: &MultipartUploadClient,
    id: &str,
) -> Option<tl_upload::ResumableSession> {
    uploader
        .resumable_sessions(c)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.upload_id == id)
}

/// The phases `seen` went through, each once per stretch.
fn phases(seen: &[tl_upload::UploadProgress]) -> Vec<UploadPhase> {
    let mut out: Vec<UploadPhase> = seen.iter().map(|p| p.status).collect();
    out.dedup();
    out
}

#[tokio::test]
async fn progress_goes_through_uploading_and_confirming_to_completed() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "phases.mp4", 9 * CHUNK + 3);
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), options());
    let watch = handle.watch();
    let seen = record(handle.progress()).await;
    let went: Vec<UploadPhase> = phases(&seen)
        .into_iter()
        .skip_while(|p| *p == UploadPhase::Starting)
        .collect();
    assert_eq!(
        went,
        [
            UploadPhase::Uploading,
            UploadPhase::Confirming,
            UploadPhase::Completed
        ],
        "every phase, in order, once"
    );
    let last = seen.last().unwrap();
    assert_eq!((last.completed_chunks, last.total_chunks), (10, 10));
    assert_eq!(last.percentage, 100.0);
    assert_eq!(*watch.borrow(), *last, "the watch holds the last snapshot");
    // The upload is over: a new subscription sees its last snapshot, then the end.
    let mut late = handle.progress();
    assert_eq!(late.next().await.as_ref(), Some(last));
    assert_eq!(late.next().await, None);
    assert_eq!(late.latest(), *last);
    let r = handle.result().await.unwrap();
    assert_eq!(last.upload_id.as_deref(), Some(r.upload_id.as_str()));
    assert_eq!(last.asset_id.as_deref(), Some(r.asset_id.as_str()));
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn waiting_for_the_asset_shows_as_processing_before_completed() {
    let sb = sandbox()
        .processing_delay(Duration::from_millis(300))
        .start()
        .unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "processing.mp4", 2 * CHUNK);
    let opts = UploadOptions {
        wait_for_ready: true,
        ..options()
    };
    let (r, seen) = finish(Uploader::new(None).start(&c, UploadSource::NewFile(path), opts)).await;
    assert!(r.unwrap().asset.is_some());
    let went: Vec<UploadPhase> = phases(&seen)
        .into_iter()
        .skip_while(|p| *p == UploadPhase::Starting)
        .collect();
    assert_eq!(
        went,
        [
            UploadPhase::Uploading,
            UploadPhase::Confirming,
            UploadPhase::Processing,
            UploadPhase::Completed
        ]
    );
}

#[tokio::test]
async fn pause_starts_no_chunk_until_resume_finishes_the_file() {
    // 64 KiB chunks at 400 kB/s a connection: each PUT takes about 160 ms.
    let sb = sandbox().bandwidth(Some(400_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "pausing.mp4", 24 * CHUNK);
    let opts = UploadOptions {
        max_workers: 2,
        ..options()
    };
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), opts);
    let controls = handle.controls();
    let mut progress = handle.progress();
    progress_until(&mut progress, "2 chunks acknowledged", |p| {
        p.bytes_acknowledged >= 2 * CHUNK
    })
    .await;
    controls.pause();
    assert!(handle.is_paused() && controls.is_paused());
    let at_pause = progress_until(&mut progress, "the pause", |p| {
        p.status == UploadPhase::Paused
    })
    .await;
    let stats = sb.stats();
    assert_eq!(
        stats.puts_in_flight, 0,
        "the chunks in flight finished first"
    );
    assert!(
        at_pause.completed_chunks < 24,
        "paused mid-file: {}",
        at_pause.completed_chunks
    );
    let no_chunk_moves = |p: &tl_upload::UploadProgress| {
        !p.chunks
            .iter()
            .any(|c| matches!(c, ChunkState::Uploading { .. }))
    };
    assert!(no_chunk_moves(&at_pause), "{:?}", at_pause.chunks);
    // That nothing starts can only be seen by watching: every snapshot for 400 ms.
    let window = tokio::time::sleep(Duration::from_millis(400));
    tokio::pin!(window);
    loop {
        tokio::select! {
            () = &mut window => break,
            next = progress.next() => {
                let p = next.expect("a paused upload goes on");
                assert_eq!(p.status, UploadPhase::Paused);
                assert!(no_chunk_moves(&p), "a chunk started while paused: {:?}", p.chunks);
            }
        }
    }
    let after = sb.stats();
    assert_eq!(
        (after.puts_received, after.bytes_received),
        (stats.puts_received, stats.bytes_received),
        "no PUT reached the storage while paused"
    );
    let stored = |p: &tl_upload::UploadProgress| p.chunks.iter().filter(|c| c.is_stored()).count();
    assert_eq!(
        stored(&progress.latest()),
        stored(&at_pause),
        "no chunk was stored while paused (the stored ones may be reported)"
    );

    sb.set_bandwidth(None);
    handle.resume();
    assert!(!controls.is_paused());
    progress_until(&mut progress, "the upload to go on", |p| {
        p.status == UploadPhase::Uploading
    })
    .await;
    let r = handle.result().await.unwrap();
    assert_eq!(r.chunks_uploaded, 24);
    assert!(sb.stats().puts_received > stats.puts_received);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn dropping_the_handle_cancels_and_the_session_stays_resumable() {
    let sb = sandbox().bandwidth(Some(300_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let uploader = Uploader::new(Some(j.clone()));
    let path = file(dir.path(), "dropped.mp4", 20 * CHUNK);
    let opts = UploadOptions {
        max_workers: 2,
        ..options()
    };
    let handle = uploader.start(&c, UploadSource::NewFile(path.clone()), opts);
    let mut progress = handle.progress();
    let id = progress_until(&mut progress, "2 chunks acknowledged", |p| {
        p.bytes_acknowledged >= 2 * CHUNK
    })
    .await
    .upload_id
    .unwrap();
    drop(handle);
    let rest = tokio::time::timeout(Duration::from_secs(20), record(progress))
        .await
        .expect("the upload stops once its handle is gone");
    assert_eq!(
        rest.last().map(|p| p.status),
        Some(UploadPhase::Cancelled),
        "{:?}",
        phases(&rest)
    );
    quiesce(&sb).await;
    assert_eq!(j.session(&id).unwrap().unwrap().state, SessionState::Active);
    let entry = listed(&uploader, &c, &id)
        .await
        .expect("the cancelled session is listed");
    assert_eq!(entry.state, ResumeState::Resumable);
    assert!(entry.in_journal);
    assert!(
        (2..20).contains(&entry.chunks_done),
        "the stored chunks count: {}",
        entry.chunks_done
    );

    sb.set_bandwidth(None);
    let source = uploader.source_for(&c, &id, None).await.unwrap();
    let r = uploader
        .start(&c, source, options())
        .result()
        .await
        .unwrap();
    assert_eq!(r.upload_id, id);
    assert_eq!(r.chunks_uploaded, 20 - entry.chunks_done, "only the rest");
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn forgetting_an_active_session_hides_it_once() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let uploader = Uploader::new(Some(j.clone()));
    let path = file(dir.path(), "forget.mp4", 3 * CHUNK);
    let id = active_session(&uploader, &c, &path).await;
    assert!(listed(&uploader, &c, &id).await.is_some());

    let forgotten = uploader.forget(Some(&c), &id).await.unwrap();
    let Forgotten::Now {
        record: Some(record),
    } = forgotten
    else {
        panic!("expected the journal's record, got {forgotten:?}");
    };
    assert_eq!(record.upload_id, id);
    assert_eq!(record.state, SessionState::Active, "the record from before");
    assert_eq!(record.file_path, std::path::absolute(&path).unwrap());
    assert!(
        listed(&uploader, &c, &id).await.is_none(),
        "no longer offered"
    );
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        SessionState::Abandoned,
        "kept for the record"
    );
    let on_server = c.list_incomplete_uploads(50).collect().await.unwrap();
    assert!(
        on_server.iter().any(|s| s.upload_id == id),
        "the API cannot abort a session: the server keeps it"
    );

    assert_eq!(
        uploader.forget(Some(&c), &id).await.unwrap(),
        Forgotten::Already
    );
    assert_eq!(
        uploader.forget(None, &id).await.unwrap(),
        Forgotten::Already,
        "a session the journal knows needs no server"
    );
}

#[tokio::test]
async fn forgetting_a_session_only_the_server_knows() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(Some(journal(dir.path())));
    let id = server_session(&c, 4 * CHUNK).await;
    let entry = listed(&uploader, &c, &id)
        .await
        .expect("listed from the server");
    assert_eq!(entry.state, ResumeState::NeedsFile);
    assert!(!entry.in_journal);

    let err = uploader.forget(None, &id).await.unwrap_err();
    assert!(
        matches!(err, UploadError::SessionNotFound { .. }),
        "without the server it is unknown: {err:?}"
    );
    assert!(listed(&uploader, &c, &id).await.is_some(), "still offered");
    assert_eq!(
        uploader.forget(Some(&c), &id).await.unwrap(),
        Forgotten::Now { record: None }
    );
    assert!(
        listed(&uploader, &c, &id).await.is_none(),
        "no longer offered"
    );
    assert_eq!(
        uploader.forget(Some(&c), &id).await.unwrap(),
        Forgotten::Already
    );
}

#[tokio::test]
async fn a_session_being_uploaded_is_not_forgotten() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let uploader = Uploader::new(Some(j.clone()));
    let path = file(dir.path(), "busy.mp4", 5 * CHUNK);
    let (handle, id) = paused(&uploader, &c, UploadSource::NewFile(path.clone())).await;

    let err = uploader.forget(Some(&c), &id).await.unwrap_err();
    assert!(err.is_locked(), "{err:?}");
    assert_eq!(err.upload_id(), Some(id.as_str()));
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        SessionState::Active,
        "the refused forget changed nothing"
    );

    handle.resume();
    let r = handle.result().await.unwrap();
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
    assert_eq!(
        uploader.forget(Some(&c), &id).await.unwrap(),
        Forgotten::Completed {
            asset_id: Some(r.asset_id)
        },
        "a complete session has nothing to forget"
    );
}

#[tokio::test]
async fn forgetting_an_unknown_session_is_not_found() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(Some(journal(dir.path())));
    let unknown = "000000000000000000000000";
    let err = uploader.forget(Some(&c), unknown).await.unwrap_err();
    assert!(
        matches!(&err, UploadError::SessionNotFound { upload_id } if upload_id == unknown),
        "{err:?}"
    );
    let err = uploader.forget(None, unknown).await.unwrap_err();
    assert!(
        matches!(err, UploadError::SessionNotFound { .. }),
        "{err:?}"
    );
    let err = Uploader::new(None)
        .forget(Some(&c), unknown)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::InvalidOptions(_)), "{err:?}");
}

#[tokio::test]
async fn source_for_a_journalled_session_is_the_journal() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(Some(journal(dir.path())));
    let path = file(dir.path(), "known.mp4", 2 * CHUNK);
    let id = active_session(&uploader, &c, &path).await;
    let source = uploader.source_for(&c, &id, None).await.unwrap();
    let UploadSource::Journal {
        upload_id,
        new_path,
    } = &source
    else {
        panic!("expected the journal's record, got {source:?}");
    };
    assert_eq!(*upload_id, id);
    let recorded = std::path::absolute(&path).unwrap();
    assert!(
        new_path.is_none() || new_path.as_ref() == Some(&recorded),
        "the file where the journal saw it: {new_path:?}"
    );
    let moved = dir.path().join("moved.mp4");
    assert_eq!(
        uploader
            .source_for(&c, &id, Some(moved.clone()))
            .await
            .unwrap(),
        UploadSource::Journal {
            upload_id: id.clone(),
            new_path: Some(moved)
        },
        "the file's new place goes with the journal's record"
    );
}

#[tokio::test]
async fn source_for_a_server_session_needs_its_file() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(Some(journal(dir.path())));
    let id = server_session(&c, 3 * CHUNK).await;
    let path = PathBuf::from("/somewhere/clip.mp4");
    assert_eq!(
        uploader
            .source_for(&c, &id, Some(path.clone()))
            .await
            .unwrap(),
        UploadSource::Server {
            upload_id: id.clone(),
            path
        }
    );
    let err = uploader.source_for(&c, &id, None).await.unwrap_err();
    assert!(
        matches!(&err, UploadError::NeedsFile { upload_id } if *upload_id == id),
        "{err:?}"
    );
    // Without a journal the rule is the same.
    let err = Uploader::new(None)
        .source_for(&c, &id, None)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::NeedsFile { .. }), "{err:?}");
}

#[tokio::test]
async fn source_for_an_unknown_session_is_not_found() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(Some(journal(dir.path())));
    let unknown = "ffffffffffffffffffffffff";
    let err = uploader.source_for(&c, unknown, None).await.unwrap_err();
    assert!(
        matches!(&err, UploadError::SessionNotFound { upload_id } if upload_id == unknown),
        "{err:?}"
    );
}

#[tokio::test]
async fn source_for_a_completed_session_is_already_complete() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let uploader = Uploader::new(Some(journal(dir.path())));
    let path = file(dir.path(), "done.mp4", 2 * CHUNK + 1);
    let r = uploader
        .start(&c, UploadSource::NewFile(path.clone()), options())
        .result()
        .await
        .unwrap();
    let err = uploader
        .source_for(&c, &r.upload_id, Some(path))
        .await
        .unwrap_err();
    match &err {
        UploadError::AlreadyComplete {
            upload_id,
            asset_id,
        } => {
            assert_eq!(*upload_id, r.upload_id);
            assert_eq!(asset_id.as_deref(), Some(r.asset_id.as_str()));
        }
        other => panic!("expected AlreadyComplete, got {other:?}"),
    }
    assert!(err.to_string().contains("nothing to resume"), "{err}");
}

#[tokio::test]
async fn a_forgotten_journalled_session_resumed_by_name_completes() {
    let sb = sandbox().bandwidth(Some(300_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let uploader = Uploader::new(Some(j.clone()));
    let path = file(dir.path(), "again.mp4", 12 * CHUNK + 5);
    // Part of the file is sent, then the upload is cancelled and the session forgotten.
    let handle = uploader.start(&c, UploadSource::NewFile(path.clone()), options());
    let mut progress = handle.progress();
    let id = progress_until(&mut progress, "2 chunks acknowledged", |p| {
        p.bytes_acknowledged >= 2 * CHUNK
    })
    .await
    .upload_id
    .unwrap();
    handle.cancel();
    assert!(handle.result().await.unwrap_err().is_cancelled());
    sb.set_bandwidth(None);
    let done = listed(&uploader, &c, &id).await.unwrap().chunks_done;
    assert!(matches!(
        uploader.forget(Some(&c), &id).await.unwrap(),
        Forgotten::Now { record: Some(_) }
    ));
    assert!(listed(&uploader, &c, &id).await.is_none());

    let source = uploader
        .source_for(&c, &id, Some(path.clone()))
        .await
        .unwrap();
    assert_eq!(
        source,
        UploadSource::Journal {
            upload_id: id.clone(),
            new_path: Some(path.clone())
        }
    );
    let (handle, again) = paused(&uploader, &c, source).await;
    assert_eq!(again, id);
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        SessionState::Active,
        "asked for again, the session is active once more"
    );
    assert_eq!(
        listed(&uploader, &c, &id).await.map(|s| s.state),
        Some(ResumeState::Resumable)
    );
    handle.resume();
    let r = handle.result().await.unwrap();
    assert_eq!(r.upload_id, id);
    assert_eq!(r.chunks_uploaded, 13 - done, "the journal's chunks count");
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        SessionState::Completed
    );
}

#[tokio::test]
async fn a_forgotten_server_session_resumed_with_its_file_completes() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let uploader = Uploader::new(Some(j.clone()));
    let path = file(dir.path(), "foreign.mp4", 4 * CHUNK + 9);
    let id = server_session(&c, 4 * CHUNK + 9).await;
    assert_eq!(
        uploader.forget(Some(&c), &id).await.unwrap(),
        Forgotten::Now { record: None }
    );

    let source = uploader
        .source_for(&c, &id, Some(path.clone()))
        .await
        .unwrap();
    assert_eq!(
        source,
        UploadSource::Server {
            upload_id: id.clone(),
            path: path.clone()
        },
        "a forgotten record without a file does not stand for the session"
    );
    let (handle, again) = paused(&uploader, &c, source).await;
    assert_eq!(again, id);
    let record = j.session(&id).unwrap().unwrap();
    assert_eq!(record.state, SessionState::Active);
    assert_eq!(record.file_path, std::path::absolute(&path).unwrap());
    let entry = listed(&uploader, &c, &id).await.expect("offered again");
    assert!(entry.in_journal);
    handle.resume();
    let r = handle.result().await.unwrap();
    assert_eq!(r.chunks_uploaded, 5);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        SessionState::Completed
    );
}

#[test]
fn inspect_refuses_what_cannot_be_uploaded_and_describes_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.mp4");
    let err = inspect(&missing).unwrap_err();
    assert!(
        matches!(&err, UploadError::FileNotFound { path } if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("no such file"), "{err}");

    let err = inspect(dir.path()).unwrap_err();
    assert!(matches!(err, UploadError::IsDirectory { .. }), "{err:?}");

    let empty = file(dir.path(), "empty.mp4", 0);
    let err = inspect(&empty).unwrap_err();
    assert!(matches!(err, UploadError::EmptyFile { .. }), "{err:?}");
    assert!(err.to_string().contains("is empty"), "{err}");

    let good = file(dir.path(), "good.mp4", 3 * CHUNK + 7);
    let info = inspect(&good).unwrap();
    assert_eq!(info.path, good);
    assert_eq!(info.size, 3 * CHUNK + 7);
    assert_eq!(
        info.modified,
        Some(std::fs::metadata(&good).unwrap().modified().unwrap())
    );

    // A relative path is made absolute, so a journal entry names it from anywhere.
    let info = inspect(Path::new("Cargo.toml")).unwrap();
    assert!(info.path.is_absolute() && info.path.ends_with("Cargo.toml"));
    assert_eq!(info.size, std::fs::metadata("Cargo.toml").unwrap().len());
}
