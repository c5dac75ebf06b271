//! Request handlers, one module per resource:
//! - [`uploads`]: the five multipart endpoints (create, list incomplete, status, report,
//!   presigned-urls);
//! - [`chunks`]: the storage side, `PUT /storage/{upload_id}/{chunk_index}`;
//! - [`assets`]: `GET/POST /assets`, `GET/DELETE /assets/{id}`;
//! - [`admin`]: the sandbox's own `/v1.3/sandbox/*` extension (stats and faults).

pub(crate) mod admin;
pub(crate) mod assets;
pub(crate) mod chunks;
pub(crate) mod uploads;

use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};

use crate::{asset::Content, error::ApiError, server::App, store::CheckJob};

/// The single `{id}` segment of a path, or a JSON 400 instead of axum's plain-text rejection.
#[derive(Debug)]
pub(crate) struct Id(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Self(id))
            .map_err(|_| ApiError::invalid("the id in the path is not valid"))
    }
}

/// Assembles and hashes a completed asset's content, then records the result. Runs in the
/// background so the completing report answers at once; the asset stays `processing` until
/// this finishes.
pub(crate) async fn check_asset(app: App, job: CheckJob) {
    let content = match app.storage.digest(&job.blob.id, &job.blob.pieces).await {
        Ok(sha256) => Content::Checked { sha256 },
        Err(why) => Content::Failed(format!("the asset could not be assembled: {why}")),
    };
    app.store.set_content(&job.asset_id, content);
}
