//! The settings the app keeps between runs, in `settings.json` in the data directory.
//!
//! Only choices live here (the endpoint, the link, the media type, keeping the computer
//! awake). The API key never does:
//! it is in the OS keychain (see [`crate::keychain`]), and the file is written without it,
//! so copying or sharing a data directory cannot leak it.
//!
//! # The file
//!
//! ```json
//! { "endpoint": "sandbox", "parallelChunks": "auto", "bandwidthLimit": null,
//!   "filesAtOnce": 3, "fileType": "video", "keepAwake": true }
//! ```
//!
//! `parallelChunks` is `"auto"` or `{ "fixed": n }` (1–64); `bandwidthLimit` is bytes per
//! second for all uploads together, `null` for none; `keepAwake` keeps the computer from
//! idle sleep while an upload is running (on unless turned off). Each field is read on its own: a field
//! that is missing or cannot be read takes its default, and a number out of range is brought
//! into range, so one bad value never costs the others.
//!
//! Files written before the link was shared hold `maxWorkers` (1–16, default 5) instead of
//! `parallelChunks`. Every save wrote it, so 5 says nothing about a choice and loads as
//! Automatic; any other number was picked by the user and loads as that fixed number.

use std::io::Write;
use std::ops::RangeInclusive;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tl_upload::{FileType, Parallelism, Uploader};

use crate::ipc::{CommandError, Endpoint, MediaType, ParallelChunks, SettingsInput};

/// The file name of the settings in the data directory.
pub const SETTINGS_FILE: &str = "settings.json";

/// The fixed numbers of parallel chunks the app offers (the engine's range).
pub const FIXED_CHUNKS: RangeInclusive<u32> = 1..=64;

/// The bandwidth limits the app accepts, bytes per second: 10 KB/s to 100 GB/s. Less would
/// stall chunks past their presigned URLs' lifetime; more is no limit at all.
pub const BANDWIDTH: RangeInclusive<u64> = 10_000..=100_000_000_000;

/// How many files may upload at once.
pub const FILES_AT_ONCE: RangeInclusive<u32> = 1..=8;

/// Files at once unless the user chooses otherwise: enough to keep a link busy across the
/// gaps between files (sessions opening, confirmations), few enough that each file finishes
/// soon rather than all of them late.
pub const DEFAULT_FILES_AT_ONCE: u32 = 3;

/// What `maxWorkers` held when nobody had changed it (see the module docs).
const OLD_DEFAULT_WORKERS: u64 = 5;

/// What `settings.json` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSettings {
    /// The endpoint the user chose. Without an API key the sandbox is used regardless.
    pub endpoint: Endpoint,
    /// Chunks in flight over all uploads: automatic or fixed.
    pub parallel_chunks: ParallelChunks,
    /// Bytes per second for all uploads together; `None` for no limit.
    pub bandwidth_limit: Option<u64>,
    /// How many files may upload at once.
    pub files_at_once: u32,
    /// The media type new uploads declare.
    pub file_type: MediaType,
    /// Whether the computer is kept from idle sleep while an upload is running.
    pub keep_awake: bool,
}

impl Default for StoredSettings {
    fn default() -> Self {
        Self {
            endpoint: Endpoint::Twelvelabs,
            parallel_chunks: ParallelChunks::Auto,
            bandwidth_limit: None,
            files_at_once: DEFAULT_FILES_AT_ONCE,
            file_type: MediaType::Video,
            keep_awake: true,
        }
    }
}

impl StoredSettings {
    /// Checks what the UI sent; a choice it left out stays as in `current`.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Invalid`](crate::ipc::ErrorCode::Invalid), saying which value is out of
    /// range and what is allowed.
    pub fn from_input(input: &SettingsInput, current: &Self) -> Result<Self, CommandError> {
        if let ParallelChunks::Fixed(n) = input.parallel_chunks
            && !FIXED_CHUNKS.contains(&n)
        {
            return Err(CommandError::invalid(format!(
                "parallel chunks must be a number from {} to {}, or Automatic; got {n}",
                FIXED_CHUNKS.start(),
                FIXED_CHUNKS.end(),
            )));
        }
        if let Some(limit) = input.bandwidth_limit {
            check_bandwidth(limit)?;
        }
        if !FILES_AT_ONCE.contains(&input.files_at_once) {
            return Err(CommandError::invalid(format!(
                "files at once must be {}–{}, got {}",
                FILES_AT_ONCE.start(),
                FILES_AT_ONCE.end(),
                input.files_at_once
            )));
        }
        Ok(Self {
            endpoint: input.endpoint,
            parallel_chunks: input.parallel_chunks,
            bandwidth_limit: input.bandwidth_limit,
            files_at_once: input.files_at_once,
            file_type: input.file_type,
            keep_awake: input.keep_awake.unwrap_or(current.keep_awake),
        })
    }

