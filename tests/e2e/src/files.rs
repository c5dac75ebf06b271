//! Test files: random content (so no two chunks are alike and a misplaced chunk changes the
//! hash) and their SHA-256.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::Result;
use sha2::{Digest, Sha256};

/// Writes `size` random bytes (from `/dev/urandom`, fast in any build profile) to `path`
/// and returns their hex SHA-256.
///
/// # Errors
///
/// When the file cannot be written.
pub fn random_file(path: &Path, size: u64) -> Result<String> {
    let mut random = File::open("/dev/urandom")?;
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut hash = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(block.len() as u64))?;
        random.read_exact(&mut block[..n])?;
        out.write_all(&block[..n])?;
        hash.update(&block[..n]);
        left -= n as u64;
    }
    out.flush()?;
    Ok(hex::encode(hash.finalize()))
}
