//! The storage side: `PUT /storage/{upload_id}/{chunk_index}?X-Tl-Expires=..&X-Tl-Signature=..`.
//!
//! Checks, in order: the session exists (404 `NoSuchUpload`), the signature (403
//! `SignatureDoesNotMatch`), the expiry (403 `AccessDenied`), the session is still active
//! (404 `NoSuchUpload`), the index is in range (400), the declared length fits the chunk
//! (400 `EntityTooLarge`, answered before reading a byte). Then the body is streamed into
//! storage; a chunked body is cut off as soon as it passes the chunk's length. Success is a
//! 200 with `ETag: "<md5 hex>"` and no body.

use axum::{
    body::Body,
    extract::{ConnectInfo, Path, RawQuery, State, rejection::PathRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;

use crate::{
    clock,
    conn::ConnInfo,
    error::StorageError,
    extract::QueryParams,
    faults::PutFault,
    server::App,
    signing::{EXPIRES_PARAM, SIGNATURE_PARAM},
    stats::Counters,
    wire::SessionStatus,
};

/// The handler: counts the PUT, then runs [`receive`].
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
    match receive(&app, &conn, path, query, &headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn receive(
    app: &App,
    conn: &ConnInfo,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Option<String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, StorageError> {
    let Ok(Path((upload_id, index_text))) = path else {
        return Err(StorageError::invalid("The chunk URL is malformed"));
    };
    let now = clock::now();
    let Some((status, total_chunks)) = app
        .store
        .with_session(&upload_id, |s| (s.status(now), s.total_chunks))
    else {
        return Err(StorageError::no_such_upload(
            "The specified upload does not exist",
        ));
    };
    let index = authorise(app, &upload_id, &index_text, query.as_deref(), now)?;
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
        .ok_or_else(|| {
            StorageError::invalid(format!("Chunk index {index} is outside 1..={total_chunks}"))
        })?;
    let fail = |why: &str| {
        let now = clock::now();
        app.store
            .with_session(&upload_id, |s| s.record_failure(index, why, now));
    };
    if declared_length(headers).is_some_and(|len| len > expected) {
        fail("the body was longer than the chunk");
        return Err(StorageError::too_large(expected));
    }

    let (stall, fault) = app.faults.take_put();
    if let Some(stall) = stall {
        tokio::time::sleep(stall).await;
    }
    let drop_after = match fault {
        Some(PutFault::DropAfter(bytes)) => Some(bytes),
        _ => None,
    };
    let internal = |e: std::io::Error| {
        eprintln!("tl-sandbox: cannot store chunk {index} of upload {upload_id}: {e}");
        StorageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The sandbox could not store the chunk",
        )
    };
    let mut writer = app
        .storage
        .writer(&upload_id, index, expected)
        .await
        .map_err(internal)?;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            fail("the connection broke before the whole body arrived");
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
        Counters::add(&app.stats.bytes_received, len);
        if drop_after.is_some_and(|limit| writer.len() + len >= limit) {
            fail("the connection was dropped (fault injection)");
            return Ok(kill(conn));
        }
        if writer.len() + len > expected {
            fail("the body was longer than the chunk");
            return Err(StorageError::too_large(expected));
        }
        writer.write(&data).await.map_err(internal)?;
    }
    if drop_after.is_some() {
        // The body was shorter than the drop point: drop before answering instead.
        fail("the connection was dropped (fault injection)");
        return Ok(kill(conn));
    }
    if let Some(PutFault::Fail(status)) = fault {
        fail("the storage failed (fault injection)");
        return Err(injected_failure(status));
    }

    let finished = writer.finish().await.map_err(internal)?;
    let etag = finished.stored().etag.clone();
    let now = clock::now();
    app.store
        .with_session(&upload_id, |s| {
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
            let stored = app.storage.commit(finished).map_err(internal)?;
            s.record_stored(index, stored, now);
            Ok(())
        })
        .unwrap_or_else(|| {
            Err(StorageError::no_such_upload(
                "The specified upload does not exist",
            ))
        })?;
    Counters::add(&app.stats.puts_completed, 1);

    let mut response = StatusCode::OK.into_response();
    if fault != Some(PutFault::OmitEtag)
        && let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\""))
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
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

/// Kills the connection. The returned response is never delivered: writing it fails.
fn kill(conn: &ConnInfo) -> Response {
    conn.control.kill();
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
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
