import type { ThemePreference } from "../bindings";

/** Applies the user's theme; `system` leaves the choice to the OS (CSS prefers-color-scheme). */
export function applyTheme(preference: ThemePreference, root: HTMLElement = document.documentElement): void {
  root.dataset.theme = preference;
}

/** The theme actually shown, for places that need to know (the OS decides for `system`). */
export function effectiveTheme(preference: ThemePreference, osPrefersDark: boolean): "light" | "dark" {
  if (preference === "system") return osPrefersDark ? "dark" : "light";
  return preference;
}
