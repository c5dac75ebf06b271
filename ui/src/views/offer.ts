// The start-up offer (`#resume-offer`): "2 uploads were interrupted. Resume them?" with
// Resume all and a dismiss button. Offered once, at start; it goes away by itself once none
// of its sessions is left to resume (resumed one by one, or forgotten).

import { byId, icon, setText, show } from "../dom.js";
import { directlyResumable, offerText } from "../sessions-model.js";
import type { SessionRow } from "../types.js";
import type { SessionsView } from "./sessions.js";

export interface ResumeOffer {
  /** Offers to resume what can be resumed without questions (once per app start). */
  offer(sessions: readonly SessionRow[]): void;
  /** Follows the list: updates the count, hides the offer when nothing is left. */
  sync(sessions: readonly SessionRow[]): void;
}

export function mountResumeOffer(view: () => SessionsView): ResumeOffer {
  const element = byId("resume-offer");
  const text = byId("resume-offer-text");
  const resumeAll = byId<HTMLButtonElement>("resume-all");
  const dismiss = byId<HTMLButtonElement>("dismiss-offer");
  element.prepend(icon("refresh", "icon banner-icon"));
  let ready: SessionRow[] = [];
  let offered = false;

  function render(): void {
    const sentence = offerText(ready.length);
    if (sentence === null) {
      show(element, false);
      return;
    }
    setText(text, sentence);
  }

  resumeAll.addEventListener("click", async () => {
    resumeAll.disabled = true;
    dismiss.disabled = true;
    for (const session of [...ready]) await view().resume(session);
    show(element, false);
    resumeAll.disabled = false;
    dismiss.disabled = false;
  });
  dismiss.addEventListener("click", () => show(element, false));

  return {
    offer(sessions) {
      if (offered) return;
      offered = true;
      ready = directlyResumable(sessions);
      if (ready.length > 0) {
        render();
        show(element, true);
      }
    },
    sync(sessions) {
      if (element.hidden) return;
      const still = new Set(directlyResumable(sessions).map((s) => s.uploadId));
      ready = ready.filter((s) => still.has(s.uploadId));
      render();
    },
  };
}
