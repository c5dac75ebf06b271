//! The multipart upload endpoints of protocol §2.1.

use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
};
use serde_json::Value;

use crate::{
    asset::{AssetKind, AssetOptions, check_filename},
    clock,
    error::ApiError,
    extract::{self, Fields, JsonObject, Pagination, QueryParams},
    routes::{Id, check_asset},
    server::App,
    session::{ReportItem, SessionSpec},
    stats::Counters,
    store::CompletionTimes,
    wire::{
        CreateUploadResponse, IncompleteUpload, Page, PresignedUrlsResponse, ReportResponse,
        SessionStatus, StatusResponse, Timestamp,
    },
};

/// Most URLs one presigned-urls call may ask for.
const MAX_URLS_PER_CALL: u64 = 50;

/// `POST /assets/multipart-uploads`: validates the request and opens a session.
pub(crate) async fn create(
    State(app): State<App>,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<CreateUploadResponse>), ApiError> {
    let fields = Fields::new(&body);
    let filename = fields.required_str("filename")?;
    check_filename(filename).map_err(ApiError::invalid)?;
    let kind = AssetKind::parse(fields.required_str("type")?)
        .ok_or_else(|| ApiError::invalid("`type` must be one of video, audio, image"))?;
    let total_size = fields.required_u64("total_size")?;
    let max = app.config.max_total_size;
    if total_size == 0 || total_size > max {
        return Err(ApiError::invalid(format!(
            "`total_size` must be between 1 and {max} bytes"
        )));
    }
    let options = AssetOptions {
        enable_hls: fields.optional_bool("enable_hls")?.unwrap_or(false),
        enable_thumbnail: fields.optional_bool("enable_thumbnail")?.unwrap_or(false),
        user_metadata: fields
            .optional_value("user_metadata")
            .map(extract::user_metadata)
            .transpose()?,
    };
    let spec = SessionSpec {
        filename: filename.to_owned(),
        kind,
        total_size,
        chunk_size: app.config.session_chunk_size(total_size),
        options,
    };

    let now = clock::now();
    let session = app
        .store
        .create_session(spec, now, clock::after(now, app.config.session_ttl));
    Counters::add(&app.stats.sessions_created, 1);
    let initial = app.config.initial_urls.min(session.total_chunks);
    let upload_urls = (1..=initial)
        .map(|index| app.presign(&session.id, index, now))
        .collect();
    let response = CreateUploadResponse {
        upload_id: session.id,
        asset_id: session.asset_id,
        upload_urls,
        chunk_size: session.spec.chunk_size,
        total_chunks: session.total_chunks,
        expires_at: Timestamp(session.expires_at),
    };
    Ok((StatusCode::CREATED, Json(response)))
}

