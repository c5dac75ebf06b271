// The per-chunk grid of the selected upload (`#chunk-grid`, a canvas; the store picks which,
// following the oldest uploading file until the user clicks a row): one cell per chunk,
// coloured by state, sending chunks filled by how much of them is on the wire. It redraws at
// most once per animation frame and only the cells whose state or fill changed, so 10,000
// chunks at 10 updates a second stay cheap. Counts are mirrored on the canvas as data-*
// attributes for tests.

import {
  Cell,
  CELL_KINDS,
  cellAt,
  codeCell,
  codeFill,
  countChunks,
  encodeCells,
  gridLayout,
  type GridLayout,
} from "../chunks.js";
import { byId, h, setAttr, setText, show } from "../dom.js";
import { formatBytes, formatPercent, plural } from "../format.js";
import type { UploadStore } from "../state.js";
import type { UploadRow } from "../types.js";

/** Cells of the placeholder grid shown before an upload has chunks. */
const PLACEHOLDER_CELLS = 72;

/** The grid's height limit: up to 320 px, less in short windows so the legend stays in view. */
function maxGridHeight(): number {
  return Math.max(120, Math.min(320, window.innerHeight - 400));
}

export function mountChunkGrid(store: UploadStore): void {
  const canvas = byId<HTMLCanvasElement>("chunk-grid");
  const wrap = byId("chunk-grid-wrap");
  const subject = byId("grid-subject");
  const empty = byId("grid-empty");
  const stats = byId("grid-stats");
  const legend = byId("chunk-legend");
  const context = canvas.getContext("2d", { alpha: true });
  if (context === null) return;
  const ctx = context;

  const countCells = new Map<string, HTMLElement>();
  for (const kind of CELL_KINDS) {
    const count = h("span", { class: "legend-count" }, "0");
    countCells.set(kind.key, count);
    legend.append(
      h("li", { class: `legend-${kind.key}` }, h("span", { class: `swatch swatch-${kind.key}` }), kind.label, count),
    );
  }

  let colours = readColours();
  let drawn: Uint16Array = new Uint16Array(0); // the codes on the canvas now
  let scratch: Uint16Array = new Uint16Array(0);
  let layout: GridLayout | null = null;
  let drawnId: string | null = null;
  let full = true; // next draw repaints everything
  let frame = 0;
  let width = 0;

  function schedule(): void {
    if (frame === 0) frame = window.requestAnimationFrame(draw);
  }

  function draw(): void {
    frame = 0;
    const id = store.selectedId;
    const upload = id !== null ? store.get(id) : undefined;
    if (id !== drawnId) full = true;
    drawnId = id;
    describe(upload);
    const chunks = upload?.chunks ?? "";
    const count = chunks.length;
    show(empty, count === 0);
    show(legend, count > 0);
    setText(
      empty,
      upload === undefined
        ? "Select an upload to see each of its chunks go up."
        : "Its chunks appear here once the upload session starts.",
    );
    if (count === 0 || upload === undefined) {
      placeholder();
      setCounts(countChunks(""));
      return;
    }

    const next = gridLayout(count, width, maxGridHeight());
    if (layout === null || next.cols !== layout.cols || next.cell !== layout.cell || next.rows !== layout.rows) {
      layout = next;
      resize(next);
      full = true;
    }
    scratch = encodeCells(chunks, upload.inFlight, scratch.length === count ? scratch : undefined);
    const lay = layout;
    if (full || drawn.length !== count) {
      ctx.clearRect(0, 0, lay.width, lay.height);
      for (let i = 0; i < count; i += 1) paint(lay, i, scratch[i] ?? 0);
    } else {
      for (let i = 0; i < count; i += 1) {
        const code = scratch[i] ?? 0;
        if (code !== drawn[i]) paint(lay, i, code);
      }
    }
    // Swap buffers: what was drawn is now the scratch for the next frame.
    const previous = drawn;
    drawn = scratch;
    scratch = previous;
    full = false;
    setCounts(countChunks(chunks));
  }

  /** A faint grid of empty cells stands in for the chunks until there are some. */
  function placeholder(): void {
    const lay = gridLayout(PLACEHOLDER_CELLS, width, 90);
    layout = null;
    full = true;
    drawn = new Uint16Array(0);
    resize(lay);
    ctx.clearRect(0, 0, lay.width, lay.height);
    ctx.globalAlpha = 0.55;
    for (let i = 0; i < PLACEHOLDER_CELLS; i += 1) paint(lay, i, Cell.Pending * 32);
    ctx.globalAlpha = 1;
  }

  function resize(lay: GridLayout): void {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(lay.width * ratio));
    canvas.height = Math.max(1, Math.round(lay.height * ratio));
    canvas.style.width = `${lay.width}px`;
    canvas.style.height = `${lay.height}px`;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  }

  function paint(lay: GridLayout, index: number, code: number): void {
    const pitch = lay.cell + lay.gap;
    const x = (index % lay.cols) * pitch;
    const y = Math.floor(index / lay.cols) * pitch;
    const size = lay.cell;
    const cell = codeCell(code);
    ctx.clearRect(x, y, size, size);
    if (cell === Cell.Uploading || cell === Cell.Retrying) {
      ctx.fillStyle = colours[Cell.Pending];
      ctx.fillRect(x, y, size, size);
      const fill = codeFill(code);
      // A sliver even at 0 bytes, so a started chunk is visible at once.
      const height = Math.max(Math.min(size, 2), Math.round(size * fill));
      ctx.fillStyle = colours[cell];
      ctx.fillRect(x, y + size - height, size, height);
    } else {
      ctx.fillStyle = colours[cell];
      ctx.fillRect(x, y, size, size);
    }
  }

  function setCounts(counts: ReturnType<typeof countChunks>): void {
    setAttr(canvas, "data-total", String(counts.total));
    for (const kind of CELL_KINDS) {
      setAttr(canvas, `data-${kind.key}`, String(counts[kind.key]));
      const cell = countCells.get(kind.key);
      if (cell !== undefined) setText(cell, String(counts[kind.key]));
    }
    setAttr(
      canvas,
      "aria-label",
      counts.total === 0
        ? "No chunks to show"
        : `${counts.done} of ${plural(counts.total, "chunk")} confirmed, ${counts.uploading} sending, ` +
            `${counts.retrying} retrying, ${counts.failed} failed`,
    );
  }

  // The stats under the grid: built once, then only their text changes.
  const statRows = new Map<string, { row: HTMLElement; value: HTMLElement }>();
  for (const term of ["Chunks", "Confirmed", "Parallel", "Retries", "URLs renewed", "Session"]) {
    const value = h("dd", {});
    const row = h("div", {}, h("dt", {}, term), value);
    statRows.set(term, { row, value });
    stats.append(row);
  }

  function stat(term: string, text: string | null): void {
    const entry = statRows.get(term);
    if (entry === undefined) return;
    show(entry.row, text !== null);
    if (text !== null) {
      setText(entry.value, text);
      setAttr(entry.value, "title", text);
    }
  }

  function describe(upload: UploadRow | undefined): void {
    setText(subject, upload?.fileName ?? "No upload selected");
    const known = upload !== undefined && upload.totalChunks > 0;
    show(stats, known);
    if (!known) return;
    const chunkSize = upload.totalBytes / upload.totalChunks;
    stat("Chunks", `${upload.totalChunks} × ${formatBytes(chunkSize)}`);
    stat("Confirmed", `${upload.completedChunks} (${formatPercent(store.displayPercent(upload.id))})`);
    // The link is shared: how many chunks the app sends at once over all uploads (the
    // legend counts this file's).
    stat(
      "Parallel",
      upload.state === "uploading" && upload.parallelism > 0 ? `${upload.parallelism} for all uploads` : null,
    );
    stat("Retries", String(upload.retries));
    stat("URLs renewed", String(upload.urlsRefreshed));
    stat("Session", upload.uploadId);
  }

  function readColours(): Record<Cell, string> {
    const style = getComputedStyle(canvas);
    const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
    return {
      [Cell.Pending]: read("--cell-pending", "#d8dce6"),
      [Cell.Uploading]: read("--cell-uploading", "#3d63e6"),
      [Cell.Retrying]: read("--cell-retrying", "#e79a1c"),
      [Cell.Stored]: read("--cell-stored", "#7fd1a8"),
      [Cell.Done]: read("--cell-done", "#1f9d62"),
      [Cell.Failed]: read("--cell-failed", "#d9363e"),
    };
  }

  // Hover: name the chunk under the pointer.
  canvas.addEventListener("mousemove", (event) => {
    if (layout === null) return;
    const index = cellAt(layout, drawn.length, event.offsetX, event.offsetY);
    if (index === null) {
      canvas.title = "";
      return;
    }
    const code = drawn[index] ?? 0;
    const kind = CELL_KINDS[codeCell(code)];
    const fill = codeCell(code) === Cell.Uploading ? ` (${Math.round(codeFill(code) * 100)} % sent)` : "";
    canvas.title = `Chunk ${index + 1}: ${kind?.label ?? ""}${fill}`;
  });

  // Width follows the panel; the theme follows the OS.
  const observer = new ResizeObserver((entries) => {
    // The canvas sits inside the wrap's padding.
    const pad = getComputedStyle(wrap);
    const inset = (Number.parseFloat(pad.paddingLeft) || 0) + (Number.parseFloat(pad.paddingRight) || 0);
    const next = Math.floor((entries[0]?.contentRect.width ?? 0) - inset);
    if (next !== width && next > 0) {
      width = next;
      layout = null;
      schedule();
    }
  });
  observer.observe(byId("grid-panel-body"));
  window.addEventListener("resize", () => {
    layout = null;
    schedule();
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    colours = readColours();
    full = true;
    schedule();
  });

  store.subscribe((change) => {
    const id = store.selectedId;
    if (change.selection || change.structural || (id !== null && change.ids.has(id))) schedule();
  });
  schedule();
}
