// Pure rules of the "Incomplete uploads" view: words for each state, what Resume does, and
// the order of the rows. No DOM.

import type { SessionRow, ResumeState } from "./types.js";

/** How Resume works for a session: at once, after choosing its file, or not at all. */
export type ResumeMode = "direct" | "chooseFile" | "none";

const LABELS: Record<ResumeState, string> = {
  resumable: "Ready to resume",
  fileMissing: "File moved",
  fileChanged: "File changed",
  needsFile: "Needs its file",
  expired: "Expired",
  failed: "Failed",
  completed: "Completed",
};

const HINTS: Record<ResumeState, string> = {
  resumable: "Only the missing chunks will be sent.",
  fileMissing: "The file is no longer where it was: choose it to resume.",
  fileChanged: "The file changed since this upload began: start a new upload.",
  needsFile: "This computer has no record of its file: choose it to resume.",
  expired: "The server no longer keeps it: start over.",
  failed: "The server marked it failed: start over.",
  completed: "Nothing left to send.",
};

/** The human words for a session state; unknown states get a neutral word. */
export function sessionLabel(session: Pick<SessionRow, "state" | "active">): string {
  if (session.active) return "Uploading now";
  return LABELS[session.state] ?? "Unknown";
}

/** One sentence on what the user can do. */
export function sessionHint(session: Pick<SessionRow, "state" | "active">): string {
  if (session.active) return "It is in the queue above.";
  return HINTS[session.state] ?? "";
}

export function resumeMode(session: Pick<SessionRow, "state" | "active">): ResumeMode {
  if (session.active) return "none";
  switch (session.state) {
    case "resumable":
      return "direct";
    case "fileMissing":
    case "needsFile":
      return "chooseFile";
    default:
      return "none";
  }
}

/** Sessions that Resume all may restart without asking anything. */
export function directlyResumable(sessions: readonly SessionRow[]): SessionRow[] {
  return sessions.filter((s) => resumeMode(s) === "direct");
}

const RANK: Record<ResumeState, number> = {
  resumable: 0,
  fileMissing: 1,
  needsFile: 2,
  fileChanged: 3,
  failed: 4,
  expired: 5,
  completed: 6,
};

/** Rows in order: what can be resumed first, then newest first. */
export function orderSessions(sessions: readonly SessionRow[]): SessionRow[] {
  return [...sessions].sort((a, b) => {
    const rank = (Number(a.active) - Number(b.active)) || (RANK[a.state] ?? 9) - (RANK[b.state] ?? 9);
    if (rank !== 0) return rank;
    return (b.createdAt ?? 0) - (a.createdAt ?? 0) || (a.uploadId < b.uploadId ? -1 : 1);
  });
}

/** The sentence of the start-up offer, or null when nothing can be resumed at once. */
export function offerText(count: number): string | null {
  if (count <= 0) return null;
  return count === 1
    ? "1 upload was interrupted. Resume it?"
    : `${count} uploads were interrupted. Resume them?`;
}
