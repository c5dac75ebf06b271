//! Property test of the JSON endpoints: whatever the body (random bytes, random JSON, the
//! right fields with the wrong values), the answer is a 2xx or a 4xx with a `{code, message}`
//! JSON body, never a 5xx, and the server keeps answering.

mod support;

use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Number, Value};
use support::Env;

/// Numbers that trip parsers: huge, negative, fractional, past u64 and f64.
fn nasty_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1.5".to_owned()),
        Just("1e30".to_owned()),
        Just("1e400".to_owned()),
        Just("-0".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("99999999999999999999999999999999999".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
    ]
}

/// Arbitrary JSON values, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("video"), Just("etag"), Just(""), Just("\"abc\"")]
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Field names the endpoints look for, plus noise.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop_oneof![
            Just("filename"),
            Just("type"),
            Just("total_size"),
            Just("enable_hls"),
            Just("user_metadata"),
            Just("completed_chunks"),
            Just("chunk_index"),
            Just("proof"),
            Just("proof_type"),
            Just("chunk_size"),
            Just("start"),
            Just("count"),
        ]
        .prop_map(str::to_owned),
        "[a-z_]{1,10}",
    ]
}

/// Raw bodies: bytes, JSON text, and JSON objects whose known fields hold nasty numbers.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (field_name(), nasty_number(), field_name(), nasty_number()).prop_map(|(a, x, b, y)| {
            format!(r#"{{"{a}": {x}, "{b}": {y}, "filename": "f", "type": "video"}}"#).into_bytes()
        }),
        (nasty_number(), nasty_number(), nasty_number()).prop_map(|(i, s, c)| {
            format!(
                r#"{{"completed_chunks": [{{"chunk_index": {i}, "proof": "x", "proof_type": "etag", "chunk_size": {s}}}], "start": {i}, "count": {c}}}"#
            )
            .into_bytes()
        }),
    ]
}

/// Sends `body` and checks the answer's shape.
async fn check(env: &Env, path: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let response = env
        .api(Method::POST, path)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("transport error: {e}")))?;
    let status = response.status();
    prop_assert!(!status.is_server_error(), "{path}: {status}");
    let text = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&text)
        .map_err(|_| TestCaseError::fail(format!("{path}: {status}, not JSON: {text}")))?;
    prop_assert!(json.is_object(), "{path}: {text}");
    if status.is_client_error() {
        prop_assert!(
            json["code"].is_string() && json["message"].is_string(),
            "{path}: {text}"
        );
    } else {
        prop_assert!(status.is_success(), "{path}: {status}");
    }
    Ok(())
}

#[test]
fn json_endpoints_answer_garbage_with_4xx_json() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let env = Env::start(support::small_builder().chunk_size(1024));
    let created = runtime.block_on(env.create(10 * 1024));
    let id = created["upload_id"].as_str().unwrap().to_owned();
    let paths = [
        "/assets/multipart-uploads".to_owned(),
        format!("/assets/multipart-uploads/{id}"),
        format!("/assets/multipart-uploads/{id}/presigned-urls"),
        "/sandbox/faults".to_owned(),
    ];

    let config = ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(body in body(), which in 0..3usize)| {
        runtime.block_on(check(&env, &paths[which], body))?;
    });
    // The sandbox's own endpoint gets the same treatment, with fewer cases (it changes state).
    proptest!(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() },
    |(body in body())| {
        runtime.block_on(check(&env, &paths[3], body))?;
    });

    // Every case reached the server (the create above is one more API call).
    assert!(
        env.sandbox.stats().api_requests > 512,
        "{:?}",
        env.sandbox.stats()
    );
    // Still alive and consistent afterwards.
    runtime.block_on(async {
        env.sandbox.faults().clear();
        env.sandbox.set_latency(std::time::Duration::ZERO);
        env.sandbox.set_bandwidth(None);
        let response = env.get(&format!("/assets/multipart-uploads/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let again = env.create(5).await;
        assert!(again["upload_id"].is_string());
    });
}
