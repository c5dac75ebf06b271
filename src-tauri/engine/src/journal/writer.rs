//! The journal's writes for async code: on a thread of their own, committed in groups.
//!
//! A journal gets one writer thread, on its first write through a [`JournalWriter`], fed by
//! a bounded channel. The thread takes the first request waiting, then every other one
//! already queued (up to [`MAX_GROUP`]), makes the writes among them in one immediate
//! transaction, commits once, and only then answers: a future that resolves `Ok` means its
//! write is on disk (WAL, synchronous FULL). While one group's commit waits for its fsync,
//! the next requests queue up and share the next commit, and a thread of the async runtime
//! never waits for an fsync.
//!
//! A write can be awaited on its own ([`JournalWriter::record_chunk`]) or only queued
//! ([`JournalWriter::queue_chunk`]) and made sure of later by [`JournalWriter::flush`],
//! which resolves once every write queued before it is committed, with the first failure
//! of a queued write of its upload since the last flush. The chunk workers await their rows
//! (a kill then costs at most the chunks in flight); the reporter queues the reported flags
//! and flushes before each report, so it never tells the server of a chunk whose row is
//! not on disk, however the row was written. Queued writes, and
//! the flushes behind them, may wait up to [`COMMIT_DELAY`] for company, so a steady stream
//! of chunk rows costs an fsync every few milliseconds rather than one per chunk; a write
//! that is waited for goes in at once, with everything queued before it.
//!
//! A write that fails (a chunk of a session the journal lacks) is undone alone (a write of
//! several statements in a savepoint); the rest of its group still commits. When the group
//! cannot be committed as a whole (the disk is full, the file stays locked past the busy
//! timeout), each of its writes is tried again in a transaction of its own, so every write
//! gets its own outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Db, Journal, JournalError, insert_chunk, set_reported};

/// Requests the channel holds before a caller waits for room.
const QUEUE: usize = 1024;

/// The most requests handled in one transaction.
const MAX_GROUP: usize = 512;

/// How long queued writes (and flushes waiting for them) may wait for others to share
/// their commit. A write that is waited for commits them at once.
const COMMIT_DELAY: Duration = Duration::from_millis(10);

/// Writes a [`Journal`] from async code without blocking the runtime.
///
/// Writes queued at the same moment, by any writer of the same journal, share one
/// transaction and one fsync. A future dropped after its write was queued does not withdraw
/// it: the write is still made, as if the caller had crashed just after; the writes queued
/// when the journal's last clone is dropped are made before the drop returns.
///
/// Cheap to clone; get one from [`Journal::writer`].
#[derive(Debug, Clone)]
pub struct JournalWriter {
    journal: Journal,
}

type Answer = oneshot::Sender<Result<(), JournalError>>;

impl JournalWriter {
    pub(super) fn new(journal: Journal) -> Self {
        Self { journal }
    }

    /// The journal written to.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Records that the storage acknowledged chunk `index` with `etag`, like
    /// [`Journal::record_chunk`]; resolves once the row is on disk.
    ///
    /// # Errors
    ///
    /// [`JournalError::Database`], also when the journal has no session `upload_id`;
    /// [`JournalError::Io`] when the writer thread cannot be started;
    /// [`JournalError::WriterStopped`] if it ended before answering.
    pub async fn record_chunk(
        &self,
        upload_id: &str,
        index: u64,
        etag: &str,
        size: u64,
    ) -> Result<(), JournalError> {
        self.write_and_wait(Write::chunk(upload_id, index, etag, size))
            .await
    }

    /// Queues the row of chunk `index`, like [`JournalWriter::record_chunk`], and resolves
    /// as soon as it is queued (waiting only while the queue is full). The row is committed
    /// within about 10 ms, sooner when others wait; it is sure to be on disk once a later
    /// [`JournalWriter::flush`] resolves `Ok`, which also reports its failure.
    ///
    /// # Errors
    ///
    /// [`JournalError::Io`] when the writer thread cannot be started;
    /// [`JournalError::WriterStopped`] if it has ended.
    pub async fn queue_chunk(
        &self,
        upload_id: &str,
        index: u64,
        etag: &str,
        size: u64,
    ) -> Result<(), JournalError> {
        self.send(Request::Write {
            write: Write::chunk(upload_id, index, etag, size),
            answer: None,
        })
        .await
    }

    /// Records that the server accepted the reports of `indices`, like
    /// [`Journal::mark_reported`] (all of them or none); resolves once that is on disk.
    ///
    /// # Errors
    ///
    /// As [`JournalWriter::record_chunk`].
    pub async fn mark_reported(
        &self,
        upload_id: &str,
        indices: &[u64],
    ) -> Result<(), JournalError> {
        self.write_and_wait(Write::reported(upload_id, indices))
            .await
    }

