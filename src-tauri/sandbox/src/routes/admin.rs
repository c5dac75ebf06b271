//! The sandbox's own extension endpoints, so a sandbox started in another process can be
//! observed and steered: `GET /v1.3/sandbox/stats`, `POST /v1.3/sandbox/stats/reset`,
//! `GET|POST /v1.3/sandbox/faults`, `GET|POST /v1.3/sandbox/outage`, and
//! `PUT /v1.3/sandbox/sink`, a baseline for benchmarks. Outages never touch these endpoints
//! (though no new connection reaches them during a `refuse`).
//!
//! `POST /v1.3/sandbox/faults` takes a JSON object; each key is optional and replaces that
//! setting, `null` clears it, and `"clear": true` first removes every pending fault:
//!
//! ```json
//! { "clear": true,
//!   "fail_puts": "2:503",            // or {"count": 2, "status": 503}
//!   "drop_puts_after": "1:65536",    // or {"count": 1, "bytes": 65536}
//!   "stall_puts": "1:2.5",           // or {"count": 1, "secs": 2.5}
//!   "omit_etag": 1,
//!   "fail_api": "3:429:1",           // or {"count": 3, "status": 429, "retry_after_secs": 1}
//!   "corrupt_puts": 1,               // stored with a flipped byte; ETag over the damage
//!   "bandwidth": 1048576,            // bytes/s per connection; 0 or null: unlimited
//!   "link_rate": 4000000,            // bytes/s shared by all connections; 0 or null: unlimited
//!   "latency_ms": 50,
//!   "complete_delay_secs": 2.5,      // sessions stay active after the last report; null: 0
//!   "early_answer": true }           // refused PUTs answered before the body; null: false
//! ```
//! Unknown keys are refused (`parameter_unknown`) so a typo never passes silently.
//!
//! `POST /v1.3/sandbox/outage` starts an outage now, replacing any other, or ends it:
//!
//! ```json
//! { "kind": "refuse", "seconds": 2 }       // or "blackhole", "reset"; seconds may be fractional
//! { "kind": "none" }                       // ends the outage on (or planned)
//! ```
//! Both it and `GET` answer the outage now: `{"kind": "reset", "active": true,
//! "starts_in_secs": 0.0, "ends_in_secs": 1.9}`, or `{"kind": "none", "active": false}`.

use std::time::{Duration, Instant};

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    error::ApiError,
    extract::JsonObject,
    faults::{
        FaultPlan, OutageKind, parse_count_bytes, parse_count_secs, parse_count_status,
        parse_fail_api, secs_to_duration,
    },
    server::App,
    stats::Stats,
};

/// `PUT /v1.3/sandbox/sink`: reads a body of any size and hashes it as a chunk PUT with
/// `discard` storage would, then answers 200 with its MD5 as the ETag. It lets a benchmark
/// compare a client with `curl -T` on the same server doing the same work per byte. Its
/// bytes are not counted in the stats.
pub(crate) async fn sink(body: axum::body::Body) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    use md5::{Digest as _, Md5};
    let mut body = body;
    let mut md5 = Md5::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::invalid("the body ended early"))?;
        if let Ok(data) = frame.into_data() {
            md5.update(&data);
        }
    }
    let etag = format!("\"{}\"", hex::encode(md5.finalize()));
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&etag) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, value);
    }
    Ok(response)
}

pub(crate) async fn stats(State(app): State<App>) -> Json<Stats> {
    Json(app.stats.snapshot())
}

pub(crate) async fn reset_stats(State(app): State<App>) -> Json<Stats> {
    app.stats.reset();
    Json(app.stats.snapshot())
}

pub(crate) async fn faults(State(app): State<App>) -> Json<FaultsView> {
    Json(FaultsView::of(&app))
}