    /// Reads `path` field by field (see the module docs). A missing or damaged file gives
    /// the defaults (it is replaced at the next save), because refusing to start over a
    /// preferences file would be worse than forgetting a few choices.
    pub fn load(path: &Path) -> Self {
        let file = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let Some(Value::Object(map)) = file else {
            return Self::default();
        };
        let defaults = Self::default();
        let parallel_chunks = field::<ParallelChunks>(&map, "parallelChunks")
            .or_else(|| field::<u64>(&map, "maxWorkers").map(from_old_workers))
            .map_or(defaults.parallel_chunks, |p| match p {
                ParallelChunks::Fixed(n) => {
                    ParallelChunks::Fixed(n.clamp(*FIXED_CHUNKS.start(), *FIXED_CHUNKS.end()))
                }
                ParallelChunks::Auto => ParallelChunks::Auto,
            });
        Self {
            endpoint: field(&map, "endpoint").unwrap_or(defaults.endpoint),
            parallel_chunks,
            // `null` and 0 are no limit; other numbers are brought into range.
            bandwidth_limit: field::<Option<u64>>(&map, "bandwidthLimit")
                .flatten()
                .filter(|&b| b > 0)
                .map(|b| b.clamp(*BANDWIDTH.start(), *BANDWIDTH.end())),
            files_at_once: field::<u32>(&map, "filesAtOnce").map_or(defaults.files_at_once, |n| {
                n.clamp(*FILES_AT_ONCE.start(), *FILES_AT_ONCE.end())
            }),
            file_type: field(&map, "fileType").unwrap_or(defaults.file_type),
            keep_awake: field(&map, "keepAwake").unwrap_or(defaults.keep_awake),
        }
    }

    /// Gives the engine the link settings: the parallelism, the bandwidth limit and the
    /// files at once. They apply at once, to running uploads too.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Invalid`](crate::ipc::ErrorCode::Invalid) when the engine refuses the
    /// parallelism (it accepts what [`from_input`](Self::from_input) and
    /// [`load`](Self::load) let through).
    pub fn apply_to(&self, uploader: &Uploader) -> Result<(), CommandError> {
        uploader
            .set_parallelism(self.engine_parallelism())
            .map_err(CommandError::invalid)?;
        uploader.set_rate_limit(self.bandwidth_limit);
        uploader.set_max_files_in_flight(usize::try_from(self.files_at_once).unwrap_or(1));
        Ok(())
    }

    /// The engine's parallelism.
    pub fn engine_parallelism(&self) -> Parallelism {
        match self.parallel_chunks {
            ParallelChunks::Auto => Parallelism::Auto,
            ParallelChunks::Fixed(n) => Parallelism::Fixed(usize::try_from(n).unwrap_or(1)),
        }
    }