    /// Queues flagging `indices` as reported, like [`JournalWriter::mark_reported`], and
    /// resolves as soon as it is queued; see [`JournalWriter::queue_chunk`].
    ///
    /// # Errors
    ///
    /// As [`JournalWriter::queue_chunk`].
    pub async fn queue_reported(
        &self,
        upload_id: &str,
        indices: &[u64],
    ) -> Result<(), JournalError> {
        self.send(Request::Write {
            write: Write::reported(upload_id, indices),
            answer: None,
        })
        .await
    }

    /// Resolves once every write queued before it, by any writer of this journal, is
    /// committed, which takes about 10 ms at most. Immediate when nothing is pending: no
    /// transaction, no fsync.
    ///
    /// # Errors
    ///
    /// The first failure of a write queued for `upload_id` since the previous flush for it
    /// (a [`JournalError::Database`]: that write was not made, the others were);
    /// [`JournalError::Io`] or [`JournalError::WriterStopped`] as for the queueing.
    pub async fn flush(&self, upload_id: &str) -> Result<(), JournalError> {
        let (answer, outcome) = oneshot::channel();
        self.send(Request::Flush {
            upload_id: upload_id.to_owned(),
            answer,
        })
        .await?;
        outcome.await.map_err(|_| self.stopped())?
    }

    async fn write_and_wait(&self, write: Write) -> Result<(), JournalError> {
        let (answer, outcome) = oneshot::channel();
        self.send(Request::Write {
            write,
            answer: Some(answer),
        })
        .await?;
        outcome.await.map_err(|_| self.stopped())?
    }

    async fn send(&self, request: Request) -> Result<(), JournalError> {
        self.queue()?
            .send(request)
            .await
            .map_err(|_| self.stopped())
    }

    fn stopped(&self) -> JournalError {
        JournalError::WriterStopped {
            path: self.journal.path().to_path_buf(),
        }
    }

    /// The writer thread's queue, starting the thread on first use.
    fn queue(&self) -> Result<&mpsc::Sender<Request>, JournalError> {
        let inner = &self.journal.inner;
        let writer = match inner.writer.get() {
            Some(writer) => writer,
            None => {
                let started = Writer::start(inner.db.clone())?;
                // Two first writes at once may both start one; the one not kept is dropped,
                // which ends its idle thread.
                inner.writer.get_or_init(|| started)
            }
        };
        writer.queue.as_ref().ok_or_else(|| self.stopped())
    }
}

/// The writer thread of one journal, and its queue.
pub(super) struct Writer {
    /// `None` only while dropping: closing the queue is what ends the thread.
    queue: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(db: Arc<Db>) -> Result<Self, JournalError> {
        let (queue, requests) = mpsc::channel(QUEUE);
        let path = db.path.clone();
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        // Only a clock, for waiting on the queue with a deadline.
        let clock = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(io)?;
        let thread = std::thread::Builder::new()
            .name("tl-journal-writer".into())
            .spawn(move || run(&db, &clock, requests))
            .map_err(io)?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // A caller waiting for an answer holds a clone of the journal, so the last one has
        // gone: the thread only makes the writes still queued, sees the queue closed and
        // ends, closing its side of the connection (so a dropped journal's file is closed
        // when the drop returns, as it was before there was a writer thread).
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            // A panic there has already answered its callers (their senders dropped).
            let _ = thread.join();
        }
    }
}

/// What the thread is asked.
enum Request {
    /// A write, with where its outcome goes when its caller waits for it; the failure of
    /// one that nobody waits for goes to the next flush of its upload.
    Write {
        write: Write,
        answer: Option<Answer>,
    },
    /// Answered once the writes before it are committed.
    Flush { upload_id: String, answer: Answer },
}

/// A write the thread makes.
enum Write {
    Chunk {
        upload_id: String,
        index: u64,
        etag: String,
        size: u64,
    },
    Reported {
        upload_id: String,
        indices: Vec<u64>,
    },
}

impl Write {
    fn chunk(upload_id: &str, index: u64, etag: &str, size: u64) -> Self {
        Self::Chunk {
            upload_id: upload_id.to_owned(),
            index,
            etag: etag.to_owned(),
            size,
        }
    }

    fn reported(upload_id: &str, indices: &[u64]) -> Self {
        Self::Reported {
            upload_id: upload_id.to_owned(),
            indices: indices.to_vec(),
        }
    }

    fn upload_id(&self) -> &str {
        match self {
            Self::Chunk { upload_id, .. } | Self::Reported { upload_id, .. } => upload_id,
        }
    }

    /// How many statements the write runs.
    fn statements(&self) -> usize {
        match self {
            Self::Chunk { .. } => 1,
            Self::Reported { indices, .. } => indices.len(),
        }
    }

    fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        match self {
            Self::Chunk {
                upload_id,
                index,
                etag,
                size,
            } => insert_chunk(conn, upload_id, *index, etag, *size),
            Self::Reported { upload_id, indices } => set_reported(conn, upload_id, indices),
        }
    }
}

