// The settings dialog (`#settings`): endpoint, API key (write-only: saved to the OS keychain
// and never shown back), the link all uploads share (parallel chunks, automatic or fixed; a
// bandwidth limit in a unit the user picks; files at once), keeping the computer awake while
// uploading, and the default media type.

import type { Backend } from "../backend.js";
import { byId, icon, setText, show } from "../dom.js";
import { describeError, toCommandError } from "../errors.js";
import { formatProxy, hostOf } from "../format.js";
import {
  FILES_AT_ONCE,
  limitInUnit,
  rateUnit,
  readLimit,
  readParallel,
  type RateUnit,
  type Reading,
} from "../link.js";
import type { Endpoint, MediaType, Settings, SettingsInput } from "../types.js";

export interface SettingsView {
  open(): void;
  /** Takes settings loaded elsewhere (at start), so the dialog opens with them. */
  update(settings: Settings): void;
}

const MEDIA_TYPES: readonly MediaType[] = ["video", "audio", "image"];

/** Where the unit last picked for the bandwidth limit is kept (the shell stores bytes/s). */
const UNIT_KEY = "tl-uploader.bandwidth-unit";

function rememberedUnit(): RateUnit {
  try {
    return rateUnit(window.localStorage.getItem(UNIT_KEY));
  } catch {
    return rateUnit(null);
  }
}

function rememberUnit(unit: RateUnit): void {
  try {
    window.localStorage.setItem(UNIT_KEY, unit.key);
  } catch {
    // Without storage the unit is chosen from the value next time; nothing is lost.
  }
}

