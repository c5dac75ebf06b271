//! The upload queue: every upload the user added, oldest first, with its pause switch and
//! cancellation token, and the transitions the commands ask for.
//!
//! The queue only orders; the engine decides. [`run`] hands every queued upload to the
//! engine's one [`Uploader`](tl_upload::Uploader) as soon as it is queued, in the order
//! added, and the engine admits them in that order: a later upload creates its session when
//! the ones before it leave room on the link (their chunks waiting fewer than its
//! parallelism, and fewer files than the files-at-once setting running), and the earlier
//! ones keep priority for chunk slots. Until then the engine reports it as queued, and so
//! does its row.
//!
//! Pause, resume and cancel act on one upload through its own controls and leave the others
//! alone. A paused upload keeps its session and finished chunks and wants no chunk slots, so
//! the uploads after it take the link; resumed, it goes on where it stopped, with the
//! priority of its place in the queue. An upload paused before it was handed over stays out
//! of the engine until it is resumed. A cancelled or failed one is queued again by a resume,
//! as a new attempt at the end of the engine's order. Once a file is transferred, the wait
//! for its asset to be ready goes on beside the uploads still sending.
//!
//! Every change of a view is published to the UI before the lock is released, so events
//! leave in the order the views changed and the last event of an upload is always its
//! current state, whichever thread (a command, the runner, an engine task) changed it.
//! Whenever the lock is released, whether any upload runs goes out on [`Queue::running`],
//! for keeping the computer awake (see [`crate::awake`]).
//!
//! # Layout
//!
//! - this file: [`Queue`] and its transitions, each under one short lock.
//! - `run`: the task that hands uploads to the engine and records how they end.

mod run;

use std::collections::HashSet;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use tl_upload::{UploadControls, UploadError, UploadPhase, UploadProgress, UploadSource};
use tokio::sync::{Notify, watch};

use crate::awake;
use crate::convert;
use crate::ipc::{CommandError, UploadRow, UploadState};
pub(crate) use run::run;

#[derive(Debug)]
struct Entry {
    view: UploadRow,
    /// Where its upload begins (a new file, or a session to resume).
    source: UploadSource,
    /// Its pause and cancel, handed to the engine with it.
    controls: UploadControls,
    /// Whether the engine has it: handed over, its run not ended yet.
    running: bool,
    /// Its engine's phase as last reported (at the hand-over, what the engine will do with
    /// it); a resume goes back to the state this shows.
    phase: UploadPhase,
}

/// An upload handed to the engine, with what the runner needs to start it.
#[derive(Debug)]
pub(crate) struct Turn {
    pub(crate) id: String,
    pub(crate) path: PathBuf,
    pub(crate) source: UploadSource,
    pub(crate) controls: UploadControls,
}

/// Where changed views go (the UI's `upload://progress` event).
pub(crate) type Sink = Box<dyn Fn(&UploadRow) + Send + Sync>;

/// The queue. Its lock is held only for a field update, a copy, and publishing the change.
pub struct Queue {
    entries: Mutex<Vec<Entry>>,
    wake: Notify,
    next_id: AtomicU64,
    sink: OnceLock<Sink>,
    /// Whether an upload runs (see [`awake::keeps_awake`]), as of the last release of the
    /// lock.
    running: watch::Sender<bool>,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            wake: Notify::new(),
            next_id: AtomicU64::new(0),
            sink: OnceLock::new(),
            running: watch::Sender::new(false),
        }
    }
}

/// The entries under the queue's lock. Releasing it tells [`Queue::running`] whether an
/// upload runs now, so no transition can forget to.
struct Entries<'a> {
    guard: MutexGuard<'a, Vec<Entry>>,
    running: &'a watch::Sender<bool>,
}

impl Deref for Entries<'_> {
    type Target = Vec<Entry>;

    fn deref(&self) -> &Vec<Entry> {
        &self.guard
    }
}

impl DerefMut for Entries<'_> {
    fn deref_mut(&mut self) -> &mut Vec<Entry> {
        &mut self.guard
    }
}

