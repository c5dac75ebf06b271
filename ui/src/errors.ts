// Pure mapping from a command's `{ code, message }` error to the words of an error banner:
// what happened (title + the backend's message) and what to do next. No DOM.

import type { CommandError, ErrorCode } from "./types.js";

/** What a banner says, and which button it may offer. */
export interface BannerText {
  /** What happened, in a few words. */
  title: string;
  /** The backend's own explanation (it names the file, the chunk, the status...). */
  detail: string;
  /** What to do next, or null when the detail already says it. */
  action: string | null;
  /** A button that helps: open the settings. */
  offer: "settings" | null;
}

const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "invalid",
  "notFound",
  "unauthorized",
  "network",
  "server",
  "fileChanged",
  "expired",
  "conflict",
  "cancelled",
  "io",
  "internal",
]);

/** Turns whatever a command rejected with into a CommandError. */
export function toCommandError(error: unknown): CommandError {
  if (typeof error === "object" && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === "string" && typeof message === "string") {
      const known = KNOWN_CODES.has(code) ? (code as ErrorCode) : "internal";
      return { code: known, message };
    }
    if (typeof message === "string") return { code: "internal", message };
  }
  if (typeof error === "string" && error.length > 0) return { code: "internal", message: error };
  return { code: "internal", message: "An unexpected error happened." };
}

/**
 * The banner words for an error. `subject` names what failed (a file name) when known, so
 * several banners at once stay distinguishable.
 */
export function describeError(error: CommandError, subject?: string): BannerText {
  const about = subject !== undefined && subject.length > 0 ? ` — ${subject}` : "";
  const message = error.message.trim();
  const detail = message.charAt(0).toUpperCase() + message.slice(1);
  const text = (title: string, action: string | null, offer: BannerText["offer"] = null) => ({
    title: title + about,
    detail,
    action,
    offer,
  });
  switch (error.code) {
    case "unauthorized":
      return text("API key rejected", "Check your API key in Settings.", "settings");
    case "network":
      return text(
        "Connection problem",
        "Check your connection; the upload resumes where it stopped.",
      );
    case "fileChanged":
      return text("The file changed", "Start a new upload.");
    case "expired":
      return text("Upload session expired", "Start over.");
    case "invalid":
      // The message is the file problem itself ("is a directory", "is empty"...).
      return text(subject !== undefined ? "Can't upload this file" : "Not accepted", null);
    case "notFound":
      return text("Not found", "Check that the file is still there, then add it again.");
    case "server":
      return text("The server had a problem", "Try again in a moment; chunks already sent are kept.");
    case "conflict":
      return text("Already uploading", "Another TL Uploader is sending this file; let it finish.");
    case "cancelled":
      return text("Cancelled", "Resume it from Incomplete uploads while its session lasts.");
    case "io":
      return text("Disk or keychain problem", "Check free disk space and permissions, then try again.");
    case "internal":
    default:
      return text("Something went wrong", "Try again; if it keeps happening, restart TL Uploader.");
  }
}
