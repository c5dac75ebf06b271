//! Showing an upload's progress: an indicatif bar per file for people, throttled JSON lines
//! for scripts.
//!
//! The engine publishes about ten snapshots a second from its own tasks; the bars redraw at
//! most that often, and JSON events are thinned to four a second per file (plus every phase
//! change) so a log stays readable and a pipe never backs up into the upload. The bars of
//! several files share one block on stderr (see [`Output::add_bar`]).
//!
//! An upload that waits for the network says since when (local time) on its bar, and in a
//! line of its own when it starts and stops waiting, so a log without bars (stderr not a
//! terminal) tells it too; its JSON events carry `"status": "waiting_for_network"` and
//! `offline_since_ms`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};
use tl_upload::{ProgressReceiver, UploadPhase, UploadProgress};

use crate::format;
use crate::output::Output;

/// The least time between two JSON progress events of one file.
const JSON_EVERY: Duration = Duration::from_millis(250);

/// The widest file name shown in front of the bar.
pub const NAME_WIDTH: usize = 24;

/// The width of the bar in the line a finished bar leaves behind.
const LAST_LINE_BAR: usize = 30;

/// The progress display of one upload.
#[derive(Debug)]
pub struct FileProgress {
    out: Output,
    file: String,
    /// The file name in front of the bar, padded to the width of the run's longest.
    prefix: String,
    /// Printed once, when the file's turn comes (`file 2 of 5: b.mp4`).
    header: Option<String>,
    bar: Option<ProgressBar>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    phase: Option<UploadPhase>,
    last_event: Option<Instant>,
    position: u64,
    /// The file size, once the session is known.
    total: u64,
    upload_id: Option<String>,
    /// Completed and total chunks of the latest snapshot.
    chunks: (u64, u64),
    /// Whether the latest news is that the upload waits for its turn.
    queued: bool,
    /// Whether the header was printed.
    announced: bool,
    /// Since when (Unix milliseconds) the upload waits for the network, while it does.
    offline_since_ms: Option<u64>,
    /// A JSON event held back by the thinning, printed when it is due unless a newer one
    /// replaces it first, so the latest state always comes out, at most a beat late.
    pending: Option<Value>,
}

impl FileProgress {
    /// A display for `file` (the path as the user gave it; `name` is its file name): a bar
    /// on stderr in human mode (hidden by indicatif when stderr is not a terminal), JSON
    /// events otherwise. The name in front of the bar is padded to `name_width` characters
    /// (at most [`NAME_WIDTH`]) so the bars of several files line up; `header` is printed
    /// once the upload's turn comes.
    pub fn start(
        out: &Output,
        file: &str,
        name: &str,
        header: Option<String>,
        name_width: usize,
    ) -> Arc<Self> {
        let short = format::short_name(name, NAME_WIDTH);
        let width = name_width.min(NAME_WIDTH);
        let prefix = format!("{short:<width$}");
        let bar = (!out.is_json()).then(|| {
            // No length until the session exists: a length of 0 would draw as a full bar.
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            let style = ProgressStyle::with_template(
                "{prefix} [{wide_bar:.cyan/blue}] {bytes}/{total_bytes} {msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(prefix.clone());
            bar.set_message("starting");
            out.add_bar(bar)
        });
        Arc::new(Self {
            out: out.clone(),
            file: file.to_owned(),
            prefix,
            header,
            bar,
            state: Mutex::default(),
        })
    }

    /// Shows the upload's snapshots until it ends.
    pub async fn follow(self: Arc<Self>, mut progress: ProgressReceiver) {
        loop {
            let held = self.held_for();
            let next = match held {
                Some(wait) => match tokio::time::timeout(wait, progress.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.flush_pending();
                        continue;
                    }
                },
                None => progress.next().await,
            };
            let Some(p) = next else { break };
            self.update(&p);
        }
        self.flush_pending();
    }

    /// How long until a held-back JSON event is due, when one is held.
    fn held_for(&self) -> Option<Duration> {
        let state = self.state();
        state.pending.as_ref()?;
        let since = state.last_event.map_or(JSON_EVERY, |t| t.elapsed());
        Some(JSON_EVERY.saturating_sub(since))
    }

    /// Prints the held-back JSON event, if any.
    fn flush_pending(&self) {
        let mut state = self.state();
        if let Some(event) = state.pending.take() {
            state.last_event = Some(Instant::now());
            self.out.event(&event);
        }
    }

