// The header: where uploads go (a sandbox badge, or the API host), the overall transfer rate,
// and the settings button.

import { byId, icon, setText, show } from "../dom.js";
import { formatRate, hostOf, plural } from "../format.js";
import type { Settings } from "../types.js";

export interface Header {
  showSettings(settings: Settings): void;
  /** `active` uploads sending at `rate` together, `waiting` more waiting for the network. */
  showActivity(active: number, rate: number, waiting: number): void;
}

export function mountHeader(onOpenSettings: () => void): Header {
  const sandbox = byId("sandbox-badge");
  const remote = byId("endpoint-host");
  const remoteText = byId("endpoint-host-text");
  const activity = byId("activity");
  const button = byId<HTMLButtonElement>("settings-button");
  button.prepend(icon("settings"));
  sandbox.prepend(icon("shield", "icon badge-icon"));
  remote.prepend(icon("globe", "icon badge-icon"));
  button.addEventListener("click", onOpenSettings);

  return {
    showSettings(settings) {
      const isSandbox = settings.endpoint === "sandbox";
      show(sandbox, isSandbox);
      show(remote, !isSandbox);
      setText(remoteText, hostOf(settings.baseUrl));
      remote.title = settings.hasApiKey
        ? `Uploading to ${settings.baseUrl} with the API key from the OS keychain`
        : `Uploading to ${settings.baseUrl}`;
      sandbox.title = `The embedded sandbox at ${settings.baseUrl} stores uploads on this computer`;
    },
    showActivity(active, rate, waiting) {
      const parts: string[] = [];
      if (active > 0) parts.push(`${active} sending · ${formatRate(rate)}`);
      if (waiting > 0) parts.push(`${plural(waiting, "upload")} waiting for network`);
      show(activity, parts.length > 0);
      activity.classList.toggle("waiting", active === 0 && waiting > 0);
      setText(activity, parts.join(" · "));
    },
  };
}
