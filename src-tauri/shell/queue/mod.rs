//! The upload queue: every upload the user added, oldest first, with its pause switch and
//! cancellation token, and the transitions the commands ask for.
//!
//! Uploads take turns, one file at a time in the order added (the chunks of that file go up
//! in parallel); [`run`] is the task that gives the turn to the next queued upload and starts
//! it. Pausing an upload gives its turn away: the next queued one starts while the paused one
//! waits, its session and finished chunks kept. Resumed while another upload has the turn, it
//! is queued again, parked where it stopped, and goes on when the turn comes back to it; one
//! paused before its turn is skipped until it is resumed. Once a file is transferred, the wait
//! for its asset to be ready goes on beside the next upload.
//!
//! Every change of a view is published to the UI before the lock is released, so events
//! leave in the order the views changed and the last event of an upload is always its
//! current state, whichever thread (a command, the runner, an engine task) changed it.
//!
//! # Layout
//!
//! - this file: [`Queue`] and its transitions, each under one short lock.
//! - `run`: the task that drives uploads through the engine.

mod run;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use tl_upload::{UploadControls, UploadError, UploadSource};
use tokio::sync::Notify;

use crate::ipc::{CommandError, UploadRow, UploadState};
pub(crate) use run::run;

#[derive(Debug)]
struct Entry {
    view: UploadRow,
    /// Where its upload begins (a new file, or a session to resume).
    source: UploadSource,
    /// Its pause and cancel, handed to the engine when its turn comes.
    controls: UploadControls,
    /// Whether the runner is driving it now (its engine run is going, maybe paused).
    running: bool,
}

impl Entry {
    /// Whether it has the turn: started and neither paused nor parked.
    fn has_turn(&self) -> bool {
        self.running
            && matches!(
                self.view.state,
                UploadState::Starting | UploadState::Uploading | UploadState::Confirming
            )
    }

    /// Lets its engine run go on after a pause: uploading, or starting when it has no
    /// session yet.
    fn go_on(&mut self) {
        self.controls.resume();
        self.view.state = match self.view.upload_id {
            None => UploadState::Starting,
            Some(_) => UploadState::Uploading,
        };
    }
}

/// An upload whose turn has come, with what the runner needs.
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
#[derive(Default)]
pub struct Queue {
    entries: Mutex<Vec<Entry>>,
    wake: Notify,
    next_id: AtomicU64,
    sink: OnceLock<Sink>,
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

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // Entries are plain values; a panic elsewhere leaves them usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Gives the turn to the oldest queued upload when no upload has it. A parked one (resumed
    /// while another had the turn) goes on where it stopped and `None` is returned; a new one
    /// is marked as starting and returned for the runner to start.
    pub(crate) fn next(&self) -> Option<Turn> {
        let mut entries = self.lock();
        if entries.iter().any(Entry::has_turn) {
            return None;
        }
        let entry = entries
            .iter_mut()
            .find(|e| e.view.state == UploadState::Queued)?;
        if entry.running {
            entry.go_on();
            self.publish(&entry.view);
            return None;
        }
        entry.running = true;
        entry.view.state = UploadState::Starting;
        self.publish(&entry.view);
        Some(Turn {
            id: entry.view.id.clone(),
            path: PathBuf::from(&entry.view.path),
            source: entry.source.clone(),
            controls: entry.controls.clone(),
        })
    }

    /// Waits until the turn may have changed hands: an upload was queued, paused, resumed or
    /// finished.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Applies `f` to upload `id`'s view and publishes it when it changed. Returns whether
    /// it changed, and whether it just got its session id.
    pub(crate) fn update(&self, id: &str, f: impl FnOnce(&mut UploadRow)) -> (bool, bool) {
        let mut entries = self.lock();
        let Some(entry) = entries.iter_mut().find(|e| e.view.id == id) else {
            return (false, false);
        };
        let before = entry.view.clone();
        f(&mut entry.view);
        if entry.view == before {
            return (false, false);
        }
        self.publish(&entry.view);
        let new_session = before.upload_id.is_none() && entry.view.upload_id.is_some();
        (true, new_session)
    }

    /// Marks upload `id` as no longer driven by the runner, applies `f` to its view and
    /// publishes it; its turn passes on.
    pub(crate) fn finish(&self, id: &str, f: impl FnOnce(&mut UploadRow)) {
        {
            let mut entries = self.lock();
            if let Some(entry) = entries.iter_mut().find(|e| e.view.id == id) {
                entry.running = false;
                f(&mut entry.view);
                self.publish(&entry.view);
            }
        }
        self.wake.notify_one();
    }

    /// Pauses upload `id`: chunks in flight finish, no new one starts, and its turn passes to
    /// the next queued upload; a queued one waits.
    pub(crate) fn pause(&self, id: &str) -> Result<UploadRow, CommandError> {
        let view = self.with(id, |e| match e.view.state {
            UploadState::Paused => Ok(e.view.clone()),
            UploadState::Queued | UploadState::Starting | UploadState::Uploading => {
                e.controls.pause();
                e.view.state = UploadState::Paused;
                e.view.bytes_per_second = 0.0;
                e.view.eta_seconds = None;
                self.publish(&e.view);
                Ok(e.view.clone())
            }
            _ => Err(not_allowed("pause", &e.view)),
        })?;
        self.wake.notify_one();
        Ok(view)
    }