    /// The session id, once the engine has created or found it.
    pub fn upload_id(&self) -> Option<String> {
        self.state().upload_id.clone()
    }

    /// Whether the latest news of the upload is that it waits for its turn: the uploads
    /// started before it still keep the link busy.
    pub fn still_queued(&self) -> bool {
        self.state().queued
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, p: &UploadProgress) {
        let mut state = self.state();
        if p.upload_id.is_some() {
            state.upload_id.clone_from(&p.upload_id);
        }
        let phase_changed = state.phase != Some(p.status);
        state.phase = Some(p.status);
        match p.status {
            UploadPhase::Queued => state.queued = true,
            // Cancelled in the queue: its turn never came.
            UploadPhase::Cancelled if state.queued => {}
            _ => {
                state.queued = false;
                if !state.announced {
                    state.announced = true;
                    if let Some(header) = &self.header {
                        self.out.note(header);
                    }
                }
            }
        }
        state.chunks = (p.completed_chunks, p.total_chunks);
        self.tell_network(&mut state, p);
        state.total = state.total.max(p.total_bytes);
        // A failed attempt makes bytes_sent step back; the bar should not.
        state.position = state.position.max(p.bytes_sent.min(p.total_bytes));
        if let Some(bar) = &self.bar {
            if p.total_bytes > 0 {
                bar.set_length(p.total_bytes);
            }
            bar.set_position(state.position);
            bar.set_message(bar_message(p));
        } else {
            let now = Instant::now();
            let due = state
                .last_event
                .is_none_or(|t| now.duration_since(t) >= JSON_EVERY);
            if phase_changed || due {
                state.last_event = Some(now);
                state.pending = None;
                self.out.event(&progress_event(&self.file, p));
            } else {
                state.pending = Some(progress_event(&self.file, p));
            }
        }
    }

    /// In human mode, a line when the upload starts waiting for the network and one when it
    /// stops, for logs without bars; JSON events carry the phase anyway.
    fn tell_network(&self, state: &mut State, p: &UploadProgress) {
        let waiting = p.status == UploadPhase::WaitingForNetwork;
        let now = now_ms();
        match (state.offline_since_ms, waiting) {
            (None, true) => {
                let since = p.offline_since_ms.unwrap_or(now);
                state.offline_since_ms = Some(since);
                if !self.out.is_json() {
                    self.out.note(&format!(
                        "{}: {}; the upload goes on by itself when the network is back",
                        self.file,
                        offline_text(Some(since), now, format::local_offset())
                    ));
                }
            }
            (Some(since), false) => {
                state.offline_since_ms = None;
                if !self.out.is_json() {
                    let away = now.saturating_sub(since) as f64 / 1000.0;
                    self.out.note(&format!(
                        "{}: the network is back after {}; uploading again",
                        self.file,
                        format::duration(away)
                    ));
                }
            }
            _ => {}
        }
    }

    /// Ends the bar full, with `message` in place of the rate.
    pub fn succeed(&self, message: &str) {
        let total = self.state().total;
        self.end(total, message);
    }

    /// Ends the bar where it stopped, with `word` (failed, cancelled) and the chunk counts.
    pub fn stop(&self, word: &str) {
        let (position, (done, total)) = {
            let state = self.state();
            (state.position, state.chunks)
        };
        self.end(position, &format!("{word}  chunks {done}/{total}"));
    }

    /// Takes the bar off the block, leaving a line with the bytes at `position`.
    fn end(&self, position: u64, message: &str) {
        let Some(bar) = &self.bar else { return };
        let total = self.state().total;
        let line = last_line(&self.prefix, position, total, message);
        bar.abandon_with_message(message.to_owned());
        self.out.end_bar(bar, &line);
    }
}

