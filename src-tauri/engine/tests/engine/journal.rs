use std::path::Path;
use std::time::{Duration, Instant};

use tl_upload::journal::{SessionRecord, fingerprint, mtime_ns};
use tl_upload::wire::{CreateAssetUploadRequest, FileType};
use tl_upload::{
    Journal, JournalError, ResumeState, SessionState, UploadError, UploadOptions, UploadPhase,
    UploadSource, Uploader,
};

use crate::support::*;

fn journal(dir: &Path) -> Journal {
    Journal::open(dir.join("journal.sqlite3")).unwrap()
}

/// An uploader that records into `j`.
fn with_journal(j: &Journal) -> Uploader {
    Uploader::new(Some(j.clone()))
}

/// Resuming session `upload_id` from the journal, at its recorded path or at `new_path`.
fn from_journal(upload_id: &str, new_path: Option<&Path>) -> UploadSource {
    UploadSource::Journal {
        upload_id: upload_id.to_owned(),
        new_path: new_path.map(Path::to_path_buf),
    }
}

#[tokio::test]
async fn a_journalled_upload_ends_completed_with_every_chunk_reported() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let path = file(dir.path(), "j.mp4", 7 * CHUNK + 1);
    let uploader = with_journal(&j);
    let r = uploader
        .start(&c, UploadSource::NewFile(path.clone()), options())
        .result()
        .await
        .unwrap();
    let s = j.session(&r.upload_id).unwrap().unwrap();
    assert_eq!(s.state, SessionState::Completed);
    assert_eq!(s.asset_id.as_deref(), Some(r.asset_id.as_str()));
    assert_eq!(s.file_path, std::path::absolute(&path).unwrap());
    assert_eq!(
        (s.file_size, s.chunk_size, s.total_chunks),
        (7 * CHUNK + 1, CHUNK, 8)
    );
    assert_eq!(s.fingerprint, Some(fingerprint(&path).unwrap()));
    let chunks = j.chunks(&r.upload_id).unwrap();
    assert_eq!(chunks.len(), 8);
    assert!(chunks.iter().all(|c| c.reported));
    assert!(
        uploader.resumable_sessions(&c).await.unwrap().is_empty(),
        "nothing left to resume"
    );
}

/// Leaves the state a process killed after storing chunks `stored` (and before reporting
/// them) leaves behind: a journalled session whose chunks have ETags but no reports.
async fn crashed_session(
    sb: &tl_sandbox::SandboxHandle,
    j: &Journal,
    path: &Path,
    stored: &[u64],
) -> String {
    let c = client(sb);
    let size = std::fs::metadata(path).unwrap().len();
    let created = c
        .create(&CreateAssetUploadRequest {
            filename: "crash.mp4".into(),
            file_type: FileType::Video,
            total_size: size,
            enable_hls: None,
            enable_thumbnail: None,
            user_metadata: None,
        })
        .await
        .unwrap();
    let meta = std::fs::metadata(path).unwrap();
    j.record_session(&SessionRecord {
        upload_id: created.upload_id.clone(),
        asset_id: created.asset_id.clone(),
        base_url: c.base_url().to_owned(),
        file_path: std::path::absolute(path).unwrap(),
        file_size: size,
        file_mtime_ns: mtime_ns(meta.modified().ok()),
        fingerprint: Some(fingerprint(path).unwrap()),
        filename: "crash.mp4".into(),
        file_type: "video".into(),
        chunk_size: created.chunk_size,
        total_chunks: created.total_chunks.unwrap(),
        created_at: 1_700_000_000,
        expires_at: created.expires_at.map(|t| t.unix_timestamp()),
        state: SessionState::Active,
    })
    .unwrap();
    let bytes = std::fs::read(path).unwrap();
    tl_upload::api::net::install_tls_provider();
    let http = reqwest::Client::new();
    for &index in stored {
        let urls = c
            .get_additional_presigned_urls(&created.upload_id, index, 1)
            .await
            .unwrap();
        let start = ((index - 1) * CHUNK) as usize;
        let body = bytes[start..(start + CHUNK as usize).min(bytes.len())].to_vec();
        let len = body.len() as u64;
        let put = http
            .put(&urls.upload_urls[0].url)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
        let etag = put.headers()["etag"]
            .to_str()
            .unwrap()
            .trim_matches('"')
            .to_owned();
        j.record_chunk(&created.upload_id, index, &etag, len)
            .unwrap();
    }
    created.upload_id
}

