//! Request parsing that never panics and never answers with axum's plain-text rejections.
//!
//! JSON bodies are read into a [`serde_json::Value`] with a size cap and then picked apart
//! field by field, so every problem becomes the documented `{code, message}`:
//! a missing field is `parameter_not_provided`, a wrong type or value is `parameter_invalid`,
//! and numbers that do not fit (`1e30`, `18446744073709551616`, `-1`) are simply invalid.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{FromRequest, Request},
    http::{HeaderMap, header},
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

use crate::{error::ApiError, wire::PageInfo};

/// Largest JSON body the server reads. Real requests are tiny; the cap bounds memory.
pub(crate) const MAX_JSON_BODY: u64 = 1024 * 1024;

/// Largest `page_limit` (protocol §1).
pub(crate) const MAX_PAGE_LIMIT: u64 = 50;

/// A JSON object request body.
#[derive(Debug)]
pub(crate) struct JsonObject(pub(crate) Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_JSON_BODY) {
            if !expects_continue(req.headers()) {
                discard_rest(req.into_body());
            }
            return Err(ApiError::too_large(MAX_JSON_BODY));
        }
        let bytes = read_limited(req.into_body(), MAX_JSON_BODY).await?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("the request body is not valid JSON: {e}")))?;
        match value {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(ApiError::invalid("the request body must be a JSON object")),
        }
    }
}

/// Most bytes read and thrown away after a request was refused early.
const DISCARD_LIMIT: u64 = 64 * 1024 * 1024;
/// Longest time spent throwing away the rest of a refused request.
const DISCARD_TIME: Duration = Duration::from_secs(10);

/// Reads and drops the rest of a refused request's body in the background, within limits.
///
/// An HTTP/1 server that answers before reading the whole body and then closes leaves unread
/// bytes in its socket, so the kernel resets the connection and the client sees a broken
/// pipe instead of the answer (the classic "lingering close" problem). Draining lets the
/// client finish its upload and read the refusal. Nothing is kept, so memory stays bounded;
/// past the limits the connection is dropped after all.
pub(crate) fn discard_rest(body: Body) {
    tokio::spawn(async move {
        let mut body = body;
        let mut seen = 0u64;
        let deadline = tokio::time::sleep(DISCARD_TIME);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                frame = body.frame() => match frame {
                    Some(Ok(frame)) => {
                        seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                        if seen > DISCARD_LIMIT {
                            break;
                        }
                    }
                    _ => break,
                },
                () = &mut deadline => break,
            }
        }
    });
}

/// Whether the client waits for `100 Continue` before sending its body: then a refusal sent
/// before the body was touched needs no draining, as the body never comes.
pub(crate) fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads a whole body, refusing it with 413 as soon as it passes `limit` bytes.
pub(crate) async fn read_limited(body: Body, limit: u64) -> Result<bytes::Bytes, ApiError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit_usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::too_large(limit)),
        Err(_) => Err(ApiError::invalid("the request body could not be read")),
    }
}

/// Typed access to the fields of a JSON object, with error messages that name the field by
/// its full path (`completed_chunks[2].proof`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, prefix: "" }
    }

    pub(crate) fn nested(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Self { map, prefix }
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    /// The field's value; `null` counts as absent.
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn required(&self, field: &str) -> Result<&'a Value, ApiError> {
        self.get(field)
            .ok_or_else(|| ApiError::not_provided(&self.name(field)))
    }

    pub(crate) fn required_str(&self, field: &str) -> Result<&'a str, ApiError> {
        self.required(field)?
            .as_str()
            .ok_or_else(|| ApiError::invalid(format!("`{}` must be a string", self.name(field))))
    }

    /// A non-negative integer that fits in a u64. Floats, even `5.0`, are refused: the
    /// protocol's integers are JSON integers.
    pub(crate) fn required_u64(&self, field: &str) -> Result<u64, ApiError> {
        self.required(field)?.as_u64().ok_or_else(|| {
            ApiError::invalid(format!(
                "`{}` must be a non-negative integer",
                self.name(field)
            ))
        })
    }

    pub(crate) fn optional_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        self.get(field)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    ApiError::invalid(format!("`{}` must be a boolean", self.name(field)))
                })
            })
            .transpose()
    }

    pub(crate) fn required_array(&self, field: &str) -> Result<&'a Vec<Value>, ApiError> {
        self.required(field)?
            .as_array()
            .ok_or_else(|| ApiError::invalid(format!("`{}` must be an array", self.name(field))))
    }

    pub(crate) fn optional_value(&self, field: &str) -> Option<&'a Value> {
        self.get(field)
    }
}

