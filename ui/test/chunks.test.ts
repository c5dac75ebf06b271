import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Cell,
  cellAt,
  codeCell,
  codeFill,
  countChunks,
  encodeCells,
  FILL_STEPS,
  gridLayout,
} from "../src/chunks.js";

test("counts every state of the chunk string", () => {
  assert.deepEqual(countChunks("ppuurrsddddf"), {
    total: 12,
    pending: 2,
    uploading: 2,
    retrying: 2,
    stored: 1,
    done: 4,
    failed: 1,
  });
  assert.equal(countChunks("").total, 0);
});

test("unknown characters count as pending, not lost", () => {
  const counts = countChunks("dx?d");
  assert.equal(counts.total, 4);
  assert.equal(counts.pending, 2);
  assert.equal(counts.done, 2);
});

test("in-flight bytes fill sending and retrying cells only", () => {
  const codes = encodeCells("dupr", [
    { index: 1, sent: 50, len: 100 }, // done: no fill
    { index: 2, sent: 50, len: 100 },
    { index: 3, sent: 100, len: 100 }, // pending: no fill
    { index: 4, sent: 25, len: 100 },
  ]);
  assert.equal(codeCell(codes[0] ?? -1), Cell.Done);
  assert.equal(codeFill(codes[0] ?? -1), 0);
  assert.equal(codeCell(codes[1] ?? -1), Cell.Uploading);
  assert.equal(codeFill(codes[1] ?? -1), 0.5);
  assert.equal(codeFill(codes[2] ?? -1), 0);
  assert.equal(codeCell(codes[3] ?? -1), Cell.Retrying);
  assert.equal(codeFill(codes[3] ?? -1), 0.25);
});

test("fills are clamped and out-of-range chunks are ignored", () => {
  const codes = encodeCells("uu", [
    { index: 1, sent: 500, len: 100 },
    { index: 2, sent: 10, len: 0 },
    { index: 9, sent: 1, len: 2 },
    { index: 0, sent: 1, len: 2 },
  ]);
  assert.equal(codeFill(codes[0] ?? -1), 1);
  assert.equal(codeFill(codes[1] ?? -1), 0);
  assert.equal(codes.length, 2);
});

test("a buffer of the right size is reused, so redraws allocate nothing", () => {
  const buffer = new Uint16Array(3);
  const out = encodeCells("dpd", [], buffer);
  assert.equal(out, buffer);
  assert.notEqual(encodeCells("dpdd", [], buffer), buffer);
});

test("equal codes mean equal pixels: a small fill change shows as a changed code", () => {
  const a = encodeCells("u", [{ index: 1, sent: 10, len: 100 }]);
  const b = encodeCells("u", [{ index: 1, sent: 60, len: 100 }]);
  assert.notEqual(a[0], b[0]);
  assert.ok(FILL_STEPS >= 10);
});

test("the grid takes the largest cells that fit", () => {
  const small = gridLayout(20, 300, 300);
  assert.equal(small.cell, 22);
  assert.ok(small.height <= 300);
  const many = gridLayout(1_000, 320, 300);
  assert.ok(many.height <= 300, `height ${many.height}`);
  assert.ok(many.cols * many.rows >= 1_000);
  assert.ok(many.width <= 320);
  const huge = gridLayout(10_000, 264, 260);
  assert.ok(huge.cols * huge.rows >= 10_000);
  assert.ok(huge.height <= 260, `height ${huge.height}`);
  assert.ok(huge.cell >= 1);
  assert.ok(huge.cell < many.cell);
  const impossible = gridLayout(100_000, 100, 50);
  assert.equal(impossible.cell, 1);
  assert.ok(impossible.cols * impossible.rows >= 100_000);
});

test("cellAt maps pointer positions back to chunk indexes", () => {
  const layout = gridLayout(30, 250, 300);
  const pitch = layout.cell + layout.gap;
  assert.equal(cellAt(layout, 30, 1, 1), 0);
  assert.equal(cellAt(layout, 30, pitch + 1, 1), 1);
  assert.equal(cellAt(layout, 30, 1, pitch + 1), layout.cols);
  assert.equal(cellAt(layout, 30, -1, 1), null);
  assert.equal(cellAt(layout, 30, 1, pitch * 50), null);
});