#[tokio::test]
async fn resume_reports_journalled_chunks_without_sending_them_again() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let path = file(dir.path(), "crash.mp4", 9 * CHUNK + 5);
    let id = crashed_session(&sb, &j, &path, &[1, 2, 5]).await;
    quiesce(&sb).await;
    sb.reset_stats();
    let r = with_journal(&j)
        .start(&c, from_journal(&id, None), options())
        .result()
        .await
        .unwrap();
    assert_eq!(r.chunks_uploaded, 7, "10 chunks, 3 already stored");
    assert_eq!(sb.stats().bytes_received, 9 * CHUNK + 5 - 3 * CHUNK);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        SessionState::Completed
    );
}

#[tokio::test]
async fn a_stale_etag_in_the_journal_means_that_chunk_is_sent_again() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let path = file(dir.path(), "stale.mp4", 4 * CHUNK);
    let id = crashed_session(&sb, &j, &path, &[1, 2]).await;
    j.record_chunk(&id, 2, "00000000000000000000000000000000", CHUNK)
        .unwrap();
    let r = with_journal(&j)
        .start(&c, from_journal(&id, None), options())
        .result()
        .await
        .unwrap();
    assert_eq!(
        r.chunks_uploaded, 3,
        "chunk 1 came from the journal; 2 was sent again"
    );
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

/// Changes one byte of `path` at `at`, keeping its size and modification time, so only the
/// fingerprint can notice.
fn tamper(path: &Path, at: u64) {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

#[tokio::test]
async fn a_changed_file_is_refused_and_the_journal_left_untouched() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    for (name, at) in [
        ("middle.mp4", 2 * CHUNK + CHUNK / 2),
        ("end.mp4", 5 * CHUNK - 1),
    ] {
        let path = file(dir.path(), name, 5 * CHUNK);
        let id = crashed_session(&sb, &j, &path, &[1]).await;
        tamper(&path, at);
        let before = (j.session(&id).unwrap(), j.chunks(&id).unwrap());
        let err = with_journal(&j)
            .start(&c, from_journal(&id, None), options())
            .result()
            .await
            .unwrap_err();
        assert!(
            matches!(err, UploadError::FileChanged { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("content differs"), "{err}");
        assert_eq!(
            (j.session(&id).unwrap(), j.chunks(&id).unwrap()),
            before,
            "{name}"
        );
        let listed = with_journal(&j).resumable_sessions(&c).await.unwrap();
        let entry = listed.iter().find(|s| s.upload_id == id).unwrap();
        assert_eq!(entry.state, ResumeState::FileChanged);
    }
}

#[tokio::test]
async fn a_moved_file_is_missing_until_resumed_with_its_new_path() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let path = file(dir.path(), "moving.mp4", 6 * CHUNK + 9);
    let id = crashed_session(&sb, &j, &path, &[3]).await;
    let moved = dir.path().join("elsewhere.mp4");
    std::fs::rename(&path, &moved).unwrap();
    let listed = with_journal(&j).resumable_sessions(&c).await.unwrap();
    let entry = listed.iter().find(|s| s.upload_id == id).unwrap();
    assert_eq!(entry.state, ResumeState::FileMissing);
    assert_eq!(entry.chunks_done, 1);
    let err = with_journal(&j)
        .start(&c, from_journal(&id, None), options())
        .result()
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::FileMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("resume with its new path"));
    let r = with_journal(&j)
        .start(&c, from_journal(&id, Some(&moved)), options())
        .result()
        .await
        .unwrap();
    assert_eq!(r.chunks_uploaded, 6);
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&moved));
    assert_eq!(j.session(&id).unwrap().unwrap().file_path, moved);
}

#[tokio::test]
async fn an_expired_session_is_listed_as_expired_and_not_resumed() {
    let sb = sandbox()
        .session_ttl(Duration::from_secs(1))
        .start()
        .unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let path = file(dir.path(), "old.mp4", 3 * CHUNK);
    let id = crashed_session(&sb, &j, &path, &[1]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = with_journal(&j).resumable_sessions(&c).await.unwrap();
        let state = listed.iter().find(|s| s.upload_id == id).unwrap().state;
        if state == ResumeState::Expired {
            break;
        }
        assert_eq!(state, ResumeState::Resumable);
        assert!(Instant::now() < deadline, "the session never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err = with_journal(&j)
        .start(&c, from_journal(&id, None), options())
        .result()
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::SessionExpired { .. }), "{err:?}");
    assert!(err.to_string().contains("start the upload again"));
}

