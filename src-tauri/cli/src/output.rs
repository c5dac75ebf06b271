//! Where text goes: results on stdout (JSON lines with `--json`), messages on stderr.
//!
//! A progress bar redraws its line on stderr, so any other line printed while one is on
//! screen goes through [`ProgressBar::suspend`]; otherwise the two would interleave.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indicatif::ProgressBar;
use serde_json::Value;

use crate::failure::Failure;

/// The printer of one tlup run. Cheap to clone; clones share the active bar.
#[derive(Debug, Clone)]
pub struct Output {
    json: bool,
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl Output {
    /// A printer for human text, or for JSON lines when `json`.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            bar: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether `--json` is on.
    pub fn is_json(&self) -> bool {
        self.json
    }

    fn active(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        // Only ever a clone of a bar is stored; a poisoned lock still holds a usable value.
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `bar` the one other output must step around, until [`clear_bar`](Self::clear_bar).
    pub fn set_bar(&self, bar: &ProgressBar) {
        *self.active() = Some(bar.clone());
    }

    /// No bar is on screen any more.
    pub fn clear_bar(&self) {
        *self.active() = None;
    }

    /// Runs `f` with the bar (if any) lifted off the screen.
    fn around_bar(&self, f: impl FnOnce()) {
        let bar = self.active().clone();
        match bar {
            Some(bar) => bar.suspend(f),
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
        self.around_bar(|| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        });
    }

    /// A message on stderr, in both modes.
    pub fn note(&self, text: &str) {
        self.around_bar(|| {
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
