// Bootstrap: create the backend, the store and the views, wire events, load the first state.

import { addPaths, applyProgress, isQuitShortcut, showRefusedFiles } from "./actions.js";
import type { Backend } from "./backend.js";
import { toCommandError } from "./errors.js";
import { tauriBackend } from "./ipc.js";
import { UploadStore } from "./state.js";
import type { Settings } from "./types.js";
import { mountBanners } from "./views/banners.js";
import { mountChunkGrid } from "./views/chunk-grid.js";
import { mountDropZone } from "./views/dropzone.js";
import { mountHeader } from "./views/header.js";
import { mountResumeOffer } from "./views/offer.js";
import { mountQueue } from "./views/queue.js";
import { mountSessions } from "./views/sessions.js";
import { mountSettings } from "./views/settings.js";

export async function start(backend: Backend): Promise<void> {
  const store = new UploadStore();
  let openSettings = (): void => {};
  const banners = mountBanners(document.getElementById("banners") as HTMLElement, () => openSettings());
  const onError = (error: unknown, subject?: string): void => banners.error(toCommandError(error), subject);

  const header = mountHeader(() => openSettings());
  // Set once the queue is mounted; the settings only load after that.
  let showLink = (_settings: Settings): void => {};
  const settingsView = mountSettings(backend, null, (settings) => {
    header.showSettings(settings);
    showLink(settings);
  });
  const showSettings = (settings: Settings): void => {
    header.showSettings(settings);
    showLink(settings);
    settingsView.update(settings);
  };
  openSettings = () => settingsView.open();

  const dropZone = mountDropZone(backend, (paths) => void addPaths(backend, store, banners, paths), onError);
  const offer = mountResumeOffer(() => sessions);

  // The drop zone shrinks to a bar once there is something else to look at.
  let queued = 0;
  let incomplete = 0;
  const compact = (): void => dropZone.setCompact(queued > 0 || incomplete > 0);
  const queueView = mountQueue(backend, store, onError, (count) => {
    queued = count;
    compact();
  });
  showLink = (settings) => queueView.showSettings(settings);
  mountChunkGrid(store);
  const sessions = mountSessions(
    backend,
    (upload) => store.seed(upload),
    onError,
    (list) => {
      incomplete = list.length;
      compact();
      offer.sync(list);
    },
  );

  store.subscribe(() => {
    const summary = store.summary();
    header.showActivity(summary.active, summary.rate, summary.waiting);
    const inQueue = new Set<string>();
    for (const upload of store.ordered()) if (upload.uploadId !== null) inQueue.add(upload.uploadId);
    sessions.hideQueued(inQueue);
  });

  document.addEventListener("keydown", (event) => {
    if (!isQuitShortcut(event)) return;
    event.preventDefault();
    backend.quit().catch(onError);
  });

  // Progress first, so no event is missed between the first list and the subscription.
  await backend
    .onProgress((progress) => applyProgress(store, banners, progress))
    .catch(onError);
  // Files refused from the command line: any kept before the page listened, then each new lot.
  await backend.onFilesRefused(() => void showRefusedFiles(backend, store, banners)).catch(onError);
  void showRefusedFiles(backend, store, banners);

  const [settings, uploads, resumable] = await Promise.allSettled([
    backend.getSettings(),
    backend.listUploads(),
    sessions.refresh(),
  ]);
  if (settings.status === "fulfilled") showSettings(settings.value);
  else onError(settings.reason);
  if (uploads.status === "fulfilled") for (const upload of uploads.value) store.seed(upload);
  else onError(uploads.reason);
  if (resumable.status === "fulfilled") offer.offer(resumable.value);

  // Once the first view is drawn, tell the shell (its log says so, and a startup check waits
  // for it).
  await nextFrameDrawn();
  await backend.uiReady().catch(onError);
}

/** Resolves after the next frame, with what the DOM holds now, has been drawn. */
function nextFrameDrawn(): Promise<void> {
  // The first callback runs before that frame is drawn, the second before the one after it.
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));
}

void start(tauriBackend());
