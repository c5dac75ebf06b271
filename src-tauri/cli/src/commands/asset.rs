//! `tlup asset ASSET_ID [--wait]`: an asset, and with `--wait`, the wait until the platform
//! has processed it (`ready` or `failed`).

use std::time::Instant;

use serde_json::Value;
use tl_upload::wire::{Asset, AssetStatus};

use super::Context;
use crate::args::AssetArgs;
use crate::failure::Failure;
use crate::format;

/// Prints the asset; with `--wait`, once it is no longer processing.
pub async fn run(ctx: &Context, args: &AssetArgs) -> Result<(), Failure> {
    let conn = ctx.connect()?;
    let client = &conn.client;
    let id = args.asset_id.as_str();
    let started = Instant::now();
    let poll = async {
        loop {
            let asset = client
                .retrieve_asset(id)
                .await
                .map_err(|e| Failure::api(client, &e, || format!("there is no asset {id}")))?;
            if !args.wait || asset.status != AssetStatus::Processing {
                return Ok(asset);
            }
            let mut nap = args.interval;
            if let Some(limit) = args.timeout {
                let left = limit.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(Failure::failed(format!(
                        "gave up waiting for asset {id} to be ready after {}",
                        format::duration(started.elapsed().as_secs_f64())
                    )));
                }
                nap = nap.min(left);
            }
            if !ctx.out.is_json() {
                ctx.out
                    .note(&format!("asset {id} is {}; waiting", asset.status));
            }
            tokio::time::sleep(nap).await;
        }
    };
    let asset = ctx.interruptible(poll).await?;
    if ctx.out.is_json() {
        ctx.out
            .event(&serde_json::to_value(&asset).unwrap_or_default());
    } else {
        ctx.out.line(&describe(&asset));
    }
    match (&asset.status, args.wait) {
        (AssetStatus::Failed, true) => Err(Failure::failed(format!(
            "asset {id} failed processing: {}",
            asset
                .error
                .as_ref()
                .map_or("no reason given", |e| e.message.as_str())
        ))),
        _ => Ok(()),
    }
}

/// The asset for people; extension fields such as the sandbox's `sha256` are shown too.
fn describe(a: &Asset) -> String {
    let mut rows = vec![("asset id", a.id.clone()), ("status", a.status.to_string())];
    let mut push = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            rows.push((k, v));
        }
    };
    push("filename", a.filename.clone());
    push("file type", a.file_type.clone());
    push(
        "size",
        a.size.map(|n| format!("{} ({n} bytes)", format::bytes(n))),
    );
    push("duration", a.duration.map(format::duration));
    push("created", a.created_at.map(|t| format::date(Some(t))));
    push("method", a.method.clone());
    for (key, label) in [("hls", "hls"), ("thumbnail", "thumbnail")] {
        push(
            label,
            a.extra
                .get(key)
                .and_then(|v| v.get("status"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        );
    }
    push(
        "metadata",
        a.extra
            .get("user_metadata")
            .filter(|v| !v.is_null())
            .map(Value::to_string),
    );
    push(
        "sha256",
        a.extra
            .get("sha256")
            .and_then(Value::as_str)
            .map(str::to_owned),
    );
    push("error", a.error.as_ref().map(|e| e.message.clone()));
    rows.iter()
        .map(|(k, v)| format!("{k:<10} {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_shows_known_and_extension_fields() {
        let a: Asset = serde_json::from_value(serde_json::json!({
            "_id": "a1", "status": "ready", "filename": "clip.mp4", "size": 1024,
            "sha256": "ab12", "hls": {"status": "processing"}, "user_metadata": {"n": 1}
        }))
        .unwrap();
        let text = describe(&a);
        assert!(
            text.starts_with("asset id   a1\nstatus     ready"),
            "{text}"
        );
        assert!(text.contains("size       1.00 KiB (1024 bytes)"), "{text}");
        assert!(text.contains("sha256     ab12"), "{text}");
        assert!(text.contains("hls        processing"), "{text}");
        assert!(text.contains(r#"metadata   {"n":1}"#), "{text}");
    }
}