pub(crate) async fn set_faults(
    State(app): State<App>,
    JsonObject(body): JsonObject,
) -> Result<Json<FaultsView>, ApiError> {
    const KNOWN: [&str; 12] = [
        "clear",
        "fail_puts",
        "drop_puts_after",
        "stall_puts",
        "omit_etag",
        "fail_api",
        "corrupt_puts",
        "bandwidth",
        "link_rate",
        "latency_ms",
        "complete_delay_secs",
        "early_answer",
    ];
    refuse_unknown(&body, &KNOWN)?;
    // Build the whole new state first, so a bad value changes nothing.
    let clear = match body.get("clear") {
        None | Some(Value::Null) => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| ApiError::invalid("`clear` must be a boolean"))?,
    };
    let mut plan = if clear {
        FaultPlan::default()
    } else {
        app.faults.pending()
    };
    if let Some(v) = body.get("fail_puts") {
        plan.fail_puts = counted(v, "fail_puts", parse_count_status, |o| {
            Ok((count(o, "fail_puts")?, status(o, "fail_puts")?))
        })?;
    }
    if let Some(v) = body.get("drop_puts_after") {
        plan.drop_puts_after = counted(v, "drop_puts_after", parse_count_bytes, |o| {
            Ok((
                count(o, "drop_puts_after")?,
                number(o, "drop_puts_after", "bytes")?,
            ))
        })?;
    }
    if let Some(v) = body.get("stall_puts") {
        plan.stall_puts = counted(v, "stall_puts", parse_count_secs, |o| {
            Ok((
                count(o, "stall_puts")?,
                secs(o, "stall_puts", "secs")?.unwrap_or_default(),
            ))
        })?;
    }
    if let Some(v) = body.get("omit_etag") {
        plan.omit_etag = request_count(v, "omit_etag")?;
    }
    if let Some(v) = body.get("corrupt_puts") {
        plan.corrupt_puts = request_count(v, "corrupt_puts")?;
    }
    if let Some(v) = body.get("fail_api") {
        plan.fail_api = counted(v, "fail_api", parse_fail_api, |o| {
            Ok((
                count(o, "fail_api")?,
                status(o, "fail_api")?,
                secs(o, "fail_api", "retry_after_secs")?,
            ))
        })?;
    }
    let bandwidth = rate(&body, "bandwidth")?;
    let link_rate = rate(&body, "link_rate")?;
    let latency = match body.get("latency_ms") {
        None => None,
        Some(Value::Null) => Some(Duration::ZERO),
        Some(v) => Some(
            v.as_u64()
                .filter(|&ms| ms <= 3_600_000)
                .map(Duration::from_millis)
                .ok_or_else(|| ApiError::invalid("`latency_ms` must be 0..=3600000"))?,
        ),
    };
    let complete_delay = match body.get("complete_delay_secs") {
        None => None,
        Some(Value::Null) => Some(Duration::ZERO),
        Some(v) => Some(seconds(v, "complete_delay_secs")?),
    };
    let early_answer = match body.get("early_answer") {
        None => None,
        Some(Value::Null) => Some(false),
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| ApiError::invalid("`early_answer` must be a boolean"))?,
        ),
    };

    app.faults.set(plan);
    if let Some(bandwidth) = bandwidth {
        app.set_bandwidth(bandwidth.filter(|&b| b > 0));
    }
    if let Some(link_rate) = link_rate {
        app.set_link_rate(link_rate.filter(|&r| r > 0));
    }
    if let Some(latency) = latency {
        app.set_latency(latency);
    }
    if let Some(delay) = complete_delay {
        app.set_complete_delay(delay);
    }
    if let Some(yes) = early_answer {
        app.set_early_answer(yes);
    }
    Ok(Json(FaultsView::of(&app)))
}

/// `GET /v1.3/sandbox/outage`: the outage on or planned.
pub(crate) async fn outage(State(app): State<App>) -> Json<OutageView> {
    Json(OutageView::of(&app))
}

/// `POST /v1.3/sandbox/outage`: `{"kind": "refuse|blackhole|reset", "seconds": N}` starts an
/// outage now, `{"kind": "none"}` ends it. Answers once it is in force (for `refuse`, once
/// the port is closed or open again).
pub(crate) async fn set_outage(
    State(app): State<App>,
    JsonObject(body): JsonObject,
) -> Result<Json<OutageView>, ApiError> {
    refuse_unknown(&body, &["kind", "seconds"])?;
    let kind =
        match body.get("kind") {
            None | Some(Value::Null) => return Err(ApiError::not_provided("kind")),
            Some(Value::String(kind)) if kind == "none" => None,
            Some(Value::String(kind)) => Some(kind.parse::<OutageKind>().map_err(|e| {
                ApiError::invalid(format!("`kind`: {e} (or none, to end the outage)"))
            })?),
            Some(_) => {
                return Err(ApiError::invalid(
                    "`kind` must be one of refuse, blackhole, reset, none",
                ));
            }
        };
    match kind {
        Some(kind) => {
            let duration = match body.get("seconds") {
                None | Some(Value::Null) => return Err(ApiError::not_provided("seconds")),
                Some(v) => seconds(v, "seconds")?,
            };
            app.outage.start(kind, duration, Duration::ZERO);
        }
        None => {
            if body.get("seconds").is_some_and(|v| !v.is_null()) {
                return Err(ApiError::invalid("`seconds` makes no sense with kind none"));
            }
            app.outage.end();
        }
    }
    let switch = app.outage.clone();
    // The listener closes or reopens the port on the server's runtime: wait off it.
    let _ = tokio::task::spawn_blocking(move || switch.wait_for_listener()).await;
    Ok(Json(OutageView::of(&app)))
}

/// Refuses a body with a key not in `known` (`parameter_unknown`).
fn refuse_unknown(body: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "parameter_unknown",
            format!(
                "`{key}` is not a sandbox setting; known: {}",
                known.join(", ")
            ),
        )),
    }
}

/// Reads a request count; `null` is 0.
fn request_count(value: &Value, name: &str) -> Result<u32, ApiError> {
    match value {
        Value::Null => Ok(0),
        v => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| ApiError::invalid(format!("`{name}` must be a request count"))),
    }
}

