import type { CallRecord } from "../bindings";

/** Who the call was with, as a person reads it: the name if known, else the number, else the address. */
export function who(c: Pick<CallRecord, "displayName" | "number" | "remoteUri">): string {
  return c.displayName.trim() || c.number.trim() || c.remoteUri.replace(/^sips?:/, "");
}

/** What happened, in words (for the list and for screen readers). */
export function outcome(c: Pick<CallRecord, "direction" | "disposition" | "sipCode">): string {
  const incoming = c.direction === "incoming";
  switch (c.disposition) {
    case "answered":
      return incoming ? "Incoming" : "Outgoing";
    case "missed":
      return "Missed";
    case "rejected":
      return "Declined";
    case "busy":
      return "Busy";
    case "failed":
      return c.sipCode ? `Failed (${c.sipCode})` : "Failed";
    case "cancelled":
      return "Not answered";
    case "interrupted":
      return "Interrupted";
    case "ongoing":
      return "In progress";
  }
}

/** A talk time as m:ss (h:mm:ss past an hour); empty when the call was not answered. */
export function duration(secs: number | null): string {
  if (secs === null || !Number.isFinite(secs) || secs < 0) return "";
  const s = Math.round(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** When, relative to `now`: the time today, "Yesterday HH:MM", else the date. */
export function when(startedAt: number, now: Date = new Date(), locale?: string): string {
  const t = new Date(startedAt);
  const time = t.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(t)) / 86_400_000);
  if (days === 0) return time;
  if (days === 1) return `Yesterday ${time}`;
  return t.toLocaleDateString(locale, { year: "numeric", month: "short", day: "numeric" });
}
