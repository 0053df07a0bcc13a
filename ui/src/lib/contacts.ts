import type { AddressKind, Contact, ContactAddress } from "../bindings";

/** A new, empty contact for the editor: one empty number row to type into. */
export function blankContact(): Contact {
  return { id: null, name: "", company: "", favourite: false, notes: "", addresses: [{ kind: "phone", label: "mobile", value: "" }] };
}

/** The contact as it is saved: text trimmed, empty rows dropped. */
export function forSaving(c: Contact): Contact {
  return {
    ...c,
    name: c.name.trim(),
    company: c.company.trim(),
    addresses: c.addresses
      .map((a) => ({ kind: a.kind, label: (a.label ?? "").trim(), value: a.value.trim() }))
      .filter((a) => a.value !== ""),
  };
}

/** The line under a contact's name in the list: the first number or address, with its label. */
export function firstAddress(c: Contact): string {
  const a = c.addresses.find((x) => x.kind === "phone") ?? c.addresses[0];
  if (!a) return "";
  return a.label ? `${a.label}: ${a.value}` : a.value;
}

/** The name to show: the name, else the company, else the first address. */
export function title(c: Contact): string {
  return c.name.trim() || c.company.trim() || c.addresses[0]?.value || "Unnamed";
}

/** The addresses of one kind, with their index in the whole list (for editing in place). */
export function rowsOf(c: Contact, kind: AddressKind): { index: number; address: ContactAddress }[] {
  return c.addresses.map((address, index) => ({ index, address })).filter((r) => r.address.kind === kind);
}
