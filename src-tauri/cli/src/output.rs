//! Where text goes: results on stdout (JSON lines with `--json`), messages on stderr.
//!
//! Progress bars redraw their lines on stderr, one line per file, all in one
//! [`MultiProgress`]: any other line printed while bars are on screen goes through it
//! ([`MultiProgress::suspend`], [`MultiProgress::println`]), so lines and bars never tear
//! each other. A bar that ends leaves the block as a line of its own above the bars still
//! running.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget};
use serde_json::Value;

use crate::failure::Failure;

/// The printer of one tlup run. Cheap to clone; clones share the bars on screen.
#[derive(Debug, Clone)]
pub struct Output {
    json: bool,
    bars: Arc<Mutex<Bars>>,
}

/// The bars on screen.
#[derive(Debug, Default)]
struct Bars {
    /// The block the bars draw in, while at least one bar is in it.
    multi: Option<MultiProgress>,
    /// How many bars are in the block.
    live: usize,
}

impl Output {
    /// A printer for human text, or for JSON lines when `json`.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            bars: Arc::new(Mutex::new(Bars::default())),
        }
    }

    /// Whether `--json` is on.
    pub fn is_json(&self) -> bool {
        self.json
    }

    fn bars(&self) -> MutexGuard<'_, Bars> {
        // Only handles are stored; a poisoned lock still holds usable ones.
        self.bars.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `bar` on screen below the bars already there (on stderr, hidden when stderr is
    /// not a terminal) and returns the handle to draw with, until [`end_bar`](Self::end_bar).
    pub fn add_bar(&self, bar: ProgressBar) -> ProgressBar {
        let mut bars = self.bars();
        bars.live += 1;
        let bar = bars
            .multi
            .get_or_insert_with(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
            .add(bar);
        // Drawn at once, so the bars stand in the order of the files from the start.
        bar.tick();
        bar
    }

    /// Takes `bar` off the block and leaves `last_line` in its place, above the bars still
    /// running (on a terminal only, as the bar was).
    pub fn end_bar(&self, bar: &ProgressBar, last_line: &str) {
        let mut bars = self.bars();
        let Some(multi) = bars.multi.clone() else {
            return;
        };
        multi.remove(bar);
        // Nothing useful can be done about a terminal that refuses a line.
        let _ = multi.println(last_line);
        bars.live = bars.live.saturating_sub(1);
        if bars.live == 0 {
            // The block is empty: later lines go straight to their stream.
            bars.multi = None;
        }
    }

    /// Runs `f` with the bars (if any) lifted off the screen.
    fn around_bars(&self, f: impl FnOnce()) {
        let multi = self.bars().multi.clone();
        match multi {
            Some(multi) => multi.suspend(f),
            None => f(),
        }
    }

    /// One JSON object as one line on stdout.
    pub fn event(&self, value: &Value) {
        let line = value.to_string();
        let mut out = std::io::stdout().lock();
        // A closed pipe (`tlup … | head`) must not panic the upload; the exit code still
        // tells the outcome.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// A result line for people on stdout (nothing in JSON mode).
    pub fn line(&self, text: &str) {
        if self.json {
            return;
        }
        self.around_bars(|| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        });
    }

    /// A message on stderr, in both modes.
    pub fn note(&self, text: &str) {
        self.around_bars(|| {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        });
    }

    /// A failure: `error: …` on stderr, and the error object on stdout in JSON mode.
    pub fn failure(&self, failure: &Failure, file: Option<&str>) {
        let text = match file {
            Some(file) => format!("error: {file}: {}", failure.message),
            None => format!("error: {}", failure.message),
        };
        self.note(&text);
        if self.json {
            self.event(&failure.to_json(file));
        }
    }
}