export function mountSettings(
  backend: Backend,
  initial: Settings | null,
  onSettings: (settings: Settings) => void,
): SettingsView {
  const dialog = byId<HTMLDialogElement>("settings");
  const form = byId<HTMLFormElement>("settings-form");
  const twelvelabs = byId<HTMLInputElement>("endpoint-twelvelabs");
  const sandbox = byId<HTMLInputElement>("endpoint-sandbox");
  const twelvelabsHost = byId("endpoint-twelvelabs-host");
  const endpointHint = byId("endpoint-hint");
  const keyStatus = byId("api-key-status");
  const keyInput = byId<HTMLInputElement>("api-key");
  const saveKey = byId<HTMLButtonElement>("save-api-key");
  const deleteKey = byId<HTMLButtonElement>("delete-api-key");
  const keychainWarning = byId("keychain-warning");
  const parallelAuto = byId<HTMLInputElement>("parallel-auto");
  const parallelFixed = byId<HTMLInputElement>("parallel-fixed");
  const parallelCount = byId<HTMLInputElement>("parallel-count");
  const noLimit = byId<HTMLInputElement>("bandwidth-none");
  const limited = byId<HTMLInputElement>("bandwidth-limited");
  const limitValue = byId<HTMLInputElement>("bandwidth-value");
  const limitUnit = byId<HTMLSelectElement>("bandwidth-unit");
  const filesAtOnce = byId<HTMLSelectElement>("files-at-once");
  const parallelError = byId("parallel-error");
  const limitError = byId("bandwidth-error");
  const fileType = byId<HTMLSelectElement>("file-type");
  const keepAwake = byId<HTMLInputElement>("keep-awake");
  const message = byId("settings-message");
  const journal = byId("settings-journal");
  const proxy = byId("settings-proxy");
  const logs = byId("settings-logs");
  const cancel = byId<HTMLButtonElement>("settings-cancel");
  const close = byId<HTMLButtonElement>("settings-close");
  close.replaceChildren(icon("close"));
  let current = initial;
  let edited = false;

  function say(text: string, isError = false): void {
    message.classList.toggle("error", isError);
    message.setAttribute("role", isError ? "alert" : "status");
    setText(message, text);
  }

  function sayError(error: unknown): void {
    const text = describeError(toCommandError(error));
    say(`${text.title}: ${text.detail}`, true);
  }

  /** Shows the key state and what it allows, without touching fields the user is editing. */
  function showKeyState(settings: Settings): void {
    setText(
      keyStatus,
      !settings.hasApiKey
        ? "No API key is stored."
        : settings.keychainAvailable
          ? "An API key is stored in the OS keychain."
          : "An API key is in use.",
    );
    keyStatus.classList.toggle("ok", settings.hasApiKey);
    deleteKey.disabled = !settings.hasApiKey;
    show(keychainWarning, !settings.keychainAvailable);
    keyInput.disabled = !settings.keychainAvailable;
    saveKey.disabled = !settings.keychainAvailable || keyInput.value.trim().length === 0;
    twelvelabs.disabled = !settings.hasApiKey;
    setText(
      endpointHint,
      settings.hasApiKey
        ? "Uploads go to the endpoint chosen here."
        : "Save an API key below to upload to TwelveLabs. Until then the local sandbox is used.",
    );
    if (!settings.hasApiKey) sandbox.checked = true;
  }

  function fill(settings: Settings): void {
    current = settings;
    twelvelabs.checked = settings.endpoint === "twelvelabs";
    sandbox.checked = settings.endpoint === "sandbox";
    setText(twelvelabsHost, settings.endpoint === "twelvelabs" ? hostOf(settings.baseUrl) : "api.twelvelabs.io");
    fillLink(settings);
    fileType.value = settings.fileType;
    keepAwake.checked = settings.keepAwake;
    keyInput.value = "";
    setText(journal, settings.journalPath);
    setText(proxy, formatProxy(settings.proxy));
    setText(logs, settings.logDir);
    showKeyState(settings);
  }

  /** Shows the link settings: a fixed count or a limit keeps the number last typed. */
  function fillLink(settings: Settings): void {
    const parallel = settings.parallelChunks;
    parallelAuto.checked = parallel === "auto";
    parallelFixed.checked = parallel !== "auto";
    if (parallel !== "auto") parallelCount.value = String(parallel.fixed);
    const limit = settings.bandwidthLimit;
    noLimit.checked = limit === null;
    limited.checked = limit !== null;
    if (limit !== null) {
      const shown = limitInUnit(limit, rememberedUnit());
      limitValue.value = shown.text;
      limitUnit.value = shown.unit.key;
    } else if (limitValue.value === "") {
      limitUnit.value = rememberedUnit().key;
    }
    filesAtOnce.value = String(settings.filesAtOnce);
    clearError(parallelCount, parallelError);
    clearError(limitValue, limitError);
  }

  /** What to send, or the first field that is wrong (marked, focused and explained). */
  function input(): SettingsInput | null {
    const endpoint: Endpoint = twelvelabs.checked ? "twelvelabs" : "sandbox";
    const type = MEDIA_TYPES.find((t) => t === fileType.value) ?? "video";
    const parallel = checked(
      parallelCount,
      parallelError,
      readParallel(parallelFixed.checked, parallelCount.value),
    );
    if (parallel === null) return null;
    const limit = checked(
      limitValue,
      limitError,
      readLimit(limited.checked, limitValue.value, rateUnit(limitUnit.value)),
    );
    if (limit === null) return null;
    const files = Math.min(FILES_AT_ONCE.max, Math.max(FILES_AT_ONCE.min, Math.round(Number(filesAtOnce.value) || 3)));
    return {
      endpoint,
      parallelChunks: parallel.value,
      bandwidthLimit: limit.value,
      filesAtOnce: files,
      fileType: type,
      keepAwake: keepAwake.checked,
    };
  }

  /**
   * `reading` when it is good; otherwise marks `field`, says why beside it (`error`, which
   * screen readers announce) and gives `null`.
   */
  function checked<T>(field: HTMLInputElement, error: HTMLElement, reading: Reading<T>): { value: T } | null {
    if (reading.ok) {
      clearError(field, error);
      return { value: reading.value };
    }
    field.setAttribute("aria-invalid", "true");
    setText(error, reading.message);
    show(error, true);
    field.focus();
    return null;
  }

  function clearError(field: HTMLInputElement, error: HTMLElement): void {
    field.removeAttribute("aria-invalid");
    show(error, false);
    setText(error, "");
  }

  function busy(on: boolean): void {
    for (const element of form.querySelectorAll<HTMLButtonElement | HTMLInputElement>("button, input, select")) {
      if (on) {
        element.dataset["wasDisabled"] = String(element.disabled);
        element.disabled = true;
      } else {
        element.disabled = element.dataset["wasDisabled"] === "true";
      }
    }
  }

  async function run(action: () => Promise<Settings>, done: string): Promise<boolean> {
    busy(true);
    try {
      const settings = await action();
      busy(false);
      fill(settings);
      onSettings(settings);
      say(done);
      return true;
    } catch (error) {
      busy(false);
      if (current !== null) showKeyState(current);
      sayError(error);
      return false;
    }
  }

  form.addEventListener("input", () => {
    edited = true;
  });
  // Typing a number chooses the option it belongs to.
  for (const [field, option, error] of [
    [parallelCount, parallelFixed, parallelError],
    [limitValue, limited, limitError],
  ] as const) {
    field.addEventListener("input", () => {
      option.checked = true;
      clearError(field, error);
    });
    field.addEventListener("pointerdown", () => {
      option.checked = true;
    });
  }
  limitUnit.addEventListener("change", () => {
    limited.checked = limitValue.value.trim() !== "" || limited.checked;
    rememberUnit(rateUnit(limitUnit.value));
  });
  parallelAuto.addEventListener("change", () => clearError(parallelCount, parallelError));
  noLimit.addEventListener("change", () => clearError(limitValue, limitError));
  keyInput.addEventListener("input", () => {
    saveKey.disabled = keyInput.value.trim().length === 0 || current?.keychainAvailable === false;
  });
  keyInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      if (!saveKey.disabled) saveKey.click();
    }
  });
  saveKey.addEventListener("click", () => {
    const key = keyInput.value.trim();
    if (key.length === 0) return;
    keyInput.value = "";
    void run(() => backend.saveApiKey(key), "API key saved in the OS keychain.");
  });
  deleteKey.addEventListener("click", () => {
    void run(() => backend.deleteApiKey(), "API key deleted from the OS keychain.");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = input();
    if (chosen === null) return;
    void run(() => backend.setSettings(chosen), "Settings saved.").then((ok) => {
      if (ok) dialog.close();
    });
  });
  cancel.addEventListener("click", () => dialog.close());
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    keyInput.value = "";
    say("");
  });
  // A click on the backdrop (outside the dialog's box) closes it, like Escape.
  dialog.addEventListener("click", (event) => {
    if (event.target !== dialog) return;
    const box = dialog.getBoundingClientRect();
    const inside =
      event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) dialog.close();
  });

  if (initial !== null) fill(initial);

  return {
    update(settings) {
      if (!dialog.open) fill(settings);
      else current = settings;
    },
    open() {
      say("");
      edited = false;
      if (current !== null) fill(current);
      if (!dialog.open) dialog.showModal();
      (twelvelabs.checked ? twelvelabs : sandbox).focus();
      // Fresh values (the key may have been changed by another window or the CLI).
      backend
        .getSettings()
        .then((settings) => {
          if (edited) {
            current = settings;
            showKeyState(settings);
          } else {
            fill(settings);
          }
          onSettings(settings);
        })
        .catch(sayError);
    },
  };
}
