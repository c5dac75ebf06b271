import assert from "node:assert/strict";
import { test } from "node:test";

import {
  baseName,
  formatAgo,
  formatBytes,
  formatBytesOf,
  formatClock,
  formatDuration,
  formatEta,
  formatExpiry,
  formatPercent,
  formatRate,
  formatWaiting,
  formatProxy,
  hostOf,
  plural,
} from "../src/format.js";

test("a time of day in the given locale and time zone", () => {
  // 2026-05-06 07:08:09 UTC.
  const at = 1_778_051_289_000;
  assert.equal(formatClock(at, { locale: "en-GB", timeZone: "UTC" }), "07:08");
  assert.equal(formatClock(at, { locale: "en-GB", timeZone: "Europe/Berlin" }), "09:08");
  // The locale's own short form; en-US puts a (narrow) space before AM.
  assert.match(formatClock(at, { locale: "en-US", timeZone: "UTC" }), /^7:08\sAM$/u);
  assert.equal(formatClock(Number.NaN), "");
});

test("waiting for the network says since when, or nothing when unknown", () => {
  const at = 1_778_051_289_000;
  assert.equal(formatWaiting(at, { locale: "en-GB", timeZone: "UTC" }), "Waiting for network since 07:08");
  assert.equal(formatWaiting(null), "Waiting for network");
});

test("bytes use 1000-based units with at most one decimal", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(-5), "0 B");
  assert.equal(formatBytes(Number.NaN), "0 B");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1000), "1.0 KB");
  assert.equal(formatBytes(1_234_567), "1.2 MB");
  assert.equal(formatBytes(3_400_000_000), "3.4 GB");
  assert.equal(formatBytes(245_000_000_000), "245 GB");
});

test("bytes that round up to 1000 move to the next unit", () => {
  assert.equal(formatBytes(999_960_000), "1.0 GB");
  assert.equal(formatBytes(999_400_000), "999 MB");
});

test("'x of y' never shows more done than the total", () => {
  assert.equal(formatBytesOf(1_200_000_000, 3_400_000_000), "1.2 GB of 3.4 GB");
  assert.equal(formatBytesOf(5_000, 4_000), "4.0 KB of 4.0 KB");
  assert.equal(formatBytesOf(-1, 4_000), "0 B of 4.0 KB");
});

test("rates", () => {
  assert.equal(formatRate(24_500_000), "24.5 MB/s");
  assert.equal(formatRate(0), "—");
  assert.equal(formatRate(Number.POSITIVE_INFINITY), "—");
});

test("durations read like a person would say them", () => {
  assert.equal(formatDuration(0.4), "< 1 s");
  assert.equal(formatDuration(42), "42 s");
  assert.equal(formatDuration(200), "3 min 20 s");
  assert.equal(formatDuration(180), "3 min");
  assert.equal(formatDuration(725), "12 min");
  assert.equal(formatDuration(3900), "1 h 5 min");
  assert.equal(formatDuration(7199), "2 h");
  assert.equal(formatDuration(2 * 86400 + 3 * 3600), "2 d 3 h");
  assert.equal(formatDuration(-1), "—");
});

test("time left is a range, or unknown", () => {
  assert.equal(formatEta(null), null);
  assert.equal(formatEta(Number.NaN), null);
  assert.equal(formatEta(4), "a few seconds");
  assert.equal(formatEta(40), "30–50 s");
  assert.equal(formatEta(200), "3–4 min");
  assert.equal(formatEta(5400), "about 1 h 30 min");
});

test("percentages are whole, never above 100, and 100 only when done", () => {
  assert.equal(formatPercent(0), "0%");
  assert.equal(formatPercent(37.9), "37%");
  assert.equal(formatPercent(99.99), "99%");
  assert.equal(formatPercent(100), "100%");
  assert.equal(formatPercent(140), "100%");
  assert.equal(formatPercent(-3), "0%");
  assert.equal(formatPercent(Number.NaN), "0%");
});

test("expiry countdown", () => {
  const now = 1_700_000_000_000;
  const at = (seconds: number) => now / 1000 + seconds;
  assert.equal(formatExpiry(null, now), null);
  assert.equal(formatExpiry(at(-10), now), "expired");
  assert.equal(formatExpiry(at(30), now), "expires in < 1 min");
  assert.equal(formatExpiry(at(23 * 60 + 5), now), "expires in 23 min");
  assert.equal(formatExpiry(at(80 * 60), now), "expires in 1 h 20 min");
  assert.equal(formatExpiry(at(5 * 3600 + 100), now), "expires in 5 h");
  assert.equal(formatExpiry(at(3 * 86400), now), "expires in 3 d");
});

test("relative start times", () => {
  const now = 1_700_000_000_000;
  assert.equal(formatAgo(now / 1000 - 10, now), "just now");
  assert.equal(formatAgo(now / 1000 - 3 * 3600, now), "3 h ago");
  assert.equal(formatAgo(null, now), null);
});

test("hosts, names and plurals", () => {
  assert.equal(hostOf("https://api.twelvelabs.io/v1.3"), "api.twelvelabs.io");
  assert.equal(hostOf("http://127.0.0.1:4100/v1.3"), "127.0.0.1:4100");
  assert.equal(hostOf("not a url"), "not a url");
  assert.equal(baseName("/home/me/clip.mp4"), "clip.mp4");
  assert.equal(baseName("C:\\Users\\me\\clip.mov"), "clip.mov");
  assert.equal(baseName("/home/me/dir/"), "dir");
  assert.equal(plural(1, "upload"), "1 upload");
  assert.equal(plural(3, "upload"), "3 uploads");
});

test("the proxy line names the host and where it was set, never more", () => {
  assert.equal(formatProxy(null), "Direct (no proxy)");
  assert.equal(
    formatProxy({ host: "proxy.corp:3128", source: "HTTPS_PROXY" }),
    "Through the proxy proxy.corp:3128 (from HTTPS_PROXY)",
  );
  assert.equal(
    formatProxy({ host: "10.0.0.1:8080", source: "system" }),
    "Through the proxy 10.0.0.1:8080 (from the system's proxy settings)",
  );
});
