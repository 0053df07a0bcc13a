import { describe, expect, it } from "vitest";
import { blankContact, firstAddress, forSaving, rowsOf, title } from "./contacts";

describe("contacts", () => {
  it("saves trimmed text without empty rows", () => {
    const c = blankContact();
    c.name = "  Alice Smith ";
    c.addresses.push({ kind: "sip", label: " work ", value: " sip:alice@pbx " });
    expect(forSaving(c)).toEqual({
      id: null,
      name: "Alice Smith",
      company: "",
      favourite: false,
      notes: "",
      addresses: [{ kind: "sip", label: "work", value: "sip:alice@pbx" }],
    });
  });

  it("shows a name, a company or an address, and the first number", () => {
    const c = { ...blankContact(), addresses: [{ kind: "sip" as const, value: "sip:desk@pbx" }, { kind: "phone" as const, label: "work", value: "2001" }] };
    expect(title(c)).toBe("sip:desk@pbx");
    expect(title({ ...c, company: "Acme" })).toBe("Acme");
    expect(firstAddress(c)).toBe("work: 2001");
    expect(firstAddress({ ...c, addresses: [] })).toBe("");
    expect(rowsOf(c, "phone").map((r) => r.index)).toEqual([1]);
  });
});

describe("latestOnly", () => {
  it("keeps the newest answer and drops an older one that comes later", async () => {
    const { latestOnly } = await import("./latest");
    const run = latestOnly();
    let release: (v: string) => void = () => {};
    const slow = run(() => new Promise<string>((r) => (release = r)));
    const fast = run(async () => "new");
    release("old");
    expect(await slow).toBeUndefined();
    expect(await fast).toBe("new");
  });
});
