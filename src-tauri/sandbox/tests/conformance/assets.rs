//! Assets: processing → ready, retrieval, listing, direct creation, deletion.

use std::time::Duration;

use reqwest::{
    Method, StatusCode,
    multipart::{Form, Part},
};
use serde_json::{Value, json};

use crate::support::{Env, assert_error, bytes, is_timestamp, sha256_hex, small_builder};

#[tokio::test]
async fn a_completed_upload_is_processing_then_ready() {
    let env = Env::start(small_builder().processing_delay(Duration::from_millis(600)));
    let created = env
        .post_json(
            "/assets/multipart-uploads",
            &json!({"filename": "Talk.MOV", "type": "video", "total_size": 100_000,
                    "enable_hls": true, "user_metadata": {"team": "a", "take": 3}}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let asset_id = created["asset_id"].as_str().unwrap();
    // Reserved, but not an asset until the upload completes.
    assert_error(
        env.get(&format!("/assets/{asset_id}")).await,
        StatusCode::NOT_FOUND,
        "resource_not_exist",
    )
    .await;

    let id = created["upload_id"].as_str().unwrap();
    let data = bytes(100_000, 9);
    let url1 = created["upload_urls"][0]["url"].as_str().unwrap();
    let url2 = created["upload_urls"][1]["url"].as_str().unwrap();
    let e1 = env.put_ok(url1, data[..65_536].to_vec()).await;
    let e2 = env.put_ok(url2, data[65_536..].to_vec()).await;
    let report = env
        .report(
            id,
            json!([
                crate::support::entry(1, &e1, 65_536),
                crate::support::entry(2, &e2, 34_464)
            ]),
        )
        .await;
    assert_eq!(report.status(), StatusCode::OK);

    let asset: Value = env
        .get(&format!("/assets/{asset_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(asset["status"], "processing");
    assert_eq!(asset["hls"]["status"], "processing");
    let ready = env.settled_asset(asset_id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["_id"], asset_id);
    assert_eq!(ready["method"], "multipart");
    assert_eq!(ready["filename"], "Talk.MOV");
    assert_eq!(ready["file_type"], "video/quicktime");
    assert_eq!(ready["size"], 100_000);
    assert_eq!(ready["user_metadata"], json!({"team": "a", "take": 3}));
    assert_eq!(ready["hls"]["status"], "ready");
    assert!(ready.get("thumbnail").is_none());
    assert!(is_timestamp(&ready["created_at"]));
    assert_eq!(ready["sha256"], sha256_hex(&data));
}

async fn direct(env: &Env, form: Form) -> reqwest::Response {
    env.api(Method::POST, "/assets")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn direct_uploads_create_assets() {
    let env = Env::small();
    let data = bytes(300_000, 11);
    let form = Form::new()
        .text("method", "direct")
        .part("file", Part::bytes(data.clone()).file_name("ignored.bin"))
        .text("filename", "song.mp3")
        .text("enable_thumbnail", "true")
        .text("enable_hls", "false")
        .text("user_metadata", r#"{"k": "v", "tags": ["a", "b"]}"#);
    let response = direct(&env, form).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let asset: Value = response.json().await.unwrap();
    assert_eq!(asset["method"], "direct");
    assert_eq!(asset["filename"], "song.mp3");
    assert_eq!(asset["file_type"], "audio/mpeg");
    assert_eq!(
        asset["user_metadata"],
        json!({"k": "v", "tags": ["a", "b"]})
    );
    let id = asset["_id"].as_str().unwrap();
    let ready = env.settled_asset(id).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["size"], 300_000);
    assert_eq!(ready["sha256"], sha256_hex(&data));
    assert_eq!(ready["thumbnail"]["status"], "ready");
    assert!(ready.get("hls").is_none());

    // Without `filename`, the part's own name is used.
    let form = Form::new()
        .text("method", "direct")
        .part("file", Part::bytes(vec![1, 2, 3]).file_name("pic.PNG"));
    let asset: Value = direct(&env, form).await.json().await.unwrap();
    assert_eq!(asset["filename"], "pic.PNG");
    assert_eq!(asset["file_type"], "image/png");
}

#[tokio::test]
async fn url_assets_fail_because_the_sandbox_never_downloads() {
    let env = Env::small();
    let form = Form::new()
        .text("method", "url")
        .text("url", "https://example.com/videos/demo.mp4?x=1");
    let response = direct(&env, form).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let asset: Value = response.json().await.unwrap();
    assert_eq!(asset["filename"], "demo.mp4");
    let settled = env.settled_asset(asset["_id"].as_str().unwrap()).await;
    assert_eq!(settled["status"], "failed");
    assert!(settled["error"]["message"].is_string());
}

#[tokio::test]
async fn direct_upload_forms_are_validated() {
    let env = Env::small();
    let file = || Part::bytes(vec![0u8; 10]).file_name("a.mp4");
    let cases = [
        (
            Form::new().part("file", file()),
            StatusCode::BAD_REQUEST,
            "parameter_not_provided",
        ),
        (
            Form::new().text("method", "ftp"),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
        (
            Form::new().text("method", "direct"),
            StatusCode::BAD_REQUEST,
            "parameter_not_provided",
        ),
        (
            Form::new().text("method", "url"),
            StatusCode::BAD_REQUEST,
            "parameter_not_provided",
        ),
        (
            Form::new()
                .text("method", "direct")
                .part("file", file())
                .text("enable_hls", "maybe"),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
        (
            Form::new()
                .text("method", "direct")
                .part("file", file())
                .text("user_metadata", "{"),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
        (
            Form::new()
                .text("method", "direct")
                .part("file", file())
                .text("filename", "x".repeat(256)),
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        ),
    ];
    for (form, status, code) in cases {
        assert_error(direct(&env, form).await, status, code).await;
    }
    let not_a_form = env.post_json("/assets", &json!({"method": "direct"})).await;
    assert_error(not_a_form, StatusCode::BAD_REQUEST, "parameter_invalid").await;
    let listed: Value = env.get("/assets").await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]), "failed creations leave no asset");
}

#[tokio::test]
async fn assets_are_listed_newest_first_with_filters() {
    let env = Env::small();
    let mut ids = Vec::new();
    for name in ["Alpha.mp4", "beta.mp3", "GAMMA.png", "alphabet.mp4"] {
        let form = Form::new()
            .text("method", "direct")
            .part("file", Part::bytes(vec![1u8; 10]).file_name(name));
        let asset: Value = direct(&env, form).await.json().await.unwrap();
        ids.push(asset["_id"].as_str().unwrap().to_owned());
    }
    let list = |query: String| {
        let env = &env;
        async move {
            let response = env.get(&format!("/assets?{query}")).await;
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(String::new()).await,
        [
            ids[3].clone(),
            ids[2].clone(),
            ids[1].clone(),
            ids[0].clone()
        ]
    );
    assert_eq!(
        list("filename=ALPHA".into()).await,
        [ids[3].clone(), ids[0].clone()]
    );
    assert_eq!(
        list("asset_types=audio&asset_types=image".into()).await,
        [ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(
        list(format!("asset_ids={}&asset_ids={}", ids[0], ids[2])).await,
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(list("page=2&page_limit=3".into()).await, [ids[0].clone()]);
    assert!(list("page=3&page_limit=3".into()).await.is_empty());
    let body: Value = env.get("/assets?page_limit=3").await.json().await.unwrap();
    assert_eq!(
        body["page_info"],
        json!({"limit_per_page": 3, "page": 1, "total_page": 2, "total_results": 4})
    );
    for bad in ["asset_types=movie", "page_limit=51", "page=0"] {
        assert_error(
            env.get(&format!("/assets?{bad}")).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        )
        .await;
    }
}

#[tokio::test]
async fn deleting_an_asset_removes_it() {
    let env = Env::small();
    let created = env.upload("gone.mp4", &[3u8; 1000]).await;
    let asset_id = created["asset_id"].as_str().unwrap();
    let path = format!("/assets/{asset_id}");
    let response = env.api(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        env.get(&path).await,
        StatusCode::NOT_FOUND,
        "resource_not_exist",
    )
    .await;
    let again = env
        .api(Method::DELETE, &format!("{path}?force=true"))
        .send()
        .await
        .unwrap();
    assert_error(again, StatusCode::NOT_FOUND, "resource_not_exist").await;
}