#[tokio::test]
async fn a_server_session_unknown_to_the_journal_needs_its_file() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let other = journal(&dir.path().join("other"));
    let path = file(dir.path(), "foreign.mp4", 4 * CHUNK);
    let id = crashed_session(&sb, &other, &path, &[2]).await;
    let listed = with_journal(&j).resumable_sessions(&c).await.unwrap();
    let entry = listed.iter().find(|s| s.upload_id == id).unwrap();
    assert_eq!(entry.state, ResumeState::NeedsFile);
    assert!(!entry.in_journal);
    let source = UploadSource::Server {
        upload_id: id.clone(),
        path: path.clone(),
    };
    let r = with_journal(&j)
        .start(&c, source, options())
        .result()
        .await
        .unwrap();
    assert_eq!(
        r.chunks_uploaded, 4,
        "the unreported chunk is unknown here, so it is sent"
    );
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
    assert_eq!(
        j.session(&id).unwrap().unwrap().state,
        SessionState::Completed
    );
}

#[tokio::test]
async fn pause_lets_chunks_in_flight_finish_and_starts_no_new_ones() {
    let sb = sandbox().bandwidth(Some(400_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "pause.mp4", 30 * CHUNK);
    let opts = UploadOptions {
        max_workers: 3,
        ..options()
    };
    let handle = Uploader::new(None).start(&c, UploadSource::NewFile(path.clone()), opts);
    let mut progress = handle.progress();
    progress_until(&mut progress, "6 chunks acknowledged", |p| {
        p.bytes_acknowledged >= 6 * CHUNK
    })
    .await;
    handle.pause();
    let paused_snapshot = progress_until(&mut progress, "the pause", |p| {
        p.status == UploadPhase::Paused
    })
    .await;
    let at_pause = sb.stats();
    assert_eq!(
        at_pause.puts_in_flight, 0,
        "paused only once the chunks in flight finished"
    );
    assert!(paused_snapshot.completed_chunks < 30);
    // Nothing may start while paused: watch for a while.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sb.stats().puts_received,
        at_pause.puts_received,
        "no PUT started while paused"
    );
    handle.resume();
    let r = handle.result().await.unwrap();
    assert_eq!(asset_sha256(&c, &r.asset_id).await, sha256(&path));
}

#[tokio::test]
async fn two_uploads_of_one_session_never_run_at_once() {
    let sb = sandbox().bandwidth(Some(200_000)).start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let path = file(dir.path(), "locked.mp4", 20 * CHUNK);
    let first = with_journal(&j).start(&c, UploadSource::NewFile(path), options());
    let mut progress = first.progress();
    let id = progress_until(&mut progress, "a session", |p| p.upload_id.is_some())
        .await
        .upload_id
        .unwrap();
    let err = with_journal(&j)
        .start(&c, from_journal(&id, None), options())
        .result()
        .await
        .unwrap_err();
    assert!(
        matches!(err, UploadError::Journal(JournalError::Locked { .. })),
        "the running upload holds the session: {err:?}"
    );
    sb.set_bandwidth(None);
    first.result().await.unwrap();
}

#[tokio::test]
async fn a_chunk_reported_just_before_a_crash_is_counted_once() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let path = file(dir.path(), "count.mp4", 6 * CHUNK);
    let id = crashed_session(&sb, &j, &path, &[1, 2]).await;
    // The server accepted chunk 1's report, but the process died before the journal said so.
    let one = j
        .chunks(&id)
        .unwrap()
        .into_iter()
        .find(|c| c.index == 1)
        .unwrap();
    let report = tl_upload::wire::CompletedChunk {
        chunk_index: 1,
        proof: one.etag,
        proof_type: tl_upload::wire::ProofType::Etag,
        chunk_size: one.size,
    };
    c.report_chunk_batch(&id, &[report]).await.unwrap();
    let listed = with_journal(&j).resumable_sessions(&c).await.unwrap();
    let entry = listed.iter().find(|s| s.upload_id == id).unwrap();
    assert_eq!(entry.state, ResumeState::Resumable);
    assert_eq!((entry.chunks_done, entry.bytes_done), (2, 2 * CHUNK));
}
