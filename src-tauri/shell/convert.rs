//! From the engine's types to the IPC types: progress snapshots and resumable sessions.
//!
//! A snapshot carries every chunk's state; on the wire that is one character per chunk, so
//! a 10,000-chunk upload costs 10 KB per event instead of a JSON object per chunk.

use tl_upload::{ChunkState, UploadPhase};

use crate::ipc::{self, ChunkFlight, ResumeState, UploadState};

/// Folds an engine snapshot into the queue's view of the upload.
///
/// `paused` is the upload's pause switch (see [`shown`]). The link's level comes along, for
/// the row to show how many chunks the app sends at once.
pub fn apply(view: &mut ipc::UploadRow, p: &tl_upload::UploadProgress, paused: bool) {
    view.state = shown(p.status, paused, view.state);
    // Since when it waits for the network, only while the row says it does.
    view.offline_since_ms = if view.state == UploadState::WaitingForNetwork {
        p.offline_since_ms
    } else {
        None
    };
    if p.total_chunks == 0 {
        // Queued or starting, before the session: the engine knows nothing of the file yet,
        // and what the queue knows (its size, a resumed session's id) stays.
        return;
    }
    if p.upload_id.is_some() {
        view.upload_id.clone_from(&p.upload_id);
    }
    if p.asset_id.is_some() {
        view.asset_id.clone_from(&p.asset_id);
    }
    view.total_bytes = p.total_bytes;
    view.bytes_sent = p.bytes_sent;
    view.bytes_acknowledged = p.bytes_acknowledged;
    // The engine's percentage never goes backwards; a snapshot that lost a race with a
    // newer one must not make the bar jump back either.
    view.percentage = view.percentage.max(p.percentage.clamp(0.0, 100.0));
    view.bytes_per_second = p.bytes_per_second;
    view.eta_seconds = p.eta_seconds;
    view.total_chunks = p.total_chunks;
    view.completed_chunks = p.completed_chunks;
    view.chunks = p.chunks.iter().map(chunk_char).collect();
    view.in_flight = in_flight(&p.chunks);
    view.retries = p.retries;
    view.urls_refreshed = p.urls_refreshed;
    view.parallelism = p.parallelism;
}

/// The state the UI shows for an upload whose engine is in `phase`, `current` being what it
/// shows now.
///
/// `paused` is the upload's pause switch: the engine keeps saying `uploading` while the
/// chunks in flight at the pause finish, but the user asked for a pause and sees one at once;
/// a pause before the engine let the upload start (`queued`) shows as a pause too. The
/// engine's end phases are not copied: the queue sets the final state itself, together with
/// the error or the result, so the UI never sees `failed` without a reason. A completed
/// transfer shows as `processing`, because the queue waits for the asset to be ready next.
pub fn shown(phase: UploadPhase, paused: bool, current: UploadState) -> UploadState {
    match phase {
        UploadPhase::Queued
        | UploadPhase::Starting
        | UploadPhase::Uploading
        | UploadPhase::WaitingForNetwork
        | UploadPhase::Paused
            if paused =>
        {
            UploadState::Paused
        }
        UploadPhase::Queued => UploadState::Queued,
        UploadPhase::Starting => UploadState::Starting,
        UploadPhase::Uploading | UploadPhase::Paused => UploadState::Uploading,
        UploadPhase::WaitingForNetwork => UploadState::WaitingForNetwork,
        UploadPhase::Confirming => UploadState::Confirming,
        UploadPhase::Processing | UploadPhase::Completed => UploadState::Processing,
        UploadPhase::Failed | UploadPhase::Cancelled => current,
    }
}

/// The grid's character for a chunk state.
pub fn chunk_char(state: &ChunkState) -> char {
    match state {
        ChunkState::Pending => 'p',
        ChunkState::Uploading { .. } => 'u',
        ChunkState::Retrying { .. } => 'r',
        ChunkState::Uploaded => 's',
        ChunkState::Done => 'd',
        ChunkState::Failed => 'f',
    }
}

/// The attempts in flight, for partial fills in the grid.
fn in_flight(chunks: &[ChunkState]) -> Vec<ChunkFlight> {
    chunks
        .iter()
        .zip(1u64..)
        .filter_map(|(state, index)| match state {
            ChunkState::Uploading { sent, len } => Some(ChunkFlight {
                index,
                sent: *sent,
                len: *len,
            }),
            _ => None,
        })
        .collect()
}

/// An engine session as the UI lists it; `active` when the queue is uploading it now.
pub fn session(s: tl_upload::ResumableSession, active: bool) -> ipc::SessionRow {
    ipc::SessionRow {
        state: resume_state(s.state),
        in_journal: s.in_journal,
        file_name: s.filename.or_else(|| {
            s.file_path
                .as_deref()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        }),
        file_path: s.file_path.map(|p| p.to_string_lossy().into_owned()),
        upload_id: s.upload_id,
        total_bytes: s.total_size,
        chunk_size: s.chunk_size,
        total_chunks: s.total_chunks,
        chunks_done: s.chunks_done,
        bytes_done: s.bytes_done,
        created_at: s.created_at,
        expires_at: s.expires_at,
        active,
    }
}

