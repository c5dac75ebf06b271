// "Incomplete uploads" (`#sessions`): unfinished sessions from the journal and the server,
// with their progress, expiry countdown, Resume (at once, or after choosing the file) and
// Forget. Refreshed on `sessions://changed`, on the Refresh button, and after each action.

import { resumeSession } from "../actions.js";
import type { Backend } from "../backend.js";
import { announce, byId, h, icon, iconButton, setText, show } from "../dom.js";
import { describeError, toCommandError } from "../errors.js";
import { baseName, formatAgo, formatBytes, formatBytesOf, formatExpiry } from "../format.js";
import { orderSessions, resumeMode, sessionHint, sessionLabel } from "../sessions-model.js";
import type { SessionRow, UploadRow } from "../types.js";

export interface SessionsView {
  /** Reloads the list; resolves with the sessions shown. */
  refresh(): Promise<SessionRow[]>;
  /** Hides the sessions that have a row in the queue (it resumes them too); redraws. */
  hideQueued(uploadIds: ReadonlySet<string>): void;
  /** Resumes a session the way its state allows (used by the start-up offer too). */
  resume(session: SessionRow): Promise<boolean>;
}

export function mountSessions(
  backend: Backend,
  onResumed: (upload: UploadRow) => void,
  onError: (error: unknown, subject?: string) => void,
  onListChange: (sessions: readonly SessionRow[]) => void = () => {},
): SessionsView {
  const list = byId<HTMLUListElement>("sessions");
  const empty = byId("sessions-empty");
  const count = byId("sessions-count");
  const refreshButton = byId<HTMLButtonElement>("refresh-sessions");
  refreshButton.prepend(icon("refresh"));
  let all: SessionRow[] = [];
  let sessions: SessionRow[] = [];
  let queued: ReadonlySet<string> = new Set();
  let loading: Promise<SessionRow[]> | null = null;
  let again = false;

  function nameOf(s: SessionRow): string {
    if (s.fileName !== null) return s.fileName;
    if (s.filePath !== null) return baseName(s.filePath);
    return `Unknown file of ${formatBytes(s.totalBytes)}`;
  }

  /** Expiry text, marked "soon" in the last 3 hours so it stands out. */
  function expiryInto(element: HTMLElement, expiresAt: number | null, now: number): void {
    const text = formatExpiry(expiresAt, now);
    setText(element, text ?? "");
    const soon = expiresAt !== null && expiresAt - now / 1000 < 3 * 3600;
    element.classList.toggle("soon", soon);
  }

  const emptyText = empty.textContent ?? "";
  let loaded = false;

  async function load(): Promise<SessionRow[]> {
    refreshButton.disabled = true;
    list.setAttribute("aria-busy", "true");
    if (!loaded) setText(empty, "Looking for interrupted uploads…");
    try {
      all = orderSessions(await backend.listResumable());
      render();
      setText(empty, emptyText);
      empty.classList.remove("error");
    } catch (error) {
      onError(error);
      // Say it where the list would be, too: "no incomplete uploads" would be untrue.
      const text = describeError(toCommandError(error));
      setText(empty, `The incomplete uploads could not be listed. ${text.title}: ${text.detail}`);
      empty.classList.add("error");
      show(empty, all.length === 0);
    } finally {
      loaded = true;
      refreshButton.disabled = false;
      list.removeAttribute("aria-busy");
    }
    return sessions;
  }

  // One load at a time; a refresh asked for meanwhile runs once after it.
  function refresh(): Promise<SessionRow[]> {
    if (loading !== null) {
      again = true;
      return loading;
    }
    loading = load().finally(() => {
      loading = null;
      if (again) {
        again = false;
        void refresh();
      }
    });
    return loading;
  }

  async function resume(session: SessionRow): Promise<boolean> {
    try {
      const upload = await resumeSession(backend, session, nameOf(session));
      if (upload === null) return false;
      onResumed(upload);
      announce(`Resuming ${upload.fileName}`);
      return true;
    } catch (error) {
      onError(error, nameOf(session));
      return false;
    } finally {
      void refresh();
    }
  }

  async function forget(session: SessionRow): Promise<void> {
    try {
      await backend.forgetSession(session.uploadId);
      announce(`Forgot ${nameOf(session)}`);
    } catch (error) {
      onError(error, nameOf(session));
    } finally {
      void refresh();
    }
  }

  function row(s: SessionRow, now: number): HTMLLIElement {
    const mode = resumeMode(s);
    const percent = s.totalBytes > 0 ? Math.min(1, s.bytesDone / s.totalBytes) : 0;
    const bar = h("div", { class: "progress-acked" });
    bar.style.transform = `scaleX(${percent.toFixed(4)})`;
    const resumeButton = h("button", {
      type: "button",
      class: `resume-session button small${mode === "direct" ? " primary" : ""}`,
    });
    resumeButton.append(
      icon(mode === "chooseFile" ? "folder" : "play"),
      h("span", { class: "label" }, mode === "chooseFile" ? "Choose file…" : "Resume"),
    );
    resumeButton.hidden = mode === "none";
    resumeButton.addEventListener("click", () => {
      resumeButton.disabled = true;
      void resume(s).finally(() => {
        resumeButton.disabled = false;
      });
    });
    const forgetButton = iconButton("trash", "Forget", "forget-session button small quiet", { text: true });
    let armed = 0;
    forgetButton.addEventListener("click", () => {
      const label = forgetButton.querySelector(".label");
      // Two steps: forgetting cannot be undone.
      if (armed === 0) {
        if (label !== null) label.textContent = "Really forget?";
        forgetButton.classList.add("armed");
        armed = window.setTimeout(() => {
          armed = 0;
          if (label !== null) label.textContent = "Forget";
          forgetButton.classList.remove("armed");
        }, 4000);
        return;
      }
      window.clearTimeout(armed);
      forgetButton.disabled = true;
      void forget(s);
    });
    forgetButton.hidden = s.active;

    const expiry = formatExpiry(s.expiresAt, now);
    const expiryElement = (at: number | null, when: number): HTMLElement => {
      const element = h("span", { class: "session-expiry", "data-expires-at": at ?? "" });
      expiryInto(element, at, when);
      return element;
    };
    const started = formatAgo(s.createdAt, now);
    return h(
      "li",
      { class: "session", "data-upload-id": s.uploadId, "data-state": s.state, "data-active": s.active },
      h(
        "div",
        { class: "row-top" },
        h("span", { class: "file-icon" }, icon("film")),
        h(
          "div",
          { class: "title" },
          h("span", { class: "session-name name" }, nameOf(s)),
          h(
            "span",
            { class: "session-path", title: s.filePath ?? s.uploadId },
            s.filePath ?? `Session ${s.uploadId}, known only to the server`,
          ),
        ),
        h("span", { class: "session-state pill" }, sessionLabel(s)),
        h("div", { class: "actions" }, resumeButton, forgetButton),
      ),
      h(
        "div",
        {
          class: "progress mini",
          role: "progressbar",
          "aria-valuemin": 0,
          "aria-valuemax": 100,
          "aria-valuenow": Math.floor(percent * 100),
          "aria-label": `Already uploaded of ${nameOf(s)}`,
        },
        bar,
      ),
      h(
        "div",
        { class: "row-meta" },
        h("span", { class: "session-progress" }, `${s.chunksDone} of ${s.totalChunks} chunks · ${formatBytesOf(s.bytesDone, s.totalBytes)}`),
        started !== null ? h("span", { class: "session-started" }, `started ${started}`) : null,
        expiry !== null ? expiryElement(s.expiresAt, now) : null,
      ),
      h("p", { class: "session-hint" }, sessionHint(s)),
    );
  }

  function render(): void {
    const now = Date.now();
    // Sessions being uploaded, or with a row in the queue, are handled there: listing them
    // twice confuses.
    sessions = all.filter((s) => !s.active && !queued.has(s.uploadId));
    // Keep keyboard focus on the same button of the same session across the re-render.
    const focused = document.activeElement;
    const focusedRow = focused instanceof HTMLElement ? focused.closest<HTMLElement>("li.session") : null;
    const focusedId = focusedRow?.dataset["uploadId"];
    const focusedClass = focused instanceof HTMLElement ? focused.classList[0] : undefined;
    list.replaceChildren(...sessions.map((s) => row(s, now)));
    if (focusedId !== undefined && focusedClass !== undefined) {
      for (const li of list.querySelectorAll<HTMLElement>("li.session")) {
        if (li.dataset["uploadId"] !== focusedId) continue;
        const target = li.querySelector<HTMLElement>(`.${focusedClass}`);
        if (target !== null && !target.hidden) target.focus();
      }
    }
    show(empty, sessions.length === 0);
    setText(count, sessions.length > 0 ? String(sessions.length) : "");
    onListChange(sessions);
  }

  // The countdowns tick without reloading the list.
  window.setInterval(() => {
    const now = Date.now();
    for (const element of list.querySelectorAll<HTMLElement>(".session-expiry")) {
      const at = Number(element.dataset["expiresAt"]);
      if (Number.isFinite(at)) expiryInto(element, at, now);
    }
  }, 30_000);

  refreshButton.addEventListener("click", () => void refresh());
  backend.onSessionsChanged(() => void refresh()).catch(onError);
  return {
    refresh,
    resume,
    hideQueued(uploadIds) {
      const same = uploadIds.size === queued.size && [...uploadIds].every((id) => queued.has(id));
      if (same) return;
      queued = uploadIds;
      render();
    },
  };
}
