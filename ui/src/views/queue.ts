// The queue (`#queue`): one row per upload with its progress, rate, the link it shares with
// the others (chunks in parallel, the bandwidth limit), time left, state and buttons. Rows
// are created once and patched in place at most once per animation frame, only for the
// uploads that changed. An upload that starts or stops waiting for the network is also
// announced to screen readers (one message per frame, for all the rows that changed).

import type { Backend } from "../backend.js";
import { copyText } from "../clipboard.js";
import { announce, byId, h, icon, iconButton, setAttr, setText, show, within } from "../dom.js";
import { describeError } from "../errors.js";
import {
  formatBytes,
  formatBytesOf,
  formatEta,
  formatPercent,
  formatRate,
  formatWaiting,
  plural,
} from "../format.js";
import { linkDetail, linkSummary } from "../link.js";
import {
  canCancel,
  canPause,
  canResume,
  isActive as isActiveState,
  isFinished,
  stateLabel,
  type StoreChange,
  type UploadStore,
} from "../state.js";
import type { ParallelChunks, Settings, UploadRow } from "../types.js";

interface Row {
  element: HTMLLIElement;
  name: HTMLElement;
  size: HTMLElement;
  state: HTMLElement;
  bar: HTMLElement;
  acked: HTMLElement;
  sent: HTMLElement;
  bytes: HTMLElement;
  speed: HTMLElement;
  link: HTMLElement;
  eta: HTMLElement;
  percent: HTMLElement;
  error: HTMLElement;
  offline: HTMLElement;
  /** The state last drawn, to announce a change into or out of waiting for the network. */
  shownState: UploadRow["state"] | null;
  asset: HTMLElement;
  assetId: HTMLElement;
  assetUrl: HTMLElement;
  buttons: Record<"pause" | "resume" | "cancel" | "remove", HTMLButtonElement>;
}

type Action = "pause" | "resume" | "cancel" | "remove";

export interface QueueView {
  /** Takes the settings, for what the uploading rows say about the link. */
  showSettings(settings: Settings): void;
}

