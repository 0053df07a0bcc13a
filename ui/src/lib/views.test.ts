import { describe, expect, it } from "vitest";
import { viewAfterKey, viewForShortcut } from "./views";

const key = (k: string, mods: Partial<KeyboardEvent> = {}) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

describe("keyboard navigation between views", () => {
  it("moves with the arrows and wraps around", () => {
    expect(viewAfterKey("dialpad", "ArrowRight")).toBe("contacts");
    expect(viewAfterKey("settings", "ArrowRight")).toBe("dialpad");
    expect(viewAfterKey("dialpad", "ArrowLeft")).toBe("settings");
    expect(viewAfterKey("history", "Home")).toBe("dialpad");
    expect(viewAfterKey("contacts", "End")).toBe("settings");
    expect(viewAfterKey("contacts", "a")).toBeNull();
  });

  it("opens a view with Ctrl or Cmd and its digit, and nothing else", () => {
    expect(viewForShortcut(key("3", { ctrlKey: true }))).toBe("history");
    expect(viewForShortcut(key("4", { metaKey: true }))).toBe("settings");
    expect(viewForShortcut(key("3"))).toBeNull();
    expect(viewForShortcut(key("3", { ctrlKey: true, shiftKey: true }))).toBeNull();
    expect(viewForShortcut(key("9", { ctrlKey: true }))).toBeNull();
  });
});