impl Drop for Entries<'_> {
    fn drop(&mut self) {
        let now = self.guard.iter().any(|e| awake::keeps_awake(e.view.state));
        // Only a change wakes the watcher.
        self.running.send_if_modified(|running| {
            let changed = *running != now;
            *running = now;
            changed
        });
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("entries", &self.lock().len())
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn not_allowed(action: &str, view: &UploadRow) -> CommandError {
    let state = serde_json::to_value(view.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    CommandError::invalid(format!("cannot {action} {}: it is {state}", view.file_name))
}

impl Queue {
    /// Publishes every change of a view to `sink` from now on (set once, at startup).
    pub(crate) fn publish_to(&self, sink: Sink) {
        let _ = self.sink.set(sink);
    }

    /// Publishes `view`; called with the lock held (see the module docs).
    fn publish(&self, view: &UploadRow) {
        if let Some(sink) = self.sink.get() {
            sink(view);
        }
    }

    fn lock(&self) -> Entries<'_> {
        Entries {
            // Entries are plain values; a panic elsewhere leaves them usable.
            guard: self.entries.lock().unwrap_or_else(PoisonError::into_inner),
            running: &self.running,
        }
    }

    /// Whether at least one upload is running (starting, uploading, confirming or waiting
    /// for the network), updated whenever that changes.
    pub(crate) fn running(&self) -> watch::Receiver<bool> {
        self.running.subscribe()
    }

    fn with<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Entry) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let mut entries = self.lock();
        let entry = entries
            .iter_mut()
            .find(|e| e.view.id == id)
            .ok_or_else(|| CommandError::unknown_upload(id))?;
        f(entry)
    }

    /// Applies `f` to `entry`'s view and publishes it when it changed. Returns whether it
    /// changed, and whether it just got its session id.
    fn change(&self, entry: &mut Entry, f: impl FnOnce(&mut UploadRow)) -> (bool, bool) {
        let before = entry.view.clone();
        f(&mut entry.view);
        if entry.view == before {
            return (false, false);
        }
        self.publish(&entry.view);
        let new_session = before.upload_id.is_none() && entry.view.upload_id.is_some();
        (true, new_session)
    }

    /// Queues an upload of `path`, publishes it and wakes the runner.
    pub(crate) fn push(&self, path: &str, total_bytes: u64, source: UploadSource) -> UploadRow {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let upload_id = source.upload_id().map(str::to_owned);
        let view = UploadRow::queued(
            format!("upload-{n}"),
            path,
            total_bytes,
            upload_id,
            now_ms(),
        );
        {
            let mut entries = self.lock();
            entries.push(Entry {
                view: view.clone(),
                source,
                controls: UploadControls::default(),
                running: false,
                phase: UploadPhase::Queued,
            });
            self.publish(&view);
        }
        self.wake.notify_one();
        view
    }

    /// Every upload, oldest first.
    pub(crate) fn list(&self) -> Vec<UploadRow> {
        self.lock().iter().map(|e| e.view.clone()).collect()
    }

    /// Upload `id`.
    pub(crate) fn view(&self, id: &str) -> Result<UploadRow, CommandError> {
        self.with(id, |e| Ok(e.view.clone()))
    }

    /// The sessions of uploads that are queued or running.
    pub(crate) fn active_sessions(&self) -> HashSet<String> {
        self.lock()
            .iter()
            .filter(|e| is_active(e.view.state))
            .filter_map(|e| e.view.upload_id.clone())
            .collect()
    }

    /// Takes every queued upload the engine does not have yet, oldest first, for the runner
    /// to hand over in that order. The first is shown as starting when no upload is running,
    /// since the engine then starts it at once; the others stay queued until the engine says
    /// it started them.
    pub(crate) fn take_queued(&self) -> Vec<Turn> {
        let mut entries = self.lock();
        let mut link_busy = entries.iter().any(|e| e.running);
        let mut turns = Vec::new();
        for entry in entries
            .iter_mut()
            .filter(|e| !e.running && e.view.state == UploadState::Queued)
        {
            entry.running = true;
            entry.phase = if link_busy {
                UploadPhase::Queued
            } else {
                UploadPhase::Starting
            };
            link_busy = true;
            if entry.phase == UploadPhase::Starting {
                entry.view.state = UploadState::Starting;
                self.publish(&entry.view);
            }
            turns.push(Turn {
                id: entry.view.id.clone(),
                path: PathBuf::from(&entry.view.path),
                source: entry.source.clone(),
                controls: entry.controls.clone(),
            });
        }
        turns
    }

    /// Waits until an upload may be waiting for the engine: one was queued or resumed.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Folds an engine snapshot of running upload `id` into its view and publishes the view
    /// when it changed. Returns whether the upload just got its session id.
    pub(crate) fn progress(&self, id: &str, snapshot: &UploadProgress) -> bool {
        let mut entries = self.lock();
        let Some(entry) = entries.iter_mut().find(|e| e.view.id == id && e.running) else {
            return false;
        };
        entry.phase = snapshot.status;
        let paused = entry.controls.is_paused();
        self.change(entry, |view| convert::apply(view, snapshot, paused))
            .1
    }

    /// Applies `f` to upload `id`'s view and publishes it when it changed. Returns whether
    /// it changed, and whether it just got its session id.
    pub(crate) fn update(&self, id: &str, f: impl FnOnce(&mut UploadRow)) -> (bool, bool) {
        let mut entries = self.lock();
        match entries.iter_mut().find(|e| e.view.id == id) {
            Some(entry) => self.change(entry, f),
            None => (false, false),
        }
    }

    /// Marks upload `id`'s engine run as ended, applies `f` to its view and publishes it.
    pub(crate) fn finish(&self, id: &str, f: impl FnOnce(&mut UploadRow)) {
        let mut entries = self.lock();
        if let Some(entry) = entries.iter_mut().find(|e| e.view.id == id) {
            entry.running = false;
            f(&mut entry.view);
            self.publish(&entry.view);
        }
    }

    /// Pauses upload `id` alone: its chunks in flight finish, no new one starts, and the
    /// chunk slots it leaves go to the other uploads. A queued one waits paused.
    pub(crate) fn pause(&self, id: &str) -> Result<UploadRow, CommandError> {
        self.with(id, |e| match e.view.state {
            UploadState::Paused => Ok(e.view.clone()),
            UploadState::Queued
            | UploadState::Starting
            | UploadState::Uploading
            | UploadState::WaitingForNetwork => {
                e.controls.pause();
                e.view.state = UploadState::Paused;
                e.view.bytes_per_second = 0.0;
                e.view.eta_seconds = None;
                e.view.offline_since_ms = None;
                self.publish(&e.view);
                Ok(e.view.clone())
            }
            _ => Err(not_allowed("pause", &e.view)),
        })
    }

    /// Resumes upload `id` alone. A paused upload the engine has goes on where it stopped
    /// (or waits its turn again, if the engine had not started it); one paused before it
    /// was handed over is queued again. A cancelled or failed one is queued again as
    /// `retry`, a fresh attempt that resumes its session when there is one.
    pub(crate) fn resume(&self, id: &str, retry: UploadSource) -> Result<UploadRow, CommandError> {
        let (view, queued) = self.with(id, |e| {
            let before = e.view.state;
            match e.view.state {
                UploadState::Paused if e.running => {
                    e.controls.resume();
                    e.view.state = convert::shown(e.phase, false, e.view.state);
                }
                UploadState::Paused => {
                    e.controls.resume();
                    e.view.state = UploadState::Queued;
                }
                UploadState::Cancelled | UploadState::Failed if !e.running => {
                    e.source = retry;
                    e.controls = UploadControls::default();
                    e.view.state = UploadState::Queued;
                    e.view.error = None;
                    e.view.percentage = 0.0;
                }
                UploadState::Queued
                | UploadState::Starting
                | UploadState::Uploading
                | UploadState::WaitingForNetwork => {}
                _ => return Err(not_allowed("resume", &e.view)),
            }
            if e.view.state != before {
                self.publish(&e.view);
            }
            Ok((
                e.view.clone(),
                !e.running && e.view.state == UploadState::Queued,
            ))
        })?;
        if queued {
            self.wake.notify_one();
        }
        Ok(view)
    }

    /// Cancels upload `id`. One the engine has stops at once and its state comes from the
    /// engine (the session stays resumable until it expires); one it does not have yet is
    /// marked cancelled here.
    pub(crate) fn cancel(&self, id: &str) -> Result<UploadRow, CommandError> {
        self.with(id, |e| {
            if !is_active(e.view.state) {
                return Err(not_allowed("cancel", &e.view));
            }
            e.controls.cancel();
            if !e.running {
                e.view.state = UploadState::Cancelled;
                e.view.error = Some(CommandError::from(UploadError::Cancelled {
                    upload_id: e.view.upload_id.clone(),
                }));
                self.publish(&e.view);
            }
            Ok(e.view.clone())
        })
    }

    /// Drops a completed, failed or cancelled upload from the list.
    pub(crate) fn remove(&self, id: &str) -> Result<(), CommandError> {
        let mut entries = self.lock();
        let at = entries
            .iter()
            .position(|e| e.view.id == id)
            .ok_or_else(|| CommandError::unknown_upload(id))?;
        let view = &entries[at].view;
        if entries[at].running
            || !matches!(
                view.state,
                UploadState::Completed | UploadState::Failed | UploadState::Cancelled
            )
        {
            return Err(CommandError::invalid(format!(
                "{} is still in progress; cancel it before removing it",
                view.file_name
            )));
        }
        entries.remove(at);
        Ok(())
    }
}