/// Checks `user_metadata`: an object whose values are strings, numbers, booleans, `null` or
/// arrays of strings (the value types of the Python SDK's `user_metadata`).
pub(crate) fn user_metadata(value: &Value) -> Result<Map<String, Value>, ApiError> {
    let map = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("`user_metadata` must be a JSON object"))?;
    let allowed = |v: &Value| match v {
        Value::Array(items) => items.iter().all(Value::is_string),
        Value::Object(_) => false,
        _ => true,
    };
    if let Some((key, _)) = map.iter().find(|(_, v)| !allowed(v)) {
        return Err(ApiError::invalid(format!(
            "`user_metadata.{key}` must be a string, a number, a boolean, null or a list of strings"
        )));
    }
    Ok(map.clone())
}

/// Decoded query parameters, in order, repeated keys kept (`asset_ids=a&asset_ids=b`).
#[derive(Debug, Default)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn first(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key; comma-separated values are split too.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// `page` and `page_limit`, validated: page ≥ 1 (default 1), 1 ≤ page_limit ≤ 50 (default 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pagination {
    pub(crate) page: u64,
    pub(crate) limit: u64,
}

impl Pagination {
    pub(crate) fn from_query(query: &QueryParams) -> Result<Self, ApiError> {
        let read = |key: &str, default: u64| -> Result<u64, ApiError> {
            match query.first(key) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ApiError::invalid(format!("`{key}` must be a positive integer"))),
            }
        };
        let page = read("page", 1)?;
        let limit = read("page_limit", 10)?;
        if page < 1 {
            return Err(ApiError::invalid("`page` must be at least 1"));
        }
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(format!(
                "`page_limit` must be between 1 and {MAX_PAGE_LIMIT}"
            )));
        }
        Ok(Self { page, limit })
    }

    /// The index range of this page over `total` items, and its `PageInfo`. A page past the
    /// end is an empty range: the SDK pagers stop on the first empty page.
    pub(crate) fn window(&self, total: u64) -> (std::ops::Range<u64>, PageInfo) {
        let start = (self.page - 1).saturating_mul(self.limit).min(total);
        let end = start.saturating_add(self.limit).min(total);
        let info = PageInfo {
            limit_per_page: self.limit,
            page: self.page,
            total_page: total.div_ceil(self.limit),
            total_results: total,
        };
        (start..end, info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_defaults_and_bounds() {
        let p = |q: &str| Pagination::from_query(&QueryParams::parse(Some(q)));
        assert_eq!(p("").unwrap(), Pagination { page: 1, limit: 10 });
        assert_eq!(p("page=3&page_limit=50").unwrap().limit, 50);
        for bad in [
            "page=0",
            "page=-1",
            "page=x",
            "page_limit=0",
            "page_limit=51",
            "page=99999999999999999999",
        ] {
            assert_eq!(p(bad).unwrap_err().code(), "parameter_invalid", "{bad}");
        }
    }

    #[test]
    fn windows_cover_the_items_and_then_run_empty() {
        let p = Pagination { page: 2, limit: 10 };
        let (range, info) = p.window(25);
        assert_eq!(range, 10..20);
        assert_eq!(info.total_page, 3);
        let (range, _) = Pagination { page: 3, limit: 10 }.window(25);
        assert_eq!(range, 20..25);
        let (range, _) = Pagination { page: 4, limit: 10 }.window(25);
        assert!(range.is_empty());
        let (range, _) = Pagination {
            page: u64::MAX,
            limit: 50,
        }
        .window(25);
        assert!(range.is_empty());
    }

    #[test]
    fn repeated_and_comma_separated_keys() {
        let q = QueryParams::parse(Some("asset_ids=a&asset_ids=b%2Cc&x=1"));
        assert_eq!(q.all("asset_ids"), ["a", "b", "c"]);
        assert_eq!(q.first("x"), Some("1"));
    }

    #[test]
    fn user_metadata_takes_only_scalars() {
        let ok = serde_json::json!({"a": 1, "b": "x", "c": true, "d": null, "e": ["x"]});
        assert!(user_metadata(&ok).is_ok());
        assert!(user_metadata(&serde_json::json!({"a": [1]})).is_err());
        assert!(user_metadata(&serde_json::json!({"a": {"b": 1}})).is_err());
        assert!(user_metadata(&serde_json::json!("x")).is_err());
    }
}
