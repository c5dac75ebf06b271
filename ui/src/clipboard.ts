// Copying an asset id, with a visible and announced confirmation on the button.

import { announce, h } from "./dom.js";

/** Copies text to the clipboard (with a fallback for webviews without the async API). */
export async function copyText(text: string, button: HTMLButtonElement): Promise<void> {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    const area = h("textarea", { class: "clipboard-fallback", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
  }
  const label = button.querySelector(".label");
  if (label === null) return;
  label.textContent = ok ? "Copied" : "Copy failed";
  button.classList.toggle("copied", ok);
  announce(ok ? "Asset id copied" : "Could not copy; select the id and copy it by hand");
  window.setTimeout(() => {
    label.textContent = "Copy id";
    button.classList.remove("copied");
  }, 2000);
}
