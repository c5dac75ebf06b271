//! The storage side: `PUT /storage/{upload_id}/{chunk_index}?X-Tl-Expires=..&X-Tl-Signature=..`.
//!
//! Checks, in order: the session exists (404 `NoSuchUpload`), the signature (403
//! `SignatureDoesNotMatch`), the expiry (403 `AccessDenied`), the session is still active
//! (404 `NoSuchUpload`), the index is in range (400), the declared length fits the chunk
//! (400 `EntityTooLarge`, answered before reading a byte). Then the body is streamed into
//! storage; a chunked body is cut off as soon as it passes the chunk's length. Success is a
//! 200 with `ETag: "<md5 hex>"` (S3's ETag of a part: the quoted MD5 of its bytes) and no
//! body.
//!
//! The checks run in the handler, after the middleware has applied `--latency-ms`: a PUT is
//! judged when it "arrives", so a URL that expires during the latency is refused.
//!
//! A PUT refused before its body is read normally has the rest of its body read and thrown
//! away, so the client can finish sending and read the answer. With `--early-answer` it is
//! answered at once (an injected `fail_puts` status too, without reading a byte) with
//! `Connection: close`, and the connection is closed with the body unread, as S3 does: the
//! kernel then resets it, and a client still sending usually sees a broken pipe or a reset
//! rather than the status.

use axum::{
    body::{Body, HttpBody as _},
    extract::{ConnectInfo, Path, RawQuery, State, rejection::PathRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;

use crate::{
    clock,
    conn::ConnInfo,
    error::StorageError,
    extract::{QueryParams, discard_rest, expects_continue},
    faults::PutFault,
    server::App,
    signing::{EXPIRES_PARAM, SIGNATURE_PARAM},
    stats::Counters,
    storage::Finished,
    wire::SessionStatus,
};

/// The handler: counts the PUT, then admits it, reads its body and commits the chunk.
pub(crate) async fn put_chunk(
    State(app): State<App>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    Counters::add(&app.stats.puts_received, 1);
    let _in_flight = app.stats.put_started();
    let early = app.early_answer();
    let mut body = body;
    let mut touched = false;
    let result = match admit(&app, path, query.as_deref(), &headers) {
        Ok(chunk) => {
            let put = Put {
                app: &app,
                conn: &conn,
                chunk,
                early,
                declared: declared_length(&headers),
            };
            put.run(&mut body, &mut touched).await
        }
        Err(e) => Err(e),
    };
    let waiting_for_continue = !touched && expects_continue(&headers);
    let unread = !body.is_end_stream() && !conn.control.is_killed() && !waiting_for_continue;
    let answer_early = unread && early && !touched;
    if answer_early {
        // As S3 does: the body stays in the socket, and closing it makes the kernel reset.
        Counters::add(&app.stats.fired.early_answer, 1);
        drop(body);
    } else if unread {
        // Refused before the end of the body: read the rest in the background so the client
        // can finish sending and then read our answer (instead of a reset).
        discard_rest(body);
    }
    let mut response = match result {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    if answer_early {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The chunk a PUT targets, once admitted.
#[derive(Debug)]
struct Target {
    upload_id: String,
    index: u32,
    /// The exact length of this chunk: `chunk_size`, or the remainder for the last one.
    expected: u64,
}

/// Every check that needs no body byte: session, signature, expiry, state, range, length.
fn admit(
    app: &App,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Target, StorageError> {
    let Ok(Path((upload_id, index_text))) = path else {
        return Err(StorageError::invalid("The chunk URL is malformed"));
    };
    let now = clock::now();
    let Some(status) = app.store.with_session(&upload_id, |s| s.status(now)) else {
        return Err(StorageError::no_such_upload(
            "The specified upload does not exist",
        ));
    };
    let index = authorise(app, &upload_id, &index_text, query, now)?;
    match status {
        SessionStatus::Active => {}
        SessionStatus::Completed => {
            return Err(StorageError::no_such_upload(
                "The upload has already been completed",
            ));
        }
        SessionStatus::Expired => {
            return Err(StorageError::no_such_upload(
                "The upload session has expired",
            ));
        }
    }
    let expected = app
        .store
        .with_session(&upload_id, |s| s.expected_len(index))
        .flatten()
        .ok_or_else(|| StorageError::invalid(format!("Chunk index {index} is out of range")))?;
    let target = Target {
        upload_id,
        index,
        expected,
    };
    if declared_length(headers).is_some_and(|len| len > expected) {
        record_failure(app, &target, "the body was longer than the chunk");
        return Err(StorageError::too_large(expected));
    }
    Ok(target)
}

/// An admitted PUT.
struct Put<'a> {
    app: &'a App,
    conn: &'a ConnInfo,
    chunk: Target,
    /// Answer an injected failure before reading the body (`--early-answer`).
    early: bool,
    /// The `Content-Length` the client declared.
    declared: Option<u64>,
}

impl Put<'_> {
    /// Applies the PUT faults, streams the body into storage and commits it.
    async fn run(&self, body: &mut Body, touched: &mut bool) -> Result<Response, StorageError> {
        let faults = self.app.faults.take_put();
        let fault = faults.terminal;
        if let Some(stall) = faults.stall {
            Counters::add(&self.app.stats.fired.stall_puts, 1);
            tokio::time::sleep(stall).await;
        }
        if let (true, Some(PutFault::Fail(status))) = (self.early, fault) {
            return Err(self.injected(status));
        }
        let drop_after = match fault {
            Some(PutFault::DropAfter(bytes)) => Some(bytes),
            _ => None,
        };
        let (upload_id, index, expected) =
            (&self.chunk.upload_id, self.chunk.index, self.chunk.expected);
        let mut writer = self
            .app
            .storage
            .writer(upload_id, index, expected)
            .await
            .map_err(|e| self.internal(e))?;
        if faults.corrupt {
            // The middle byte of what the client said it sends.
            writer.damage_at(self.declared.unwrap_or(expected).min(expected) / 2);
        }
        *touched = true;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                self.fail("the connection broke before the whole body arrived");
                return Err(StorageError::new(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    "The request body ended early",
                ));
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers carry nothing we need
            };
            let len = data.len() as u64;
            Counters::add(&self.app.stats.bytes_received, len);
            if drop_after.is_some_and(|limit| writer.len() + len >= limit) {
                return Ok(self.kill());
            }
            if writer.len() + len > expected {
                self.fail("the body was longer than the chunk");
                return Err(StorageError::too_large(expected));
            }
            writer.write(&data).await.map_err(|e| self.internal(e))?;
        }
        if drop_after.is_some() {
            // The body was shorter than the drop point: drop before answering instead.
            return Ok(self.kill());
        }
        if let Some(PutFault::Fail(status)) = fault {
            return Err(self.injected(status));
        }
        let finished = writer.finish().await.map_err(|e| self.internal(e))?;
        let damaged = finished.damaged();
        let etag = self.commit(finished)?;
        Counters::add(&self.app.stats.puts_completed, 1);
        if damaged {
            Counters::add(&self.app.stats.fired.corrupt_puts, 1);
        }

        let mut response = StatusCode::OK.into_response();
        if fault == Some(PutFault::OmitEtag) {
            Counters::add(&self.app.stats.fired.omit_etag, 1);
        } else if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
            response.headers_mut().insert(header::ETAG, value);
        }
        Ok(response)
    }

    /// Records and returns the failure of a `fail_puts` fault.
    fn injected(&self, status: u16) -> StorageError {
        Counters::add(&self.app.stats.fired.fail_puts, 1);
        self.fail("the storage failed (fault injection)");
        injected_failure(status)
    }

    /// Makes the received chunk current and records it, atomically (under the store lock).
    fn commit(&self, finished: Finished) -> Result<String, StorageError> {
        let etag = finished.stored().etag.clone();
        let index = self.chunk.index;
        let now = clock::now();
        self.app
            .store
            .with_session(&self.chunk.upload_id, |s| {
                if s.status(now) != SessionStatus::Active {
                    return Err(StorageError::no_such_upload(
                        "The upload is no longer active",
                    ));
                }
                if !s.may_store(index, &etag) {
                    return Err(StorageError::new(
                        StatusCode::CONFLICT,
                        "InvalidPart",
                        format!("Chunk {index} was already reported with different content"),
                    ));
                }
                let stored = self
                    .app
                    .storage
                    .commit(finished)
                    .map_err(|e| self.internal(e))?;
                s.record_stored(index, stored, now);
                Ok(etag)
            })
            .unwrap_or_else(|| {
                Err(StorageError::no_such_upload(
                    "The specified upload does not exist",
                ))
            })
    }

    fn fail(&self, why: &str) {
        record_failure(self.app, &self.chunk, why);
    }

    /// Kills the connection. The returned response is never delivered: writing it fails.
    fn kill(&self) -> Response {
        Counters::add(&self.app.stats.fired.drop_puts_after, 1);
        self.fail("the connection was dropped (fault injection)");
        self.conn.control.kill();
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }

    fn internal(&self, e: std::io::Error) -> StorageError {
        eprintln!(
            "tl-sandbox: cannot store chunk {} of upload {}: {e}",
            self.chunk.index, self.chunk.upload_id
        );
        StorageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The sandbox could not store the chunk",
        )
    }
}

