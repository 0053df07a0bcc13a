export type ViewId = "dialpad" | "contacts" | "history" | "settings";

export interface ViewInfo {
  id: ViewId;
  label: string;
  /** The digit of its Ctrl/⌘ shortcut. */
  key: string;
}

export const VIEWS: readonly ViewInfo[] = [
  { id: "dialpad", label: "Dialpad", key: "1" },
  { id: "contacts", label: "Contacts", key: "2" },
  { id: "history", label: "History", key: "3" },
  { id: "settings", label: "Settings", key: "4" },
];

/** The view a key press in the tab list moves to (WAI-ARIA tabs pattern), or null. */
export function viewAfterKey(current: ViewId, key: string): ViewId | null {
  const i = VIEWS.findIndex((v) => v.id === current);
  const n = VIEWS.length;
  switch (key) {
    case "ArrowRight":
    case "ArrowDown":
      return VIEWS[(i + 1) % n].id;
    case "ArrowLeft":
    case "ArrowUp":
      return VIEWS[(i - 1 + n) % n].id;
    case "Home":
      return VIEWS[0].id;
    case "End":
      return VIEWS[n - 1].id;
    default:
      return null;
  }
}

/** The view a global shortcut (Ctrl+1..4, ⌘1..4 on macOS) opens, or null. */
export function viewForShortcut(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">): ViewId | null {
  if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return null;
  return VIEWS.find((v) => v.key === e.key)?.id ?? null;
}
