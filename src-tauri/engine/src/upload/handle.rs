//! [`UploadHandle`]: what [`Uploader::start`](super::Uploader::start) gives back. It owns
//! the upload's pause, resume and cancel, publishes its progress, and resolves to its result.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::UploadResult;
use super::control::PauseSwitch;
use crate::error::UploadError;
use crate::progress::{UploadPhase, UploadProgress};

/// How many phase changes a slow subscriber may fall behind before it misses one.
const PHASE_BACKLOG: usize = 32;

/// Pauses, resumes and cancels one upload. Cheap to clone; clones control the same upload,
/// so a queue can keep one beside its row while the handle awaits the result elsewhere.
#[derive(Debug, Clone, Default)]
pub struct UploadControls {
    pause: PauseSwitch,
    cancel: CancellationToken,
}

impl UploadControls {
    /// Pauses: the chunks in flight finish (their bytes are not wasted) and are reported; no
    /// new chunk starts until [`resume`](Self::resume).
    pub fn pause(&self) {
        self.pause.pause();
    }

    /// Lets a paused upload go on.
    pub fn resume(&self) {
        self.pause.resume();
    }

    /// Whether the upload is paused.
    pub fn is_paused(&self) -> bool {
        self.pause.is_paused()
    }

    /// Stops the upload: PUTs in flight are abandoned, chunks already stored are reported,
    /// and the result is [`UploadError::Cancelled`]. The session stays resumable until it
    /// expires (the API cannot abort one).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    pub(crate) fn pause_switch(&self) -> &PauseSwitch {
        &self.pause
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.cancel
    }
}

/// The sending side of an upload's progress: the latest snapshot in a `watch`, and every
/// phase change once more in a short broadcast, so a subscriber that wakes late still sees
/// `confirming` between `uploading` and `completed`.
#[derive(Debug)]
pub(crate) struct Publisher {
    latest: watch::Sender<UploadProgress>,
    phases: broadcast::Sender<UploadProgress>,
    /// Held while a snapshot is published, so snapshots leave in the order they were taken.
    order: Mutex<()>,
}

impl Publisher {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            latest: watch::Sender::new(UploadProgress::starting()),
            phases: broadcast::Sender::new(PHASE_BACKLOG),
            order: Mutex::new(()),
        })
    }

    /// Publishes `take()`'s snapshot; a snapshot whose phase differs from the last one
    /// published goes to the phase subscribers too.
    pub(crate) fn publish(&self, take: impl FnOnce() -> UploadProgress) {
        let _order = self.order.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = take();
        let changed = self.latest.borrow().status != snapshot.status;
        if changed {
            // No subscriber is not an error: the watch still holds the snapshot.
            let _ = self.phases.send(snapshot.clone());
        }
        self.latest.send_replace(snapshot);
    }

    /// Publishes the end of an upload that stopped before it had a session to track (a
    /// missing file, a refused create): the last snapshot with its final phase.
    pub(crate) fn conclude(&self, result: &Result<UploadResult, UploadError>) {
        let phase = match result {
            Ok(_) => UploadPhase::Completed,
            Err(e) if e.is_cancelled() => UploadPhase::Cancelled,
            Err(_) => UploadPhase::Failed,
        };
        if self.latest.borrow().status != phase {
            let last = self.latest.borrow().clone();
            self.publish(|| UploadProgress {
                status: phase,
                ..last
            });
        }
    }

    /// A subscription that first yields the current state, unless nothing has happened
    /// yet (so a subscriber that came late still sees, say, that the upload is queued).
    fn subscribe(&self) -> ProgressReceiver {
        let mut latest = self.latest.subscribe();
        if *latest.borrow() != UploadProgress::starting() {
            latest.mark_changed();
        }
        ProgressReceiver {
            latest,
            phases: self.phases.subscribe(),
            last: None,
        }
    }
}

/// A subscription to an upload's progress.
///
/// [`next`](Self::next) yields snapshots as they come (about every `progress_interval`),
/// coalescing ticks a slow reader missed but never a phase change; it ends once the upload
/// has ended and its last snapshot was delivered.
#[derive(Debug)]
pub struct ProgressReceiver {
    latest: watch::Receiver<UploadProgress>,
    phases: broadcast::Receiver<UploadProgress>,
    /// The last snapshot returned, so none is returned twice in a row.
    last: Option<UploadProgress>,
}

