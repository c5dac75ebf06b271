use tl_upload::wire::{ChunkStatus, CreateAssetUploadRequest, FileType};
use tl_upload::{ApiError, MultipartUploadClient};

use crate::support::*;

fn request(name: &str, size: u64) -> CreateAssetUploadRequest {
    CreateAssetUploadRequest {
        filename: name.into(),
        file_type: FileType::Video,
        total_size: size,
        enable_hls: None,
        enable_thumbnail: None,
        user_metadata: None,
    }
}

#[tokio::test]
async fn incomplete_uploads_pager_sees_every_session_once() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(
            c.create(&request(&format!("s{i}.mp4"), 1000 + i))
                .await
                .unwrap()
                .upload_id,
        );
    }
    let mut listed: Vec<String> = c
        .list_incomplete_uploads(5)
        .collect()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.upload_id)
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn status_pager_lists_every_chunk_in_order() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let created = c.create(&request("p.mp4", 23 * CHUNK)).await.unwrap();
    assert_eq!(created.total_chunks, Some(23));
    assert_eq!(created.upload_urls.len(), 4);
    let status = c
        .get_status(&created.upload_id, 10)
        .collect()
        .await
        .unwrap();
    let indices: Vec<u64> = status.uploaded_chunks.iter().map(|c| c.index).collect();
    assert_eq!(indices, (1..=23).collect::<Vec<_>>());
    assert!(
        status
            .uploaded_chunks
            .iter()
            .all(|c| c.status == ChunkStatus::Pending)
    );
    assert_eq!(status.chunks_pending, 23);
}

#[tokio::test]
async fn presigned_url_slices_are_capped_at_50_before_sending() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let created = c.create(&request("u.mp4", 80 * CHUNK)).await.unwrap();
    let before = sb.stats().api_requests;
    let err = c
        .get_additional_presigned_urls(&created.upload_id, 1, 51)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Config(_)), "{err:?}");
    assert_eq!(sb.stats().api_requests, before, "nothing was sent");
    let urls = c
        .get_additional_presigned_urls(&created.upload_id, 31, 50)
        .await
        .unwrap();
    let indices: Vec<u64> = urls.upload_urls.iter().map(|u| u.chunk_index).collect();
    assert_eq!(indices, (31..=80).collect::<Vec<_>>());
}

#[tokio::test]
async fn unknown_ids_are_404_and_not_retried() {
    let sb = sandbox().start().unwrap();
    let c = client(&sb);
    let before = sb.stats().api_requests;
    let err = c
        .retrieve_asset("aaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .unwrap_err();
    assert!(err.is_not_found() && !err.is_retryable(), "{err:?}");
    assert_eq!(err.code(), Some("resource_not_exist"));
    assert_eq!(sb.stats().api_requests, before + 1);
}

#[tokio::test]
async fn transient_api_errors_are_retried_up_to_the_limit() {
    let sb = sandbox().start().unwrap();
    let c = MultipartUploadClient::builder()
        .api_key(KEY)
        .base_url(sb.base_url())
        .max_retries(2)
        .backoff(tl_upload::retry::Backoff {
            base: std::time::Duration::from_millis(1),
            cap: std::time::Duration::from_millis(5),
        })
        .build()
        .unwrap();
    sb.faults().fail_api(3, 502, None);
    let before = sb.stats().api_requests;
    let err = c.list_incomplete_uploads_page(1, 10).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(
        sb.stats().api_requests - before,
        3,
        "one try and two retries"
    );
    c.list_incomplete_uploads_page(1, 10).await.unwrap();
}

#[tokio::test]
async fn nothing_listens_is_a_retryable_transport_error_naming_the_host() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = MultipartUploadClient::builder()
        .api_key(KEY)
        .base_url(format!("http://127.0.0.1:{port}/v1.3"))
        .max_retries(0)
        .build()
        .unwrap();
    let err = c.list_incomplete_uploads_page(1, 10).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
