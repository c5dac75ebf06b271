//! Creating sessions, listing incomplete ones, asking for more URLs; auth and unknown ids.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tl_sandbox::Sandbox;

use crate::support::{Env, assert_error, is_id, is_timestamp, small_builder};

#[tokio::test]
async fn create_answers_201_with_sizes_and_initial_urls() {
    let env = Env::start(small_builder().initial_urls(2));
    let total = 64 * 1024 * 2 + 100;
    let response = env
        .post_json(
            "/assets/multipart-uploads",
            &json!({"filename": "a.mp4", "type": "video", "total_size": total}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-api-version"], "1.3");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        is_id(&body["upload_id"]) && is_id(&body["asset_id"]),
        "{body}"
    );
    assert_ne!(body["upload_id"], body["asset_id"]);
    assert_eq!(body["chunk_size"], 64 * 1024);
    assert_eq!(body["total_chunks"], 3);
    assert!(is_timestamp(&body["expires_at"]));
    let urls = body["upload_urls"].as_array().unwrap();
    assert_eq!(urls.len(), 2);
    for (i, url) in urls.iter().enumerate() {
        assert_eq!(url["chunk_index"], i + 1);
        assert!(is_timestamp(&url["expires_at"]));
        let text = url["url"].as_str().unwrap();
        let prefix = format!(
            "{}/storage/{}/{}?X-Tl-Expires=",
            env.sandbox.url(),
            body["upload_id"].as_str().unwrap(),
            i + 1
        );
        assert!(text.starts_with(&prefix), "{text}");
        assert!(text.contains("&X-Tl-Signature="), "{text}");
    }
}

#[tokio::test]
async fn initial_urls_never_exceed_the_chunk_count() {
    let env = Env::start(small_builder().initial_urls(10));
    let body = env.create(100).await;
    assert_eq!(body["total_chunks"], 1);
    assert_eq!(body["upload_urls"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_chunk_size_grows_to_keep_ten_thousand_chunks() {
    let env = Env::start(Sandbox::builder().chunk_size(1024));
    let total: u64 = 4 * 1024 * 1024 * 1024;
    let body = env.create(total).await;
    let chunk = body["chunk_size"].as_u64().unwrap();
    assert_eq!(chunk, total.div_ceil(10_000));
    assert_eq!(
        body["total_chunks"].as_u64().unwrap(),
        total.div_ceil(chunk)
    );
    assert!(body["total_chunks"].as_u64().unwrap() <= 10_000);
}

#[tokio::test]
async fn create_validates_every_field() {
    let env = Env::start(small_builder().max_total_size(1_000_000));
    let base = json!({"filename": "a.mp4", "type": "video", "total_size": 10});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (without("filename"), "parameter_not_provided"),
        (without("type"), "parameter_not_provided"),
        (without("total_size"), "parameter_not_provided"),
        (with("filename", Value::Null), "parameter_not_provided"),
        (with("filename", json!("")), "parameter_invalid"),
        (
            with("filename", json!("x".repeat(256))),
            "parameter_invalid",
        ),
        (with("filename", json!(5)), "parameter_invalid"),
        (with("type", json!("movie")), "parameter_invalid"),
        (with("type", json!(["video"])), "parameter_invalid"),
        (with("total_size", json!(0)), "parameter_invalid"),
        (with("total_size", json!(-1)), "parameter_invalid"),
        (with("total_size", json!(1.5)), "parameter_invalid"),
        (with("total_size", json!("10")), "parameter_invalid"),
        (with("total_size", json!(1e30)), "parameter_invalid"),
        (with("total_size", json!(1_000_001)), "parameter_invalid"),
        (with("enable_hls", json!("yes")), "parameter_invalid"),
        (with("enable_thumbnail", json!(1)), "parameter_invalid"),
        (with("user_metadata", json!([1])), "parameter_invalid"),
        (
            with("user_metadata", json!({"a": {"b": 1}})),
            "parameter_invalid",
        ),
        (json!([]), "parameter_invalid"),
        (json!("text"), "parameter_invalid"),
    ];
    for (body, code) in cases {
        let response = env.post_json("/assets/multipart-uploads", &body).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, code).await;
        assert!(!error["message"].as_str().unwrap().is_empty(), "{body}");
    }
    for raw in [
        "",
        "{",
        "garbage",
        r#"{"filename":"a","type":"video","total_size":18446744073709551616}"#,
        r#"{"filename":"a","type":"video","total_size":1e400}"#,
    ] {
        let response = env
            .api(Method::POST, "/assets/multipart-uploads")
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "parameter_invalid").await;
    }
    // 255 characters (not bytes) is fine, unknown fields are ignored, options are accepted.
    let ok = json!({
        "filename": "é".repeat(255), "type": "audio", "total_size": 1_000_000,
        "enable_hls": true, "enable_thumbnail": false, "user_metadata": {"a": "b", "n": 1},
        "something_new": {"x": 1}
    });
    let response = env.post_json("/assets/multipart-uploads", &ok).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn huge_json_bodies_are_refused_with_413() {
    let env = Env::small();
    let body = format!(r#"{{"filename":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let response = env
        .api(Method::POST, "/assets/multipart-uploads")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "parameter_invalid").await;
}

#[tokio::test]
async fn every_api_call_needs_the_key() {
    let env = Env::small();
    let created = env.create(10).await;
    let id = created["upload_id"].as_str().unwrap();
    let asset = created["asset_id"].as_str().unwrap();
    let calls = [
        (Method::GET, "/assets/multipart-uploads".to_owned()),
        (Method::POST, "/assets/multipart-uploads".to_owned()),
        (Method::GET, format!("/assets/multipart-uploads/{id}")),
        (Method::POST, format!("/assets/multipart-uploads/{id}")),
        (
            Method::POST,
            format!("/assets/multipart-uploads/{id}/presigned-urls"),
        ),
        (Method::GET, "/assets".to_owned()),
        (Method::POST, "/assets".to_owned()),
        (Method::GET, format!("/assets/{asset}")),
        (Method::DELETE, format!("/assets/{asset}")),
        (Method::GET, "/sandbox/stats".to_owned()),
        (Method::POST, "/sandbox/faults".to_owned()),
    ];
    for (method, path) in calls {
        let url = format!("{}{path}", env.sandbox.base_url());
        let missing = env.http.request(method.clone(), &url).json(&json!({}));
        assert_error(
            missing.send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
        )
        .await;
        let wrong = env
            .http
            .request(method, &url)
            .header("x-api-key", "not-the-key")
            .json(&json!({}));
        let response = wrong.send().await.unwrap();
        assert_eq!(response.headers()["x-api-version"], "1.3");
        assert_error(response, StatusCode::UNAUTHORIZED, "api_key_invalid").await;
    }
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404_json() {
    let env = Env::small();
    let ghost = "0123456789abcdef01234567";
    for (method, path) in [
        (Method::GET, format!("/assets/multipart-uploads/{ghost}")),
        (Method::POST, format!("/assets/multipart-uploads/{ghost}")),
        (
            Method::POST,
            format!("/assets/multipart-uploads/{ghost}/presigned-urls"),
        ),
        (Method::GET, format!("/assets/{ghost}")),
        (Method::DELETE, format!("/assets/{ghost}")),
        (Method::GET, "/assets/not-an-id".to_owned()),
        (Method::GET, "/no/such/route".to_owned()),
    ] {
        let response = env
            .api(method, &path)
            .json(&json!({"completed_chunks": [], "start": 1, "count": 1}))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "resource_not_exist").await;
    }
    let response = env
        .http
        .get(format!("{}/", env.sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "resource_not_exist").await;
    let response = env.api(Method::PATCH, "/assets").send().await.unwrap();
    let body = assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("/v1.3/assets"));
}

#[tokio::test]
async fn incomplete_uploads_are_listed_newest_first_and_paginated() {
    let env = Env::small();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(env.create(1000).await["upload_id"].clone());
    }
    // A completed session is not listed.
    let done = env.upload("done.mp4", &[7u8; 10]).await;

    let env = &env;
    let page = |n: u32| async move {
        let path = format!("/assets/multipart-uploads?page={n}&page_limit=2");
        let response = env.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()
    };
    let first = page(1).await;
    assert_eq!(
        first["page_info"],
        json!({"limit_per_page": 2, "page": 1, "total_page": 2, "total_results": 3})
    );
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["upload_id"], ids[2]);
    assert_eq!(data[1]["upload_id"], ids[1]);
    let item = &data[0];
    assert_eq!(item["status"], "active");
    assert_eq!(item["total_size"], 1000);
    assert_eq!(item["chunk_size"], 64 * 1024);
    assert_eq!(item["total_chunks"], 1);
    assert!(is_timestamp(&item["created_at"]) && is_timestamp(&item["expires_at"]));
    let second = page(2).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["data"][0]["upload_id"], ids[0]);
    let past = page(3).await;
    assert_eq!(past["data"], json!([]));
    assert_eq!(past["page_info"]["total_results"], 3);
    let all: Value = env
        .get("/assets/multipart-uploads")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["page_info"]["limit_per_page"], 10);
    assert!(
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["upload_id"] != done["upload_id"])
    );
    for bad in [
        "page_limit=51",
        "page_limit=0",
        "page=0",
        "page=-2",
        "page=abc",
    ] {
        let response = env.get(&format!("/assets/multipart-uploads?{bad}")).await;
        assert_error(response, StatusCode::BAD_REQUEST, "parameter_invalid").await;
    }
}

