//! The asset endpoints of protocol §2.2: retrieve, list, delete, and direct creation from a
//! `multipart/form-data` request.

use axum::{
    Json,
    extract::{
        Multipart, RawQuery, State,
        multipart::{Field, MultipartRejection},
    },
    http::StatusCode,
};
use sha2::{Digest, Sha256};

use crate::{
    asset::{Asset, AssetKind, AssetOptions, Blob, Content, check_filename, kind_of},
    clock,
    config::Storage,
    error::ApiError,
    extract::{Pagination, QueryParams, user_metadata},
    routes::Id,
    server::App,
    store::AssetFilter,
    wire::{AssetDetail, AssetMethod, Page},
};

/// Largest direct upload (the documented limit for local video files).
const MAX_DIRECT_UPLOAD: u64 = 200 * 1024 * 1024;
/// Largest text field of the creation form.
const MAX_FORM_TEXT: usize = 64 * 1024;

/// `GET /assets/{asset_id}`. An asset reserved by an unfinished multipart session does not
/// exist yet (404).
pub(crate) async fn retrieve(
    State(app): State<App>,
    Id(asset_id): Id,
) -> Result<Json<AssetDetail>, ApiError> {
    app.store
        .asset_detail(&asset_id, clock::now())
        .map(Json)
        .ok_or_else(|| ApiError::not_found("asset", &asset_id))
}

