// Small DOM helpers shared by the views: element creation, icons, text updates that skip
// unchanged values, and the screen-reader announcer.

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

/** Creates an element: `h("button", { class: "pause", type: "button" }, "Pause")`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** Finds a required element by id, with the type the caller expects. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** Finds a required descendant. */
export function within<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const element = root.querySelector(selector);
  if (element === null) throw new Error(`missing ${selector}`);
  return element as T;
}

/** Sets text only when it changed (avoids needless layout work at 10 updates a second). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** Sets an attribute only when it changed. */
export function setAttr(element: Element, name: string, value: string): void {
  if (element.getAttribute(name) !== value) element.setAttribute(name, value);
}

/** Shows or hides an element with the `hidden` attribute. */
export function show(element: HTMLElement, visible: boolean): void {
  if (element.hidden === visible) element.hidden = !visible;
}

const SVG = "http://www.w3.org/2000/svg";

/** Icon outlines on a 24 × 24 grid, drawn with a 2 px stroke in the current colour. */
const ICONS = {
  pause: "M9 5v14M15 5v14",
  play: "M8 5.5v13l10.5-6.5z",
  close: "M6.5 6.5l11 11M17.5 6.5l-11 11",
  trash: "M4.5 7h15M10 7V4.5h4V7M6.5 7l1 12.5h9l1-12.5M10.5 11v5M13.5 11v5",
  copy: "M9 9h10.5v10.5H9zM15 9V4.5H4.5V15H9",
  check: "M5 12.5l4.5 4.5L19 7.5",
  settings:
    "M4 7h9M17 7h3M4 17h3M11 17h9M15 4.5v5M9 14.5v5",
  upload: "M12 15.5V4.5M7.5 9l4.5-4.5L16.5 9M4.5 15v3.5a1 1 0 0 0 1 1h13a1 1 0 0 0 1-1V15",
  film:
    "M4.5 4.5h15v15h-15zM8 4.5v15M16 4.5v15M4.5 9.5H8M4.5 14.5H8M16 9.5h3.5M16 14.5h3.5",
  refresh: "M19.5 12a7.5 7.5 0 1 1-2.2-5.3M19.5 4.5v4.5H15",
  folder: "M3.5 7.5a1.5 1.5 0 0 1 1.5-1.5h4l2 2h8a1.5 1.5 0 0 1 1.5 1.5v8A1.5 1.5 0 0 1 19 18.5H5A1.5 1.5 0 0 1 3.5 17z",
  alert: "M12 3.5l9 16H3zM12 10v4.5M12 17v.5",
  info: "M12 3.5a8.5 8.5 0 1 1 0 17 8.5 8.5 0 0 1 0-17zM12 11v5.5M12 7.5v.5",
  shield: "M12 3.5l7.5 3v5.5c0 4.5-3.2 7.4-7.5 8.5-4.3-1.1-7.5-4-7.5-8.5V6.5zM9 12l2.2 2.2L15.5 10",
  globe:
    "M12 3.5a8.5 8.5 0 1 1 0 17 8.5 8.5 0 0 1 0-17zM3.5 12h17M12 3.5c2.8 2.6 2.8 14.4 0 17M12 3.5c-2.8 2.6-2.8 14.4 0 17",
  link: "M10 14l4-4M8.5 11.5l-2 2a3.2 3.2 0 0 0 4.5 4.5l2-2M15.5 12.5l2-2A3.2 3.2 0 0 0 13 6l-2 2",
} as const;

export type IconName = keyof typeof ICONS;

/** An inline SVG icon, hidden from screen readers (its button carries the label). */
export function icon(name: IconName, className = "icon"): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** A button with an icon and a visible or screen-reader-only label. */
export function iconButton(
  name: IconName,
  label: string,
  className: string,
  options: { text?: boolean } = {},
): HTMLButtonElement {
  const button = h("button", { type: "button", class: className, title: label });
  button.append(icon(name));
  if (options.text === true) {
    button.append(h("span", { class: "label" }, label));
  } else {
    button.setAttribute("aria-label", label);
  }
  return button;
}

/** Says something to screen readers through the page's polite live region. */
export function announce(message: string): void {
  const region = document.getElementById("announcer");
  if (region === null) return;
  region.textContent = "";
  // A fresh text node after clearing makes repeated messages announce again.
  window.setTimeout(() => {
    region.textContent = message;
  }, 30);
}
