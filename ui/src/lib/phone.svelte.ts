import { commands, events, type AppPreferences, type EngineEvent, type EngineStatus, type IpcError, type Settings, type ThemePreference } from "../bindings";
import { applyTheme } from "./theme";
import { applyCallEvent, type CallView } from "./calls";

/** What the UI knows of the engine. It is filled from commands and kept fresh by events only. */
export const phone = $state({
  status: null as EngineStatus | null,
  settings: null as Settings | null,
  /** The last error to show the user, if any. */
  error: null as string | null,
  /** Missed calls not seen yet (the History tab's badge). */
  missedCalls: 0,
  /** Goes up whenever a call ends: views showing calls reload. */
  callsChanged: 0,
  /** The calls in progress (and, for a moment, the ones that just ended). */
  calls: [] as CallView[],
});

/** How long an ended call stays on the call screen, so its end can be read. */
const ENDED_SHOWN_MS = 2000;

/** Applies a call event to the call list; a new call's name is looked up in the contacts. */
function applyCall(account: string, e: Extract<EngineEvent, { kind: "call" }>["event"]): void {
  const before = new Set(phone.calls.map((c) => c.call));
  phone.calls = applyCallEvent(phone.calls, account, e, Date.now());
  for (const c of phone.calls) {
    if (!before.has(c.call)) {
      const call = c.call;
      void commands.contactName(c.remote).then((r) => {
        if (r.status === "ok" && r.data) {
          phone.calls = phone.calls.map((x) => (x.call === call ? { ...x, name: r.data } : x));
        }
      });
    }
  }
  if (e.event === "call_ended") {
    const call = e.call;
    setTimeout(() => {
      phone.calls = phone.calls.filter((c) => c.call !== call);
    }, ENDED_SHOWN_MS);
  }
}

export function explain(e: IpcError): string {
  return `${e.message} (${e.code})`;
}

/** Applies one engine event to the UI's state. */
export function apply(event: EngineEvent): void {
  switch (event.kind) {
    case "statusChanged":
      phone.status = event.status;
      break;
    case "settingsChanged":
      phone.settings = event.settings;
      applyTheme(event.settings.theme);
      break;
    case "missedCalls":
      phone.missedCalls = event.count;
      phone.callsChanged += 1;
      break;
    case "call":
      applyCall(event.account, event.event);
      if (event.event.event === "call_ended" || event.event.event === "incoming_call" || event.event.event === "outgoing_call") {
        phone.callsChanged += 1;
      }
      break;
  }
}

/** Subscribes to engine events, then reads the current state. Returns the unsubscribe function. */
export async function connect(): Promise<() => void> {
  const unlisten = await events.engineNotice.listen((e) => apply(e.payload));
  const [status, settings, missed] = await Promise.all([
    commands.getStatus(),
    commands.getSettings(),
    commands.getMissedCount(),
  ]);
  if (missed.status === "ok") phone.missedCalls = missed.data;
  if (status.status === "ok") apply({ kind: "statusChanged", status: status.data });
  else phone.error = explain(status.error);
  if (settings.status === "ok") apply({ kind: "settingsChanged", settings: settings.data });
  else phone.error = explain(settings.error);
  return unlisten;
}

/** The app's desktop preferences, with their defaults where the engine sent none. */
export function appPreferences(): Required<AppPreferences> {
  const a: Partial<AppPreferences> = phone.settings?.app ?? {};
  return {
    doNotDisturb: a.doNotDisturb ?? false,
    startAtLogin: a.startAtLogin ?? false,
    dialLinksAtOnce: a.dialLinksAtOnce ?? false,
  };
}

/** Changes one or more of the app's desktop preferences (do not disturb, start at login, links). */
export async function setApp(change: Partial<AppPreferences>): Promise<void> {
  if (!phone.settings) return;
  const r = await commands.setAppPreferences({ ...appPreferences(), ...change });
  if (r.status === "ok") {
    apply({ kind: "settingsChanged", settings: r.data });
    phone.error = null;
  } else {
    phone.error = explain(r.error);
  }
}

export async function chooseTheme(theme: ThemePreference): Promise<void> {
  const r = await commands.setTheme(theme);
  if (r.status === "ok") {
    apply({ kind: "settingsChanged", settings: r.data });
    phone.error = null;
  } else {
    phone.error = explain(r.error);
  }
}
