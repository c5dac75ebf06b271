// What the buttons and drops do, written against the Backend alone (no DOM), so tests can
// drive them with a fake backend.

import type { Backend } from "./backend.js";
import { toCommandError } from "./errors.js";
import { baseName } from "./format.js";
import { resumeMode } from "./sessions-model.js";
import type { UploadStore } from "./state.js";
import type { CommandError, ResumableSession, UploadProgress } from "./types.js";

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
  let added = 0;
  try {
    const results = await backend.addUploads([...paths]);
    for (const result of results) {
      if (result.upload !== null) {
        store.seed(result.upload);
        added += 1;
      }
      if (result.error !== null) report.error(result.error, baseName(result.path));
    }
  } catch (error) {
    report.error(toCommandError(error));
  }
  return added;
}

/** Applies a progress event; a fresh failure is reported once, with the file's name. */
export function applyProgress(store: UploadStore, report: Reporter, progress: UploadProgress): void {
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
  session: ResumableSession,
  displayName: string,
): Promise<UploadProgress | null> {
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
