import type { AccountStatus, RegistrationSummary } from "../bindings";

export type Tone = "idle" | "busy" | "ok" | "error";

/** The status bar's words for the phone's registration state, and a tone for its dot. */
export function describeSummary(summary: RegistrationSummary | null): { text: string; tone: Tone } {
  if (summary === null) return { text: "Starting…", tone: "busy" };
  switch (summary.state) {
    case "noAccount":
      return { text: "No account", tone: "idle" };
    case "notRegistered":
      return { text: "Not registered", tone: "idle" };
    case "registering":
      return { text: "Registering", tone: "busy" };
    case "registered":
      return {
        text: summary.enabled > 1 ? `Registered (${summary.registered} of ${summary.enabled})` : "Registered",
        tone: summary.registered === summary.enabled ? "ok" : "busy",
      };
    case "failed":
      return { text: `Failed: ${summary.reason}`, tone: "error" };
  }
}

/** One account's registration in words: "Registered", "Registering", "Failed: <reason>", "Off". */
export function describeRegistration(a: Pick<AccountStatus, "enabled" | "registration" | "failureReason">): string {
  if (!a.enabled) return "Off";
  switch (a.registration.state) {
    case "unregistered":
      return "Not registered";
    case "registering":
      return "Registering";
    case "registered":
      return "Registered";
    case "failed":
      return a.failureReason ? `Failed: ${a.failureReason}` : "Failed";
  }
}
