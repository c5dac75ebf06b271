// The drop zone and the "Add files" button. OS drops arrive through the backend (Tauri's
// webview drag-and-drop events carry real paths); a drop anywhere on the window counts, and
// the zone lights up while files hover over the window.

import type { Backend } from "../backend.js";
import { byId, icon } from "../dom.js";

export interface DropZone {
  /** Makes the zone a slim bar once the queue has rows, and large when it is empty. */
  setCompact(compact: boolean): void;
}

export function mountDropZone(
  backend: Backend,
  addPaths: (paths: string[]) => void,
  onError: (error: unknown) => void,
): DropZone {
  const zone = byId("drop-zone");
  const addButton = byId<HTMLButtonElement>("add-files");
  const hint = byId("drop-hint");
  byId("drop-icon").append(icon("upload", "icon drop-icon"));
  addButton.prepend(icon("folder"));

  let picking = false;
  async function pick(): Promise<void> {
    if (picking) return;
    picking = true;
    try {
      const paths = await backend.pickFiles();
      if (paths.length > 0) addPaths(paths);
    } catch (error) {
      onError(error);
    } finally {
      picking = false;
    }
  }
  addButton.addEventListener("click", () => void pick());
  // The zone itself is a big mouse target; keyboard users have the button (one tab stop).
  zone.addEventListener("click", (event) => {
    if (event.target === addButton || addButton.contains(event.target as Node)) return;
    void pick();
  });

  function setDragging(on: boolean, count = 0): void {
    zone.classList.toggle("dragging", on);
    document.body.classList.toggle("dragging", on);
    hint.textContent = on
      ? count > 1
        ? `Drop to upload ${count} files`
        : "Drop to upload"
      : "Drop videos here";
  }

  backend
    .onDragDrop((event) => {
      switch (event.type) {
        case "enter":
          setDragging(true, event.paths.length);
          break;
        case "over":
          if (!zone.classList.contains("dragging")) setDragging(true);
          break;
        case "drop":
          setDragging(false);
          if (event.paths.length > 0) addPaths(event.paths);
          break;
        case "leave":
          setDragging(false);
          break;
      }
    })
    .catch(onError);

  return {
    setCompact(compact) {
      zone.classList.toggle("compact", compact);
    },
  };
}
