// The queue's state: a pure store of uploads that applies progress events, keeps what is
// shown monotonic (a bar never goes backwards, never passes 100 %), orders the rows and tracks
// the selected upload. No DOM, no timers: views subscribe and draw.

import type { CommandError, UploadRow, UploadState } from "./types.js";

/** What a view needs to redraw after a change. */
export interface StoreChange {
  /** Uploads whose data changed. */
  ids: ReadonlySet<string>;
  /** Rows were added or removed (so the list, not only rows, changes). */
  structural: boolean;
  /** The selected upload changed. */
  selection: boolean;
}

/** What applying one progress event did. */
export interface ApplyResult {
  kind: "added" | "updated" | "ignored";
  /** The error of an upload that just failed (reported once per failure). */
  failure: CommandError | null;
}

/** States in which chunks move or are about to (waiting for the network goes on by itself). */
const ACTIVE: ReadonlySet<UploadState> = new Set<UploadState>([
  "starting",
  "uploading",
  "confirming",
  "waitingForNetwork",
]);
/** States that are over, so the row may be removed. */
const FINISHED: ReadonlySet<UploadState> = new Set<UploadState>(["completed", "failed", "cancelled"]);

const STATE_LABELS: Record<UploadState, string> = {
  queued: "Queued",
  starting: "Starting",
  uploading: "Uploading",
  waitingForNetwork: "Waiting for network",
  paused: "Paused",
  confirming: "Confirming",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** The human word for a state (unknown states are shown as they come). */
export function stateLabel(state: UploadState): string {
  return STATE_LABELS[state] ?? String(state);
}

export function isActive(state: UploadState): boolean {
  return ACTIVE.has(state);
}

export function isFinished(state: UploadState): boolean {
  return FINISHED.has(state);
}

/** What the buttons of a row may do in a state. */
export function canPause(state: UploadState): boolean {
  return state === "queued" || state === "starting" || state === "uploading" || state === "waitingForNetwork";
}
export function canResume(state: UploadState): boolean {
  return state === "paused" || state === "failed" || state === "cancelled";
}
export function canCancel(state: UploadState): boolean {
  return !isFinished(state) && state !== "processing";
}

function clampPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(100, Math.max(0, value));
}

