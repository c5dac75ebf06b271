// The Backend over Tauri: the one file of the UI that touches `window.__TAURI__` (the global
// API object that `withGlobalTauri` injects; the dialog plugin adds `dialog` to it).

import type { Backend, DragDrop, Unlisten } from "./backend.js";
import { toCommandError } from "./errors.js";
import type {
  AddResult,
  EventName,
  SessionRow,
  Settings,
  SettingsInput,
  UploadRow,
} from "./types.js";

/** The slice of the global Tauri API this app uses. */
interface TauriGlobal {
  core: { invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> };
  event: {
    listen<T>(event: string, handler: (event: { payload: T }) => void): Promise<Unlisten>;
  };
  webview: {
    getCurrentWebview(): {
      onDragDropEvent(handler: (event: { payload: TauriDragDrop }) => void): Promise<Unlisten>;
    };
  };
  dialog: {
    open(options: {
      multiple?: boolean;
      directory?: boolean;
      title?: string;
      filters?: { name: string; extensions: string[] }[];
    }): Promise<string | string[] | null>;
  };
}

type TauriDragDrop =
  | { type: "enter"; paths?: string[] }
  | { type: "over" }
  | { type: "drop"; paths?: string[] }
  | { type: "leave" };

declare global {
  interface Window {
    __TAURI__?: TauriGlobal;
  }
}

/** Extensions offered first in the file picker (the API takes most video containers). */
const VIDEO_EXTENSIONS = [
  "mp4", "mov", "m4v", "mkv", "webm", "avi", "wmv", "flv", "mpg", "mpeg", "mts", "m2ts", "ts",
  "3gp", "mxf", "ogv",
];

const PROGRESS: EventName = "upload://progress";
const SESSIONS_CHANGED: EventName = "sessions://changed";
const FILES_REFUSED: EventName = "files://refused";

function tauri(): TauriGlobal {
  const api = window.__TAURI__;
  if (api === undefined) {
    throw { code: "internal", message: "This page must run inside the TL Uploader window." };
  }
  return api;
}

/** Runs a Tauri call, turning whatever it throws or rejects with into a CommandError. */
async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toCommandError(error);
  }
}

function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  return guarded(() => tauri().core.invoke<T>(command, args));
}

/** A command whose answer may be empty (`null` then). */
async function callMaybe<T>(command: string, args?: Record<string, unknown>): Promise<T | null> {
  return (await call<T | null | undefined>(command, args)) ?? null;
}

function asPaths(chosen: string | string[] | null): string[] {
  if (chosen === null) return [];
  return Array.isArray(chosen) ? chosen : [chosen];
}

function openDialog(multiple: boolean, title: string): Promise<string | string[] | null> {
  return tauri().dialog.open({
    multiple,
    directory: false,
    title,
    filters: [
      { name: "Video", extensions: VIDEO_EXTENSIONS },
      { name: "All files", extensions: ["*"] },
    ],
  });
}

/** Creates the Backend of the real app window. */
export function tauriBackend(): Backend {
  return {
    addUploads: (paths) => call<AddResult[]>("add_uploads", { paths }),
    pauseUpload: (id) => callMaybe<UploadRow>("pause_upload", { id }),
    continueUpload: (id) => callMaybe<UploadRow>("continue_upload", { id }),
    cancelUpload: (id) => callMaybe<UploadRow>("cancel_upload", { id }),
    removeUpload: (id) => call<void>("remove_upload", { id }),
    listUploads: () => call<UploadRow[]>("list_uploads"),
    listResumable: () => call<SessionRow[]>("list_resumable"),
    resumeSession: (uploadId, path) => call<UploadRow>("resume_session", { uploadId, path }),
    forgetSession: (uploadId) => call<void>("forget_session", { uploadId }),
    getSettings: () => call<Settings>("get_settings"),
    setSettings: (settings: SettingsInput) => call<Settings>("set_settings", { settings }),
    saveApiKey: (key) => call<Settings>("save_api_key", { key }),
    deleteApiKey: () => call<Settings>("delete_api_key"),
    takeRefusedFiles: () => call<AddResult[]>("take_refused_files"),
    quit: () => call<void>("quit"),
    uiReady: () => call<void>("ui_ready"),

    onProgress: (listener) =>
      guarded(() =>
        tauri().event.listen<UploadRow>(PROGRESS, (event) => listener(event.payload)),
      ),
    onSessionsChanged: (listener) =>
      guarded(() => tauri().event.listen<null>(SESSIONS_CHANGED, () => listener())),
    onFilesRefused: (listener) =>
      guarded(() => tauri().event.listen<null>(FILES_REFUSED, () => listener())),
    onDragDrop: (listener) =>
      guarded(() => tauri()
        .webview.getCurrentWebview()
        .onDragDropEvent((event) => {
          const payload = event.payload;
          let mapped: DragDrop;
          switch (payload.type) {
            case "enter":
              mapped = { type: "enter", paths: payload.paths ?? [] };
              break;
            case "drop":
              mapped = { type: "drop", paths: payload.paths ?? [] };
              break;
            case "over":
              mapped = { type: "over" };
              break;
            default:
              mapped = { type: "leave" };
          }
          listener(mapped);
        }),
      ),

    pickFiles: () => guarded(async () => asPaths(await openDialog(true, "Add videos to upload"))),
    pickFile: (title) => guarded(async () => asPaths(await openDialog(false, title))[0] ?? null),
  };
}
