//! What desktop users expect of an installed app, as plugins that only the real app loads
//! (tests build the app with [`crate::register`] alone):
//!
//! - one instance at a time: a second launch focuses the first and hands over its files;
//! - the window keeps its size, place and maximised state between runs;
//! - a log file in the platform's log directory (see [`crate::state::Dirs`]), rotated,
//!   with URL query strings (where presigned signatures live) cut off before writing.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use tauri::Runtime;
use tauri_plugin_log::{RotationStrategy, Target, TargetKind, TimezoneStrategy};
use tauri_plugin_window_state::StateFlags;

use crate::opened;
use crate::state::Config;

/// The app identifier of `tauri.conf.json`, needed before Tauri has read it.
pub const IDENTIFIER: &str = "io.tluploader.desktop";

/// A log file is rotated when it reaches this size; the newest few are kept.
const LOG_FILE_BYTES: u128 = 4 * 1024 * 1024;
const LOG_FILES_KEPT: usize = 4;

/// The log file's name (`.log` is added).
pub const LOG_FILE: &str = "tl-uploader";

/// Adds the desktop plugins; the logger writes to `log_dir` ([`log_dir`]'s answer). The
/// single-instance plugin comes first, so a second launch hands its arguments over and
/// exits before anything else starts.
pub fn plugins<R: Runtime>(
    builder: tauri::Builder<R>,
    config: &Config,
    log_dir: Option<PathBuf>,
) -> tauri::Builder<R> {
    let mut single = tauri_plugin_single_instance::Builder::new().callback(|app, argv, cwd| {
        opened::open(app, opened::file_args(argv, Path::new(&cwd)));
    });
    let mut window_state = tauri_plugin_window_state::Builder::new().with_state_flags(
        StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED | StateFlags::FULLSCREEN,
    );
    if let Some(dir) = &config.data_dir {
        // A separate data directory is a separate app: it gets its own instance and
        // window state, so tests and side-by-side profiles do not meet.
        single = single.dbus_id(instance_id(dir));
        window_state = window_state.with_filename(dir.join("window-state.json").to_string_lossy());
    }
    builder
        .plugin(single.build())
        .plugin(logger(log_dir).build())
        .plugin(window_state.build())
}

/// The log directory where it differs from Tauri's (`app_log_dir`): under the data
/// directory of `TL_UPLOADER_DATA_DIR`, and on Linux in the XDG state directory.
pub fn log_dir(config: &Config) -> Option<PathBuf> {
    match &config.data_dir {
        Some(dir) => Some(crate::state::Dirs::under(dir).logs),
        None if cfg!(target_os = "linux") => {
            dirs::state_dir().map(|d| d.join(IDENTIFIER).join("logs"))
        }
        None => None,
    }
}

/// The logger: our own messages from `info` up and everyone else's from `warn` up, to the
/// log file and to stderr.
fn logger(dir: Option<PathBuf>) -> tauri_plugin_log::Builder {
    let file = match dir {
        Some(path) => TargetKind::Folder {
            path,
            file_name: Some(LOG_FILE.to_owned()),
        },
        None => TargetKind::LogDir {
            file_name: Some(LOG_FILE.to_owned()),
        },
    };
    tauri_plugin_log::Builder::new()
        .clear_targets()
        .targets([Target::new(file), Target::new(TargetKind::Stderr)])
        .level(log::LevelFilter::Warn)
        .level_for("tl_uploader", log::LevelFilter::Info)
        .level_for("tl_upload", log::LevelFilter::Info)
        .max_file_size(LOG_FILE_BYTES)
        .rotation_strategy(RotationStrategy::KeepSome(LOG_FILES_KEPT))
        .timezone_strategy(TimezoneStrategy::UseLocal)
        .format(|out, message, record| {
            let stamp = time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3] \
                 [offset_hour sign:mandatory]:[offset_minute]"
            );
            out.finish(format_args!(
                "{} {:<5} {}: {}",
                TimezoneStrategy::UseLocal
                    .get_now()
                    .format(stamp)
                    .unwrap_or_default(),
                record.level(),
                record.target(),
                redact(&message.to_string())
            ));
        })
}

/// The D-Bus name suffix of the instance that uses data directory `dir`.
fn instance_id(dir: &Path) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    format!("{IDENTIFIER}.data_{:016x}", hasher.finish())
}

/// `message` with the query string of every URL in it replaced by `?…`: presigned URLs
/// carry their signature there, and no log line needs one.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("://") {
        let (before, url) = rest.split_at(at);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        match url.find('?') {
            Some(query) => {
                out.push_str(&url[..query]);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_never_reach_the_log() {
        let line = redact(
            "PUT http://127.0.0.1:4/storage/u/3?X-Tl-Expires=9&X-Tl-Signature=abc failed; \
             retry \"https://s3.example/b/k?X-Amz-Signature=def\" next",
        );
        assert_eq!(
            line,
            "PUT http://127.0.0.1:4/storage/u/3?… failed; retry \"https://s3.example/b/k?…\" next"
        );
        assert!(!line.contains("abc") && !line.contains("def"));
    }

    #[test]
    fn text_without_query_strings_is_unchanged() {
        for text in [
            "",
            "plain words",
            "see https://api.twelvelabs.io/v1.3 now",
            "a://b",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn the_identifier_is_the_one_tauri_conf_json_declares() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("valid JSON");
        assert_eq!(conf["identifier"], IDENTIFIER);
    }

    #[test]
    fn each_data_directory_has_its_own_instance_and_log_directory() {
        let a = instance_id(Path::new("/tmp/a"));
        assert_ne!(a, instance_id(Path::new("/tmp/b")));
        assert_eq!(a, instance_id(Path::new("/tmp/a")));
        // A D-Bus name element may hold letters, digits, `_` and `-` only.
        assert!(a.split('.').all(|e| {
            !e.is_empty()
                && e.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }));
        let config = Config {
            data_dir: Some(PathBuf::from("/tmp/a")),
            remote: None,
            base_url: None,
            sandbox_args: Vec::new(),
            keychain: crate::Keychain::disabled(),
        };
        assert_eq!(log_dir(&config), Some(PathBuf::from("/tmp/a/logs")));
    }
}