    /// Writes `path` atomically: a temporary file in the same directory, flushed to disk,
    /// then renamed over the old one, so a crash leaves either the old or the new settings.
    ///
    /// # Errors
    ///
    /// The I/O error, as an [`ErrorCode::Io`](crate::ipc::ErrorCode::Io) with the path.
    pub fn save(&self, path: &Path) -> Result<(), CommandError> {
        let io = |e: std::io::Error| {
            CommandError::new(
                crate::ipc::ErrorCode::Io,
                format!("cannot save the settings to {}: {e}", path.display()),
            )
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let tmp = dir.join(format!(".{SETTINGS_FILE}.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&json)?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(())
    }

    /// The engine's media type.
    pub fn engine_file_type(&self) -> FileType {
        match self.file_type {
            MediaType::Video => FileType::Video,
            MediaType::Audio => FileType::Audio,
            MediaType::Image => FileType::Image,
        }
    }
}

/// Field `name` of `map` as a `T`, when it is there and reads as one.
fn field<T: DeserializeOwned>(map: &Map<String, Value>, name: &str) -> Option<T> {
    map.get(name)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// An older file's `maxWorkers` (see the module docs).
fn from_old_workers(workers: u64) -> ParallelChunks {
    if workers == OLD_DEFAULT_WORKERS {
        ParallelChunks::Auto
    } else {
        ParallelChunks::Fixed(u32::try_from(workers).unwrap_or(u32::MAX))
    }
}

/// Checks a bandwidth limit is within [`BANDWIDTH`].
fn check_bandwidth(limit: u64) -> Result<(), CommandError> {
    if BANDWIDTH.contains(&limit) {
        return Ok(());
    }
    let bound = if limit < *BANDWIDTH.start() {
        "at least 10 KB/s"
    } else {
        "at most 100 GB/s"
    };
    Err(CommandError::invalid(format!(
        "the bandwidth limit must be {bound}, got {limit} bytes per second; choose No limit \
         to upload at full speed"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> StoredSettings {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SETTINGS_FILE);
        std::fs::write(&path, text).unwrap();
        StoredSettings::load(&path)
    }

    fn input() -> SettingsInput {
        SettingsInput {
            endpoint: Endpoint::Twelvelabs,
            parallel_chunks: ParallelChunks::Auto,
            bandwidth_limit: None,
            files_at_once: 3,
            file_type: MediaType::Video,
            keep_awake: None,
        }
    }

    /// `from_input` over the defaults.
    fn checked(input: &SettingsInput) -> Result<StoredSettings, CommandError> {
        StoredSettings::from_input(input, &StoredSettings::default())
    }

    #[test]
    fn missing_or_damaged_files_give_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SETTINGS_FILE);
        assert_eq!(StoredSettings::load(&path), StoredSettings::default());
        assert_eq!(load_text("{not json"), StoredSettings::default());
        assert_eq!(load_text("[1, 2]"), StoredSettings::default());
        let d = StoredSettings::default();
        assert_eq!(
            (d.parallel_chunks, d.bandwidth_limit, d.files_at_once),
            (ParallelChunks::Auto, None, 3)
        );
    }

    #[test]
    fn a_bad_field_costs_only_itself_and_numbers_are_brought_into_range() {
        let s = load_text(
            r#"{"endpoint": "sandbox", "parallelChunks": {"fixed": 99},
                "bandwidthLimit": 5, "filesAtOnce": 40, "fileType": "nonsense"}"#,
        );
        assert_eq!(s.endpoint, Endpoint::Sandbox);
        assert_eq!(s.parallel_chunks, ParallelChunks::Fixed(64));
        assert_eq!(s.bandwidth_limit, Some(10_000));
        assert_eq!(s.files_at_once, 8);
        assert_eq!(s.file_type, MediaType::Video);
        let s =
            load_text(r#"{"parallelChunks": "sometimes", "bandwidthLimit": 0, "filesAtOnce": 0}"#);
        assert_eq!(s.parallel_chunks, ParallelChunks::Auto);
        assert_eq!(s.bandwidth_limit, None);
        assert_eq!(s.files_at_once, 1);
    }

    #[test]
    fn an_old_files_default_workers_load_as_automatic_and_a_choice_as_fixed() {
        let old = |workers: u32| {
            load_text(&format!(
                r#"{{"endpoint": "sandbox", "maxWorkers": {workers}, "fileType": "audio"}}"#
            ))
        };
        let s = old(5);
        assert_eq!(s.parallel_chunks, ParallelChunks::Auto);
        assert_eq!(
            (s.endpoint, s.file_type, s.bandwidth_limit, s.files_at_once),
            (
                Endpoint::Sandbox,
                MediaType::Audio,
                None,
                DEFAULT_FILES_AT_ONCE
            )
        );
        assert_eq!(old(12).parallel_chunks, ParallelChunks::Fixed(12));
        assert_eq!(old(1).parallel_chunks, ParallelChunks::Fixed(1));
        assert_eq!(old(0).parallel_chunks, ParallelChunks::Fixed(1));
        // The new field wins over the old one.
        let both = load_text(r#"{"maxWorkers": 12, "parallelChunks": "auto"}"#);
        assert_eq!(both.parallel_chunks, ParallelChunks::Auto);
    }

    #[test]
    fn saves_and_loads_atomically_in_camel_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(SETTINGS_FILE);
        let s = StoredSettings {
            endpoint: Endpoint::Sandbox,
            parallel_chunks: ParallelChunks::Fixed(24),
            bandwidth_limit: Some(5_000_000),
            files_at_once: 2,
            file_type: MediaType::Audio,
            keep_awake: false,
        };
        s.save(&path).unwrap();
        assert_eq!(StoredSettings::load(&path), s);
        let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            saved,
            serde_json::json!({
                "endpoint": "sandbox",
                "parallelChunks": { "fixed": 24 },
                "bandwidthLimit": 5_000_000,
                "filesAtOnce": 2,
                "fileType": "audio",
                "keepAwake": false,
            })
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [SETTINGS_FILE]);
        let automatic = StoredSettings::default();
        automatic.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""parallelChunks": "auto""#), "{text}");
        assert!(text.contains(r#""bandwidthLimit": null"#), "{text}");
        assert!(text.contains(r#""keepAwake": true"#), "{text}");
    }

    #[test]
    fn keeping_awake_is_on_unless_turned_off_and_an_input_without_it_keeps_the_choice() {
        assert!(StoredSettings::default().keep_awake);
        assert!(
            load_text(r#"{"endpoint": "sandbox"}"#).keep_awake,
            "older files"
        );
        assert!(load_text(r#"{"keepAwake": "no"}"#).keep_awake, "unreadable");
        assert!(!load_text(r#"{"keepAwake": false}"#).keep_awake);
        let off = StoredSettings {
            keep_awake: false,
            ..StoredSettings::default()
        };
        let left_out = StoredSettings::from_input(&input(), &off).unwrap();
        assert!(!left_out.keep_awake, "left out: the current choice stays");
        let on = StoredSettings::from_input(
            &SettingsInput {
                keep_awake: Some(true),
                ..input()
            },
            &off,
        )
        .unwrap();
        assert!(on.keep_awake);
    }

    #[test]
    fn input_is_checked_with_messages_that_say_what_is_allowed() {
        let refused = |input: SettingsInput| {
            let e = checked(&input).unwrap_err();
            assert_eq!(e.code, crate::ipc::ErrorCode::Invalid);
            e.message
        };
        let m = refused(SettingsInput {
            parallel_chunks: ParallelChunks::Fixed(0),
            ..input()
        });
        assert!(m.contains("from 1 to 64, or Automatic"), "{m}");
        let m = refused(SettingsInput {
            parallel_chunks: ParallelChunks::Fixed(65),
            ..input()
        });
        assert!(m.contains("got 65"), "{m}");
        let m = refused(SettingsInput {
            bandwidth_limit: Some(9_999),
            ..input()
        });
        assert!(
            m.contains("at least 10 KB/s") && m.contains("No limit"),
            "{m}"
        );
        let m = refused(SettingsInput {
            bandwidth_limit: Some(200_000_000_000),
            ..input()
        });
        assert!(m.contains("at most 100 GB/s"), "{m}");
        let m = refused(SettingsInput {
            files_at_once: 9,
            ..input()
        });
        assert!(m.contains("1–8, got 9"), "{m}");
        let ok = checked(&SettingsInput {
            parallel_chunks: ParallelChunks::Fixed(64),
            bandwidth_limit: Some(10_000),
            files_at_once: 8,
            ..input()
        })
        .unwrap();
        assert_eq!(ok.engine_parallelism(), Parallelism::Fixed(64));
        assert_eq!((ok.bandwidth_limit, ok.files_at_once), (Some(10_000), 8));
    }

    #[test]
    fn the_link_settings_reach_the_engine() {
        let uploader = Uploader::new(None);
        let s = StoredSettings {
            parallel_chunks: ParallelChunks::Fixed(7),
            bandwidth_limit: Some(2_000_000),
            ..StoredSettings::default()
        };
        s.apply_to(&uploader).unwrap();
        let link = uploader.link_status();
        assert_eq!(link.parallelism, Parallelism::Fixed(7));
        assert_eq!((link.level, link.rate_limit), (7, Some(2_000_000)));
        StoredSettings::default().apply_to(&uploader).unwrap();
        let link = uploader.link_status();
        assert_eq!(
            (link.parallelism, link.rate_limit),
            (Parallelism::Auto, None)
        );
    }
}
