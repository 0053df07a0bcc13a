import { describe, expect, it } from "vitest";
import type { CallEvent } from "../bindings";
import { applyCallEvent, callStatus, endWords, focusCall, party, quality } from "./calls";

const ev = (e: Record<string, unknown>) => e as unknown as CallEvent;

describe("party", () => {
  it("reads names and numbers from the forms callers send", () => {
    expect(party('"Ann \\"A\\" Lee" <sip:1002@pbx.example.com>;tag=1')).toEqual({ name: 'Ann "A" Lee', number: "1002" });
    expect(party("Bob <sips:bob@example.com:5061;transport=tls>")).toEqual({ name: "Bob", number: "bob" });
    expect(party("sip:+15551234@carrier;user=phone")).toEqual({ name: null, number: "+15551234" });
    expect(party("tel:+441234")).toEqual({ name: null, number: "+441234" });
    expect(party("echo")).toEqual({ name: null, number: "echo" });
  });
});

describe("applyCallEvent", () => {
  it("follows a call from ringing to its end, with hold, stats and a waiting call", () => {
    let calls = applyCallEvent([], "a", ev({ event: "incoming_call", call: 1, from: '"Ann" <sip:1002@pbx>', to: "sip:me@pbx", waiting: false }), 1000);
    expect(calls[0]).toMatchObject({ call: 1, direction: "in", name: "Ann", number: "1002", phase: "incoming" });
    expect(callStatus(calls[0], 1000)).toBe("Incoming call");
    calls = applyCallEvent(calls, "a", ev({ event: "call_state", call: 1, state: "established" }), 2000);
    expect(callStatus(calls[0], 65_500)).toBe("1:03");
    calls = applyCallEvent(calls, "a", ev({ event: "stats", call: 1, mos: 3.5, loss_pct: 2, jitter_ms: 30 }), 3000);
    expect(calls[0].mos).toBe(3.5);
    calls = applyCallEvent(calls, "a", ev({ event: "hold", call: 1, local: true, remote: false }), 4000);
    expect(callStatus(calls[0], 4000)).toBe("On hold");
    calls = applyCallEvent(calls, "a", ev({ event: "incoming_call", call: 2, from: "sip:1003@pbx", to: "sip:me@pbx", waiting: true }), 5000);
    expect(focusCall(calls)?.call).toBe(2);
    expect(callStatus(calls[1], 5000)).toBe("Call waiting");
    calls = applyCallEvent(calls, "a", ev({ event: "call_ended", call: 2, cause: "caller_cancelled", talk_secs: 0, media: {} }), 6000);
    expect(callStatus(calls[1], 6000)).toBe("Missed call");
    expect(focusCall(calls)?.call).toBe(1);
    // A duplicate event changes nothing.
    expect(applyCallEvent(calls, "a", ev({ event: "incoming_call", call: 1, from: "x", to: "y", waiting: false }), 7000)).toEqual(calls);
  });

  it("says why a call ended, and rates quality from the MOS", () => {
    expect(endWords({ cause: "refused", code: 486, reason: "Busy Here" })).toBe("Busy");
    expect(endWords({ cause: "refused", code: 404, reason: "Not Found" })).toBe("Failed: Not Found");
    expect(endWords({ cause: "rejected", code: 603 })).toBe("Declined");
    expect(quality(null).word).toBe("Measuring");
    expect(quality(4.3)).toEqual({ word: "Excellent", level: 4 });
    expect(quality(3.7).word).toBe("Good");
    expect(quality(3.2).word).toBe("Fair");
    expect(quality(2.0).word).toBe("Poor");
  });
});
