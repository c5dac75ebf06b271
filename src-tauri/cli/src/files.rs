//! Checks of file arguments, made before anything is sent so that a typo is reported at
//! once (exit code 2), not after other files have spent minutes uploading.

use std::path::Path;

use tl_upload::UploadError;

/// Checks that `path` is a readable, non-empty regular file and returns its size: the
/// engine's own check, so the messages match whichever side notices first.
pub fn check(path: &Path) -> Result<u64, UploadError> {
    tl_upload::inspect(path).map(|info| info.size)
}

/// The file's own name, for headers and the progress bar.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_argument_gets_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mp4");
        assert!(matches!(
            check(&missing),
            Err(UploadError::FileNotFound { .. })
        ));
        assert!(matches!(
            check(dir.path()),
            Err(UploadError::IsDirectory { .. })
        ));
        let empty = dir.path().join("empty.mp4");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(check(&empty), Err(UploadError::EmptyFile { .. })));
        let good = dir.path().join("clip.mp4");
        std::fs::write(&good, b"abc").unwrap();
        assert_eq!(check(&good).unwrap(), 3);
        assert_eq!(display_name(&good), "clip.mp4");
    }
}
