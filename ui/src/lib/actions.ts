import { commands, type IpcError } from "../bindings";
import { explain, phone } from "./phone.svelte";

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: IpcError };

/** Runs a command: `{ data }` when it succeeded, else null (and the refusal is shown to the user). */
async function run<T>(r: Promise<Result<T>>): Promise<{ data: T } | null> {
  try {
    const out = await r;
    if (out.status === "ok") {
      phone.error = null;
      return { data: out.data };
    }
    phone.error = explain(out.error);
  } catch (e) {
    phone.error = `The phone engine is not reachable: ${e}`;
  }
  return null;
}

export const dial = (target: string, account: string | null = null) => run(commands.dial(account, target));
export const answer = (call: number) => run(commands.answer(call));
export const decline = (call: number) => run(commands.decline(call));
export const hangUp = (call: number) => run(commands.hangUp(call));
export const sendDigit = (call: number, digit: string) => run(commands.sendDigit(call, digit));
export const transfer = (call: number, target: string) => run(commands.transfer(call, target));
export const attendedTransfer = (call: number, to: number) => run(commands.attendedTransfer(call, to));

function patch(call: number, f: Partial<(typeof phone.calls)[number]>) {
  phone.calls = phone.calls.map((c) => (c.call === call ? { ...c, ...f } : c));
}

export async function setMuted(call: number, muted: boolean): Promise<void> {
  if ((await run(commands.mute(call, muted))) !== null) patch(call, { muted });
}

export const setHeld = (call: number, on: boolean) => run(commands.hold(call, on));

export async function setRecording(call: number, on: boolean): Promise<void> {
  if (on) {
    const path = await run(commands.startRecording(call));
    if (path !== null) patch(call, { recording: path.data });
  } else if ((await run(commands.stopRecording(call))) !== null) {
    patch(call, { recording: null });
  }
}
