//! The chunk planner: which byte range of the file each chunk is. Pure: no I/O, no async.

/// The most chunks a session may have (the S3 part limit behind the protocol).
pub const MAX_CHUNKS: u64 = 10_000;

/// How a file of `total_size` bytes is cut into chunks of `chunk_size` bytes, only the last
/// one shorter. Chunks are numbered from 1, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    total_size: u64,
    chunk_size: u64,
    total_chunks: u64,
}

/// One chunk: its 1-based index and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpec {
    /// The 1-based index.
    pub index: u64,
    /// The first byte, from the start of the file.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The server gave a chunk size of 0.
    #[error("the server gave a chunk size of 0")]
    ZeroChunkSize,
    /// The server's chunk count disagrees with the size and chunk size.
    #[error(
        "the server says {server} chunks, but {total_size} bytes in chunks of {chunk_size} make {computed}"
    )]
    ChunkCountMismatch {
        /// The file size.
        total_size: u64,
        /// The chunk size.
        chunk_size: u64,
        /// What the server said.
        server: u64,
        /// What the sizes give.
        computed: u64,
    },
}

impl ChunkPlan {
    /// Plans `total_size` bytes in chunks of `chunk_size`. When the server also gave its
    /// chunk count, it must agree, or the upload would report chunks the server does not
    /// expect.
    ///
    /// # Errors
    ///
    /// [`PlanError`] for an empty file, a zero chunk size or a disagreeing count.
    pub fn new(
        total_size: u64,
        chunk_size: u64,
        server_total_chunks: Option<u64>,
    ) -> Result<Self, PlanError> {
        if total_size == 0 {
            return Err(PlanError::Empty);
        }
        if chunk_size == 0 {
            return Err(PlanError::ZeroChunkSize);
        }
        let total_chunks = total_size.div_ceil(chunk_size);
        if let Some(server) = server_total_chunks
            && server != total_chunks
        {
            return Err(PlanError::ChunkCountMismatch {
                total_size,
                chunk_size,
                server,
                computed: total_chunks,
            });
        }
        Ok(Self {
            total_size,
            chunk_size,
            total_chunks,
        })
    }

    /// The file size.
    pub fn total_size(&self) -> u64 {
        self.total_size
    }

    /// Bytes per chunk, except the last.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    /// How many chunks.
    pub fn total_chunks(&self) -> u64 {
        self.total_chunks
    }

    /// Chunk `index` (1-based), or `None` outside `1..=total_chunks`.
    pub fn chunk(&self, index: u64) -> Option<ChunkSpec> {
        if index == 0 || index > self.total_chunks {
            return None;
        }
        let offset = (index - 1) * self.chunk_size;
        let len = self.chunk_size.min(self.total_size - offset);
        Some(ChunkSpec { index, offset, len })
    }

    /// Every chunk, in order.
    pub fn chunks(&self) -> impl Iterator<Item = ChunkSpec> + '_ {
        (1..=self.total_chunks).filter_map(|i| self.chunk(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edge_cases() {
        assert_eq!(ChunkPlan::new(0, 5, None), Err(PlanError::Empty));
        assert_eq!(ChunkPlan::new(5, 0, None), Err(PlanError::ZeroChunkSize));
        let one = ChunkPlan::new(1, 5, Some(1)).unwrap();
        assert_eq!(
            one.chunk(1),
            Some(ChunkSpec {
                index: 1,
                offset: 0,
                len: 1
            })
        );
        assert_eq!(one.chunk(0), None);
        assert_eq!(one.chunk(2), None);
        let exact = ChunkPlan::new(10, 5, None).unwrap();
        assert_eq!(exact.total_chunks(), 2);
        assert_eq!(exact.chunk(2).unwrap().len, 5);
        let odd = ChunkPlan::new(11, 5, None).unwrap();
        assert_eq!(
            odd.chunk(3),
            Some(ChunkSpec {
                index: 3,
                offset: 10,
                len: 1
            })
        );
        assert!(matches!(
            ChunkPlan::new(11, 5, Some(2)),
            Err(PlanError::ChunkCountMismatch { computed: 3, .. })
        ));
    }

    #[test]
    fn offsets_beyond_four_gib_do_not_overflow() {
        let size = 10 * 1024 * 1024 * 1024 + 7;
        let plan = ChunkPlan::new(size, 5 * 1024 * 1024, None).unwrap();
        let last = plan.chunk(plan.total_chunks()).unwrap();
        assert_eq!(last.offset + last.len, size);
        assert_eq!(last.len, 7);
    }

    proptest! {
        #[test]
        fn chunks_tile_the_file_exactly(total in 1u64..1u64 << 40, chunk in 1u64..1u64 << 32) {
            prop_assume!(total.div_ceil(chunk) <= 20_000);
            let plan = ChunkPlan::new(total, chunk, None).unwrap();
            let mut next = 0;
            let mut count = 0;
            for spec in plan.chunks() {
                count += 1;
                prop_assert_eq!(spec.index, count);
                prop_assert_eq!(spec.offset, next);
                prop_assert!(spec.len >= 1 && spec.len <= chunk);
                if spec.index < plan.total_chunks() {
                    prop_assert_eq!(spec.len, chunk);
                }
                next += spec.len;
            }
            prop_assert_eq!(next, total);
            prop_assert_eq!(count, plan.total_chunks());
        }
    }
}