/// The line a finished bar leaves: the bar drawn at `position` of `total`, the bytes, and
/// `message`.
fn last_line(prefix: &str, position: u64, total: u64, message: &str) -> String {
    let filled = if total == 0 {
        0
    } else {
        // Bounded by LAST_LINE_BAR; the cast cannot truncate.
        ((position.min(total) as f64 / total as f64) * LAST_LINE_BAR as f64).round() as usize
    };
    let bar = if filled >= LAST_LINE_BAR {
        "=".repeat(LAST_LINE_BAR)
    } else {
        format!(
            "{}>{}",
            "=".repeat(filled),
            " ".repeat(LAST_LINE_BAR - filled - 1)
        )
    };
    format!(
        "{prefix} [{bar}] {}/{} {message}",
        HumanBytes(position),
        HumanBytes(total)
    )
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `waiting for network since 14:02:07` (local time, `offset`), or `since 42s ago` when the
/// time zone is unknown, or without a time when the engine gave none.
fn offline_text(since_ms: Option<u64>, now_ms: u64, offset: Option<UtcOffset>) -> String {
    let Some(since) = since_ms else {
        return "waiting for network".to_owned();
    };
    let at = i64::try_from(since)
        .ok()
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok());
    match (at, offset) {
        (Some(at), Some(offset)) => {
            format!("waiting for network since {}", format::clock(at, offset))
        }
        _ => {
            let ago = now_ms.saturating_sub(since) as f64 / 1000.0;
            format!("waiting for network since {} ago", format::duration(ago))
        }
    }
}

/// The text after the byte counts: rate (with the process's parallelism), time left,
/// chunks, and trouble if any.
fn bar_message(p: &UploadProgress) -> String {
    bar_message_at(p, now_ms(), format::local_offset())
}

