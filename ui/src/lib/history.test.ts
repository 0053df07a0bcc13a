import { describe, expect, it } from "vitest";
import { duration, outcome, when, who } from "./history";

describe("history", () => {
  it("names the other party by name, number or address", () => {
    expect(who({ displayName: "Alice", number: "2001", remoteUri: "sip:2001@pbx" })).toBe("Alice");
    expect(who({ displayName: " ", number: "+441632960123", remoteUri: "sip:x@pbx" })).toBe("+441632960123");
    expect(who({ displayName: "", number: "", remoteUri: "sips:pbx.example.com" })).toBe("pbx.example.com");
  });

  it("says what happened", () => {
    expect(outcome({ direction: "incoming", disposition: "answered", sipCode: null })).toBe("Incoming");
    expect(outcome({ direction: "outgoing", disposition: "answered", sipCode: null })).toBe("Outgoing");
    expect(outcome({ direction: "incoming", disposition: "missed", sipCode: null })).toBe("Missed");
    expect(outcome({ direction: "outgoing", disposition: "failed", sipCode: 404 })).toBe("Failed (404)");
    expect(outcome({ direction: "outgoing", disposition: "cancelled", sipCode: null })).toBe("Not answered");
  });

  it("shows talk time as m:ss, and nothing for an unanswered call", () => {
    expect(duration(null)).toBe("");
    expect(duration(0.4)).toBe("0:00");
    expect(duration(65)).toBe("1:05");
    expect(duration(3725)).toBe("1:02:05");
    expect(duration(-1)).toBe("");
    expect(duration(Number.NaN)).toBe("");
  });

  it("dates a call relative to today", () => {
    const now = new Date(2026, 10, 22, 15, 0);
    expect(when(new Date(2026, 10, 22, 9, 5).getTime(), now, "en-GB")).toBe("09:05");
    expect(when(new Date(2026, 10, 21, 23, 59).getTime(), now, "en-GB")).toBe("Yesterday 23:59");
    expect(when(new Date(2026, 9, 1, 8, 0).getTime(), now, "en-GB")).toBe("1 Oct 2026");
  });
});
