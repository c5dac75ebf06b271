"""Uploads files with the official TwelveLabs Python SDK, unchanged and with its defaults.

Usage: python upload.py BASE_URL FILE...

One `TwelveLabs` client; each FILE goes through `client.multipart_upload.upload_file(FILE)`,
one after another, as a script of the SDK's users would. The API key is BENCH_API_KEY (the
sandbox's "k" when unset). Prints one JSON line on stdout: the seconds of each file and of
all of them. Any failure raises, so the exit status is non-zero.
"""

import json
import os
import sys
import time
from importlib.metadata import version

from twelvelabs import TwelveLabs


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: upload.py BASE_URL FILE...")
    base_url, files = sys.argv[1], sys.argv[2:]
    # The SDK lets this variable override `base_url`.
    os.environ.pop("TWELVELABS_BASE_URL", None)
    client = TwelveLabs(api_key=os.environ.get("BENCH_API_KEY", "k"), base_url=base_url)

    started = time.monotonic()
    per_file = []
    for path in files:
        t = time.monotonic()
        result = client.multipart_upload.upload_file(path)
        if not result.asset_id or not result.asset_url:
            raise SystemExit(f"upload_file({path!r}) returned {result!r}")
        per_file.append(
            {
                "file": os.path.basename(path),
                "bytes": os.path.getsize(path),
                "seconds": round(time.monotonic() - t, 3),
                "asset_id": result.asset_id,
            }
        )
    print(
        json.dumps(
            {
                "client": "twelvelabs",
                "version": version("twelvelabs"),
                "files": per_file,
                "total_bytes": sum(f["bytes"] for f in per_file),
                "total_seconds": round(time.monotonic() - started, 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
