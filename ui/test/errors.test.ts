import assert from "node:assert/strict";
import { test } from "node:test";

import { describeError, toCommandError } from "../src/errors.js";

test("each code gets a title and the action the user should take", () => {
  const cases = [
    ["unauthorized", "Check your API key in Settings."],
    ["network", "Check your connection; the upload resumes where it stopped."],
    ["fileChanged", "Start a new upload."],
    ["expired", "Start over."],
  ] as const;
  for (const [code, action] of cases) {
    const text = describeError({ code, message: "Details" });
    assert.equal(text.action, action, code);
    assert.equal(text.detail, "Details");
    assert.ok(text.title.length > 0);
  }
});

test("an invalid file shows the file problem itself and names the file", () => {
  const text = describeError({ code: "invalid", message: "It is a directory." }, "Movies");
  assert.equal(text.detail, "It is a directory.");
  assert.equal(text.action, null);
  assert.match(text.title, /Movies/);
});

test("the backend's message starts with a capital letter in the banner", () => {
  assert.equal(describeError({ code: "network", message: " connection reset " }).detail, "Connection reset");
});

test("only an API key problem offers to open the settings", () => {
  assert.equal(describeError({ code: "unauthorized", message: "" }).offer, "settings");
  assert.equal(describeError({ code: "network", message: "" }).offer, null);
});

test("rejections of any shape become a CommandError", () => {
  assert.deepEqual(toCommandError({ code: "expired", message: "gone" }), { code: "expired", message: "gone" });
  assert.deepEqual(toCommandError({ code: "brandNew", message: "x" }), { code: "internal", message: "x" });
  assert.deepEqual(toCommandError("command add_uploads not found"), {
    code: "internal",
    message: "command add_uploads not found",
  });
  assert.deepEqual(toCommandError(new Error("boom")), { code: "internal", message: "boom" });
  assert.equal(toCommandError(undefined).code, "internal");
  assert.ok(toCommandError(null).message.length > 0);
});

test("an unknown code still gets a usable banner", () => {
  const text = describeError({ code: "whatever" as never, message: "Odd" });
  assert.equal(text.title, "Something went wrong");
  assert.equal(text.detail, "Odd");
});
