//! Test files: pseudo-random content from a seed, its SHA-256, temporary directories.
//!
//! The content comes from xorshift64* (fast, and no two chunks of a file are alike), so a
//! chunk written at the wrong offset changes the file's hash, and a failure reproduces with
//! the same seed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The bytes [`write_random_file`] writes at a time.
const BLOCK: usize = 1 << 20;

/// An xorshift64* stream of bytes.
struct Noise(u64);

impl Noise {
    fn new(seed: u64) -> Self {
        // Never zero: xorshift would stay at zero forever.
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Fills `out` with the next bytes of the stream. Whole 8-byte words are taken for
    /// each call, so callers keep the stream the same by passing multiples of 8 (all but
    /// the last call).
    fn fill(&mut self, out: &mut [u8]) {
        for word in out.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let bytes = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
    }
}

/// `len` pseudo-random bytes, the same for the same `seed`.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    Noise::new(seed).fill(&mut bytes);
    bytes
}

/// Writes `len` pseudo-random bytes (the same as [`random_bytes`] for `seed`) to `path`, a
/// block at a time, and returns their SHA-256 in hex.
///
/// # Errors
///
/// When the file cannot be created or written.
pub fn write_random_file(path: &Path, len: u64, seed: u64) -> std::io::Result<String> {
    let mut noise = Noise::new(seed);
    let mut out = BufWriter::with_capacity(BLOCK, File::create(path)?);
    let mut hash = Sha256::new();
    let mut block = vec![0; BLOCK];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left).map_or(BLOCK, |left| left.min(BLOCK));
        noise.fill(&mut block[..n]);
        out.write_all(&block[..n])?;
        hash.update(&block[..n]);
        left -= n as u64;
    }
    out.flush()?;
    Ok(hex::encode(hash.finalize()))
}

/// A seed made from `text` (64-bit FNV-1a), for files whose content should follow their
/// name.
pub fn name_seed(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Writes `dir/name` with `len` pseudo-random bytes seeded by `name` (so files of other
/// names differ, and the same name gives the same bytes) and returns its path.
///
/// # Panics
///
/// When the file cannot be written.
pub fn named_random_file(dir: &Path, name: &str, len: u64) -> PathBuf {
    let path = dir.join(name);
    write_random_file(&path, len, name_seed(name))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// The SHA-256 of `data`, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The SHA-256 of the file at `path`, in hex, read a block at a time.
///
/// # Panics
///
/// When the file cannot be read.
pub fn sha256_file(path: &Path) -> String {
    let read = |path: &Path| -> std::io::Result<String> {
        let mut hash = Sha256::new();
        std::io::copy(&mut File::open(path)?, &mut hash)?;
        Ok(hex::encode(hash.finalize()))
    };
    read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fresh temporary directory, removed when dropped.
///
/// # Panics
///
/// When it cannot be created.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
        assert_eq!(random_bytes(1000, 7), random_bytes(1000, 7));
        assert_ne!(random_bytes(1000, 7), random_bytes(1000, 8));
        // Seed 0 does not degenerate into zeros.
        assert!(random_bytes(64, 0).iter().any(|&b| b != 0));
        // A shorter run is a prefix of a longer one, odd lengths included.
        assert_eq!(random_bytes(13, 3)[..], random_bytes(1000, 3)[..13]);
    }

    #[test]
    fn no_two_chunks_of_a_file_are_alike() {
        let data = random_bytes(64 * 1024, 1);
        let chunks: Vec<&[u8]> = data.chunks(4096).collect();
        for (i, a) in chunks.iter().enumerate() {
            assert!(chunks[i + 1..].iter().all(|b| a != b), "chunk {i} repeats");
        }
    }

    #[test]
    fn a_written_file_holds_the_bytes_and_reports_their_hash() {
        let dir = tempdir();
        let path = dir.path().join("blocks.bin");
        // Over one block and not a multiple of 8, to cross the block boundary.
        let len = BLOCK + 4093;
        let sha = write_random_file(&path, len as u64, 5).unwrap();
        let expected = random_bytes(len, 5);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert_eq!(sha, sha256_hex(&expected));
        assert_eq!(sha256_file(&path), sha);
    }

    #[test]
    fn the_hash_is_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn named_files_follow_their_name() {
        let dir = tempdir();
        let a = named_random_file(dir.path(), "a.mp4", 100);
        let b = named_random_file(dir.path(), "b.mp4", 100);
        assert_eq!(a, dir.path().join("a.mp4"));
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let other = tempdir();
        let again = named_random_file(other.path(), "a.mp4", 100);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(again).unwrap());
        assert_eq!(std::fs::metadata(&b).unwrap().len(), 100);
        assert_ne!(name_seed("a.mp4"), name_seed("b.mp4"));
    }
}
