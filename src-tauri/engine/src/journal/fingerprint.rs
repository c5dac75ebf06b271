//! A cheap content fingerprint: the sha256 of the file size and a few fixed samples.
//!
//! Hashing a 10 GB file would delay a resume by a minute; sampling 10 windows of 64 KiB
//! (the start, the exact middle, the end, and seven evenly spaced between) takes
//! milliseconds and catches the usual ways a file changes: re-encoded, appended, truncated,
//! or edited in place near its start, middle or end. The modification time is checked too.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

/// The bytes of one sample window.
const WINDOW: u64 = 64 * 1024;

/// The offsets of the sample windows of a file of `size` bytes, sorted, without repeats.
fn sample_offsets(size: u64) -> Vec<u64> {
    if size <= WINDOW {
        return vec![0];
    }
    let last = size - WINDOW;
    let mut offsets = vec![0, last, (size / 2).saturating_sub(WINDOW / 2).min(last)];
    for i in 1..=7 {
        offsets.push(last * i / 8);
    }
    offsets.sort_unstable();
    offsets.dedup();
    offsets
}

/// The fingerprint of the file at `path`: `v1:` and 64 hex digits.
///
/// # Errors
///
/// The I/O error of opening or reading the file.
pub fn fingerprint(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut hasher = Sha256::new();
    hasher.update(size.to_le_bytes());
    let mut buf = vec![0u8; WINDOW as usize];
    for offset in sample_offsets(size) {
        let len = WINDOW.min(size - offset) as usize;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf[..len])?;
        hasher.update(offset.to_le_bytes());
        hasher.update(&buf[..len]);
    }
    Ok(format!("v1:{}", hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_cover_start_middle_and_end() {
        assert_eq!(sample_offsets(10), vec![0]);
        let size = 10 * 1024 * 1024 + 3;
        let offsets = sample_offsets(size);
        assert!((9..=10).contains(&offsets.len()), "{offsets:?}");
        assert_eq!(offsets[0], 0);
        assert_eq!(*offsets.last().unwrap(), size - WINDOW);
        let middle = size / 2;
        assert!(offsets.iter().any(|o| *o <= middle && middle < o + WINDOW));
    }

    #[test]
    fn one_changed_byte_at_start_middle_or_end_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let size = 3 * 1024 * 1024 + 17;
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let original = fingerprint(&path).unwrap();
        assert_eq!(fingerprint(&path).unwrap(), original, "stable");
        for at in [0, size / 2, size - 1] {
            let mut changed = data.clone();
            changed[at] ^= 0xff;
            std::fs::write(&path, &changed).unwrap();
            assert_ne!(fingerprint(&path).unwrap(), original, "byte {at}");
        }
        std::fs::write(&path, &data[..size - 1]).unwrap();
        assert_ne!(fingerprint(&path).unwrap(), original, "truncated");
    }
}
