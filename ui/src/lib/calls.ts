import type { AudioRoute, CallEvent, CallPhase, CallStats, DeviceInfo, EndCause } from "../bindings";

/** One call as the call screen shows it, built from the engine's call events only. */
export interface CallView {
  call: number;
  account: string;
  direction: "in" | "out";
  /** The far end's address as signalling gave it. */
  remote: string;
  /** The far end's number or user, for display. */
  number: string;
  /** The name: from the contacts when known, else the caller's display name, else null. */
  name: string | null;
  phase: CallPhase;
  /** Another call was up when this one rang. */
  waiting: boolean;
  /** We put it on hold / the far end did. */
  localHold: boolean;
  remoteHold: boolean;
  muted: boolean;
  /** The recording's file while one runs. */
  recording: string | null;
  /** When it was answered (ms since the epoch), for the timer. */
  connectedAt: number | null;
  /** The latest quality figures (once a second while the call is up). */
  mos: number | null;
  lossPct: number;
  jitterMs: number;
  /** Why it ended, once it has. */
  ended: EndCause | null;
  /** A transfer's last SIP status (100 trying … 200 done, ≥300 failed). */
  transferStatus: number | null;
  /** The devices the call's audio uses, as the engine last said (null: the system's default). */
  microphone: DeviceInfo | null;
  speaker: DeviceInfo | null;
}

/** Splits `"Ann" <sip:1002@pbx>;tag=x` or `sip:1002@pbx` into a display name and a number. */
export function party(address: string): { name: string | null; number: string } {
  const t = address.trim();
  const quoted = /^"((?:[^"\\]|\\.)*)"\s*</.exec(t);
  const bare = /^([^<"]+?)\s*</.exec(t);
  const name = (quoted?.[1].replace(/\\(.)/g, "$1") ?? bare?.[1] ?? "").trim() || null;
  const uri = /<([^>]*)>/.exec(t)?.[1] ?? t.split(";")[0];
  const noScheme = uri.replace(/^(sips?|tel):/i, "").split(/[;?]/)[0];
  const at = noScheme.lastIndexOf("@");
  const number = at > 0 ? noScheme.slice(0, at) : noScheme;
  return { name, number: number || t };
}

function fresh(call: number, account: string, direction: "in" | "out", remote: string, waiting: boolean, phase: CallPhase): CallView {
  const p = party(remote);
  return {
    call,
    account,
    direction,
    remote,
    number: p.number,
    name: p.name,
    phase,
    waiting,
    localHold: false,
    remoteHold: false,
    muted: false,
    recording: null,
    connectedAt: null,
    mos: null,
    lossPct: 0,
    jitterMs: 0,
    ended: null,
    transferStatus: null,
    microphone: null,
    speaker: null,
  };
}

/** The calls after one call event on `account` (a new array; calls not named are kept as they are). */
export function applyCallEvent(calls: readonly CallView[], account: string, e: CallEvent, now: number): CallView[] {
  const update = (call: number, f: (c: CallView) => Partial<CallView>) =>
    calls.map((c) => (c.call === call ? { ...c, ...f(c) } : c));
  switch (e.event) {
    case "incoming_call":
      if (calls.some((c) => c.call === e.call)) return [...calls];
      return [...calls, fresh(e.call, account, "in", e.from, e.waiting, "incoming")];
    case "outgoing_call":
      if (calls.some((c) => c.call === e.call)) return [...calls];
      return [...calls, fresh(e.call, account, "out", e.to, false, "dialing")];
    case "call_replaced":
      return [...calls.filter((c) => c.call !== e.call), { ...fresh(e.call, account, "in", e.from, false, "established"), connectedAt: now }];
    case "call_state":
      return update(e.call, (c) => ({
        phase: e.state,
        connectedAt: e.state === "established" && c.connectedAt === null ? now : c.connectedAt,
      }));
    case "hold":
      return update(e.call, () => ({ localHold: e.local, remoteHold: e.remote }));
    case "stats": {
      const s = flattened<CallStats>(e, "stats");
      return update(e.call, () => ({ mos: s.mos, lossPct: s.loss_pct, jitterMs: s.jitter_ms }));
    }
    case "audio_device": {
      const r = flattened<AudioRoute>(e, "route");
      return update(e.call, () => (r.direction === "input" ? { microphone: r.device } : { speaker: r.device }));
    }
    case "transfer":
      return update(e.call, () => ({ transferStatus: e.status }));
    case "call_ended":
      return update(e.call, () => ({ phase: "ended", ended: endCause(e) }));
    default:
      return [...calls];
  }
}

/**
 * The engine flattens a call event's details into the event (serde `flatten`), while the
 * generated type nests them under `key`: this reads either shape.
 */
function flattened<T>(e: object, key: string): T {
  const nested = (e as Record<string, unknown>)[key];
  return (typeof nested === "object" && nested !== null ? nested : e) as T;
}

/** Why a call ended, from a `call_ended` event (flattened or nested). */
export function endCause(e: Extract<CallEvent, { event: "call_ended" }>): EndCause {
  return flattened<EndCause>(e, "cause");
}

/** The call the screen is about: a ringing one first, else the one not on hold, else the newest. */
export function focusCall(calls: readonly CallView[]): CallView | null {
  const live = calls.filter((c) => c.ended === null);
  return (
    live.find((c) => c.phase === "incoming") ??
    live.find((c) => !c.localHold && c.phase !== "incoming") ??
    live[live.length - 1] ??
    calls[calls.length - 1] ??
    null
  );
}

/** Where a call stands, in a few words. */
export function callStatus(c: CallView, now: number): string {
  if (c.ended !== null) return endWords(c.ended);
  switch (c.phase) {
    case "dialing":
      return "Calling…";
    case "ringing":
    case "early_media":
      return "Ringing…";
    case "incoming":
      return c.waiting ? "Call waiting" : "Incoming call";
    case "connecting":
      return "Connecting…";
    case "ending":
      return "Ending…";
    case "ended":
      return "Call ended";
    case "established":
      if (c.localHold) return "On hold";
      if (c.remoteHold) return "Held by the other side";
      return timer(c.connectedAt === null ? 0 : (now - c.connectedAt) / 1000);
  }
}

/** m:ss, or h:mm:ss past an hour. */
export function timer(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Why a call ended, as a person says it. */
export function endWords(e: EndCause): string {
  switch (e.cause) {
    case "local_hangup":
    case "remote_hangup":
      return "Call ended";
    case "caller_cancelled":
      return "Missed call";
    case "rejected":
      return "Declined";
    case "refused":
      return e.code === 486 || e.code === 600 ? "Busy" : e.code === 603 ? "Declined" : `Failed: ${e.reason || e.code}`;
    default:
      return "Call ended";
  }
}

/** The call quality in a word, from the MOS estimate (ITU-T G.107 bands). */
export function quality(mos: number | null): { word: string; level: 0 | 1 | 2 | 3 | 4 } {
  if (mos === null || !Number.isFinite(mos)) return { word: "Measuring", level: 0 };
  if (mos >= 4.0) return { word: "Excellent", level: 4 };
  if (mos >= 3.6) return { word: "Good", level: 3 };
  if (mos >= 3.1) return { word: "Fair", level: 2 };
  return { word: "Poor", level: 1 };
}
