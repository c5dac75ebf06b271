"""Drives the official TwelveLabs Python SDK, unchanged, against a running sandbox.

Usage: python python_sdk.py BASE_URL API_KEY FILE

Uploads FILE with `multipart_upload.upload_file`, waits for the asset to leave
`processing`, then opens two more sessions and pages through them with the SDK's own
pagers (`list_incomplete_uploads`, `get_status`). Prints one line, `RESULT <json>`, for the
Rust test to check; any failure raises, so the exit status is non-zero.
"""

import json
import sys
import time

from twelvelabs import TwelveLabs


def main() -> None:
    base_url, api_key, path = sys.argv[1:4]
    client = TwelveLabs(api_key=api_key, base_url=base_url)
    uploads = client.multipart_upload

    result = uploads.upload_file(path, filename="sdk-upload.mp4", batch_size=10, max_workers=4)
    if not result.asset_url:
        raise SystemExit("upload_file returned an empty asset_url")

    deadline = time.monotonic() + 60
    asset = client.assets.retrieve(result.asset_id)
    while asset.status == "processing" and time.monotonic() < deadline:
        time.sleep(0.1)
        asset = client.assets.retrieve(result.asset_id)
    extra = asset.model_extra or {}

    # Two unfinished sessions: 4 chunks and 1 chunk at the sandbox's 1 MiB chunk size.
    first = uploads.create(filename="pending-a.mp4", type="video", total_size=3 * 1024 * 1024 + 5)
    uploads.create(filename="pending-b.mp4", type="video", total_size=1)
    incomplete = list(uploads.list_incomplete_uploads(page_limit=1))
    chunks = list(uploads.get_status(first.upload_id, page_limit=3))

    print(
        "RESULT "
        + json.dumps(
            {
                "asset_id": result.asset_id,
                "asset_url": result.asset_url,
                "status": asset.status,
                "size": asset.size,
                "sha256": extra.get("sha256"),
                "incomplete": [u.upload_id for u in incomplete],
                "first_upload_id": first.upload_id,
                "chunk_indices": [c.index for c in chunks],
                "chunk_statuses": sorted({c.status for c in chunks}),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
