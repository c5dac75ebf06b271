import assert from "node:assert/strict";
import { test } from "node:test";

import {
  canCancel,
  canPause,
  canResume,
  isFinished,
  stateLabel,
  UploadStore,
  type StoreChange,
} from "../src/state.js";
import { progress } from "./fixtures.js";

test("a first event adds an upload, later ones update it", () => {
  const store = new UploadStore();
  const changes: StoreChange[] = [];
  store.subscribe((c) => changes.push(c));
  assert.equal(store.apply(progress({ percentage: 10 })).kind, "added");
  assert.equal(store.apply(progress({ percentage: 20, bytesSent: 300 })).kind, "updated");
  assert.equal(store.size, 1);
  assert.equal(store.get("u1")?.bytesSent, 300);
  assert.equal(changes[0]?.structural, true);
  assert.equal(changes[1]?.structural, false);
  assert.deepEqual([...(changes[1]?.ids ?? [])], ["u1"]);
});

test("a command's answer adds an unknown upload but never overwrites newer events", () => {
  const store = new UploadStore();
  assert.equal(store.seed(progress({ state: "queued" })).kind, "added");
  store.apply(progress({ state: "cancelled" }));
  assert.equal(store.seed(progress({ state: "uploading" })).kind, "ignored");
  assert.equal(store.get("u1")?.state, "cancelled");
});

test("rows are ordered by when they were added, whatever the event order", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "c", addedAt: 300 }));
  store.apply(progress({ id: "a", addedAt: 100 }));
  store.apply(progress({ id: "b", addedAt: 200 }));
  store.apply(progress({ id: "a", addedAt: 100, percentage: 50 }));
  assert.deepEqual(
    store.ordered().map((u) => u.id),
    ["a", "b", "c"],
  );
});

test("the shown percentage follows acknowledged bytes, never goes backwards, never passes 100", () => {
  const store = new UploadStore();
  store.apply(progress({ bytesAcknowledged: 400_000, bytesSent: 600_000, percentage: 60 }));
  assert.equal(store.displayPercent("u1"), 40);
  store.apply(progress({ bytesAcknowledged: 350_000 })); // a late or rolled-back event
  assert.equal(store.displayPercent("u1"), 40);
  store.apply(progress({ bytesAcknowledged: 9_000_000 }));
  assert.equal(store.displayPercent("u1"), 100);
});

test("without a size, the engine's percentage is used, clamped", () => {
  const store = new UploadStore();
  store.apply(progress({ totalBytes: 0, percentage: 180 }));
  assert.equal(store.displayPercent("u1"), 100);
  store.apply(progress({ id: "u2", totalBytes: 0, percentage: Number.NaN }));
  assert.equal(store.displayPercent("u2"), 0);
});

test("acknowledged bytes shown are monotonic and capped at the total", () => {
  const store = new UploadStore();
  store.apply(progress({ bytesAcknowledged: 600_000 }));
  store.apply(progress({ bytesAcknowledged: 250_000 }));
  assert.equal(store.displayAcked("u1"), 600_000);
  store.apply(progress({ bytesAcknowledged: 5_000_000 }));
  assert.equal(store.displayAcked("u1"), 1_000_000);
});

test("a new server session for the same row starts its display over", () => {
  const store = new UploadStore();
  store.apply(progress({ uploadId: "old", bytesAcknowledged: 600_000 }));
  store.apply(progress({ uploadId: null, state: "starting", bytesAcknowledged: 0 }));
  assert.equal(store.displayPercent("u1"), 60);
  store.apply(progress({ uploadId: "new", bytesAcknowledged: 50_000 }));
  assert.equal(store.displayPercent("u1"), 5);
  assert.equal(store.displayAcked("u1"), 50_000);
});

test("a completed upload shows 100 % and all its bytes", () => {
  const store = new UploadStore();
  store.apply(progress({ percentage: 97, bytesAcknowledged: 970_000 }));
  store.apply(progress({ state: "completed", percentage: 99.5, bytesAcknowledged: 990_000 }));
  assert.equal(store.displayPercent("u1"), 100);
  assert.equal(store.displayAcked("u1"), 1_000_000);
});

test("removed uploads stay gone even when late events arrive", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "u1" }));
  store.apply(progress({ id: "u2", addedAt: 2_000 }));
  store.remove("u1");
  const late = store.apply(progress({ id: "u1", percentage: 90 }));
  assert.equal(late.kind, "ignored");
  assert.equal(store.get("u1"), undefined);
  assert.deepEqual(
    store.ordered().map((u) => u.id),
    ["u2"],
  );
});

