import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { EngineEvent } from "./bindings";

// The engine is reached through the generated bindings; here they are replaced by a fake engine
// so the UI's behaviour is tested alone. The real engine is exercised end to end in tests/e2e.
const fake = vi.hoisted(() => ({
  listeners: new Set<(e: { payload: EngineEvent }) => void>(),
  /** Sends an engine event to every listener, as the shell does. */
  listener: ((e: { payload: EngineEvent }) => {
    for (const l of fake.listeners) l(e);
  }) as null | ((e: { payload: EngineEvent }) => void),
  theme: "system" as "system" | "light" | "dark",
  setTheme: vi.fn(),
  calls: [] as Record<string, unknown>[],
  missed: 0,
  historyAsked: [] as { missedOnly: boolean; search: string | null }[],
  contacts: [] as Record<string, unknown>[],
  dialled: [] as string[],
  hungUp: [] as number[],
  muted: [] as [number, boolean][],
}));

vi.mock("./bindings", () => ({
  commands: {
    getStatus: async () => ({
      status: "ok",
      data: { version: "0.1.0", dataDir: "/tmp/p/data", accounts: [], summary: { state: "noAccount" } },
    }),
    getSettings: async () => ({ status: "ok", data: { theme: fake.theme } }),
    setTheme: async (theme: "system" | "light" | "dark") => {
      fake.setTheme(theme);
      fake.theme = theme;
      return { status: "ok", data: { theme } };
    },
    getMissedCount: async () => ({ status: "ok", data: fake.missed }),
    getHistory: async (missedOnly: boolean, search: string | null) => {
      fake.historyAsked.push({ missedOnly, search });
      const data = fake.calls.filter(
        (c) =>
          (!missedOnly || c.disposition === "missed") &&
          (search === null || String(c.displayName).toLowerCase().includes(search.toLowerCase())),
      );
      return { status: "ok", data };
    },
    markCallsSeen: async () => {
      fake.missed = 0;
      return { status: "ok", data: null };
    },
    getContacts: async (search: string | null) => ({
      status: "ok",
      data: fake.contacts.filter((c) => search === null || JSON.stringify(c).toLowerCase().includes(search.toLowerCase())),
    }),
    saveContact: async (c: Record<string, unknown>) => {
      if (String(c.name) === "" && (c.addresses as unknown[]).length === 0) {
        return { status: "error", error: { code: "contact_empty", message: "a contact needs a name, a company, or at least one number or address" } };
      }
      const saved = { ...c, id: c.id ?? fake.contacts.length + 1 };
      fake.contacts = [...fake.contacts.filter((x) => x.id !== saved.id), saved];
      return { status: "ok", data: saved };
    },
    deleteContact: async (id: number) => {
      fake.contacts = fake.contacts.filter((x) => x.id !== id);
      return { status: "ok", data: null };
    },
    getAccounts: async () => ({ status: "ok", data: [] }),
    listDevices: async () => ({ status: "ok", data: [] }),
    meterMicrophone: async () => ({ status: "ok", data: null }),
    contactName: async () => ({ status: "ok", data: null }),
    dial: async (_account: string | null, target: string) => {
      fake.dialled.push(target);
      return { status: "ok", data: 7 };
    },
    hangUp: async (call: number) => {
      fake.hungUp.push(call);
      return { status: "ok", data: null };
    },
    mute: async (call: number, muted: boolean) => {
      fake.muted.push([call, muted]);
      return { status: "ok", data: null };
    },
    clearHistory: async () => {
      const n = fake.calls.length;
      fake.calls = [];
      return { status: "ok", data: n };
    },
  },
  events: {
    engineNotice: {
      listen: async (cb: (e: { payload: EngineEvent }) => void) => {
        fake.listeners.add(cb);
        return () => fake.listeners.delete(cb);
      },
    },
  },
}));

import App from "./App.svelte";
import { phone } from "./lib/phone.svelte";

