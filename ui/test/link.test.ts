import assert from "node:assert/strict";
import { test } from "node:test";

import { limitInUnit, linkDetail, linkSummary, rateUnit, readLimit, readParallel } from "../src/link.js";
import { progress } from "./fixtures.js";

test("parallel chunks are automatic, or a whole number from 1 to 64", () => {
  assert.deepEqual(readParallel(false, "whatever"), { ok: true, value: "auto" });
  assert.deepEqual(readParallel(true, " 12 "), { ok: true, value: { fixed: 12 } });
  assert.deepEqual(readParallel(true, "64"), { ok: true, value: { fixed: 64 } });
  for (const bad of ["", "0", "65", "2.5", "many"]) {
    const reading = readParallel(true, bad);
    assert.equal(reading.ok, false, bad);
    if (!reading.ok) assert.match(reading.message, /from 1 to 64, or choose Automatic/);
  }
});

test("a bandwidth limit is read in the unit chosen and stored as bytes per second", () => {
  assert.deepEqual(readLimit(false, "", rateUnit("MB")), { ok: true, value: null });
  assert.deepEqual(readLimit(true, "5", rateUnit("MB")), { ok: true, value: 5_000_000 });
  assert.deepEqual(readLimit(true, "1,5", rateUnit("MB")), { ok: true, value: 1_500_000 });
  assert.deepEqual(readLimit(true, "40", rateUnit("Mbit")), { ok: true, value: 5_000_000 });
  assert.deepEqual(readLimit(true, "750", rateUnit("kB")), { ok: true, value: 750_000 });
  const empty = readLimit(true, "", rateUnit("MB"));
  assert.ok(!empty.ok && /in MB\/s, or choose No limit/.test(empty.message));
  const tiny = readLimit(true, "5", rateUnit("kB"));
  assert.ok(!tiny.ok && /at least 10 KB\/s/.test(tiny.message));
  const huge = readLimit(true, "200", rateUnit("kB"));
  assert.ok(huge.ok);
  assert.ok(!readLimit(true, "-3", rateUnit("MB")).ok);
  assert.ok(!readLimit(true, "200000", rateUnit("MB")).ok);
});

test("a stored limit is shown in the unit picked last when it reads well there", () => {
  assert.deepEqual(limitInUnit(5_000_000, rateUnit("Mbit")), { text: "40", unit: rateUnit("Mbit") });
  assert.deepEqual(limitInUnit(5_000_000, rateUnit("MB")), { text: "5", unit: rateUnit("MB") });
  assert.deepEqual(limitInUnit(1_500_000, rateUnit("kB")), { text: "1500", unit: rateUnit("kB") });
  // Not a round number in the unit picked last: MB/s or KB/s instead.
  assert.deepEqual(limitInUnit(500_000, rateUnit("MB")), { text: "500", unit: rateUnit("kB") });
  assert.deepEqual(limitInUnit(1_234_567, rateUnit("Mbit")), { text: "1234.567", unit: rateUnit("kB") });
  assert.deepEqual(limitInUnit(2_500_000, rateUnit("Mbit")), { text: "20", unit: rateUnit("Mbit") });
});

test("an uploading row tells the link's parallelism and the limit", () => {
  const row = progress({ state: "uploading", parallelism: 12, inFlight: [{ index: 1, sent: 0, len: 10 }] });
  assert.equal(linkSummary(row, null), "12 parallel");
  assert.equal(linkSummary(row, 5_000_000), "12 parallel · limited to 5.0 MB/s");
  assert.equal(linkSummary({ ...row, parallelism: 0 }, 5_000_000), "limited to 5.0 MB/s");
  assert.equal(linkSummary({ ...row, state: "paused" }, 5_000_000), "");
  assert.match(linkDetail(row, "auto"), /^Up to 12 chunks in flight over all uploads \(automatic\); 1 of them/);
  assert.match(linkDetail(row, { fixed: 12 }), /fixed in Settings/);
  assert.equal(linkDetail({ ...row, state: "queued" }, "auto"), "");
});