fn resume_state(s: tl_upload::ResumeState) -> ResumeState {
    match s {
        tl_upload::ResumeState::Resumable => ResumeState::Resumable,
        tl_upload::ResumeState::FileMissing => ResumeState::FileMissing,
        tl_upload::ResumeState::FileChanged => ResumeState::FileChanged,
        tl_upload::ResumeState::NeedsFile => ResumeState::NeedsFile,
        tl_upload::ResumeState::Expired => ResumeState::Expired,
        tl_upload::ResumeState::Failed => ResumeState::Failed,
        tl_upload::ResumeState::Completed => ResumeState::Completed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ipc::UploadRow {
        ipc::UploadRow {
            state: UploadState::Starting,
            ..ipc::UploadRow::queued("u1".into(), "/v/a.mp4", 0, None, 0)
        }
    }

    fn snapshot(status: UploadPhase) -> tl_upload::UploadProgress {
        tl_upload::UploadProgress {
            total_chunks: 6,
            completed_chunks: 1,
            percentage: 40.0,
            status,
            upload_id: Some("sess".into()),
            asset_id: Some("asset".into()),
            bytes_sent: 400,
            bytes_acknowledged: 200,
            total_bytes: 1000,
            bytes_per_second: 50.0,
            eta_seconds: Some(12.0),
            retries: 2,
            urls_refreshed: 1,
            parallelism: 8,
            chunks_in_flight: 1,
            chunks: vec![
                ChunkState::Done,
                ChunkState::Uploaded,
                ChunkState::Uploading { sent: 30, len: 100 },
                ChunkState::Retrying { attempt: 2 },
                ChunkState::Failed,
                ChunkState::Pending,
            ],
            ..tl_upload::UploadProgress::starting()
        }
    }

    #[test]
    fn chunks_become_one_character_each_and_flights_keep_their_bytes() {
        let mut v = view();
        apply(&mut v, &snapshot(UploadPhase::Uploading), false);
        assert_eq!(v.chunks, "dsurfp");
        assert_eq!(
            v.in_flight,
            [ChunkFlight {
                index: 3,
                sent: 30,
                len: 100
            }]
        );
        assert_eq!(v.state, UploadState::Uploading);
        assert_eq!(v.upload_id.as_deref(), Some("sess"));
        assert_eq!(v.asset_id.as_deref(), Some("asset"));
        assert_eq!(
            (v.bytes_sent, v.bytes_acknowledged, v.total_bytes),
            (400, 200, 1000)
        );
        assert_eq!((v.retries, v.urls_refreshed, v.completed_chunks), (2, 1, 1));
    }

    #[test]
    fn a_pause_shows_at_once_and_end_phases_are_left_to_the_queue() {
        let mut v = view();
        apply(&mut v, &snapshot(UploadPhase::Uploading), true);
        assert_eq!(v.state, UploadState::Paused);
        apply(&mut v, &snapshot(UploadPhase::Failed), true);
        assert_eq!(v.state, UploadState::Paused);
        apply(&mut v, &snapshot(UploadPhase::Completed), false);
        assert_eq!(v.state, UploadState::Processing);
        apply(&mut v, &snapshot(UploadPhase::Confirming), false);
        assert_eq!(v.state, UploadState::Confirming);
    }

    #[test]
    fn an_upload_the_engine_holds_back_shows_queued_and_a_pause_shows_at_once() {
        let mut v = ipc::UploadRow::queued("u1".into(), "/v/a.mp4", 1000, Some("old".into()), 0);
        let waiting = tl_upload::UploadProgress {
            status: UploadPhase::Queued,
            ..tl_upload::UploadProgress::starting()
        };
        apply(&mut v, &waiting, false);
        assert_eq!(v.state, UploadState::Queued);
        assert_eq!((v.total_bytes, v.upload_id.as_deref()), (1000, Some("old")));
        apply(&mut v, &waiting, true);
        assert_eq!(v.state, UploadState::Paused);
        apply(&mut v, &tl_upload::UploadProgress::starting(), false);
        assert_eq!((v.state, v.total_bytes), (UploadState::Starting, 1000));
        apply(&mut v, &snapshot(UploadPhase::Starting), false);
        assert_eq!(v.state, UploadState::Starting);
        apply(&mut v, &snapshot(UploadPhase::Paused), false);
        assert_eq!(
            v.state,
            UploadState::Uploading,
            "the engine's pause is settling"
        );
        assert_eq!(v.parallelism, 8);
        assert_eq!(
            shown(UploadPhase::Cancelled, false, UploadState::Uploading),
            UploadState::Uploading
        );
    }

    #[test]
    fn waiting_for_the_network_shows_since_when_and_a_pause_still_wins() {
        let mut v = view();
        let offline = tl_upload::UploadProgress {
            offline_since_ms: Some(1_700_000_000_000),
            ..snapshot(UploadPhase::WaitingForNetwork)
        };
        apply(&mut v, &offline, false);
        assert_eq!(v.state, UploadState::WaitingForNetwork);
        assert_eq!(v.offline_since_ms, Some(1_700_000_000_000));
        apply(&mut v, &offline, true);
        assert_eq!((v.state, v.offline_since_ms), (UploadState::Paused, None));
        apply(&mut v, &offline, false);
        apply(&mut v, &snapshot(UploadPhase::Uploading), false);
        assert_eq!(
            (v.state, v.offline_since_ms),
            (UploadState::Uploading, None)
        );
    }

    #[test]
    fn sessions_keep_their_numbers_and_get_a_file_name() {
        let s = tl_upload::ResumableSession {
            upload_id: "sess".into(),
            state: tl_upload::ResumeState::FileMissing,
            in_journal: true,
            file_path: Some("/v/clip.mov".into()),
            filename: None,
            asset_id: None,
            total_size: 10,
            chunk_size: 4,
            total_chunks: 3,
            chunks_done: 1,
            bytes_done: 4,
            created_at: Some(5),
            expires_at: Some(9),
        };
        let s = session(s, true);
        assert_eq!(s.state, ResumeState::FileMissing);
        assert_eq!(s.file_name.as_deref(), Some("clip.mov"));
        assert_eq!(s.file_path.as_deref(), Some("/v/clip.mov"));
        assert!(s.active && s.in_journal);
        assert_eq!((s.total_bytes, s.chunk_size, s.chunks_done), (10, 4, 1));
    }
}