test("a failure is reported once, when the upload enters the failed state", () => {
  const store = new UploadStore();
  const error = { code: "network" as const, message: "connection reset" };
  assert.equal(store.apply(progress()).failure, null);
  assert.deepEqual(store.apply(progress({ state: "failed", error })).failure, error);
  assert.equal(store.apply(progress({ state: "failed", error })).failure, null);
  store.apply(progress({ state: "uploading" }));
  assert.deepEqual(store.apply(progress({ state: "failed", error })).failure, error);
});

test("the first active upload is selected until the user picks one", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "done", state: "completed", addedAt: 1 }));
  assert.equal(store.selectedId, "done");
  store.apply(progress({ id: "busy", state: "uploading", addedAt: 2 }));
  assert.equal(store.selectedId, "busy");
  store.select("done");
  store.apply(progress({ id: "other", state: "uploading", addedAt: 3 }));
  assert.equal(store.selectedId, "done");
  store.remove("done");
  assert.equal(store.selectedId, "busy");
  store.select("missing");
  assert.equal(store.selectedId, "busy");
});

test("with several uploading, the grid stays on the one it shows until that one is done", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "a", state: "queued", addedAt: 1 }));
  store.apply(progress({ id: "b", state: "starting", addedAt: 2 }));
  assert.equal(store.selectedId, "b", "the first one that is active");
  store.apply(progress({ id: "a", state: "uploading" }));
  assert.equal(store.selectedId, "b", "no hop while b is still active");
  store.apply(progress({ id: "b", state: "processing" }));
  assert.equal(store.selectedId, "a");
  store.apply(progress({ id: "c", state: "starting", addedAt: 3 }));
  store.apply(progress({ id: "d", state: "uploading", addedAt: 4 }));
  store.apply(progress({ id: "a", state: "paused" }));
  assert.equal(store.selectedId, "d", "a file sending chunks before one still starting");
  store.apply(progress({ id: "a", state: "uploading" }));
  assert.equal(store.selectedId, "d");
});

test("replacing the whole queue drops uploads that are gone", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "a", bytesAcknowledged: 300_000 }));
  store.apply(progress({ id: "b" }));
  store.replaceAll([progress({ id: "a", bytesAcknowledged: 100_000 })]);
  assert.deepEqual(
    store.ordered().map((u) => u.id),
    ["a"],
  );
  assert.equal(store.displayPercent("a"), 30);
});

test("the summary counts active uploads and adds their rates", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "a", state: "uploading", bytesPerSecond: 1_000 }));
  store.apply(progress({ id: "b", state: "confirming", bytesPerSecond: 500 }));
  store.apply(progress({ id: "c", state: "paused", bytesPerSecond: 9_999 }));
  store.apply(progress({ id: "d", state: "completed" }));
  store.apply(progress({ id: "e", state: "failed" }));
  assert.deepEqual(store.summary(), { total: 5, active: 2, waiting: 0, completed: 1, failed: 1, rate: 1_500 });
});

test("uploads waiting for the network are counted apart and send nothing", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "a", state: "uploading", bytesPerSecond: 1_000 }));
  store.apply(progress({ id: "b", state: "waitingForNetwork", bytesPerSecond: 700, offlineSinceMs: 5 }));
  assert.deepEqual(store.summary(), { total: 2, active: 1, waiting: 1, completed: 0, failed: 0, rate: 1_000 });
  assert.equal(stateLabel("waitingForNetwork"), "Waiting for network");
  assert.equal(canPause("waitingForNetwork"), true);
  assert.equal(canCancel("waitingForNetwork"), true);
  assert.equal(canResume("waitingForNetwork"), false);
  assert.equal(isFinished("waitingForNetwork"), false);
});

test("a row waiting for the network stays selected: it goes on by itself", () => {
  const store = new UploadStore();
  store.apply(progress({ id: "a", state: "waitingForNetwork", addedAt: 1 }));
  store.apply(progress({ id: "b", state: "uploading", addedAt: 2 }));
  assert.equal(store.selectedId, "a");
});

test("buttons follow the state", () => {
  assert.equal(canPause("uploading"), true);
  assert.equal(canPause("paused"), false);
  assert.equal(canResume("paused"), true);
  assert.equal(canResume("uploading"), false);
  assert.equal(canCancel("completed"), false);
  assert.equal(canCancel("paused"), true);
  assert.equal(isFinished("cancelled"), true);
  assert.equal(isFinished("processing"), false);
  assert.equal(stateLabel("confirming"), "Confirming");
});
