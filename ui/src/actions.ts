// What the buttons and drops do, written against the Backend alone (no DOM), so tests can
// drive them with a fake backend.

import type { Backend } from "./backend.js";
import { toCommandError } from "./errors.js";
import { baseName } from "./format.js";
import { resumeMode } from "./sessions-model.js";
import type { UploadStore } from "./state.js";
import type { AddResult, CommandError, SessionRow, UploadRow } from "./types.js";

/** Where failures go (the banners, in the app). */
export interface Reporter {
  error(error: CommandError, subject?: string): void;
}

/**
 * Queues dropped or picked files. Accepted files enter the store; each refused one (a
 * directory, an empty file...) is reported on its own, and the others still go. Returns how
 * many were queued.
 */
export async function addPaths(
  backend: Backend,
  store: UploadStore,
  report: Reporter,
  paths: readonly string[],
): Promise<number> {
  if (paths.length === 0) return 0;
  try {
    return showAdded(store, report, await backend.addUploads([...paths]));
  } catch (error) {
    report.error(toCommandError(error));
    return 0;
  }
}

/** Shows what adding files gave: the queued uploads, and a banner per refused file. */
export function showAdded(store: UploadStore, report: Reporter, results: readonly AddResult[]): number {
  let added = 0;
  for (const result of results) {
    if (result.upload !== null) {
      store.seed(result.upload);
      added += 1;
    }
    if (result.error !== null) report.error(result.error, baseName(result.path));
  }
  return added;
}

/**
 * Shows the files the app was asked to open from outside (its command line, a second
 * launch) that it could not queue. Each is handed over once, so calling this on every
 * `files://refused` and once at start shows each exactly once.
 */
export async function showRefusedFiles(backend: Backend, store: UploadStore, report: Reporter): Promise<void> {
  try {
    showAdded(store, report, await backend.takeRefusedFiles());
  } catch (error) {
    report.error(toCommandError(error));
  }
}

/** Applies a progress event; a fresh failure is reported once, with the file's name. */
export function applyProgress(store: UploadStore, report: Reporter, progress: UploadRow): void {
  const result = store.apply(progress);
  if (result.failure !== null) report.error(result.failure, progress.fileName);
}

/**
 * Resumes a session the way its state allows: at once when the journal knows the file, or
 * after the user chose the file. Resolves with the queued upload, or null when there was
 * nothing to do or the user cancelled the picker. Rejects with a CommandError.
 */
export async function resumeSession(
  backend: Backend,
  session: SessionRow,
  displayName: string,
): Promise<UploadRow | null> {
  const mode = resumeMode(session);
  if (mode === "none") return null;
  let path: string | null = null;
  if (mode === "chooseFile") {
    path = await backend.pickFile(`Choose the file of ${displayName}`);
    if (path === null) return null;
  }
  try {
    return await backend.resumeSession(session.uploadId, path);
  } catch (error) {
    throw toCommandError(error);
  }
}

/** The keys of a key press that shortcuts look at (a KeyboardEvent has them all). */
export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

/** Ctrl+Q, the desktop's Quit (macOS's Cmd+Q is the app menu's own). */
export function isQuitShortcut(press: KeyPress): boolean {
  return press.ctrlKey && !press.metaKey && !press.altKey && !press.shiftKey && press.key.toLowerCase() === "q";
}
