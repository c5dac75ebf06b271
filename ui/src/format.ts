// Pure formatting of sizes, rates, durations and times for the UI. No DOM.
//
// Sizes use decimal (SI, 1000-based) units everywhere — KB, MB, GB, TB — the way file
// managers on macOS and GNOME show file sizes, so "3.4 GB" here matches what the user sees
// beside the file on disk.

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"] as const;

/** A byte count with an SI unit: "0 B", "950 B", "1.2 MB", "12.5 GB", "240 GB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return "0 B";
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  let text = value < 100 ? value.toFixed(1) : value.toFixed(0);
  // 999.96 MB rounds to "1000.0"; say "1.0 GB" instead.
  if (Number(text) >= 1000 && unit < UNITS.length - 1) {
    unit += 1;
    text = (value / 1000).toFixed(1);
  }
  return `${text} ${UNITS[unit]}`;
}

/** "1.2 GB of 3.4 GB"; the done part never exceeds the total. */
export function formatBytesOf(done: number, total: number): string {
  const clamped = Math.min(Math.max(done, 0), Math.max(total, 0));
  return `${formatBytes(clamped)} of ${formatBytes(total)}`;
}

/** A transfer rate: "24.5 MB/s"; "—" when there is no rate yet. */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return "—";
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A duration: "< 1 s", "42 s", "3 min 20 s", "12 min", "1 h 5 min", "2 d 3 h". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 1) return "< 1 s";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 600) {
    const m = Math.floor(s / 60);
    const rest = s % 60;
    return rest === 0 ? `${m} min` : `${m} min ${rest} s`;
  }
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    if (m === 60) return `${h + 1} h`;
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.round((s % 86400) / 3600);
  if (h === 24) return `${d + 1} d`;
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/**
 * Time left as a short range, since a rate is only an estimate: "a few seconds",
 * "30–45 s", "3–4 min", "about 12 min", "about 1 h 30 min". `null` when unknown.
 */
export function formatEta(seconds: number | null | undefined): string | null {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return null;
  }
  if (seconds < 10) return "a few seconds";
  const lo = seconds * 0.85;
  const hi = seconds * 1.2;
  if (hi < 60) {
    const a = Math.max(5, Math.floor(lo / 5) * 5);
    const b = Math.ceil(hi / 5) * 5;
    return a >= b ? `about ${b} s` : `${a}–${b} s`;
  }
  if (seconds < 600) {
    const a = Math.max(1, Math.round(lo / 60));
    const b = Math.max(a, Math.round(hi / 60));
    return a === b ? `about ${a} min` : `${a}–${b} min`;
  }
  // Longer estimates: round to 5 minutes and say "about".
  const rounded = Math.round(seconds / 300) * 300;
  return `about ${formatDuration(rounded)}`;
}

/** A whole percentage for display, clamped to 0–100; 100 only when really done. */
export function formatPercent(percentage: number): string {
  if (!Number.isFinite(percentage) || percentage <= 0) return "0%";
  if (percentage >= 100) return "100%";
  return `${Math.min(99, Math.floor(percentage))}%`;
}

/**
 * When a session expires, relative to now: "expires in 5 h", "expires in 23 min",
 * "expires in < 1 min", "expired"; `null` when unknown.
 */
export function formatExpiry(expiresAtSeconds: number | null, nowMs: number): string | null {
  if (expiresAtSeconds === null || !Number.isFinite(expiresAtSeconds)) return null;
  const left = expiresAtSeconds - nowMs / 1000;
  if (left <= 0) return "expired";
  if (left < 60) return "expires in < 1 min";
  if (left < 3600) return `expires in ${Math.floor(left / 60)} min`;
  if (left < 7200) return `expires in 1 h ${Math.floor((left - 3600) / 60)} min`;
  if (left < 172800) return `expires in ${Math.floor(left / 3600)} h`;
  return `expires in ${Math.floor(left / 86400)} d`;
}

/** How long ago a moment was: "just now", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(atSeconds: number | null, nowMs: number): string | null {
  if (atSeconds === null || !Number.isFinite(atSeconds)) return null;
  const ago = nowMs / 1000 - atSeconds;
  if (ago < 60) return "just now";
  if (ago < 3600) return `${Math.floor(ago / 60)} min ago`;
  if (ago < 86400) return `${Math.floor(ago / 3600)} h ago`;
  return `${Math.floor(ago / 86400)} d ago`;
}

/** Which clock to read a time of day on; the user's locale and time zone unless given. */
export interface ClockOptions {
  locale?: string;
  timeZone?: string;
}

/** A time of day the way the user's locale writes it short: "14:02", "2:02 PM"; "" if none. */
export function formatClock(ms: number, options: ClockOptions = {}): string {
  if (!Number.isFinite(ms)) return "";
  const format: Intl.DateTimeFormatOptions = { timeStyle: "short" };
  if (options.timeZone !== undefined) format.timeZone = options.timeZone;
  return new Intl.DateTimeFormat(options.locale, format).format(new Date(ms));
}

/** "Waiting for network since 14:02", or without a time when the shell gave none. */
export function formatWaiting(offlineSinceMs: number | null, options: ClockOptions = {}): string {
  const at = offlineSinceMs === null ? "" : formatClock(offlineSinceMs, options);
  return at === "" ? "Waiting for network" : `Waiting for network since ${at}`;
}

/** The host of an API base URL ("api.twelvelabs.io"), or the text itself if it is no URL. */
export function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).host || baseUrl;
  } catch {
    return baseUrl;
  }
}

/** How requests reach the API: "Direct (no proxy)", or the proxy and where it was set. */
export function formatProxy(proxy: { host: string; source: string } | null): string {
  if (proxy === null) return "Direct (no proxy)";
  const from = proxy.source === "system" ? "the system's proxy settings" : proxy.source;
  return `Through the proxy ${proxy.host} (from ${from})`;
}

/** The last component of a path, for either separator. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

/** "1 upload", "2 uploads". */
export function plural(count: number, one: string, many: string = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
