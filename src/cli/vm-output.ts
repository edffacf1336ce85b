/** How `typevisor vm` shows VMs and snapshots to people. */
import { formatFields, formatTable, type Column } from "./api-output.ts";
import { sizeToString } from "./img-output.ts";

import type { SnapshotView, VmView } from "../hypervisor/model.ts";

const VM_COLUMNS: Column<VmView>[] = [
  { header: "NAME", value: (v) => v.name },
  { header: "STATE", value: (v) => v.state },
  { header: "MEMORY", value: (v) => `${v.memoryMiB} MiB` },
  { header: "CPUS", value: (v) => v.cpus },
  { header: "AUTOSTART", value: (v) => (v.autostart ? "yes" : "no") },
];

export function formatVmList(vms: readonly VmView[]): string {
  return formatTable(vms, VM_COLUMNS);
}

export function formatVmInfo(v: VmView): string {
  const s = v.stats;
  return formatFields([
    ["Name", v.name],
    ["State", v.crashReason ? `${v.state} (${v.crashReason})` : v.state],
    ["CPUs", v.cpus],
    ["Memory", `${v.memoryMiB} MiB`],
    ["Autostart", v.autostart ? "yes" : "no"],
    ["Boot", v.boot.kind === "kernel" ? `kernel ${v.boot.kernel}` : v.boot.kind],
    ["Resumes from save", v.resumesFromSave ? "yes" : "no"],
    ["Disks", v.disks.map((d) => (d.readonly ? `${d.image} (read-only)` : d.image))],
    ["NICs", v.nics.map((n) => ("network" in n ? `network ${n.network}` : `user ${n.user}`))],
    ["Created", v.createdAt],
    ["Started", v.startedAt],
    ["CPU weight/cap", `${v.cpuWeight} / ${v.cpuCap}`],
    ["CPU time", `${s.cpuSeconds.toFixed(1)} s`],
    ["Instructions", s.instructions],
    ["Memory used", sizeToString(s.memoryBytes)],
    ["Disk read/written", `${sizeToString(s.diskReadBytes)} / ${sizeToString(s.diskWriteBytes)}`],
    ["Net rx/tx", `${sizeToString(s.netRxBytes)} / ${sizeToString(s.netTxBytes)}`],
  ]);
}

export function formatSnapshotList(snaps: readonly SnapshotView[]): string {
  return formatTable(snaps, [
    { header: "NAME", value: (s) => s.name },
    { header: "CREATED", value: (s) => s.createdAt },
    { header: "SIZE", value: (s) => sizeToString(s.sizeBytes) },
    { header: "PARENT", value: (s) => s.parent },
  ]);
}
