import assert from "node:assert/strict";
import { test } from "node:test";

import { addPaths, applyProgress, isQuitShortcut, resumeSession, showRefusedFiles } from "../src/actions.js";
import { UploadStore } from "../src/state.js";
import type { CommandError } from "../src/types.js";
import { FakeBackend, progress, session } from "./fixtures.js";

function reporter() {
  const errors: { error: CommandError; subject: string | undefined }[] = [];
  return { errors, error: (error: CommandError, subject?: string) => errors.push({ error, subject }) };
}

test("adding files queues the good ones and reports each refused one", async () => {
  const backend = new FakeBackend();
  backend.addResults = async (paths) => [
    { path: paths[0] ?? "", upload: progress({ id: "a" }), error: null },
    { path: paths[1] ?? "", upload: null, error: { code: "invalid", message: "It is a directory." } },
    { path: paths[2] ?? "", upload: null, error: { code: "invalid", message: "The file is empty." } },
    { path: paths[3] ?? "", upload: progress({ id: "b", addedAt: 2_000 }), error: null },
  ];
  const store = new UploadStore();
  const report = reporter();
  const added = await addPaths(backend, store, report, ["/v/a.mp4", "/v/folder", "/v/empty.mp4", "/v/b.mp4"]);
  assert.equal(added, 2);
  assert.deepEqual(
    store.ordered().map((u) => u.id),
    ["a", "b"],
  );
  assert.deepEqual(
    report.errors.map((e) => e.subject),
    ["folder", "empty.mp4"],
  );
});

test("a failed add command becomes one banner and breaks nothing", async () => {
  const backend = new FakeBackend();
  backend.addResults = async () => {
    throw { code: "io", message: "journal is read-only" };
  };
  const store = new UploadStore();
  const report = reporter();
  assert.equal(await addPaths(backend, store, report, ["/v/a.mp4"]), 0);
  assert.equal(report.errors.length, 1);
  assert.equal(report.errors[0]?.error.code, "io");
  assert.equal(store.size, 0);
});

test("no paths, no call", async () => {
  const backend = new FakeBackend();
  await addPaths(backend, new UploadStore(), reporter(), []);
  assert.equal(backend.callsTo("addUploads").length, 0);
});

test("files refused on the command line are each shown once, by name", async () => {
  const backend = new FakeBackend();
  backend.refused = [
    { path: "/home/me/some-folder", upload: null, error: { code: "invalid", message: "It is a directory." } },
    { path: "/home/me/gone.mp4", upload: null, error: { code: "notFound", message: "No such file." } },
  ];
  const store = new UploadStore();
  const report = reporter();
  await showRefusedFiles(backend, store, report);
  // A second event (or the start-up call racing the event) finds nothing new.
  await showRefusedFiles(backend, store, report);
  assert.deepEqual(
    report.errors.map((e) => [e.subject, e.error.code]),
    [
      ["some-folder", "invalid"],
      ["gone.mp4", "notFound"],
    ],
  );
  assert.equal(backend.callsTo("takeRefusedFiles").length, 2);
  assert.equal(store.size, 0);
});

test("a failure to fetch refused files is itself reported", async () => {
  const backend = new FakeBackend();
  backend.takeRefusedFiles = async () => {
    throw { code: "internal", message: "the app is shutting down" };
  };
  const report = reporter();
  await showRefusedFiles(backend, new UploadStore(), report);
  assert.deepEqual(
    report.errors.map((e) => e.error.code),
    ["internal"],
  );
});

test("a progress event that fails reports the file by name, once", () => {
  const store = new UploadStore();
  const report = reporter();
  const failed = progress({ state: "failed", error: { code: "unauthorized", message: "401" } });
  applyProgress(store, report, progress());
  applyProgress(store, report, failed);
  applyProgress(store, report, failed);
  assert.equal(report.errors.length, 1);
  assert.equal(report.errors[0]?.subject, "talk.mp4");
});

test("resume goes straight on when the journal knows the file", async () => {
  const backend = new FakeBackend();
  const upload = await resumeSession(backend, session({ uploadId: "s1" }), "talk.mp4");
  assert.equal(upload?.uploadId, "s1");
  assert.deepEqual(backend.callsTo("resumeSession"), [["s1", null]]);
  assert.equal(backend.callsTo("pickFile").length, 0);
});

test("resume asks for a moved file, then passes its path", async () => {
  const backend = new FakeBackend();
  backend.pickedFile = "/new/place/talk.mp4";
  await resumeSession(backend, session({ uploadId: "s2", state: "fileMissing" }), "talk.mp4");
  assert.deepEqual(backend.callsTo("resumeSession"), [["s2", "/new/place/talk.mp4"]]);
});

test("cancelling the picker resumes nothing; dead sessions are never resumed", async () => {
  const backend = new FakeBackend();
  assert.equal(await resumeSession(backend, session({ state: "needsFile" }), "x"), null);
  assert.equal(await resumeSession(backend, session({ state: "expired" }), "x"), null);
  assert.equal(backend.callsTo("resumeSession").length, 0);
});

test("a refused resume rejects with a CommandError", async () => {
  const backend = new FakeBackend();
  backend.resumeFails = "session is gone";
  await assert.rejects(resumeSession(backend, session(), "x"), (error: unknown) => {
    assert.deepEqual(error, { code: "internal", message: "session is gone" });
    return true;
  });
});

test("Ctrl+Q quits and nothing else does", () => {
  const press = (key: string, mods: Partial<Record<"ctrlKey" | "metaKey" | "altKey" | "shiftKey", boolean>> = {}) => ({
    key,
    ctrlKey: false,
    metaKey: false,
    altKey: false,
    shiftKey: false,
    ...mods,
  });
  assert.equal(isQuitShortcut(press("q", { ctrlKey: true })), true);
  assert.equal(isQuitShortcut(press("Q", { ctrlKey: true })), true);
  assert.equal(isQuitShortcut(press("q")), false);
  assert.equal(isQuitShortcut(press("q", { ctrlKey: true, shiftKey: true })), false);
  assert.equal(isQuitShortcut(press("q", { ctrlKey: true, altKey: true })), false);
  assert.equal(isQuitShortcut(press("q", { metaKey: true })), false);
  assert.equal(isQuitShortcut(press("w", { ctrlKey: true })), false);
});
