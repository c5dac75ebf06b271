//! [`Uploader`]: the one long-lived object of a process that starts uploads, lists what can
//! be resumed, and forgets sessions. The app and `tlup` both drive the engine through it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::begin::{self, Prepared, UploadSource};
use super::handle::{Publisher, UploadControls, UploadHandle};
use super::link::{Link, LinkStatus, Parallelism};
use super::run::Session;
use super::{UploadOptions, UploadResult, drive};
use crate::api::MultipartUploadClient;
use crate::error::UploadError;
use crate::journal::{Journal, SessionState};
use crate::progress::{UploadPhase, UploadProgress};

/// Starts uploads and manages the sessions they leave behind.
///
/// Make one per process and share it (clones are cheap and share everything): it holds the
/// journal every upload records into, and the link all of the process's uploads share:
/// how many chunk PUTs are in flight at once ([`set_parallelism`](Self::set_parallelism),
/// automatic by default), the bandwidth limit ([`set_rate_limit`](Self::set_rate_limit)),
/// and the order in which queued uploads get the link: uploads started earlier keep
/// priority, and a later one creates its session as soon as the earlier ones leave slots
/// free. The API client is given per call, since a front end may switch endpoints (the
/// TwelveLabs API, a local sandbox) while earlier uploads still run.
#[derive(Debug, Clone)]
pub struct Uploader {
    inner: Arc<Inner>,
}

impl Default for Uploader {
    fn default() -> Self {
        Self::new(None)
    }
}

#[derive(Debug)]
struct Inner {
    journal: Option<Journal>,
    link: Link,
}

impl Uploader {
    /// An uploader that records sessions and acknowledged chunks in `journal`, so uploads
    /// can be resumed after a crash or a restart with only the missing chunks sent; with
    /// `None` nothing is recorded (a resume then needs the server's record and the file).
    pub fn new(journal: Option<Journal>) -> Self {
        Self {
            inner: Arc::new(Inner {
                link: Link::new(journal.clone()),
                journal,
            }),
        }
    }

    /// Sets how many chunk PUTs the process keeps in flight over all its uploads; applies at
    /// once to running uploads. With [`Parallelism::Auto`] the level follows the link's
    /// measured goodput and starts from the level learned for the API host last time.
    ///
    /// # Errors
    ///
    /// A message when a fixed level is outside 1–64.
    pub fn set_parallelism(&self, parallelism: Parallelism) -> Result<(), String> {
        self.inner.link.set_parallelism(parallelism.validate()?);
        Ok(())
    }

    /// Limits the bytes per second of every chunk of every upload together (`None`: no
    /// limit); applies at once to running uploads.
    pub fn set_rate_limit(&self, bytes_per_second: Option<u64>) {
        self.inner
            .link
            .set_rate_limit(bytes_per_second.filter(|&r| r > 0));
    }

    /// Sets how many uploads may be past their queue turn at once (creating a session or
    /// sending chunks); the rest wait in the order they were started. At least 1.
    pub fn set_max_files_in_flight(&self, files: usize) {
        self.inner.link.set_max_files(files);
    }

    /// The link now: the parallelism setting and level, chunks in flight, the limit.
    pub fn link_status(&self) -> LinkStatus {
        self.inner.link.status()
    }

    /// The journal, when there is one.
    pub fn journal(&self) -> Option<&Journal> {
        self.inner.journal.as_ref()
    }

    /// Starts an upload from `source` on `client`'s endpoint and returns its handle at once;
    /// the file checks, the session and the transfer happen on a task of their own, and
    /// their outcome is the handle's [`result`](UploadHandle::result).
    ///
    /// Must be called within a tokio runtime.
    pub fn start(
        &self,
        client: &MultipartUploadClient,
        source: UploadSource,
        options: UploadOptions,
    ) -> UploadHandle {
        self.start_with(UploadControls::default(), client, source, options)
    }

    /// [`start`](Self::start), with `controls` made beforehand: a queue can pause or cancel
    /// an upload before its turn comes, and the upload starts paused or cancelled.
    pub fn start_with(
        &self,
        controls: UploadControls,
        client: &MultipartUploadClient,
        source: UploadSource,
        options: UploadOptions,
    ) -> UploadHandle {
        let publisher = Publisher::new();
        let run = Run {
            client: client.clone(),
            link: self.inner.link.clone(),
            priority: self.inner.link.next_priority(),
            journal: self.inner.journal.clone(),
            options,
            controls: controls.clone(),
            publisher: publisher.clone(),
        };
        let task = tokio::spawn(async move {
            let result = run.go(source).await;
            run.publisher.conclude(&result);
            result
        });
        UploadHandle::new(controls, publisher, task)
    }

