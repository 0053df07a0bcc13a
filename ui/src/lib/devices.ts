import type { ChosenDevice, DeviceDirection, DeviceInfo } from "../bindings";

/** The device with `id` among `devices` (of `direction`) as a choice to save, or null (the system's default). */
export function chosenDevice(devices: readonly DeviceInfo[], direction: DeviceDirection, id: string): ChosenDevice | null {
  const d = devices.find((x) => x.id === id && x.direction === direction);
  return d ? { id: d.id, name: d.name } : null;
}