/// [`bar_message`] at `now_ms` in the time zone `offset`.
fn bar_message_at(p: &UploadProgress, now_ms: u64, offset: Option<UtcOffset>) -> String {
    let chunks = format!("chunks {}/{}", p.completed_chunks, p.total_chunks);
    let mut text = match p.status {
        UploadPhase::Queued => "queued".to_owned(),
        UploadPhase::Starting => "starting".to_owned(),
        UploadPhase::Uploading => {
            let left = p
                .eta_seconds
                .map_or_else(|| "-".to_owned(), format::duration);
            let rate = format::rate(p.bytes_per_second);
            let rate = if p.parallelism > 0 {
                format!("{rate} ×{}", p.parallelism)
            } else {
                rate
            };
            format!("{rate}  {left} left  {chunks}")
        }
        UploadPhase::WaitingForNetwork => {
            format!(
                "{}  {chunks}",
                offline_text(p.offline_since_ms, now_ms, offset)
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
            parallelism: 12,
            chunks_in_flight: 3,
            chunks: vec![tl_upload::ChunkState::Done; 40],
            ..UploadProgress::starting()
        }
    }

    /// 2026-05-06 07:08:09 UTC, in Unix milliseconds.
    const AT_MS: u64 = 1_778_051_289_000;

    #[test]
    fn waiting_for_network_says_since_when_in_local_time_or_how_long_ago() {
        let offline = UploadProgress {
            offline_since_ms: Some(AT_MS),
            ..snapshot(UploadPhase::WaitingForNetwork)
        };
        let cest = UtcOffset::from_hms(2, 0, 0).ok();
        assert_eq!(
            bar_message_at(&offline, AT_MS + 65_000, cest),
            "waiting for network since 09:08:09  chunks 12/40  2 retries"
        );
        assert_eq!(
            bar_message_at(&offline, AT_MS + 65_000, None),
            "waiting for network since 1m 05s ago  chunks 12/40  2 retries"
        );
        let no_time = snapshot(UploadPhase::WaitingForNetwork);
        assert!(bar_message_at(&no_time, AT_MS, cest).starts_with("waiting for network  chunks"));
    }

    #[test]
    fn json_events_carry_the_waiting_phase_and_since_when() {
        let offline = UploadProgress {
            offline_since_ms: Some(AT_MS),
            damaged_chunks: 2,
            ..snapshot(UploadPhase::WaitingForNetwork)
        };
        let v = progress_event("a.mp4", &offline);
        assert_eq!(v["status"], "waiting_for_network");
        assert_eq!(v["offline_since_ms"], AT_MS);
        assert_eq!(v["damaged_chunks"], 2);
        let online = progress_event("a.mp4", &snapshot(UploadPhase::Uploading));
        assert_eq!(online["offline_since_ms"], Value::Null);
    }

    #[test]
    fn an_outage_is_followed_from_its_start_to_its_end() {
        let out = Output::new(true);
        let p = FileProgress::start(&out, "a", "a", None, 1);
        p.update(&UploadProgress {
            offline_since_ms: Some(AT_MS),
            ..snapshot(UploadPhase::WaitingForNetwork)
        });
        assert_eq!(p.state().offline_since_ms, Some(AT_MS));
        p.update(&snapshot(UploadPhase::Uploading));
        assert_eq!(p.state().offline_since_ms, None);
    }

    #[test]
    fn the_bar_message_has_rate_parallelism_time_left_and_chunks() {
        let m = bar_message(&snapshot(UploadPhase::Uploading));
        assert_eq!(m, "1.00 MiB/s ×12  1m 05s left  chunks 12/40  2 retries");
        let before_the_session = UploadProgress {
            parallelism: 0,
            ..snapshot(UploadPhase::Uploading)
        };
        assert!(bar_message(&before_the_session).starts_with("1.00 MiB/s  1m 05s"));
        assert!(bar_message(&snapshot(UploadPhase::Queued)).starts_with("queued"));
    }

    #[test]
    fn a_finished_bar_leaves_a_line_drawn_to_where_it_stopped() {
        let full = last_line("a.mp4", 2048, 2048, "done");
        assert_eq!(
            full,
            format!(
                "a.mp4 [{}] 2.00 KiB/2.00 KiB done",
                "=".repeat(LAST_LINE_BAR)
            )
        );
        let half = last_line("b.mp4", 1024, 2048, "failed");
        assert!(half.starts_with(&format!("b.mp4 [{}>", "=".repeat(LAST_LINE_BAR / 2))));
        assert!(half.ends_with("] 1.00 KiB/2.00 KiB failed"), "{half}");
        let none = last_line("c.mp4", 0, 0, "skipped");
        assert!(none.starts_with("c.mp4 [>"), "{none}");
        for line in [full, half, none] {
            let bar = line.split(['[', ']']).nth(1).unwrap_or_default();
            assert_eq!(bar.chars().count(), LAST_LINE_BAR, "{line}");
        }
    }

    #[test]
    fn json_events_leave_out_the_chunk_array() {
        let v = progress_event("a.mp4", &snapshot(UploadPhase::Uploading));
        assert_eq!(v["event"], "progress");
        assert_eq!(v["file"], "a.mp4");
        assert_eq!(v["status"], "uploading");
        assert_eq!(v["completed_chunks"], 12);
        assert_eq!(v["parallelism"], 12);
        assert_eq!(v["chunks_in_flight"], 3);
        assert!(v.get("chunks").is_none());
    }

    #[test]
    fn json_events_are_thinned_but_phase_changes_always_go_out() {
        let out = Output::new(true);
        let p = FileProgress::start(&out, "a", "a", None, 1);
        let cb = |s: &UploadProgress| p.update(s);
        cb(&snapshot(UploadPhase::Uploading));
        let first = p.state.lock().unwrap().last_event;
        cb(&snapshot(UploadPhase::Uploading));
        assert_eq!(
            p.state.lock().unwrap().last_event,
            first,
            "a second event within 250 ms"
        );
        // Held back, not lost: it is due within the interval and goes out when flushed.
        assert!(p.state.lock().unwrap().pending.is_some());
        assert!(p.held_for().is_some_and(|d| d <= JSON_EVERY));
        p.flush_pending();
        assert!(p.state.lock().unwrap().pending.is_none());
        assert!(p.held_for().is_none());
        let first = p.state.lock().unwrap().last_event;
        cb(&snapshot(UploadPhase::Completed));
        assert_ne!(
            p.state.lock().unwrap().last_event,
            first,
            "a phase change is never held back"
        );
        assert_eq!(p.upload_id().as_deref(), Some("u1"));
    }

    #[test]
    fn an_upload_is_queued_until_its_turn_comes_and_stays_so_if_cancelled_then() {
        let out = Output::new(true);
        let p = FileProgress::start(&out, "a", "a", None, 1);
        assert!(!p.still_queued(), "not before the engine says so");
        p.update(&snapshot(UploadPhase::Queued));
        assert!(p.still_queued());
        p.update(&snapshot(UploadPhase::Cancelled));
        assert!(p.still_queued(), "cancelled before its turn");
        let p = FileProgress::start(&out, "b", "b", None, 1);
        p.update(&snapshot(UploadPhase::Queued));
        p.update(&snapshot(UploadPhase::Starting));
        p.update(&snapshot(UploadPhase::Cancelled));
        assert!(!p.still_queued(), "its turn came");
        assert!(p.state().announced);
    }
}
