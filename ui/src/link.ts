// The link the uploads share, in words and numbers: parallel chunks (automatic or fixed),
// the bandwidth limit in a unit the user picks, and what an uploading row says about them.
// Pure: no DOM. The ranges mirror the shell's checks (src-tauri/shell/settings.rs), so the
// settings dialog can say what is wrong before it asks.

import { formatRate } from "./format.js";
import type { ParallelChunks, UploadRow } from "./types.js";

/** The fixed numbers of parallel chunks the app accepts. */
export const FIXED_CHUNKS = { min: 1, max: 64 } as const;
/** Bandwidth limits the app accepts, bytes per second (10 KB/s to 100 GB/s). */
export const BANDWIDTH = { min: 10_000, max: 100_000_000_000 } as const;
/** How many files may upload at once. */
export const FILES_AT_ONCE = { min: 1, max: 8 } as const;

/** A unit for the bandwidth limit: what the select shows and bytes per second per one. */
export interface RateUnit {
  key: "kB" | "MB" | "Mbit";
  label: string;
  bytesPerSecond: number;
}

/** Decimal units, like the sizes everywhere else in the app; Mbit/s as providers quote. */
export const RATE_UNITS: readonly RateUnit[] = [
  { key: "kB", label: "KB/s", bytesPerSecond: 1_000 },
  { key: "MB", label: "MB/s", bytesPerSecond: 1_000_000 },
  { key: "Mbit", label: "Mbit/s", bytesPerSecond: 125_000 },
];

/** The unit with `key`, or MB/s. */
export function rateUnit(key: string | null | undefined): RateUnit {
  return RATE_UNITS.find((u) => u.key === key) ?? (RATE_UNITS[1] as RateUnit);
}

/** A reading of a field: the value, or a message that says what to enter. */
export type Reading<T> = { ok: true; value: T } | { ok: false; message: string };

/** Parallel chunks from the dialog: automatic, or the whole number typed for a fixed one. */
export function readParallel(fixed: boolean, text: string): Reading<ParallelChunks> {
  if (!fixed) return { ok: true, value: "auto" };
  const n = Number(text.trim());
  if (text.trim() === "" || !Number.isInteger(n) || n < FIXED_CHUNKS.min || n > FIXED_CHUNKS.max) {
    return {
      ok: false,
      message: `Enter a whole number of parallel chunks from ${FIXED_CHUNKS.min} to ${FIXED_CHUNKS.max}, or choose Automatic.`,
    };
  }
  return { ok: true, value: { fixed: n } };
}

/** The bandwidth limit from the dialog, bytes per second: `null` for no limit. */
export function readLimit(limited: boolean, text: string, unit: RateUnit): Reading<number | null> {
  if (!limited) return { ok: true, value: null };
  const n = Number(text.trim().replace(",", "."));
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0) {
    return { ok: false, message: `Enter a bandwidth limit in ${unit.label}, or choose No limit.` };
  }
  const bytes = Math.round(n * unit.bytesPerSecond);
  if (bytes < BANDWIDTH.min) {
    return {
      ok: false,
      message: "The bandwidth limit must be at least 10 KB/s; choose No limit to upload at full speed.",
    };
  }
  if (bytes > BANDWIDTH.max) {
    return { ok: false, message: "The bandwidth limit must be at most 100 GB/s; choose No limit instead." };
  }
  return { ok: true, value: bytes };
}

/** Whether `value` is written with at most `decimals` decimals. */
function roundTo(value: number, decimals: number): boolean {
  const scale = 10 ** decimals;
  return Math.abs(Math.round(value * scale) - value * scale) < 1e-6;
}

/** A number for an input field: no trailing zeros, no float noise ("1.5", "40"). */
function fieldNumber(value: number): string {
  return String(Number(value.toFixed(3)));
}

/**
 * A stored limit as the dialog shows it: in `preferred` (the unit the user picked last) when
 * it reads well there, else in MB/s or KB/s.
 */
export function limitInUnit(bytes: number, preferred: RateUnit): { text: string; unit: RateUnit } {
  const inPreferred = bytes / preferred.bytesPerSecond;
  if (inPreferred >= 1 && roundTo(inPreferred, 3)) return { text: fieldNumber(inPreferred), unit: preferred };
  const mb = rateUnit("MB");
  const unit = bytes >= mb.bytesPerSecond && roundTo(bytes / mb.bytesPerSecond, 2) ? mb : rateUnit("kB");
  return { text: fieldNumber(bytes / unit.bytesPerSecond), unit };
}

/** What an uploading row says about the link: "12 parallel · limited to 5.0 MB/s". */
export function linkSummary(upload: UploadRow, limit: number | null): string {
  if (upload.state !== "uploading") return "";
  const parts: string[] = [];
  if (upload.parallelism > 0) parts.push(`${upload.parallelism} parallel`);
  if (limit !== null) parts.push(`limited to ${formatRate(limit)}`);
  return parts.join(" · ");
}

/** The longer account of the same, for the row's tooltip. */
export function linkDetail(upload: UploadRow, parallel: ParallelChunks | null): string {
  if (upload.state !== "uploading" || upload.parallelism <= 0) return "";
  const mode = parallel === null ? "" : parallel === "auto" ? " (automatic)" : " (fixed in Settings)";
  return (
    `Up to ${upload.parallelism} chunks in flight over all uploads${mode}; ` +
    `${upload.inFlight.length} of them are this file's now`
  );
}