impl ProgressReceiver {
    /// The next snapshot, or `None` when the upload has ended and nothing is left to see.
    ///
    /// # Cancellation
    ///
    /// Cancel-safe: a snapshot not yet returned stays for the next call.
    pub async fn next(&mut self) -> Option<UploadProgress> {
        loop {
            let candidate = tokio::select! {
                // Phase changes first, in order; the watch then holds the newest state.
                biased;
                phase = self.phases.recv() => match phase {
                    Ok(snapshot) => Some(snapshot),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    // The upload ended: what the watch holds last is all that is left.
                    Err(broadcast::error::RecvError::Closed) => None,
                },
                changed = self.latest.changed() => match changed {
                    // A phase change published while this poll ran is older than the
                    // watch's value: it comes first (the newer state follows with the next
                    // tick or the end).
                    Ok(()) => {
                        let newest = self.latest.borrow_and_update().clone();
                        Some(self.phases.try_recv().unwrap_or(newest))
                    }
                    Err(_) => None,
                },
            };
            let snapshot = match candidate {
                Some(snapshot) => snapshot,
                None => {
                    let last = self.latest.borrow().clone();
                    if self.last.as_ref() == Some(&last) {
                        return None;
                    }
                    last
                }
            };
            if self.last.as_ref() != Some(&snapshot) {
                self.last = Some(snapshot.clone());
                return Some(snapshot);
            }
        }
    }

    /// The latest snapshot, without waiting.
    pub fn latest(&self) -> UploadProgress {
        self.latest.borrow().clone()
    }
}

/// One upload in progress.
///
/// # Cancellation
///
/// [`cancel`](Self::cancel) (or a clone of [`controls`](Self::controls)) stops the upload;
/// dropping the handle without awaiting [`result`](Self::result) cancels it too. Either way
/// the chunks already stored are reported first and the journal keeps the session, so a
/// later resume sends only the rest.
#[derive(Debug)]
pub struct UploadHandle {
    controls: UploadControls,
    /// Weak, so subscriptions end when the upload does, whether or not the handle is kept.
    publisher: Weak<Publisher>,
    /// Keeps the last snapshot readable after the upload ended.
    latest: watch::Receiver<UploadProgress>,
    task: JoinHandle<Result<UploadResult, UploadError>>,
    _cancel_on_drop: DropGuard,
}

impl UploadHandle {
    pub(crate) fn new(
        controls: UploadControls,
        publisher: Arc<Publisher>,
        task: JoinHandle<Result<UploadResult, UploadError>>,
    ) -> Self {
        Self {
            _cancel_on_drop: controls.token().clone().drop_guard(),
            controls,
            latest: publisher.latest.subscribe(),
            publisher: Arc::downgrade(&publisher),
            task,
        }
    }

    /// Pauses the upload (see [`UploadControls::pause`]).
    pub fn pause(&self) {
        self.controls.pause();
    }

    /// Resumes a paused upload.
    pub fn resume(&self) {
        self.controls.resume();
    }

    /// Cancels the upload (see [`UploadControls::cancel`]).
    pub fn cancel(&self) {
        self.controls.cancel();
    }

    /// Whether the upload is paused.
    pub fn is_paused(&self) -> bool {
        self.controls.is_paused()
    }

    /// Pause, resume and cancel for someone else to hold.
    pub fn controls(&self) -> UploadControls {
        self.controls.clone()
    }

    /// A subscription to the progress, from the latest snapshot on.
    pub fn progress(&self) -> ProgressReceiver {
        match self.publisher.upgrade() {
            Some(publisher) => publisher.subscribe(),
            // The upload is over: the last snapshot, then the end.
            None => ProgressReceiver {
                latest: self.latest.clone(),
                phases: broadcast::Sender::new(1).subscribe(),
                last: None,
            },
        }
    }

    /// The latest snapshot as a `watch`, for a reader that only ever wants the newest.
    pub fn watch(&self) -> watch::Receiver<UploadProgress> {
        self.latest.clone()
    }

    /// Waits for the upload to end.
    ///
    /// # Errors
    ///
    /// [`UploadError`] naming the file problem, the failing chunk or request, or
    /// [`UploadError::Cancelled`].
    pub async fn result(self) -> Result<UploadResult, UploadError> {
        let Self {
            task,
            _cancel_on_drop: guard,
            ..
        } = self;
        let outcome = task.await;
        // The upload is over: cancelling its token now changes nothing.
        drop(guard);
        match outcome {
            Ok(result) => result,
            Err(e) => Err(UploadError::Protocol(format!(
                "the upload task stopped: {e}"
            ))),
        }
    }
}