/// The thread: one group at a time until the queue closes.
fn run(db: &Db, clock: &tokio::runtime::Runtime, mut requests: mpsc::Receiver<Request>) {
    // The first failure of a queued write of each upload, until its next flush.
    let mut failures: HashMap<String, JournalError> = HashMap::new();
    let mut group = Vec::with_capacity(MAX_GROUP);
    // Set while `group` waits for company: when it goes in anyway.
    let mut deadline: Option<Instant> = None;
    let mut open = true;
    while open {
        let next = match deadline {
            None => Some(requests.blocking_recv()),
            // The timer is made inside `block_on`, where the clock runs.
            Some(at) => clock
                .block_on(async { tokio::time::timeout_at(at, requests.recv()).await })
                .ok(),
        };
        let mut due = false;
        match next {
            Some(Some(request)) => {
                group.push(request);
                while group.len() < MAX_GROUP {
                    match requests.try_recv() {
                        Ok(request) => group.push(request),
                        Err(_) => break,
                    }
                }
            }
            Some(None) => open = false,
            None => due = true,
        }
        // A write someone waits for goes in at once, with whatever is queued before it;
        // a flush waits for the queued writes' commit like they do, or for nothing when
        // there are none.
        let now =
            group.iter().any(Request::is_waited_for) || group.iter().all(|r| r.write().is_none());
        if open && !due && !now && group.len() < MAX_GROUP {
            deadline.get_or_insert_with(|| Instant::now() + COMMIT_DELAY);
            continue;
        }
        deadline = None;
        let outcomes = commit(db, &group);
        // In queue order, so a flush hears of the failures queued before it, not after.
        for (request, outcome) in group.drain(..).zip(outcomes) {
            match request {
                Request::Write { write, answer } => {
                    let outcome = outcome.map_err(|e| db.error(e));
                    match (answer, outcome) {
                        // A caller that stopped waiting needs no answer.
                        (Some(answer), outcome) => drop(answer.send(outcome)),
                        (None, Ok(())) => {}
                        (None, Err(e)) => {
                            failures.entry(write.upload_id().to_owned()).or_insert(e);
                        }
                    }
                }
                Request::Flush { upload_id, answer } => {
                    let outcome = failures.remove(&upload_id).map_or(Ok(()), Err);
                    let _ = answer.send(outcome);
                }
            }
        }
    }
}

impl Request {
    fn write(&self) -> Option<&Write> {
        match self {
            Self::Write { write, .. } => Some(write),
            Self::Flush { .. } => None,
        }
    }

    /// Whether this is a write whose caller waits for it, so its group goes in at once.
    fn is_waited_for(&self) -> bool {
        match self {
            Self::Write { answer, .. } => answer.is_some(),
            Self::Flush { .. } => false,
        }
    }
}

/// Makes the writes of `group` and returns one outcome per request, in order (`Ok` for a
/// flush), once they are committed.
fn commit(db: &Db, group: &[Request]) -> Vec<rusqlite::Result<()>> {
    if group.iter().all(|r| r.write().is_none()) {
        return group.iter().map(|_| Ok(())).collect();
    }
    let mut conn = db.conn();
    match commit_together(&mut conn, group) {
        Ok(outcomes) => {
            db.group_commits.fetch_add(1, Ordering::Relaxed);
            outcomes
        }
        Err(_) => group
            .iter()
            .map(|r| r.write().map_or(Ok(()), |w| commit_alone(&mut conn, w)))
            .collect(),
    }
}

/// Every write of `group` in one transaction, each in a savepoint so that one failing does
/// not undo the others. `Err` when the transaction itself failed and nothing was written.
fn commit_together(
    conn: &mut Connection,
    group: &[Request],
) -> rusqlite::Result<Vec<rusqlite::Result<()>>> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        let Some(write) = request.write() else {
            outcomes.push(Ok(()));
            continue;
        };
        let outcome = if write.statements() > 1 {
            let savepoint = tx.savepoint()?;
            let outcome = write.apply(&savepoint);
            if outcome.is_ok() {
                savepoint.commit()?;
            }
            // A savepoint dropped uncommitted rolls back to where it began.
            outcome
        } else {
            // A failing statement undoes itself; no savepoint needed.
            write.apply(&tx)
        };
        if let Err(e) = outcome {
            if tx.is_autocommit() {
                // Some failures (a full disk, an I/O error) roll the whole transaction
                // back: then nothing of the group is written, and each write is retried.
                return Err(e);
            }
            outcomes.push(Err(e));
        } else {
            outcomes.push(Ok(()));
        }
    }
    tx.commit()?;
    Ok(outcomes)
}

/// One write in a transaction of its own.
fn commit_alone(conn: &mut Connection, write: &Write) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    write.apply(&tx)?;
    tx.commit()
}