/// Reads a number of seconds (fractions allowed, at most 100 years).
fn seconds(value: &Value, name: &str) -> Result<Duration, ApiError> {
    value
        .as_f64()
        .and_then(secs_to_duration)
        .ok_or_else(|| ApiError::invalid(format!("`{name}` must be a number of seconds >= 0")))
}

/// Reads a byte rate: `None` when the key is absent, `Some(None)` for `null` (unlimited).
fn rate(body: &Map<String, Value>, name: &str) -> Result<Option<Option<u64>>, ApiError> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v.as_u64().map(|r| Some(Some(r))).ok_or_else(|| {
            ApiError::invalid(format!(
                "`{name}` must be a byte rate (0 or null: unlimited)"
            ))
        }),
    }
}

/// Reads one counted fault: `null` (clear), a CLI-style string, or an object.
fn counted<T>(
    value: &Value,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
    from_object: impl FnOnce(&Map<String, Value>) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(spec) => parse(spec)
            .map(Some)
            .map_err(|e| ApiError::invalid(format!("`{name}`: {e}"))),
        Value::Object(map) => from_object(map).map(Some),
        _ => Err(ApiError::invalid(format!(
            "`{name}` must be null, a string like the command-line flag, or an object"
        ))),
    }
}

fn number(map: &Map<String, Value>, name: &str, field: &str) -> Result<u64, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Err(ApiError::not_provided(&format!("{name}.{field}"))),
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::invalid(format!("`{name}.{field}` must be a non-negative integer"))
        }),
    }
}

fn count(map: &Map<String, Value>, name: &str) -> Result<u32, ApiError> {
    u32::try_from(number(map, name, "count")?)
        .map_err(|_| ApiError::invalid(format!("`{name}.count` is too large")))
}

fn status(map: &Map<String, Value>, name: &str) -> Result<u16, ApiError> {
    match number(map, name, "status")? {
        s @ 400..=599 => Ok(s as u16),
        _ => Err(ApiError::invalid(format!(
            "`{name}.status` must be an HTTP error status (400-599)"
        ))),
    }
}

fn secs(map: &Map<String, Value>, name: &str, field: &str) -> Result<Option<Duration>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .and_then(secs_to_duration)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("`{name}.{field}` must be seconds >= 0"))),
    }
}

/// The current fault and link settings, as JSON.
#[derive(Debug, Serialize)]
pub(crate) struct FaultsView {
    fail_puts: Option<Value>,
    drop_puts_after: Option<Value>,
    stall_puts: Option<Value>,
    omit_etag: u32,
    fail_api: Option<Value>,
    corrupt_puts: u32,
    bandwidth: Option<u64>,
    link_rate: Option<u64>,
    latency_ms: u64,
    complete_delay_secs: f64,
    early_answer: bool,
}

impl FaultsView {
    fn of(app: &App) -> Self {
        let plan = app.faults.pending();
        let (bandwidth, link_rate) = (app.shaping.bandwidth(), app.shaping.link_rate());
        Self {
            fail_puts: plan
                .fail_puts
                .map(|(count, status)| serde_json::json!({"count": count, "status": status})),
            drop_puts_after: plan
                .drop_puts_after
                .map(|(count, bytes)| serde_json::json!({"count": count, "bytes": bytes})),
            stall_puts: plan
                .stall_puts
                .map(|(count, d)| serde_json::json!({"count": count, "secs": d.as_secs_f64()})),
            omit_etag: plan.omit_etag,
            fail_api: plan.fail_api.map(|(count, status, retry)| {
                serde_json::json!({
                    "count": count,
                    "status": status,
                    "retry_after_secs": retry.map(|d| d.as_secs_f64()),
                })
            }),
            corrupt_puts: plan.corrupt_puts,
            bandwidth: (bandwidth > 0).then_some(bandwidth),
            link_rate: (link_rate > 0).then_some(link_rate),
            latency_ms: u64::try_from(app.latency().as_millis()).unwrap_or(u64::MAX),
            complete_delay_secs: app.complete_delay().as_secs_f64(),
            early_answer: app.early_answer(),
        }
    }
}

/// The outage on or planned, as JSON.
#[derive(Debug, Serialize)]
pub(crate) struct OutageView {
    /// `refuse`, `blackhole`, `reset`, or `none`.
    kind: &'static str,
    /// Whether it is on now (rather than planned, or none).
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_in_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_in_secs: Option<f64>,
}

impl OutageView {
    fn of(app: &App) -> Self {
        let now = Instant::now();
        match app.outage.window(now) {
            None => Self {
                kind: "none",
                active: false,
                starts_in_secs: None,
                ends_in_secs: None,
            },
            Some(w) => Self {
                kind: w.kind.as_str(),
                active: w.starts <= now,
                starts_in_secs: Some(w.starts.saturating_duration_since(now).as_secs_f64()),
                ends_in_secs: Some(w.ends.saturating_duration_since(now).as_secs_f64()),
            },
        }
    }
}
