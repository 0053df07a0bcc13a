/** The keys of a phone keypad with their letters, as printed on phones (ITU E.161). */
export const KEYS: readonly { digit: string; letters: string }[] = [
  { digit: "1", letters: "" },
  { digit: "2", letters: "ABC" },
  { digit: "3", letters: "DEF" },
  { digit: "4", letters: "GHI" },
  { digit: "5", letters: "JKL" },
  { digit: "6", letters: "MNO" },
  { digit: "7", letters: "PQRS" },
  { digit: "8", letters: "TUV" },
  { digit: "9", letters: "WXYZ" },
  { digit: "*", letters: "" },
  { digit: "0", letters: "+" },
  { digit: "#", letters: "" },
];

/** Whether a key press is a keypad key (digits, *, #, +). */
export function isDialKey(key: string): boolean {
  return /^[0-9*#+]$/.test(key);
}

/**
 * Cleans what a user pasted into the number field: surrounding space, a `tel:` prefix and
 * visual separators of phone numbers go; SIP addresses are kept as typed.
 */
export function cleanPasted(text: string): string {
  const t = text.trim();
  if (/^(sips?:|[^@\s]+@)/i.test(t)) return t;
  const withoutScheme = t.replace(/^(tel:|callto:)/i, "");
  return withoutScheme.replace(/[\s().\-\u00a0]/g, "");
}
