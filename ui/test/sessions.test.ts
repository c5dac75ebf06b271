import assert from "node:assert/strict";
import { test } from "node:test";

import {
  directlyResumable,
  offerText,
  orderSessions,
  resumeMode,
  sessionLabel,
} from "../src/sessions-model.js";
import { session } from "./fixtures.js";

test("each state has human words", () => {
  assert.equal(sessionLabel(session({ state: "resumable" })), "Ready to resume");
  assert.equal(sessionLabel(session({ state: "fileMissing" })), "File moved");
  assert.equal(sessionLabel(session({ state: "fileChanged" })), "File changed");
  assert.equal(sessionLabel(session({ state: "needsFile" })), "Needs its file");
  assert.equal(sessionLabel(session({ state: "expired" })), "Expired");
  assert.equal(sessionLabel(session({ state: "failed" })), "Failed");
  assert.equal(sessionLabel(session({ active: true })), "Uploading now");
});

test("resume asks for the file only when the journal cannot find it", () => {
  assert.equal(resumeMode(session({ state: "resumable" })), "direct");
  assert.equal(resumeMode(session({ state: "fileMissing" })), "chooseFile");
  assert.equal(resumeMode(session({ state: "needsFile", inJournal: false })), "chooseFile");
  assert.equal(resumeMode(session({ state: "fileChanged" })), "none");
  assert.equal(resumeMode(session({ state: "expired" })), "none");
  assert.equal(resumeMode(session({ state: "resumable", active: true })), "none");
});

test("resumable sessions come first, then newest first", () => {
  const ordered = orderSessions([
    session({ uploadId: "old-expired", state: "expired", createdAt: 10 }),
    session({ uploadId: "old", state: "resumable", createdAt: 10 }),
    session({ uploadId: "moved", state: "fileMissing", createdAt: 50 }),
    session({ uploadId: "new", state: "resumable", createdAt: 20 }),
  ]);
  assert.deepEqual(
    ordered.map((s) => s.uploadId),
    ["new", "old", "moved", "old-expired"],
  );
});

test("the start-up offer counts only sessions that resume without questions", () => {
  const list = [
    session({ uploadId: "a" }),
    session({ uploadId: "b" }),
    session({ uploadId: "c", state: "needsFile" }),
    session({ uploadId: "d", active: true }),
  ];
  assert.deepEqual(
    directlyResumable(list).map((s) => s.uploadId),
    ["a", "b"],
  );
  assert.equal(offerText(2), "2 uploads were interrupted. Resume them?");
  assert.equal(offerText(1), "1 upload was interrupted. Resume it?");
  assert.equal(offerText(0), null);
});
