//! The HTTP client for the multipart upload and asset endpoints.

mod client;
mod error;
mod pager;
pub mod wire;

pub use client::{
    BASE_URL_ENV, ClientBuilder, DEFAULT_BASE_URL, MAX_PAGE_LIMIT, MAX_URLS_PER_CALL,
    MultipartUploadClient,
};
pub use error::{ApiError, ConfigError, redact_url};
pub(crate) use error::{causes as error_causes, snippet as error_snippet};
pub use pager::{IncompleteUploadsPager, StatusPager};