/// `GET /assets?asset_ids=..&asset_types=..&filename=..&page=..&page_limit=..`, newest first.
pub(crate) async fn list(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<AssetDetail>>, ApiError> {
    let query = QueryParams::parse(query.as_deref());
    let page = Pagination::from_query(&query)?;
    let kinds = query
        .all("asset_types")
        .into_iter()
        .map(|t| {
            AssetKind::parse(t).ok_or_else(|| {
                ApiError::invalid(format!(
                    "`asset_types` value `{t}` must be one of video, audio, image"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let filter = AssetFilter {
        ids: query.all("asset_ids"),
        kinds,
        filename: query.first("filename").filter(|f| !f.is_empty()),
    };
    Ok(Json(app.store.assets(&filter, page, clock::now())))
}

/// `DELETE /assets/{asset_id}[?force=true]`: removes the asset and its bytes. The sandbox
/// has no indexes, so nothing ever blocks a delete (no 409).
pub(crate) async fn delete(
    State(app): State<App>,
    Id(asset_id): Id,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, ApiError> {
    let query = QueryParams::parse(query.as_deref());
    if let Some(force) = query.first("force") {
        parse_flag("force", force)?;
    }
    let asset = app
        .store
        .remove_asset(&asset_id, clock::now())
        .ok_or_else(|| ApiError::not_found("asset", &asset_id))?;
    if let Some(blob) = asset.blob {
        app.storage.remove(&blob.id).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What the creation form carried.
#[derive(Debug, Default)]
struct Form {
    method: Option<String>,
    url: Option<String>,
    filename: Option<String>,
    enable_hls: Option<String>,
    enable_thumbnail: Option<String>,
    user_metadata: Option<String>,
    /// `(bytes, sha256 hex, the part's own file name)` of the `file` part.
    file: Option<(u64, String, Option<String>)>,
}

/// `POST /assets` (multipart/form-data): `method` = `direct` (with a `file` part) or `url`.
/// The file is streamed into storage. The sandbox never fetches remote URLs, so a `url`
/// asset ends `failed` once its processing delay has passed.
pub(crate) async fn create(
    State(app): State<App>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<AssetDetail>), ApiError> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::invalid(format!(
            "the body must be multipart/form-data: {}",
            e.body_text()
        ))
    })?;
    let asset_id = app.store.reserve_asset_id();
    let result = read_form(&app, &asset_id, &mut multipart).await;
    let created = match result {
        Ok(form) => build_asset(&app, &asset_id, form),
        Err(e) => Err(e),
    };
    let asset = match created {
        Ok(asset) => asset,
        Err(e) => {
            app.storage.remove(&asset_id).await;
            return Err(e);
        }
    };
    if asset.method == AssetMethod::Url {
        app.storage.remove(&asset_id).await;
    }
    let detail = asset.detail(clock::now());
    app.store.insert_asset(asset);
    Ok((StatusCode::CREATED, Json(detail)))
}

async fn read_form(app: &App, asset_id: &str, multipart: &mut Multipart) -> Result<Form, ApiError> {
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        ApiError::invalid(format!("the form could not be read: {}", e.body_text()))
    };
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "file" => {
                form.file = Some(store_file(app, asset_id, &mut field).await?);
                continue;
            }
            "method" => &mut form.method,
            "url" => &mut form.url,
            "filename" => &mut form.filename,
            "enable_hls" => &mut form.enable_hls,
            "enable_thumbnail" => &mut form.enable_thumbnail,
            "user_metadata" => &mut form.user_metadata,
            _ => {
                // Unknown fields are ignored, but still read within the text limit.
                read_text(&mut field, &name).await?;
                continue;
            }
        };
        *slot = Some(read_text(&mut field, &name).await?);
    }
    Ok(form)
}

async fn read_text(field: &mut Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ApiError::invalid(format!("the form could not be read: {}", e.body_text())))?
    {
        if text.len() + chunk.len() > MAX_FORM_TEXT {
            return Err(ApiError::invalid(format!(
                "`{name}` is longer than {MAX_FORM_TEXT} bytes"
            )));
        }
        text.extend_from_slice(&chunk);
    }
    String::from_utf8(text).map_err(|_| ApiError::invalid(format!("`{name}` must be UTF-8 text")))
}

/// Streams the `file` part into storage as piece 1 of blob `asset_id`.
async fn store_file(
    app: &App,
    asset_id: &str,
    field: &mut Field<'_>,
) -> Result<(u64, String, Option<String>), ApiError> {
    let limit = MAX_DIRECT_UPLOAD.min(app.config.max_total_size);
    let part_name = field.file_name().map(str::to_owned);
    let internal = |e: std::io::Error| {
        eprintln!("tl-sandbox: cannot store direct upload {asset_id}: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "the sandbox could not store the file",
        )
    };
    let mut writer = app
        .storage
        .writer(asset_id, 1, limit)
        .await
        .map_err(internal)?;
    let mut sha = Sha256::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ApiError::invalid(format!("the file could not be read: {}", e.body_text())))?
    {
        if writer.len() + chunk.len() as u64 > limit {
            return Err(ApiError::too_large(limit));
        }
        sha.update(&chunk);
        writer.write(&chunk).await.map_err(internal)?;
    }
    let finished = writer.finish().await.map_err(internal)?;
    let stored = app.storage.commit(finished).map_err(internal)?;
    Ok((stored.len, hex::encode(sha.finalize()), part_name))
}

/// Validates the form and builds the asset.
fn build_asset(app: &App, asset_id: &str, form: Form) -> Result<Asset, ApiError> {
    let method = match form.method.as_deref() {
        None | Some("") => return Err(ApiError::not_provided("method")),
        Some("direct") => AssetMethod::Direct,
        Some("url") => AssetMethod::Url,
        Some(_) => return Err(ApiError::invalid("`method` must be `direct` or `url`")),
    };
    let filename = match method {
        AssetMethod::Direct => {
            let Some((_, _, part_name)) = &form.file else {
                return Err(ApiError::not_provided("file"));
            };
            form.filename.clone().or_else(|| part_name.clone())
        }
        _ => {
            let Some(url) = form.url.as_deref().filter(|u| !u.is_empty()) else {
                return Err(ApiError::not_provided("url"));
            };
            let last = url.split(['?', '#']).next().unwrap_or_default();
            form.filename.clone().or_else(|| {
                last.rsplit('/')
                    .next()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            })
        }
    }
    .unwrap_or_else(|| "untitled".to_owned());
    check_filename(&filename).map_err(ApiError::invalid)?;
    let options = AssetOptions {
        enable_hls: form
            .enable_hls
            .as_deref()
            .map(|v| parse_flag("enable_hls", v))
            .transpose()?
            .unwrap_or(false),
        enable_thumbnail: form
            .enable_thumbnail
            .as_deref()
            .map(|v| parse_flag("enable_thumbnail", v))
            .transpose()?
            .unwrap_or(false),
        user_metadata: match form.user_metadata.as_deref() {
            None | Some("") => None,
            Some(text) => {
                let value = serde_json::from_str(text).map_err(|_| {
                    ApiError::invalid("`user_metadata` must be a JSON-encoded object")
                })?;
                Some(user_metadata(&value)?)
            }
        },
    };
    let now = clock::now();
    let (size, content, blob) = match (method, form.file) {
        (AssetMethod::Direct, Some((len, sha256, _))) => (
            Some(len),
            Content::Checked {
                sha256: (app.config.storage != Storage::Discard).then_some(sha256),
            },
            Some(Blob {
                id: asset_id.to_owned(),
                pieces: vec![(1, len)],
            }),
        ),
        _ => (
            None,
            Content::Failed("the sandbox does not download remote URLs".to_owned()),
            None,
        ),
    };
    Ok(Asset {
        id: asset_id.to_owned(),
        method,
        kind: kind_of(&filename),
        filename,
        created_at: now,
        ready_at: clock::after(now, app.config.processing_delay),
        size,
        options,
        content,
        blob,
        seq: 0,
    })
}

/// Parses a form or query flag: `true` or `false`.
fn parse_flag(name: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "`{name}` must be `true` or `false`"
        ))),
    }
}