/// Marks the chunk's last PUT as failed, for `GET` status.
fn record_failure(app: &App, chunk: &Target, why: &str) {
    let now = clock::now();
    app.store.with_session(&chunk.upload_id, |s| {
        s.record_failure(chunk.index, why, now)
    });
}

/// Checks the URL's signature and expiry; returns the chunk index.
fn authorise(
    app: &App,
    upload_id: &str,
    index_text: &str,
    query: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<u32, StorageError> {
    let params = QueryParams::parse(query);
    let (Some(expires), Some(signature)) =
        (params.first(EXPIRES_PARAM), params.first(SIGNATURE_PARAM))
    else {
        return Err(StorageError::bad_signature(format!(
            "The request must carry {EXPIRES_PARAM} and {SIGNATURE_PARAM}"
        )));
    };
    let mismatch = || {
        StorageError::bad_signature(
            "The request signature we calculated does not match the signature you provided",
        )
    };
    let index = index_text.parse::<u32>().map_err(|_| mismatch())?;
    let expires = expires.parse::<u64>().map_err(|_| mismatch())?;
    if !app.signer.verify(upload_id, index, expires, signature) {
        return Err(mismatch());
    }
    if clock::has_expired(expires, now) {
        return Err(StorageError::expired());
    }
    Ok(index)
}

/// The `Content-Length` the client declared, if any.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The XML error of a `fail_puts` fault.
fn injected_failure(status: u16) -> StorageError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        500 => "InternalError",
        503 => "SlowDown",
        _ => "InjectedFault",
    };
    StorageError::new(status, code, "Fault injected by the sandbox")
}