/// Whether an upload in `state` is queued, with the engine, or paused on the way.
fn is_active(state: UploadState) -> bool {
    matches!(
        state,
        UploadState::Queued
            | UploadState::Starting
            | UploadState::Uploading
            | UploadState::WaitingForNetwork
            | UploadState::Paused
            | UploadState::Confirming
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::ErrorCode;

    fn new_file() -> UploadSource {
        UploadSource::NewFile("/v/file.mp4".into())
    }

    /// An engine snapshot in `status`; with a session once it is past starting.
    fn snapshot(status: UploadPhase, session: &str) -> UploadProgress {
        let early = matches!(status, UploadPhase::Queued | UploadPhase::Starting);
        UploadProgress {
            status,
            upload_id: (!early).then(|| session.to_owned()),
            total_bytes: 10,
            total_chunks: u64::from(!early),
            chunks: if early {
                Vec::new()
            } else {
                vec![tl_upload::ChunkState::Pending]
            },
            parallelism: 12,
            ..UploadProgress::starting()
        }
    }

    fn ids(turns: &[Turn]) -> Vec<&str> {
        turns.iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn every_queued_upload_is_handed_over_at_once_oldest_first() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        let b = q.push("/v/b.mp4", 10, new_file());
        let c = q.push("/v/c.mp4", 10, new_file());
        assert_eq!(a.file_name, "a.mp4");
        let turns = q.take_queued();
        assert_eq!(ids(&turns), [&*a.id, &*b.id, &*c.id]);
        // The link was idle, so the engine starts the first at once; the others wait for it
        // to say so.
        assert_eq!(q.view(&a.id).unwrap().state, UploadState::Starting);
        assert_eq!(q.view(&b.id).unwrap().state, UploadState::Queued);
        assert_eq!(q.view(&c.id).unwrap().state, UploadState::Queued);
        assert!(q.take_queued().is_empty(), "each is handed over once");

        // A later one is handed over at once too, behind the running ones.
        let d = q.push("/v/d.mp4", 10, new_file());
        assert_eq!(ids(&q.take_queued()), [&*d.id]);
        assert_eq!(q.view(&d.id).unwrap().state, UploadState::Queued);

        // The engine says when a held-back one really starts.
        q.progress(&b.id, &snapshot(UploadPhase::Queued, "s-b"));
        assert_eq!(q.view(&b.id).unwrap().state, UploadState::Queued);
        assert!(q.progress(&b.id, &snapshot(UploadPhase::Uploading, "s-b")));
        let b_now = q.view(&b.id).unwrap();
        assert_eq!(
            (b_now.state, b_now.parallelism),
            (UploadState::Uploading, 12)
        );
        let listed: Vec<_> = q.list().into_iter().map(|v| v.id).collect();
        assert_eq!(listed, [a.id, b.id, c.id, d.id]);
    }

    #[test]
    fn the_queue_says_whether_an_upload_runs_as_it_changes() {
        let q = Queue::default();
        let running = q.running();
        let a = q.push("/v/a.mp4", 10, new_file());
        let b = q.push("/v/b.mp4", 10, new_file());
        assert!(!*running.borrow(), "queued uploads do not run yet");
        q.take_queued();
        assert!(*running.borrow(), "the first is starting");
        q.progress(&a.id, &snapshot(UploadPhase::Uploading, "s-a"));
        q.progress(&b.id, &snapshot(UploadPhase::Queued, "s-b"));
        q.pause(&a.id).unwrap();
        assert!(
            !*running.borrow(),
            "one paused, one held back: nothing runs"
        );
        q.resume(&a.id, new_file()).unwrap();
        assert!(*running.borrow());
        let offline = UploadProgress {
            offline_since_ms: Some(1_000),
            ..snapshot(UploadPhase::WaitingForNetwork, "s-a")
        };
        q.progress(&a.id, &offline);
        let view = q.view(&a.id).unwrap();
        assert_eq!(
            (view.state, view.offline_since_ms),
            (UploadState::WaitingForNetwork, Some(1_000))
        );
        assert!(*running.borrow(), "waiting for the network is running");
        q.finish(&a.id, |v| v.state = UploadState::Processing);
        assert!(!*running.borrow(), "transferred: only the asset is awaited");
        q.progress(&b.id, &snapshot(UploadPhase::Confirming, "s-b"));
        assert!(*running.borrow());
        q.cancel(&b.id).unwrap();
        q.finish(&b.id, |v| v.state = UploadState::Cancelled);
        assert!(!*running.borrow());
    }

    #[test]
    fn on_an_idle_link_the_next_upload_shows_starting() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        q.take_queued();
        q.finish(&a.id, |v| v.state = UploadState::Processing);
        let b = q.push("/v/b.mp4", 10, new_file());
        assert_eq!(ids(&q.take_queued()), [&*b.id]);
        assert_eq!(q.view(&b.id).unwrap().state, UploadState::Starting);
    }

    #[test]
    fn pause_and_resume_act_on_one_upload_and_go_back_to_what_the_engine_does() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        let b = q.push("/v/b.mp4", 10, new_file());
        let turns = q.take_queued();
        let (turn_a, turn_b) = (&turns[0], &turns[1]);
        q.progress(&a.id, &snapshot(UploadPhase::Uploading, "s-a"));
        q.progress(&b.id, &snapshot(UploadPhase::Queued, "s-b"));

        assert_eq!(q.pause(&a.id).unwrap().state, UploadState::Paused);
        assert!(turn_a.controls.is_paused());
        assert!(!turn_b.controls.is_paused());
        assert_eq!(q.view(&b.id).unwrap().state, UploadState::Queued);
        // The engine's snapshots of the settling pause keep showing the pause.
        q.progress(&a.id, &snapshot(UploadPhase::Uploading, "s-a"));
        assert_eq!(q.view(&a.id).unwrap().state, UploadState::Paused);
        assert_eq!(q.active_sessions(), HashSet::from(["s-a".to_owned()]));

        // Resumed, it goes on at once whatever the others do: nothing is parked.
        let resumed = q.resume(&a.id, new_file()).unwrap();
        assert_eq!(resumed.state, UploadState::Uploading);
        assert!(!turn_a.controls.is_paused());
        assert!(q.take_queued().is_empty(), "the engine has it already");

        // One the engine holds back is paused where it waits and queued again on resume.
        assert_eq!(q.pause(&b.id).unwrap().state, UploadState::Paused);
        assert!(turn_b.controls.is_paused());
        assert_eq!(q.view(&a.id).unwrap().state, UploadState::Uploading);
        assert_eq!(
            q.resume(&b.id, new_file()).unwrap().state,
            UploadState::Queued
        );
        assert!(!turn_b.controls.is_paused());
    }

    #[test]
    fn an_upload_paused_before_the_hand_over_waits_out_of_the_engine() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        q.pause(&a.id).unwrap();
        assert!(q.take_queued().is_empty());
        let again = q.resume(&a.id, new_file()).unwrap();
        assert_eq!(again.state, UploadState::Queued);
        let turns = q.take_queued();
        assert_eq!(ids(&turns), [&*a.id]);
        assert!(!turns[0].controls.is_paused());
    }

    #[test]
    fn cancelling_a_waiting_upload_keeps_its_session_resumable() {
        let q = Queue::default();
        let a = q.push(
            "/v/a.mp4",
            10,
            UploadSource::Server {
                upload_id: "sess-1".into(),
                path: "/v/a.mp4".into(),
            },
        );
        assert!(q.active_sessions().contains("sess-1"));
        let v = q.cancel(&a.id).unwrap();
        assert_eq!(v.state, UploadState::Cancelled);
        let e = v.error.unwrap();
        assert_eq!(e.code, ErrorCode::Cancelled);
        assert!(e.message.contains("sess-1"), "{}", e.message);
        assert!(q.active_sessions().is_empty());
        assert!(
            q.take_queued().is_empty(),
            "a cancelled upload is not handed over"
        );
        assert_eq!(q.cancel(&a.id).unwrap_err().code, ErrorCode::Invalid);
        let again = q.resume(&a.id, new_file()).unwrap();
        assert_eq!((again.state, again.error), (UploadState::Queued, None));
        assert_eq!(ids(&q.take_queued()), [&*a.id]);
    }

    #[test]
    fn a_running_upload_is_cancelled_by_its_engine_and_retried_with_fresh_controls() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        let first = q.take_queued().remove(0);
        // The engine reports the end; until then the row is what the engine last said.
        assert_eq!(q.cancel(&a.id).unwrap().state, UploadState::Starting);
        assert!(first.controls.is_cancelled());
        // Resuming it then changes nothing: a cancel is not taken back.
        assert_eq!(
            q.resume(&a.id, new_file()).unwrap().state,
            UploadState::Starting
        );
        assert!(first.controls.is_cancelled());
        q.finish(&a.id, |v| v.state = UploadState::Cancelled);
        q.resume(&a.id, new_file()).unwrap();
        let second = q.take_queued().remove(0);
        assert!(!second.controls.is_cancelled());
    }

    #[test]
    fn only_finished_uploads_can_be_removed() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        let e = q.remove(&a.id).unwrap_err();
        assert!(e.message.contains("cancel it"), "{}", e.message);
        q.cancel(&a.id).unwrap();
        q.remove(&a.id).unwrap();
        assert_eq!(q.remove(&a.id).unwrap_err().code, ErrorCode::NotFound);
        assert!(q.list().is_empty());
    }

    #[test]
    fn updates_report_changes_and_new_sessions_only() {
        let q = Queue::default();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        q.publish_to(Box::new(move |v| sink.lock().unwrap().push(v.clone())));
        let a = q.push("/v/a.mp4", 10, new_file());
        assert_eq!(q.update(&a.id, |_| {}), (false, false));
        assert_eq!(
            q.update(&a.id, |v| v.upload_id = Some("s".into())),
            (true, true)
        );
        assert_eq!(q.update(&a.id, |v| v.bytes_sent = 5), (true, false));
        q.pause(&a.id).unwrap();
        q.pause(&a.id).unwrap();
        let seen = seen.lock().unwrap();
        let states: Vec<_> = seen.iter().map(|v| v.state).collect();
        assert_eq!(
            states,
            [
                UploadState::Queued,
                UploadState::Queued,
                UploadState::Queued,
                UploadState::Paused
            ]
        );
        assert_eq!(seen[2].bytes_sent, 5);
    }
}