#[tokio::test]
async fn an_empty_listing_still_has_data_and_page_info() {
    let env = Env::small();
    let body: Value = env
        .get("/assets/multipart-uploads")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["page_info"]["total_results"], 0);
}

#[tokio::test]
async fn presigned_urls_are_validated_and_clamped() {
    let env = Env::small();
    let created = env.create(64 * 1024 * 4 + 1).await; // 5 chunks
    let id = created["upload_id"].as_str().unwrap();
    let path = format!("/assets/multipart-uploads/{id}/presigned-urls");
    for (body, code) in [
        (json!({"count": 1}), "parameter_not_provided"),
        (json!({"start": 1}), "parameter_not_provided"),
        (json!({"start": 0, "count": 1}), "parameter_invalid"),
        (json!({"start": 1, "count": 0}), "parameter_invalid"),
        (json!({"start": 1, "count": 51}), "parameter_invalid"),
        (json!({"start": 6, "count": 1}), "parameter_invalid"),
        (json!({"start": "1", "count": 1}), "parameter_invalid"),
        (json!({"start": -1, "count": 1}), "parameter_invalid"),
    ] {
        let response = env.post_json(&path, &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, code).await;
    }
    let response = env
        .post_json(&path, &json!({"start": 4, "count": 50}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["upload_id"], id);
    assert_eq!(body["start_index"], 4);
    assert_eq!(body["count"], 50);
    assert!(is_timestamp(&body["generated_at"]) && is_timestamp(&body["expires_at"]));
    let urls = body["upload_urls"].as_array().unwrap();
    let indices: Vec<_> = urls
        .iter()
        .map(|u| u["chunk_index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [4, 5]);
    // Each URL works, including the short last chunk.
    env.put_ok(urls[0]["url"].as_str().unwrap(), vec![0; 64 * 1024])
        .await;
    env.put_ok(urls[1]["url"].as_str().unwrap(), vec![0; 1])
        .await;
    // A completed session gives no more URLs.
    let done = env.upload("x.mp4", &[1, 2, 3]).await;
    let done_path = format!(
        "/assets/multipart-uploads/{}/presigned-urls",
        done["upload_id"].as_str().unwrap()
    );
    let response = env
        .post_json(&done_path, &json!({"start": 1, "count": 1}))
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "parameter_invalid").await;
}