export function mountQueue(
  backend: Backend,
  store: UploadStore,
  onError: (error: unknown, subject?: string) => void,
  onCountChange: (count: number) => void,
): QueueView {
  const list = byId<HTMLUListElement>("queue");
  const empty = byId("queue-empty");
  const summary = byId("queue-summary");
  const rows = new Map<string, Row>();
  let pendingIds = new Set<string>();
  let pendingStructure = true;
  let pendingSelection = true;
  let frame = 0;
  let limit: number | null = null;
  let parallel: ParallelChunks | null = null;
  /** What this frame's row updates have to tell screen readers. */
  let news: string[] = [];

  function schedule(change: StoreChange): void {
    for (const id of change.ids) pendingIds.add(id);
    pendingStructure ||= change.structural;
    pendingSelection ||= change.selection;
    if (frame === 0) frame = window.requestAnimationFrame(flush);
  }

  function flush(): void {
    frame = 0;
    if (pendingStructure) reconcile();
    for (const id of pendingIds) {
      const upload = store.get(id);
      const row = rows.get(id);
      if (upload !== undefined && row !== undefined) update(row, upload);
    }
    if (pendingSelection || pendingStructure) markSelection();
    pendingIds = new Set();
    pendingStructure = false;
    pendingSelection = false;
    if (news.length > 0) announce(news.join(". "));
    news = [];
    const s = store.summary();
    const parts = [plural(s.total, "upload")];
    if (s.active > 0) parts.push(`${s.active} sending`);
    if (s.waiting > 0) parts.push(`${s.waiting} waiting for network`);
    if (s.completed > 0) parts.push(`${s.completed} done`);
    if (s.failed > 0) parts.push(`${s.failed} failed`);
    setText(summary, s.total > 0 ? parts.join(" · ") : "");
  }

  function reconcile(): void {
    const order = store.ordered();
    const keep = new Set(order.map((u) => u.id));
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        row.element.remove();
        rows.delete(id);
      }
    }
    let previous: Element | null = null;
    for (const upload of order) {
      let row = rows.get(upload.id);
      if (row === undefined) {
        row = createRow(upload.id);
        rows.set(upload.id, row);
        update(row, upload);
      }
      const expected: Element | null = previous === null ? list.firstElementChild : previous.nextElementSibling;
      if (expected !== row.element) list.insertBefore(row.element, expected);
      previous = row.element;
    }
    show(empty, order.length === 0);
    onCountChange(order.length);
  }

  function markSelection(): void {
    const selected = store.selectedId;
    for (const [id, row] of rows) {
      const on = id === selected;
      row.element.classList.toggle("selected", on);
      if (on) setAttr(row.element, "aria-current", "true");
      else row.element.removeAttribute("aria-current");
    }
  }

  async function act(id: string, action: Action, button: HTMLButtonElement): Promise<void> {
    const upload = store.get(id);
    button.disabled = true;
    try {
      // The new state arrives as a progress event; the commands' answers may be older than
      // the events (they travel separately), so they are not applied.
      if (action === "pause") await backend.pauseUpload(id);
      else if (action === "resume") await backend.continueUpload(id);
      else if (action === "cancel") await backend.cancelUpload(id);
      else {
        await backend.removeUpload(id);
        store.remove(id);
        announce(`${upload?.fileName ?? "Upload"} removed from the list`);
      }
    } catch (error) {
      onError(error, upload?.fileName);
    } finally {
      button.disabled = false;
    }
  }

  function createRow(id: string): Row {
    const buttons = {
      pause: iconButton("pause", "Pause", "pause row-button"),
      resume: iconButton("play", "Resume", "resume row-button"),
      cancel: iconButton("close", "Cancel", "cancel row-button"),
      remove: iconButton("trash", "Remove from list", "remove row-button"),
    };
    const copy = h("button", { type: "button", class: "copy-asset button small" });
    copy.append(icon("copy"), h("span", { class: "label" }, "Copy id"));
    const element = h(
      "li",
      { class: "upload", "data-id": id, tabindex: 0 },
      h(
        "div",
        { class: "row-top" },
        h("span", { class: "file-icon" }, icon("film")),
        h("div", { class: "title" }, h("span", { class: "name" }), h("span", { class: "size" })),
        h("span", { class: "state pill" }),
        h("div", { class: "actions" }, buttons.pause, buttons.resume, buttons.cancel, buttons.remove),
      ),
      h(
        "div",
        { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 },
        h("div", { class: "progress-sent" }),
        h("div", { class: "progress-acked" }),
      ),
      h(
        "div",
        { class: "row-meta" },
        h("span", { class: "bytes" }),
        h("span", { class: "speed" }),
        h("span", { class: "link" }),
        h("span", { class: "eta" }),
        h("span", { class: "percent" }),
      ),
      h("p", { class: "row-error", hidden: true }),
      h("p", { class: "row-offline", hidden: true }),
      h(
        "div",
        { class: "asset", hidden: true },
        h("span", { class: "asset-label" }, "Asset"),
        h("code", { class: "asset-id" }),
        copy,
        h("span", { class: "asset-url" }),
      ),
    );
    for (const [action, button] of Object.entries(buttons) as [Action, HTMLButtonElement][]) {
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        void act(id, action, button);
      });
    }
    copy.addEventListener("click", (event) => {
      event.stopPropagation();
      const assetId = store.get(id)?.assetId;
      if (assetId !== null && assetId !== undefined) void copyText(assetId, copy);
    });
    element.addEventListener("click", () => store.select(id));
    element.addEventListener("keydown", (event) => onRowKey(event, id, element));
    return {
      element,
      name: within(element, ".name"),
      size: within(element, ".size"),
      state: within(element, ".state"),
      bar: within(element, ".progress"),
      acked: within(element, ".progress-acked"),
      sent: within(element, ".progress-sent"),
      bytes: within(element, ".bytes"),
      speed: within(element, ".speed"),
      link: within(element, ".link"),
      eta: within(element, ".eta"),
      percent: within(element, ".percent"),
      error: within(element, ".row-error"),
      offline: within(element, ".row-offline"),
      shownState: null,
      asset: within(element, ".asset"),
      assetId: within(element, ".asset-id"),
      assetUrl: within(element, ".asset-url"),
      buttons,
    };
  }

  function onRowKey(event: KeyboardEvent, id: string, element: HTMLElement): void {
    if (event.target !== element) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      store.select(id);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = (event.key === "ArrowDown" ? element.nextElementSibling : element.previousElementSibling) as
        | HTMLElement
        | null;
      const nextId = next?.dataset["id"];
      if (next !== null && nextId !== undefined) {
        next.focus();
        store.select(nextId);
      }
    }
  }

  function update(row: Row, u: UploadRow): void {
    const total = Math.max(0, u.totalBytes);
    const percent = store.displayPercent(u.id);
    const acked = store.displayAcked(u.id);
    const sending = u.state === "uploading" || u.state === "starting";
    setAttr(row.element, "data-state", u.state);
    setText(row.name, u.fileName);
    setAttr(row.name, "title", u.path);
    setText(row.size, formatBytes(total));
    setText(row.state, stateLabel(u.state));

    const solid = percent / 100;
    const inFlight = total > 0 ? Math.min(1, Math.max(solid, u.bytesSent / total)) : solid;
    row.acked.style.transform = `scaleX(${solid.toFixed(4)})`;
    row.sent.style.transform = `scaleX(${(sending ? inFlight : solid).toFixed(4)})`;
    const percentText = formatPercent(percent);
    setAttr(row.bar, "aria-valuenow", String(Math.floor(percent)));
    setAttr(row.bar, "aria-valuetext", `${percentText}, ${formatBytesOf(acked, total)} confirmed`);
    const wire = Math.min(total, Math.max(acked, u.bytesSent));
    setAttr(
      row.bar,
      "title",
      sending ? `${formatBytes(acked)} confirmed · ${formatBytes(wire - acked)} on the wire` : "",
    );
    setAttr(row.bar, "aria-label", `Progress of ${u.fileName}`);

    setText(row.bytes, u.state === "completed" ? `${formatBytes(total)} uploaded` : formatBytesOf(acked, total));
    setText(row.speed, sending && u.bytesPerSecond > 0 ? formatRate(u.bytesPerSecond) : "");
    setText(row.link, linkSummary(u, limit));
    setAttr(row.link, "title", linkDetail(u, parallel));
    const eta = sending ? formatEta(u.etaSeconds) : null;
    setText(row.eta, eta !== null ? `${eta} left` : "");
    setText(row.percent, percentText);

    const failed = u.state === "failed" && u.error !== null;
    show(row.error, failed);
    if (failed && u.error !== null) {
      const text = describeError(u.error);
      setText(row.error, `${text.title}: ${text.detail}${text.action !== null ? ` ${text.action}` : ""}`);
    }

    const waiting = u.state === "waitingForNetwork";
    show(row.offline, waiting);
    const since = formatWaiting(u.offlineSinceMs);
    if (waiting) setText(row.offline, `${since}. The upload goes on by itself when the connection is back.`);
    if (row.shownState !== null && row.shownState !== u.state) {
      if (waiting) news.push(`${u.fileName}: ${since.toLowerCase()}; it goes on by itself when the connection is back`);
      else if (row.shownState === "waitingForNetwork" && isActiveState(u.state)) {
        news.push(`${u.fileName}: the network is back, uploading again`);
      }
    }
    row.shownState = u.state;

    const hasAsset = u.assetId !== null && (u.state === "completed" || u.state === "processing");
    show(row.asset, hasAsset);
    if (hasAsset) {
      setText(row.assetId, u.assetId ?? "");
      setText(row.assetUrl, u.assetUrl ?? (u.state === "processing" ? "Processing…" : ""));
      setAttr(row.assetUrl, "title", u.assetUrl ?? "");
    }

    show(row.buttons.pause, canPause(u.state));
    show(row.buttons.resume, canResume(u.state));
    show(row.buttons.cancel, canCancel(u.state));
    show(row.buttons.remove, isFinished(u.state));
  }

  store.subscribe(schedule);
  flush();

  return {
    showSettings(settings) {
      if (settings.bandwidthLimit === limit && settings.parallelChunks === parallel) return;
      limit = settings.bandwidthLimit;
      parallel = settings.parallelChunks;
      schedule({ ids: new Set(rows.keys()), structural: false, selection: false });
    },
  };
}
