//! Showing one file's upload progress: an indicatif bar for people, throttled JSON lines
//! for scripts.
//!
//! The engine calls back about ten times a second from its own runtime; the bar redraws
//! itself at most that often, and JSON events are thinned to four a second (plus every
//! phase change) so a log stays readable and a pipe never backs up into the upload.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use tl_upload::{ProgressReceiver, UploadPhase, UploadProgress};

use crate::format;
use crate::output::Output;

/// The least time between two JSON progress events of one file.
const JSON_EVERY: Duration = Duration::from_millis(250);

/// The widest file name shown in front of the bar.
const NAME_WIDTH: usize = 24;

/// The progress display of one upload.
#[derive(Debug)]
pub struct FileProgress {
    out: Output,
    file: String,
    bar: Option<ProgressBar>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    phase: Option<UploadPhase>,
    last_event: Option<Instant>,
    position: u64,
    upload_id: Option<String>,
    /// Completed and total chunks of the latest snapshot.
    chunks: (u64, u64),
}

impl FileProgress {
    /// A display for `file` (the path as the user gave it): a bar on stderr in human mode
    /// (hidden by indicatif when stderr is not a terminal), JSON events otherwise.
    pub fn start(out: &Output, file: &str, name: &str) -> Arc<Self> {
        let bar = (!out.is_json()).then(|| {
            // No length until the session exists: a length of 0 would draw as a full bar.
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{wide_bar:.cyan/blue}] {bytes}/{total_bytes} {msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(format::short_name(name, NAME_WIDTH));
            bar.set_message("starting");
            out.set_bar(&bar);
            bar
        });
        Arc::new(Self {
            out: out.clone(),
            file: file.to_owned(),
            bar,
            state: Mutex::default(),
        })
    }

    /// Shows the upload's snapshots until it ends.
    pub async fn follow(self: Arc<Self>, mut progress: ProgressReceiver) {
        while let Some(p) = progress.next().await {
            self.update(&p);
        }
    }

    /// The session id, once the engine has created or found it.
    pub fn upload_id(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upload_id
            .clone()
    }

    fn update(&self, p: &UploadProgress) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if p.upload_id.is_some() {
            state.upload_id.clone_from(&p.upload_id);
        }
        let phase_changed = state.phase != Some(p.status);
        state.phase = Some(p.status);
        state.chunks = (p.completed_chunks, p.total_chunks);
        // A failed attempt makes bytes_sent step back; the bar should not.
        state.position = state.position.max(p.bytes_sent.min(p.total_bytes));
        if let Some(bar) = &self.bar {
            bar.set_length(p.total_bytes);
            bar.set_position(state.position);
            bar.set_message(bar_message(p));
        } else {
            let now = Instant::now();
            let due = state
                .last_event
                .is_none_or(|t| now.duration_since(t) >= JSON_EVERY);
            if phase_changed || due {
                state.last_event = Some(now);
                self.out.event(&progress_event(&self.file, p));
            }
        }
    }

    /// Leaves a full bar on screen with `message` in place of the rate.
    pub fn succeed(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(message.to_owned());
        }
        self.out.clear_bar();
    }

    /// Leaves the bar where it stopped, with `word` (failed, cancelled) and the chunk counts.
    pub fn stop(&self, word: &str) {
        if let Some(bar) = &self.bar {
            let (done, total) = self
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .chunks;
            bar.abandon_with_message(format!("{word}  chunks {done}/{total}"));
        }
        self.out.clear_bar();
    }
}

/// The text after the byte counts: rate, time left, chunks, and trouble if any.
fn bar_message(p: &UploadProgress) -> String {
    let chunks = format!("chunks {}/{}", p.completed_chunks, p.total_chunks);
    let mut text = match p.status {
        UploadPhase::Starting => "starting".to_owned(),
        UploadPhase::Uploading => {
            let left = p
                .eta_seconds
                .map_or_else(|| "-".to_owned(), format::duration);
            format!(
                "{}  {left} left  {chunks}",
                format::rate(p.bytes_per_second)
            )
        }
        UploadPhase::Paused => format!("paused  {chunks}"),
        UploadPhase::Confirming => format!("confirming  {chunks}"),
        UploadPhase::Processing => format!("waiting for the asset  {chunks}"),
        UploadPhase::Completed => format!("done  {chunks}"),
        UploadPhase::Failed => format!("failed  {chunks}"),
        UploadPhase::Cancelled => format!("cancelled  {chunks}"),
    };
    if p.retries > 0 {
        text.push_str(&format!("  {} retries", p.retries));
    }
    text
}

/// The `{"event":"progress",…}` line: every snapshot field except the per-chunk array.
fn progress_event(file: &str, p: &UploadProgress) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut v {
        map.remove("chunks");
        map.insert("event".into(), "progress".into());
        map.insert("file".into(), file.into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(status: UploadPhase) -> UploadProgress {
        UploadProgress {
            total_chunks: 40,
            completed_chunks: 12,
            percentage: 30.0,
            status,
            upload_id: Some("u1".into()),
            asset_id: None,
            bytes_sent: 300,
            bytes_acknowledged: 250,
            total_bytes: 1000,
            bytes_per_second: 1_048_576.0,
            eta_seconds: Some(65.0),
            retries: 2,
            urls_refreshed: 1,
            chunks: vec![tl_upload::ChunkState::Done; 40],
        }
    }

    #[test]
    fn the_bar_message_has_rate_time_left_and_chunks() {
        let m = bar_message(&snapshot(UploadPhase::Uploading));
        assert_eq!(m, "1.00 MiB/s  1m 05s left  chunks 12/40  2 retries");
    }

    #[test]
    fn json_events_leave_out_the_chunk_array() {
        let v = progress_event("a.mp4", &snapshot(UploadPhase::Uploading));
        assert_eq!(v["event"], "progress");
        assert_eq!(v["file"], "a.mp4");
        assert_eq!(v["status"], "uploading");
        assert_eq!(v["completed_chunks"], 12);
        assert!(v.get("chunks").is_none());
    }

    #[test]
    fn json_events_are_thinned_but_phase_changes_always_go_out() {
        let out = Output::new(true);
        let p = FileProgress::start(&out, "a", "a");
        let cb = |s: &UploadProgress| p.update(s);
        cb(&snapshot(UploadPhase::Uploading));
        let first = p.state.lock().unwrap().last_event;
        cb(&snapshot(UploadPhase::Uploading));
        assert_eq!(
            p.state.lock().unwrap().last_event,
            first,
            "a second event within 250 ms"
        );
        cb(&snapshot(UploadPhase::Completed));
        assert_ne!(
            p.state.lock().unwrap().last_event,
            first,
            "a phase change is never held back"
        );
        assert_eq!(p.upload_id().as_deref(), Some("u1"));
    }
}
