// The UI's only view of the Rust side. `ipc.ts` implements it over Tauri; tests pass a fake.
// Every promise rejects with a CommandError (`{ code, message }`).

import type {
  AddResult,
  SessionRow,
  Settings,
  SettingsInput,
  UploadRow,
} from "./types.js";

/** Stops listening. */
export type Unlisten = () => void;

/** An OS drag over the window: where it is, and the real paths on drop. */
export type DragDrop =
  | { type: "enter"; paths: string[] }
  | { type: "over" }
  | { type: "drop"; paths: string[] }
  | { type: "leave" };

export interface Backend {
  /** Queues files; one result per path, in order (a refused path carries its error). */
  addUploads(paths: string[]): Promise<AddResult[]>;
  /** Pause, resume and cancel answer with the upload's new state when the shell sends it. */
  pauseUpload(id: string): Promise<UploadRow | null>;
  continueUpload(id: string): Promise<UploadRow | null>;
  cancelUpload(id: string): Promise<UploadRow | null>;
  /** Removes a finished upload from the queue. */
  removeUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadRow[]>;

  /** Unfinished sessions, from the journal and the server. */
  listResumable(): Promise<SessionRow[]>;
  /** Resumes a session; `path` is the file the user chose, or null when the journal knows it. */
  resumeSession(uploadId: string, path: string | null): Promise<UploadRow>;
  /** Drops a session from the journal (the server lets it expire). */
  forgetSession(uploadId: string): Promise<void>;

  getSettings(): Promise<Settings>;
  setSettings(settings: SettingsInput): Promise<Settings>;
  /** Stores the API key in the OS keychain; it is never read back. */
  saveApiKey(key: string): Promise<Settings>;
  deleteApiKey(): Promise<Settings>;

  /**
   * Files from the command line or a second launch that could not be queued, each handed
   * over once (the queued ones arrive as progress events).
   */
  takeRefusedFiles(): Promise<AddResult[]>;

  /** Progress of any upload (about 10 per second each, and every state change). */
  onProgress(listener: (progress: UploadRow) => void): Promise<Unlisten>;
  /** The list of incomplete sessions may have changed. */
  onSessionsChanged(listener: () => void): Promise<Unlisten>;
  /** Files opened from outside were refused; take them with takeRefusedFiles. */
  onFilesRefused(listener: () => void): Promise<Unlisten>;
  /** OS file drags over the window. */
  onDragDrop(listener: (event: DragDrop) => void): Promise<Unlisten>;

  /** Quits the app; unfinished uploads stay resumable. */
  quit(): Promise<void>;
  /** Tells the shell the page has loaded and shown its first view (startup is over). */
  uiReady(): Promise<void>;

  /** The native file picker; the chosen paths, or [] when cancelled. */
  pickFiles(): Promise<string[]>;
  /** The native picker for one file (to locate a moved file); null when cancelled. */
  pickFile(title: string): Promise<string | null>;
}
