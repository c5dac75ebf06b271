// Test data builders and a fake Backend that records calls.

import type { Backend, DragDrop, Unlisten } from "../src/backend.js";
import type {
  AddResult,
  SessionRow,
  Settings,
  SettingsInput,
  UploadRow,
} from "../src/types.js";

export function progress(overrides: Partial<UploadRow> = {}): UploadRow {
  return {
    id: "u1",
    path: "/videos/talk.mp4",
    fileName: "talk.mp4",
    state: "uploading",
    uploadId: "sess-1",
    assetId: null,
    assetUrl: null,
    totalBytes: 1_000_000,
    bytesSent: 0,
    bytesAcknowledged: 0,
    percentage: 0,
    bytesPerSecond: 0,
    etaSeconds: null,
    totalChunks: 4,
    completedChunks: 0,
    chunks: "pppp",
    inFlight: [],
    retries: 0,
    urlsRefreshed: 0,
    parallelism: 8,
    error: null,
    addedAt: 1_000,
    offlineSinceMs: null,
    ...overrides,
  };
}

export function session(overrides: Partial<SessionRow> = {}): SessionRow {
  return {
    uploadId: "sess-1",
    state: "resumable",
    inJournal: true,
    filePath: "/videos/talk.mp4",
    fileName: "talk.mp4",
    totalBytes: 300_000_000,
    chunkSize: 1_000_000,
    totalChunks: 300,
    chunksDone: 120,
    bytesDone: 120_000_000,
    createdAt: 1_700_000_000,
    expiresAt: 1_700_086_400,
    active: false,
    ...overrides,
  };
}

export const SETTINGS: Settings = {
  endpoint: "sandbox",
  hasApiKey: false,
  parallelChunks: "auto",
  bandwidthLimit: null,
  filesAtOnce: 3,
  fileType: "video",
  keepAwake: true,
  baseUrl: "http://127.0.0.1:4100/v1.3",
  proxy: null,
  journalPath: "/home/me/.local/share/tl-uploader/journal.sqlite",
  logDir: "/home/me/.local/state/io.tluploader.desktop/logs",
  keychainAvailable: true,
};

/** A Backend whose answers the test sets, and which records every call. */
export class FakeBackend implements Backend {
  calls: { name: string; args: unknown[] }[] = [];
  addResults: (paths: string[]) => Promise<AddResult[]> = async (paths) =>
    paths.map((path, i) => ({ path, upload: progress({ id: `u${i + 1}`, path }), error: null }));
  pickedFile: string | null = null;
  resumeFails: unknown = null;
  /** What the shell keeps of refused command-line files; taking empties it, as there. */
  refused: AddResult[] = [];

  private record(name: string, ...args: unknown[]): void {
    this.calls.push({ name, args });
  }
  callsTo(name: string): unknown[][] {
    return this.calls.filter((c) => c.name === name).map((c) => c.args);
  }

  addUploads(paths: string[]): Promise<AddResult[]> {
    this.record("addUploads", paths);
    return this.addResults(paths);
  }
  async pauseUpload(id: string): Promise<UploadRow | null> {
    this.record("pauseUpload", id);
    return null;
  }
  async continueUpload(id: string): Promise<UploadRow | null> {
    this.record("continueUpload", id);
    return null;
  }
  async cancelUpload(id: string): Promise<UploadRow | null> {
    this.record("cancelUpload", id);
    return null;
  }
  async removeUpload(id: string): Promise<void> {
    this.record("removeUpload", id);
  }
  async listUploads(): Promise<UploadRow[]> {
    this.record("listUploads");
    return [];
  }
  async listResumable(): Promise<SessionRow[]> {
    this.record("listResumable");
    return [];
  }
  async resumeSession(uploadId: string, path: string | null): Promise<UploadRow> {
    this.record("resumeSession", uploadId, path);
    if (this.resumeFails !== null) throw this.resumeFails;
    return progress({ id: `resumed-${uploadId}`, uploadId, path: path ?? "/videos/talk.mp4" });
  }
  async forgetSession(uploadId: string): Promise<void> {
    this.record("forgetSession", uploadId);
  }
  async getSettings(): Promise<Settings> {
    return SETTINGS;
  }
  async setSettings(settings: SettingsInput): Promise<Settings> {
    return { ...SETTINGS, ...settings };
  }
  async saveApiKey(key: string): Promise<Settings> {
    this.record("saveApiKey", key);
    return { ...SETTINGS, hasApiKey: true };
  }
  async deleteApiKey(): Promise<Settings> {
    return SETTINGS;
  }
  async takeRefusedFiles(): Promise<AddResult[]> {
    this.record("takeRefusedFiles");
    const taken = this.refused;
    this.refused = [];
    return taken;
  }
  async onFilesRefused(_listener: () => void): Promise<Unlisten> {
    return () => {};
  }
  async onProgress(_listener: (progress: UploadRow) => void): Promise<Unlisten> {
    return () => {};
  }
  async onSessionsChanged(_listener: () => void): Promise<Unlisten> {
    return () => {};
  }
  async onDragDrop(_listener: (event: DragDrop) => void): Promise<Unlisten> {
    return () => {};
  }
  async quit(): Promise<void> {
    this.record("quit");
  }
  async uiReady(): Promise<void> {
    this.record("uiReady");
  }
  async pickFiles(): Promise<string[]> {
    return [];
  }
  async pickFile(title: string): Promise<string | null> {
    this.record("pickFile", title);
    return this.pickedFile;
  }
}
