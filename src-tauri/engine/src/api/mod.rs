//! The HTTP client for the multipart upload and asset endpoints.

mod client;
mod error;
pub mod net;
mod pager;
pub mod wire;

pub use client::{
    BASE_URL_ENV, ClientBuilder, DEFAULT_BASE_URL, MAX_PAGE_LIMIT, MAX_URLS_PER_CALL,
    MultipartUploadClient,
};
pub use error::{ApiError, ConfigError, redact_url};
pub(crate) use error::{
    UNTRUSTED_ADVICE, causes as error_causes, snippet as error_snippet, through as error_through,
};
pub use pager::{IncompleteUploadsPager, StatusPager};
