// Error and notice banners under the header (`#banners`): what happened and what to do,
// each dismissible, announced through the container's live region. Identical banners are
// merged (with a count) so a burst of the same failure does not flood the window.

import { h, icon, iconButton } from "../dom.js";
import { describeError } from "../errors.js";
import type { CommandError } from "../types.js";

const MAX_BANNERS = 4;
const NOTICE_MS = 6000;

export interface Banners {
  /** Shows a command or upload error; `subject` names the file when known. */
  error(error: CommandError, subject?: string): void;
  /** Shows a short notice that goes away by itself. */
  notice(text: string): void;
  /** Removes every banner. */
  clear(): void;
}

export function mountBanners(root: HTMLElement, onOpenSettings: () => void): Banners {
  const byKey = new Map<string, { element: HTMLElement; count: number }>();

  function remove(key: string): void {
    const entry = byKey.get(key);
    if (entry === undefined) return;
    byKey.delete(key);
    entry.element.remove();
  }

  function add(key: string, element: HTMLElement): void {
    const existing = byKey.get(key);
    if (existing !== undefined) {
      existing.count += 1;
      const badge = existing.element.querySelector(".banner-count");
      if (badge !== null) badge.textContent = `×${existing.count}`;
      // Move it to the top so the repeat is noticed.
      root.prepend(existing.element);
      return;
    }
    byKey.set(key, { element, count: 1 });
    root.prepend(element);
    while (byKey.size > MAX_BANNERS) {
      const oldest = byKey.keys().next().value;
      if (oldest === undefined) break;
      remove(oldest);
    }
  }

  function dismissButton(key: string): HTMLButtonElement {
    const button = iconButton("close", "Dismiss", "banner-dismiss");
    button.addEventListener("click", () => remove(key));
    return button;
  }

  return {
    error(error, subject) {
      const text = describeError(error, subject);
      const key = `error|${text.title}|${text.detail}`;
      const body = h(
        "div",
        { class: "banner-body" },
        h("p", { class: "banner-title" }, text.title, h("span", { class: "banner-count" })),
        text.detail.length > 0 ? h("p", { class: "banner-detail" }, text.detail) : null,
        text.action !== null ? h("p", { class: "banner-action" }, text.action) : null,
      );
      const element = h(
        "div",
        { class: "banner error", "data-code": error.code },
        icon("alert", "icon banner-icon"),
        body,
      );
      if (text.offer === "settings") {
        const open = h("button", { type: "button", class: "button small banner-open-settings" }, "Open Settings");
        open.addEventListener("click", onOpenSettings);
        element.append(open);
      }
      element.append(dismissButton(key));
      add(key, element);
    },

    notice(message) {
      const key = `notice|${message}`;
      const element = h(
        "div",
        { class: "banner notice" },
        icon("info", "icon banner-icon"),
        h("div", { class: "banner-body" }, h("p", { class: "banner-title" }, message)),
        dismissButton(key),
      );
      remove(key);
      add(key, element);
      window.setTimeout(() => {
        if (byKey.get(key)?.element === element) remove(key);
      }, NOTICE_MS);
    },

    clear() {
      for (const key of [...byKey.keys()]) remove(key);
    },
  };
}