    /// Which [`UploadSource`] resumes session `upload_id`, by the one rule both front ends
    /// follow: the journal's record when it knows the session's file (pointed at `file` when
    /// one is given, for a file that moved, else at the journal's path); otherwise the
    /// server's record with `file`. Either way the source names its file
    /// ([`UploadSource::path`]).
    ///
    /// # Errors
    ///
    /// [`UploadError::AlreadyComplete`] for a session the journal saw complete;
    /// without a file for a session the journal does not know, [`UploadError::NeedsFile`]
    /// when the server has it and [`UploadError::SessionNotFound`] when nobody does; the
    /// journal's and the API's errors.
    pub async fn source_for(
        &self,
        client: &MultipartUploadClient,
        upload_id: &str,
        file: Option<PathBuf>,
    ) -> Result<UploadSource, UploadError> {
        let record = match self.journal() {
            Some(journal) => journal.session(upload_id)?,
            None => None,
        };
        // A session forgotten while only the server knew it has a record without a file.
        match record.filter(|r| !r.file_path.as_os_str().is_empty()) {
            Some(r) if r.state == SessionState::Completed => Err(UploadError::AlreadyComplete {
                upload_id: upload_id.to_owned(),
                asset_id: r.asset_id,
            }),
            Some(r) => Ok(UploadSource::Journal {
                upload_id: upload_id.to_owned(),
                new_path: Some(file.unwrap_or(r.file_path)),
            }),
            None => match file {
                Some(path) => Ok(UploadSource::Server {
                    upload_id: upload_id.to_owned(),
                    path,
                }),
                None if super::sessions::on_server(client, upload_id).await? => {
                    Err(UploadError::NeedsFile {
                        upload_id: upload_id.to_owned(),
                    })
                }
                None => Err(UploadError::SessionNotFound {
                    upload_id: upload_id.to_owned(),
                }),
            },
        }
    }
}

/// One upload's run, on its own task.
struct Run {
    client: MultipartUploadClient,
    link: Link,
    /// Its place in the process's queue: lower goes first.
    priority: u64,
    journal: Option<Journal>,
    options: UploadOptions,
    controls: UploadControls,
    publisher: Arc<Publisher>,
}

impl Run {
    async fn go(&self, source: UploadSource) -> Result<UploadResult, UploadError> {
        let started = Instant::now();
        self.options.validate()?;
        let cancel = self.controls.token().clone();
        let cancelled = || UploadError::Cancelled {
            upload_id: source.upload_id().map(str::to_owned),
        };
        let admitting = self.link.admit(self.priority, self.client.host());
        tokio::pin!(admitting);
        let admission = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(cancelled()),
            admission = &mut admitting => admission,
            // Not admitted at once: the uploads before it keep the link busy.
            () = tokio::task::yield_now() => {
                self.publisher.publish(|| UploadProgress {
                    status: UploadPhase::Queued,
                    ..UploadProgress::starting()
                });
                tokio::select! {
                    () = cancel.cancelled() => return Err(cancelled()),
                    admission = admitting => admission,
                }
            }
        };
        self.publisher.publish(UploadProgress::starting);
        let prepared = tokio::select! {
            () = cancel.cancelled() => return Err(cancelled()),
            prepared = self.prepare(&source) => prepared?,
        };
        let session = Session::new(
            &self.client,
            prepared,
            self.options.clone(),
            &self.controls,
            self.journal.clone(),
            self.publisher.clone(),
            admission,
        )
        .await;
        drive(session, started).await
    }

    async fn prepare(&self, source: &UploadSource) -> Result<Prepared, UploadError> {
        let (client, journal, options) = (&self.client, self.journal.as_ref(), &self.options);
        match source {
            UploadSource::NewFile(path) => begin::new_file(client, journal, path, options).await,
            UploadSource::Server { upload_id, path } => {
                begin::from_server(client, journal, upload_id, path, options).await
            }
            UploadSource::Journal {
                upload_id,
                new_path,
            } => {
                let Some(journal) = journal else {
                    return Err(UploadError::InvalidOptions(
                        "resuming from the journal needs an uploader with one".into(),
                    ));
                };
                begin::from_journal(client, journal, upload_id, new_path.as_deref(), options).await
            }
        }
    }
}
