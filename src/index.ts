/**
 * The Typevisor library: `import { Vm } from "typevisor"`. A VM is an object
 * whose machine runs in its own worker thread (docs/vmm.md, docs/library.md).
 */
export { Vm, VmStateError, VmCrashedError, GdbListenError, DEFAULT_RESOURCE_LIMITS } from "./vmm/vm.ts";
export type { VmState, VmOptions, RestoreOptions } from "./vmm/vm.ts";
export type { VmStats } from "./vmm/messages.ts";
export { validateVmConfig, ConfigError } from "./vmm/config.ts";
export type { VmConfig, DriveConfig, NicConfig } from "./vmm/config.ts";
export { SnapshotError } from "./vmm/snapshot.ts";
export type { SnapshotInfo } from "./vmm/snapshot.ts";
export { GuestShell } from "./vmm/guest-shell.ts";
export type { ShellResult } from "./vmm/guest-shell.ts";
export { defaultGuestConfig, DEFAULT_GUEST_READY_MARKER } from "./guest/default-guest-config.ts";
export type { DefaultGuestOptions } from "./guest/default-guest-config.ts";
export { openSwitch, VirtualSwitch } from "./backends/net/virtual-switch.ts";
export type { SwitchOptions, SwitchPortInfo } from "./backends/net/virtual-switch.ts";
export type { SwitchPort, PortStats } from "./backends/net/switch.ts";
export type { EthernetBackend } from "./backends/net/ethernet-backend.ts";
