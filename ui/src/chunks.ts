// Pure decoding of an upload's per-chunk state string (one character per chunk) into counts
// and grid cells, plus the grid's geometry. No DOM: the canvas view draws what this computes.

import type { ChunkFlight } from "./types.js";

/** The state of one chunk, as a small integer (the order of the legend). */
export const Cell = {
  Pending: 0,
  Uploading: 1,
  Retrying: 2,
  Stored: 3,
  Done: 4,
  Failed: 5,
} as const;
export type Cell = (typeof Cell)[keyof typeof Cell];

/** The states in legend order, with their wire character and a human label. */
export const CELL_KINDS = [
  { cell: Cell.Pending, char: "p", key: "pending", label: "Waiting" },
  { cell: Cell.Uploading, char: "u", key: "uploading", label: "Sending" },
  { cell: Cell.Retrying, char: "r", key: "retrying", label: "Retrying" },
  { cell: Cell.Stored, char: "s", key: "stored", label: "Stored" },
  { cell: Cell.Done, char: "d", key: "done", label: "Confirmed" },
  { cell: Cell.Failed, char: "f", key: "failed", label: "Failed" },
] as const;

export type CellKey = (typeof CELL_KINDS)[number]["key"];

/** How many chunks are in each state. */
export type ChunkCounts = { total: number } & Record<CellKey, number>;

/** How finely a partial fill is drawn: a cell's fill is 0..FILL_STEPS. */
export const FILL_STEPS = 16;

/** The cell of a wire character; unknown characters count as pending. */
export function cellOf(char: string): Cell {
  switch (char) {
    case "u":
      return Cell.Uploading;
    case "r":
      return Cell.Retrying;
    case "s":
      return Cell.Stored;
    case "d":
      return Cell.Done;
    case "f":
      return Cell.Failed;
    default:
      return Cell.Pending;
  }
}

/** Counts the chunks of each state in a chunk string. */
export function countChunks(chunks: string): ChunkCounts {
  const counts: ChunkCounts = {
    total: chunks.length,
    pending: 0,
    uploading: 0,
    retrying: 0,
    stored: 0,
    done: 0,
    failed: 0,
  };
  for (let i = 0; i < chunks.length; i += 1) {
    const kind = CELL_KINDS[cellOf(chunks.charAt(i))];
    if (kind !== undefined) counts[kind.key] += 1;
  }
  return counts;
}

/**
 * Encodes every chunk as one number, `cell * 32 + fill`, into `out` (reused when it has the
 * right length): two equal codes draw the same pixels, so a view redraws only cells whose code
 * changed. `fill` is the in-flight fraction (0..FILL_STEPS) of sending or retrying chunks.
 */
export function encodeCells(
  chunks: string,
  inFlight: readonly ChunkFlight[],
  out?: Uint16Array,
): Uint16Array {
  const codes = out !== undefined && out.length === chunks.length ? out : new Uint16Array(chunks.length);
  for (let i = 0; i < chunks.length; i += 1) {
    codes[i] = cellOf(chunks.charAt(i)) * 32;
  }
  for (const flight of inFlight) {
    const i = flight.index - 1;
    const code = codes[i];
    if (code === undefined) continue;
    const cell = code >> 5;
    if (cell !== Cell.Uploading && cell !== Cell.Retrying) continue;
    const fraction = flight.len > 0 ? Math.min(1, Math.max(0, flight.sent / flight.len)) : 0;
    codes[i] = cell * 32 + Math.round(fraction * FILL_STEPS);
  }
  return codes;
}

/** The cell state of a code made by [`encodeCells`]. */
export function codeCell(code: number): Cell {
  return (code >> 5) as Cell;
}

/** The fill (0..1) of a code made by [`encodeCells`]. */
export function codeFill(code: number): number {
  return (code & 31) / FILL_STEPS;
}

/** Where the cells go: square cells of `cell` px with `gap` px between, `cols` per row. */
export interface GridLayout {
  cell: number;
  gap: number;
  cols: number;
  rows: number;
  width: number;
  height: number;
}

/** Cell sizes and gaps to try, largest first; the last ones are a gapless heat map. */
const SIZES: readonly (readonly [cell: number, gap: number])[] = [
  ...Array.from({ length: 21 }, (_, i) => {
    const cell = 22 - i;
    return [cell, cell >= 10 ? 3 : cell >= 5 ? 2 : 1] as const;
  }),
  [2, 0],
  [1, 0],
];

/**
 * Picks the largest cell size (from 22 px down to 1 px) whose grid of `count` cells fits in
 * `width` × `maxHeight`; at the smallest size the grid grows taller than `maxHeight`.
 */
export function gridLayout(count: number, width: number, maxHeight: number): GridLayout {
  const usable = Math.max(1, Math.floor(width));
  let best: GridLayout | null = null;
  for (const [cell, gap] of SIZES) {
    const pitch = cell + gap;
    const cols = Math.max(1, Math.floor((usable + gap) / pitch));
    const rows = Math.max(1, Math.ceil(count / cols));
    const height = rows * pitch - gap;
    best = { cell, gap, cols, rows, width: cols * pitch - gap, height };
    if (height <= maxHeight) return best;
  }
  // Unreachable in practice (the loop always sets best), but keeps the type total.
  return best ?? { cell: 1, gap: 0, cols: usable, rows: Math.ceil(count / usable), width: usable, height: count };
}

/** The index of the cell at (x, y) in a layout, or null between or outside cells. */
export function cellAt(layout: GridLayout, count: number, x: number, y: number): number | null {
  const pitch = layout.cell + layout.gap;
  if (x < 0 || y < 0) return null;
  const col = Math.floor(x / pitch);
  const row = Math.floor(y / pitch);
  if (col >= layout.cols) return null;
  const index = row * layout.cols + col;
  return index < count ? index : null;
}
