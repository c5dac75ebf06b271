// Uploads files with the official TwelveLabs JS SDK (twelvelabs-js), unchanged and with its
// defaults.
//
//   NODE_PATH=target/bench/sdk/js/node_modules node upload.cjs BASE_URL FILE...
//
// One `TwelveLabs` client; each FILE goes through `client.multipartUpload.uploadFile(FILE)`,
// one after another, as a script of the SDK's users would. The wrapper has no base-URL
// option: it reads TWELVELABS_BASE_URL, which is set to BASE_URL here. The API key is
// BENCH_API_KEY (the sandbox's "k" when unset). Prints one JSON line on stdout: the seconds
// of each file and of all of them (the SDK's own log lines go to stderr). Exits non-zero on
// any failure.
"use strict";

const fs = require("fs");
const path = require("path");

async function main() {
  const [baseUrl, ...files] = process.argv.slice(2);
  if (!baseUrl || files.length === 0) {
    throw new Error("usage: upload.cjs BASE_URL FILE...");
  }
  // uploadFile logs its steps with console.log; keep stdout for the result line.
  const print = console.log.bind(console);
  console.log = console.error.bind(console);

  process.env.TWELVELABS_BASE_URL = baseUrl;
  const { TwelveLabs } = require("twelvelabs-js");
  const { version } = require("twelvelabs-js/package.json");
  const client = new TwelveLabs({ apiKey: process.env.BENCH_API_KEY || "k" });

  const started = performance.now();
  const perFile = [];
  for (const file of files) {
    const t = performance.now();
    const result = await client.multipartUpload.uploadFile(file);
    if (!result.assetId || !result.assetUrl) {
      throw new Error(`uploadFile(${file}) returned ${JSON.stringify(result)}`);
    }
    perFile.push({
      file: path.basename(file),
      bytes: fs.statSync(file).size,
      seconds: Number(((performance.now() - t) / 1000).toFixed(3)),
      asset_id: result.assetId,
    });
  }
  print(
    JSON.stringify({
      client: "twelvelabs-js",
      version,
      files: perFile,
      total_bytes: perFile.reduce((sum, f) => sum + f.bytes, 0),
      total_seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    }),
  );
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  if (error && error.originalError) console.error("caused by:", error.originalError);
  process.exit(1);
});
