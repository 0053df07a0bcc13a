import { describe, expect, it } from "vitest";
import { cleanPasted, isDialKey, KEYS } from "./dialpad";

describe("dialpad", () => {
  it("has the twelve keys of a phone", () => {
    expect(KEYS.map((k) => k.digit).join("")).toBe("123456789*0#");
  });

  it("recognises keypad keys", () => {
    for (const k of ["0", "9", "*", "#", "+"]) expect(isDialKey(k)).toBe(true);
    for (const k of ["a", "Enter", "", "12"]) expect(isDialKey(k)).toBe(false);
  });

  it("cleans pasted phone numbers but keeps SIP addresses", () => {
    expect(cleanPasted(" +1 (555) 010-9999 ")).toBe("+15550109999");
    expect(cleanPasted("tel:+44.20.7946.0018")).toBe("+442079460018");
    expect(cleanPasted("callto:1001")).toBe("1001");
    expect(cleanPasted("sip:alice@pbx.example.com")).toBe("sip:alice@pbx.example.com");
    expect(cleanPasted("alice@pbx.example.com ")).toBe("alice@pbx.example.com");
    expect(cleanPasted("*72")).toBe("*72");
  });
});