/// `GET /assets/multipart-uploads`: sessions not completed (active, and expired ones with
/// status `expired`), newest first.
pub(crate) async fn list_incomplete(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<IncompleteUpload>>, ApiError> {
    let page = Pagination::from_query(&QueryParams::parse(query.as_deref()))?;
    Ok(Json(app.store.incomplete(page, clock::now())))
}

/// `GET /assets/multipart-uploads/{upload_id}`: one `ChunkInfo` per chunk, paginated.
pub(crate) async fn status(
    State(app): State<App>,
    Id(upload_id): Id,
    RawQuery(query): RawQuery,
) -> Result<Json<StatusResponse>, ApiError> {
    let page = Pagination::from_query(&QueryParams::parse(query.as_deref()))?;
    let now = clock::now();
    let response = app.store.with_session(&upload_id, |s| {
        let (range, page_info) = page.window(u64::from(s.total_chunks));
        let uploaded_chunks = range
            .filter_map(|i| u32::try_from(i + 1).ok())
            .filter_map(|index| s.chunk_info(index))
            .collect();
        let (completed, failed) = (s.chunks_completed(), s.chunks_failed());
        StatusResponse {
            upload_id: s.id.clone(),
            status: s.status(now),
            uploaded_chunks,
            chunks_completed: completed,
            chunks_failed: failed,
            chunks_pending: s.total_chunks.saturating_sub(completed + failed),
            page_info,
            total_size: s.spec.total_size,
            uploaded_size: s.uploaded_size(),
            created_at: Timestamp(s.created_at),
            updated_at: Timestamp(s.updated_at),
        }
    });
    response
        .map(Json)
        .ok_or_else(|| ApiError::not_found("upload session", &upload_id))
}

/// `POST /assets/multipart-uploads/{upload_id}`: reports uploaded chunks. The whole batch is
/// checked before any of it is applied; `url` appears once every chunk is reported (even
/// while a completion delay keeps the session `active` and its asset unlisted).
pub(crate) async fn report(
    State(app): State<App>,
    Id(upload_id): Id,
    JsonObject(body): JsonObject,
) -> Result<Json<ReportResponse>, ApiError> {
    Counters::add(&app.stats.reports_received, 1);
    if app.store.with_session(&upload_id, |_| ()).is_none() {
        return Err(ApiError::not_found("upload session", &upload_id));
    }
    let items = Fields::new(&body)
        .required_array("completed_chunks")?
        .iter()
        .enumerate()
        .map(|(i, entry)| report_item(i, entry))
        .collect::<Result<Vec<_>, _>>()?;

    let now = clock::now();
    let delay = app.complete_delay();
    let completes_at = clock::after(now, delay);
    let times = CompletionTimes {
        completes_at,
        ready_at: clock::after(completes_at, app.config.processing_delay),
    };
    let reported = app.store.report(&upload_id, &items, now, times)?;
    if reported.job.is_some() && !delay.is_zero() {
        Counters::add(&app.stats.fired.complete_delay, 1);
    }
    if let Some(job) = reported.job {
        tokio::spawn(check_asset(app.clone(), job));
    }
    Ok(Json(ReportResponse {
        url: reported
            .complete
            .then(|| format!("{}/v1.3/assets/{}", app.public_url, reported.asset_id)),
        asset_id: reported.asset_id,
        processed_chunks: reported.outcome.processed,
        duplicate_chunks: reported.outcome.duplicates,
        total_completed: reported.total_completed,
    }))
}

fn report_item(i: usize, entry: &Value) -> Result<ReportItem, ApiError> {
    let prefix = format!("completed_chunks[{i}].");
    let map = entry
        .as_object()
        .ok_or_else(|| ApiError::invalid(format!("`completed_chunks[{i}]` must be an object")))?;
    let fields = Fields::nested(map, &prefix);
    Ok(ReportItem {
        chunk_index: fields.required_u64("chunk_index")?,
        proof: fields.required_str("proof")?.to_owned(),
        proof_type: fields.required_str("proof_type")?.to_owned(),
        chunk_size: fields.required_u64("chunk_size")?,
    })
}

/// `POST /assets/multipart-uploads/{upload_id}/presigned-urls`: fresh URLs for chunks
/// `start ..= min(start + count - 1, total_chunks)`.
pub(crate) async fn presigned_urls(
    State(app): State<App>,
    Id(upload_id): Id,
    JsonObject(body): JsonObject,
) -> Result<Json<PresignedUrlsResponse>, ApiError> {
    let now = clock::now();
    let (status, total_chunks) = app
        .store
        .with_session(&upload_id, |s| (s.status(now), s.total_chunks))
        .ok_or_else(|| ApiError::not_found("upload session", &upload_id))?;
    let fields = Fields::new(&body);
    let start = fields.required_u64("start")?;
    let count = fields.required_u64("count")?;
    if start < 1 {
        return Err(ApiError::invalid("`start` must be at least 1"));
    }
    if !(1..=MAX_URLS_PER_CALL).contains(&count) {
        return Err(ApiError::invalid(format!(
            "`count` must be between 1 and {MAX_URLS_PER_CALL}"
        )));
    }
    match status {
        SessionStatus::Active => {}
        SessionStatus::Completed => {
            return Err(ApiError::invalid(format!(
                "upload session `{upload_id}` is already completed"
            )));
        }
        SessionStatus::Expired => {
            return Err(ApiError::invalid(format!(
                "upload session `{upload_id}` has expired"
            )));
        }
    }
    let total = u64::from(total_chunks);
    if start > total {
        return Err(ApiError::invalid(format!(
            "`start` is {start} but the upload has only {total} chunks"
        )));
    }
    let end = (start + count - 1).min(total);
    let upload_urls = (start..=end)
        .filter_map(|i| u32::try_from(i).ok())
        .map(|index| app.presign(&upload_id, index, now))
        .collect();
    // Both bounds were checked against u32 values above.
    let (start_index, count) = (
        u32::try_from(start).unwrap_or(u32::MAX),
        u32::try_from(count).unwrap_or(u32::MAX),
    );
    Ok(Json(PresignedUrlsResponse {
        upload_id,
        start_index,
        count,
        upload_urls,
        generated_at: Timestamp(now),
        expires_at: Timestamp(clock::from_unix(clock::expiry_secs(
            now,
            app.config.url_ttl,
        ))),
    }))
}
