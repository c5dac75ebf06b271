//! The settings the app keeps between runs, in `settings.json` in the data directory.
//!
//! Only choices live here (the endpoint, the parallelism, the media type). The API key never
//! does: it is in the OS keychain (see [`crate::keychain`]), and the file is written without
//! it, so copying or sharing a data directory cannot leak it.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tl_upload::FileType;

use crate::ipc::{CommandError, Endpoint, MediaType, SettingsInput};

/// The file name of the settings in the data directory.
pub const SETTINGS_FILE: &str = "settings.json";

/// The fewest and most chunks in parallel the app offers.
pub const WORKERS: std::ops::RangeInclusive<u32> = 1..=16;

/// What `settings.json` holds. Fields missing from an older file take their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StoredSettings {
    /// The endpoint the user chose. Without an API key the sandbox is used regardless.
    pub endpoint: Endpoint,
    /// Chunks in parallel.
    pub max_workers: u32,
    /// The media type new uploads declare.
    pub file_type: MediaType,
}

impl Default for StoredSettings {
    fn default() -> Self {
        Self {
            endpoint: Endpoint::Twelvelabs,
            max_workers: 5,
            file_type: MediaType::Video,
        }
    }
}

impl StoredSettings {
    /// Checks what the UI sent.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Invalid`](crate::ipc::ErrorCode::Invalid) when `max_workers` is out of
    /// range.
    pub fn from_input(input: &SettingsInput) -> Result<Self, CommandError> {
        if !WORKERS.contains(&input.max_workers) {
            return Err(CommandError::invalid(format!(
                "parallel chunks must be {}–{}, got {}",
                WORKERS.start(),
                WORKERS.end(),
                input.max_workers
            )));
        }
        Ok(Self {
            endpoint: input.endpoint,
            max_workers: input.max_workers,
            file_type: input.file_type,
        })
    }

    /// Reads `path`. A missing file gives the defaults; so does a damaged one (it is replaced
    /// at the next save), because refusing to start over a preferences file would be worse
    /// than forgetting three choices. Out-of-range values are brought into range.
    pub fn load(path: &Path) -> Self {
        let loaded: Self = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            max_workers: loaded.max_workers.clamp(*WORKERS.start(), *WORKERS.end()),
            ..loaded
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_damaged_files_give_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SETTINGS_FILE);
        assert_eq!(StoredSettings::load(&path), StoredSettings::default());
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(StoredSettings::load(&path), StoredSettings::default());
        std::fs::write(&path, br#"{"maxWorkers": 99}"#).unwrap();
        let s = StoredSettings::load(&path);
        assert_eq!(s.max_workers, 16);
        assert_eq!(s.file_type, MediaType::Video);
    }

    #[test]
    fn saves_and_loads_atomically_in_camel_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(SETTINGS_FILE);
        let s = StoredSettings {
            endpoint: Endpoint::Sandbox,
            max_workers: 8,
            file_type: MediaType::Audio,
        };
        s.save(&path).unwrap();
        assert_eq!(StoredSettings::load(&path), s);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"maxWorkers\": 8"), "{text}");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [SETTINGS_FILE]);
    }

    #[test]
    fn input_is_checked() {
        let input = SettingsInput {
            endpoint: Endpoint::Twelvelabs,
            max_workers: 0,
            file_type: MediaType::Video,
        };
        let e = StoredSettings::from_input(&input).unwrap_err();
        assert_eq!(e.code, crate::ipc::ErrorCode::Invalid);
        assert!(e.message.contains("1–16"), "{}", e.message);
        let ok = StoredSettings::from_input(&SettingsInput {
            max_workers: 16,
            ..input
        })
        .unwrap();
        assert_eq!(ok.max_workers, 16);
    }
}