    /// Resumes upload `id`. A paused upload that started goes on when no other upload has
    /// the turn and is parked in the queue when one has; one paused before its turn is queued
    /// again. A cancelled or failed one is queued again as `retry`, a fresh attempt that
    /// resumes its session when there is one.
    pub(crate) fn resume(&self, id: &str, retry: UploadSource) -> Result<UploadRow, CommandError> {
        let view = {
            let mut entries = self.lock();
            let taken = entries.iter().any(|e| e.view.id != id && e.has_turn());
            let e = entries
                .iter_mut()
                .find(|e| e.view.id == id)
                .ok_or_else(|| CommandError::unknown_upload(id))?;
            let before = e.view.state;
            match e.view.state {
                // Parked: the switch stays paused until the turn comes (see `next`).
                UploadState::Paused if e.running && taken => e.view.state = UploadState::Queued,
                UploadState::Paused if e.running => e.go_on(),
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
                UploadState::Queued | UploadState::Starting | UploadState::Uploading => {}
                _ => return Err(not_allowed("resume", &e.view)),
            }
            if e.view.state != before {
                self.publish(&e.view);
            }
            e.view.clone()
        };
        self.wake.notify_one();
        Ok(view)
    }

    /// Cancels upload `id`. A running one stops at once and its state comes from the engine
    /// (the session stays resumable until it expires); one that has not started is marked
    /// cancelled here.
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

/// Whether an upload in `state` holds or waits for the runner.
fn is_active(state: UploadState) -> bool {
    matches!(
        state,
        UploadState::Queued
            | UploadState::Starting
            | UploadState::Uploading
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

    #[test]
    fn uploads_are_taken_oldest_first_skipping_paused_ones() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        let b = q.push("/v/b.mp4", 10, new_file());
        assert_eq!(a.file_name, "a.mp4");
        assert_eq!(q.pause(&a.id).unwrap().state, UploadState::Paused);
        let turn = q.next().unwrap();
        assert_eq!(turn.id, b.id);
        assert_eq!(q.view(&b.id).unwrap().state, UploadState::Starting);
        assert!(q.next().is_none());
        assert_eq!(
            q.resume(&a.id, new_file()).unwrap().state,
            UploadState::Queued
        );
        assert!(q.next().is_none(), "b has the turn");
        q.finish(&b.id, |v| v.state = UploadState::Processing);
        assert_eq!(q.next().unwrap().id, a.id);
        let ids: Vec<_> = q.list().into_iter().map(|v| v.id).collect();
        assert_eq!(ids, [a.id, b.id]);
    }

    #[test]
    fn a_pause_gives_the_turn_away_and_a_parked_upload_gets_it_back() {
        let q = Queue::default();
        let a = q.push("/v/a.mp4", 10, new_file());
        let b = q.push("/v/b.mp4", 10, new_file());
        let c = q.push("/v/c.mp4", 10, new_file());
        let turn_a = q.next().unwrap();
        assert_eq!(turn_a.id, a.id);
        assert!(q.next().is_none(), "a has the turn");
        q.update(&a.id, |v| {
            v.upload_id = Some("sess-a".into());
            v.state = UploadState::Uploading;
        });

        // Paused, a keeps its run but not its turn: b starts.
        q.pause(&a.id).unwrap();
        assert!(turn_a.controls.is_paused());
        let turn_b = q.next().unwrap();
        assert_eq!(turn_b.id, b.id);
        // Resumed while b has the turn, a is parked: queued, its switch still paused.
        let parked = q.resume(&a.id, new_file()).unwrap();
        assert_eq!(parked.state, UploadState::Queued);
        assert!(turn_a.controls.is_paused());
        assert!(q.next().is_none(), "b has the turn");
        assert_eq!(q.active_sessions(), HashSet::from(["sess-a".to_owned()]));

        // b is done: the parked a, older than c, goes on where it stopped; c still waits.
        q.finish(&b.id, |v| v.state = UploadState::Processing);
        assert!(q.next().is_none(), "a parked upload is not started again");
        assert_eq!(q.view(&a.id).unwrap().state, UploadState::Uploading);
        assert!(!turn_a.controls.is_paused());
        assert_eq!(q.view(&c.id).unwrap().state, UploadState::Queued);
        assert!(q.next().is_none(), "a has the turn again");

        // Paused and resumed with nobody else running, a goes on at once.
        q.pause(&a.id).unwrap();
        let turn_c = q.next().unwrap();
        assert_eq!(turn_c.id, c.id);
        q.finish(&c.id, |v| v.state = UploadState::Processing);
        assert!(
            q.next().is_none(),
            "nothing queued: a is paused, not parked"
        );
        assert_eq!(
            q.resume(&a.id, new_file()).unwrap().state,
            UploadState::Uploading
        );
        assert!(!turn_a.controls.is_paused());
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
        assert_eq!(q.cancel(&a.id).unwrap_err().code, ErrorCode::Invalid);
        let again = q.resume(&a.id, new_file()).unwrap();
        assert_eq!((again.state, again.error), (UploadState::Queued, None));
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