export class UploadStore {
  private readonly uploads = new Map<string, UploadRow>();
  /** The largest percentage shown so far, per upload. */
  private readonly shownPercent = new Map<string, number>();
  /** The largest acknowledged byte count shown so far, per upload. */
  private readonly shownAcked = new Map<string, number>();
  /** The last server session id seen per upload. */
  private readonly sessionOf = new Map<string, string>();
  /** Uploads the user removed: late events for them are dropped. */
  private readonly removed = new Set<string>();
  private selected: string | null = null;
  private chosenByUser = false;
  private readonly listeners = new Set<(change: StoreChange) => void>();

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Merges one progress event (or a command's answer) into the store. */
  apply(progress: UploadRow): ApplyResult {
    const result = this.merge(progress);
    if (result.kind !== "ignored") {
      const selection = this.reselect();
      this.emit({ ids: new Set([progress.id]), structural: result.kind === "added", selection });
    }
    return result;
  }

  /**
   * Adds an upload from a command's answer, unless events already brought it: an answer may
   * arrive after newer events (they travel separately), so it never overwrites them.
   */
  seed(progress: UploadRow): ApplyResult {
    if (this.uploads.has(progress.id)) return { kind: "ignored", failure: null };
    return this.apply(progress);
  }

  /** Replaces the whole queue (from `list_uploads`), keeping display monotonic. */
  replaceAll(list: readonly UploadRow[]): void {
    const keep = new Set(list.map((u) => u.id));
    for (const id of [...this.uploads.keys()]) {
      if (!keep.has(id)) this.forget(id);
    }
    for (const progress of list) this.merge(progress);
    const selection = this.reselect();
    this.emit({ ids: new Set(keep), structural: true, selection });
  }

  /** Removes an upload; later events about it are ignored. */
  remove(id: string): void {
    if (!this.uploads.has(id)) return;
    this.forget(id);
    this.removed.add(id);
    const selection = this.reselect();
    this.emit({ ids: new Set([id]), structural: true, selection });
  }

  /** Selects an upload (a click on its row); it stays selected until removed. */
  select(id: string): void {
    if (!this.uploads.has(id) || (this.selected === id && this.chosenByUser)) return;
    const changed = this.selected !== id;
    this.selected = id;
    this.chosenByUser = true;
    if (changed) this.emit({ ids: new Set(), structural: false, selection: true });
  }

  get selectedId(): string | null {
    return this.selected;
  }

  get(id: string): UploadRow | undefined {
    return this.uploads.get(id);
  }

  get size(): number {
    return this.uploads.size;
  }

  /** The uploads in display order: oldest first (rows never jump around). */
  ordered(): UploadRow[] {
    return [...this.uploads.values()].sort(
      (a, b) => a.addedAt - b.addedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  /** The acknowledged percentage to show: 0–100, never lower than what was shown before. */
  displayPercent(id: string): number {
    return this.shownPercent.get(id) ?? 0;
  }

  /** The acknowledged bytes to show: never lower than before, never above the total. */
  displayAcked(id: string): number {
    return this.shownAcked.get(id) ?? 0;
  }

  /**
   * Counts for the queue's heading and the header: `active` are sending (or about to),
   * `waiting` wait for the network, and `rate` is what the active ones send together.
   */
  summary(): { total: number; active: number; waiting: number; completed: number; failed: number; rate: number } {
    let active = 0;
    let waiting = 0;
    let completed = 0;
    let failed = 0;
    let rate = 0;
    for (const u of this.uploads.values()) {
      if (u.state === "waitingForNetwork") {
        waiting += 1;
      } else if (isActive(u.state)) {
        active += 1;
        rate += Number.isFinite(u.bytesPerSecond) ? Math.max(0, u.bytesPerSecond) : 0;
      } else if (u.state === "completed" || u.state === "processing") {
        completed += 1;
      } else if (u.state === "failed") {
        failed += 1;
      }
    }
    return { total: this.uploads.size, active, waiting, completed, failed, rate };
  }

  private merge(progress: UploadRow): ApplyResult {
    if (this.removed.has(progress.id)) return { kind: "ignored", failure: null };
    const before = this.uploads.get(progress.id);
    this.uploads.set(progress.id, progress);
    // A new server session for the same row (the old one expired) really starts over.
    if (progress.uploadId !== null) {
      const known = this.sessionOf.get(progress.id);
      if (known !== undefined && known !== progress.uploadId) {
        this.shownPercent.delete(progress.id);
        this.shownAcked.delete(progress.id);
      }
      this.sessionOf.set(progress.id, progress.uploadId);
    }

    // What is shown is what the storage acknowledged (bytes on the wire are drawn lighter),
    // so the bar, the byte count and the percentage always agree.
    const total = Math.max(0, progress.totalBytes);
    const done = progress.state === "completed";
    const acked = done ? total : Math.min(total, Math.max(0, progress.bytesAcknowledged));
    this.shownAcked.set(progress.id, Math.max(this.shownAcked.get(progress.id) ?? 0, acked));
    const percent = done ? 100 : total > 0 ? clampPercent((acked / total) * 100) : clampPercent(progress.percentage);
    this.shownPercent.set(progress.id, Math.max(this.shownPercent.get(progress.id) ?? 0, percent));

    const failedNow = progress.state === "failed" && progress.error !== null;
    const failure = failedNow && before?.state !== "failed" ? progress.error : null;
    return { kind: before === undefined ? "added" : "updated", failure };
  }

  private forget(id: string): void {
    this.uploads.delete(id);
    this.shownPercent.delete(id);
    this.shownAcked.delete(id);
    this.sessionOf.delete(id);
    if (this.selected === id) {
      this.selected = null;
      this.chosenByUser = false;
    }
  }

  /**
   * Keeps a valid selection: the user's choice; else the upload shown now while it is active,
   * so the grid does not hop between files that upload at once; else the oldest upload
   * sending chunks (it has the link's priority and finishes first), the oldest active one,
   * or the first.
   */
  private reselect(): boolean {
    const before = this.selected;
    if (this.selected !== null && !this.uploads.has(this.selected)) {
      this.selected = null;
      this.chosenByUser = false;
    }
    if (!this.chosenByUser) {
      const order = this.ordered();
      const current = this.selected !== null ? this.uploads.get(this.selected) : undefined;
      if (current === undefined || !isActive(current.state)) {
        const pick =
          order.find((u) => u.state === "uploading") ?? order.find((u) => isActive(u.state)) ?? current ?? order[0];
        this.selected = pick?.id ?? null;
      }
    }
    return before !== this.selected;
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