describe("the app shell", () => {
  afterEach(cleanup);

  beforeEach(() => {
    fake.contacts = [];
    fake.calls = [];
    fake.missed = 0;
    fake.historyAsked = [];
    phone.calls = [];
    fake.dialled = [];
    fake.hungUp = [];
    fake.muted = [];
    fake.theme = "system";
    fake.setTheme.mockClear();
    document.documentElement.dataset.theme = "system";
  });

  it("shows 'No account' in the status bar", async () => {
    render(App);
    const status = await screen.findByRole("status");
    await waitFor(() => expect(status.textContent).toContain("No account"));
  });

  it("switches views by mouse and by keyboard", async () => {
    render(App);
    const tab = (name: string) => screen.getByRole("tab", { name });
    expect(tab("Dialpad").getAttribute("aria-selected")).toBe("true");
    await fireEvent.click(tab("History"));
    expect(tab("History").getAttribute("aria-selected")).toBe("true");
    expect(screen.getByText("No calls yet")).toBeTruthy();

    await fireEvent.keyDown(tab("History"), { key: "ArrowRight" });
    expect(tab("Settings").getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(tab("Settings"));

    await fireEvent.keyDown(window, { key: "2", ctrlKey: true });
    expect(tab("Contacts").getAttribute("aria-selected")).toBe("true");
    expect(screen.getByText("No contacts yet")).toBeTruthy();
  });

  it("types digits from the keypad into the Number field", async () => {
    render(App);
    const field = screen.getByRole("textbox", { name: "Number" }) as HTMLInputElement;
    for (const d of ["1", "0", "0", "2"]) await fireEvent.click(screen.getByRole("button", { name: d }));
    expect(field.value).toBe("1002");
    await fireEvent.click(screen.getByRole("button", { name: "Delete last digit" }));
    expect(field.value).toBe("100");
    // Digits typed with the focus elsewhere on the view land in the field too.
    await fireEvent.keyDown(screen.getByRole("button", { name: "5" }), { key: "9" });
    expect(field.value).toBe("1009");
  });

  it("calls the number typed, shows the call as the engine reports it, and hangs up", async () => {
    render(App);
    const field = screen.getByRole("textbox", { name: "Number" }) as HTMLInputElement;
    await fireEvent.input(field, { target: { value: "1002" } });
    await fireEvent.click(screen.getByRole("button", { name: "Call" }));
    await waitFor(() => expect(fake.dialled).toEqual(["1002"]));
    const call = (event: Record<string, unknown>) =>
      fake.listener?.({ payload: { kind: "call", account: "a", event } as unknown as EngineEvent });
    call({ event: "outgoing_call", call: 7, to: "sip:1002@pbx" });
    expect(await screen.findByText("Calling…")).toBeTruthy();
    call({ event: "call_state", call: 7, state: "established" });
    await waitFor(() => expect(screen.getByText("0:00")).toBeTruthy());
    // Stats arrive flattened into the event, as the engine sends them.
    call({ event: "stats", call: 7, mos: 4.3, loss_pct: 0, jitter_ms: 2 });
    expect(await screen.findByText("Quality: Excellent")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Mute" }));
    await waitFor(() => expect(screen.getByRole("button", { name: "Mute" }).getAttribute("aria-pressed")).toBe("true"));
    expect(fake.muted).toEqual([[7, true]]);
    await fireEvent.click(screen.getByRole("button", { name: "Hang up" }));
    expect(fake.hungUp).toEqual([7]);
    call({ event: "call_ended", call: 7, cause: "local_hangup", talk_secs: 3, media: {} });
    expect(await screen.findByText("Call ended")).toBeTruthy();
    // The ended call leaves the screen after a moment; the dialpad is back.
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Number" })).toBeTruthy(), { timeout: 3000 });
  });

  it("changes the theme through the engine and follows its events", async () => {
    render(App);
    await fireEvent.click(screen.getByRole("tab", { name: "Settings" }));
    const dark = await screen.findByRole("radio", { name: "Dark" });
    await waitFor(() => expect((dark as HTMLInputElement).disabled).toBe(false));
    await fireEvent.click(dark);
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe("dark"));
    expect(fake.setTheme).toHaveBeenCalledWith("dark");

    // A change the engine announces (from another window or front end) arrives as an event.
    fake.listener?.({
      payload: {
        kind: "settingsChanged",
        settings: {
          theme: "light",
          devices: { microphone: null, speaker: null, followHeadsets: true },
          processing: { echoCancellation: true, noiseSuppression: true, autoGain: false },
          ringer: { device: null, followHeadsets: true, ringtone: "classic", volume: 80 },
          accountRingtones: {},
          region: null,
        },
      },
    });
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe("light"));
    expect((screen.getByRole("radio", { name: "Light" }) as HTMLInputElement).checked).toBe(true);
  });

  it("lists calls, filters them as you type, and marks missed calls seen", async () => {
    const call = (id: number, displayName: string, disposition: string, direction = "incoming") => ({
      id,
      account: "local",
      direction,
      remoteUri: `sip:${id}@pbx`,
      number: String(1000 + id),
      displayName,
      startedAt: Date.now() - id * 60_000,
      answeredAt: disposition === "answered" ? Date.now() : null,
      endedAt: Date.now(),
      durationSecs: disposition === "answered" ? 65 : null,
      disposition,
      sipCode: null,
      sipReason: null,
      codec: null,
      mos: null,
      seen: false,
    });
    fake.calls = [call(1, "Alice Smith", "missed"), call(2, "Bob Jones", "answered", "outgoing")];
    fake.missed = 1;
    render(App);
    const tab = await screen.findByRole("tab", { name: /History/ });
    await waitFor(() => expect(tab.textContent).toContain("1"));
    await fireEvent.click(tab);
    const list = await screen.findByRole("list", { name: "Calls" });
    await waitFor(() => expect(list.textContent).toContain("Alice Smith"));
    expect(list.textContent).toContain("Missed");
    expect(list.textContent).toContain("Bob Jones");
    expect(list.textContent).toContain("1:05");

    const search = screen.getByRole("searchbox", { name: "Search history" });
    await fireEvent.input(search, { target: { value: "bob" } });
    await waitFor(() => expect(list.textContent).not.toContain("Alice Smith"));
    expect(fake.historyAsked.at(-1)).toEqual({ missedOnly: false, search: "bob" });

    await fireEvent.input(search, { target: { value: "" } });
    await fireEvent.click(screen.getByRole("checkbox", { name: "Missed only" }));
    await waitFor(() => expect(screen.getByRole("list", { name: "Calls" }).textContent).not.toContain("Bob"));

    await fireEvent.click(screen.getByRole("button", { name: "Mark 1 missed as seen" }));
    await waitFor(() => expect(screen.queryByRole("button", { name: /missed as seen/ })).toBeNull());
    expect(tab.textContent).not.toMatch(/\d/);
  });

  it("adds, finds, edits and deletes a contact", async () => {
    render(App);
    await fireEvent.click(await screen.findByRole("tab", { name: "Contacts" }));
    await screen.findByText("No contacts yet");
    await fireEvent.click(screen.getByRole("button", { name: "Add contact" }));
    // Nothing typed: the engine's reason is shown, the form stays.
    await fireEvent.click(screen.getByRole("button", { name: "Remove number 1" }));
    await fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect((await screen.findByRole("alert")).textContent).toContain("needs a name");

    await fireEvent.input(screen.getByRole("textbox", { name: "Name" }), { target: { value: "Alice Smith" } });
    await fireEvent.click(screen.getByRole("button", { name: "Add number" }));
    await fireEvent.input(screen.getByRole("textbox", { name: "Number 1" }), { target: { value: "07911 123456" } });
    await fireEvent.click(screen.getByRole("checkbox", { name: "Favourite" }));
    await fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const list = await screen.findByRole("list", { name: "Contacts" });
    expect(list.textContent).toContain("Alice Smith");
    expect(list.textContent).toContain("mobile: 07911 123456");
    expect(fake.contacts[0]).toMatchObject({ name: "Alice Smith", favourite: true, addresses: [{ kind: "phone", label: "mobile", value: "07911 123456" }] });
    // Calling from the list dials the contact's number.
    await fireEvent.click(screen.getByRole("button", { name: "Call Alice Smith" }));
    await waitFor(() => expect(fake.dialled).toEqual(["07911 123456"]));

    await fireEvent.input(screen.getByRole("searchbox", { name: "Search contacts" }), { target: { value: "zzz" } });
    await screen.findByText("No contacts match");
    await fireEvent.input(screen.getByRole("searchbox", { name: "Search contacts" }), { target: { value: "" } });

    await fireEvent.click(await screen.findByRole("button", { name: /^(★ ?)?(Favourite)? ?Alice Smith/ }));
    await fireEvent.input(screen.getByRole("textbox", { name: "Company" }), { target: { value: "Acme" } });
    await fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(screen.getByRole("list", { name: "Contacts" }).textContent).toContain("Acme"));

    await fireEvent.click(screen.getByRole("button", { name: /^(★ ?)?(Favourite)? ?Alice Smith/ }));
    await fireEvent.click(screen.getByRole("button", { name: "Delete contact" }));
    await fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    await screen.findByText("No contacts yet");
    expect(fake.contacts).toEqual([]);
  });
});
