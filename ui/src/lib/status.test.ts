import { describe, expect, it } from "vitest";
import { describeRegistration, describeSummary } from "./status";

describe("describeSummary", () => {
  it("says honestly what state the phone is in", () => {
    expect(describeSummary(null)).toEqual({ text: "Starting…", tone: "busy" });
    expect(describeSummary({ state: "noAccount" })).toEqual({ text: "No account", tone: "idle" });
    expect(describeSummary({ state: "notRegistered" }).text).toBe("Not registered");
    expect(describeSummary({ state: "registering" })).toEqual({ text: "Registering", tone: "busy" });
    expect(describeSummary({ state: "registered", registered: 1, enabled: 1 })).toEqual({ text: "Registered", tone: "ok" });
    expect(describeSummary({ state: "registered", registered: 1, enabled: 2 })).toEqual({
      text: "Registered (1 of 2)",
      tone: "busy",
    });
    expect(describeSummary({ state: "failed", reason: "the server did not answer" })).toEqual({
      text: "Failed: the server did not answer",
      tone: "error",
    });
  });

  it("names each account's state", () => {
    const on = { enabled: true, failureReason: null };
    expect(describeRegistration({ ...on, registration: { state: "unregistered" } })).toBe("Not registered");
    expect(describeRegistration({ ...on, registration: { state: "registered", expiresSecs: 300 } })).toBe("Registered");
    expect(
      describeRegistration({
        enabled: true,
        registration: { state: "failed", failure: { kind: "timeout" } },
        failureReason: "the server did not answer",
      }),
    ).toBe("Failed: the server did not answer");
    expect(describeRegistration({ enabled: false, registration: { state: "unregistered" }, failureReason: null })).toBe("Off");
  });
});
