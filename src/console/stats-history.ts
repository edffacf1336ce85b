/**
 * Per-VM rates over the last minutes, from the counters in successive VM
 * views: CPU use (share of the VM's vCPUs), disk and network bytes/s.
 */
import type { Vm } from "./api.ts";

export const HISTORY_SECONDS = 300;

export interface Rates {
  time: number[]; // unix seconds
  cpu: number[]; // 0..1 of the VM's vCPUs
  disk: number[]; // bytes/s read + written
  net: number[]; // bytes/s received + sent
}

interface Last {
  at: number;
  cpuSeconds: number;
  disk: number;
  net: number;
}

const histories = new Map<string, Rates>();
const lasts = new Map<string, Last>();

export function ratesOf(vm: string): Rates {
  let r = histories.get(vm);
  if (!r) histories.set(vm, (r = { time: [], cpu: [], disk: [], net: [] }));
  return r;
}

/** Latest CPU use of a VM (0..1), or null before two samples. */
export function latestCpu(vm: string): number | null {
  const r = histories.get(vm);
  return r && r.cpu.length > 0 ? r.cpu[r.cpu.length - 1] : null;
}

export function record(vms: Vm[], now = Date.now()): void {
  const seen = new Set<string>();
  for (const vm of vms) {
    seen.add(vm.name);
    const s = vm.stats;
    const next: Last = { at: now, cpuSeconds: s.cpuSeconds, disk: s.diskReadBytes + s.diskWriteBytes, net: s.netRxBytes + s.netTxBytes };
    const prev = lasts.get(vm.name);
    lasts.set(vm.name, next);
    if (vm.state !== "running" && vm.state !== "paused") {
      if (prev) histories.delete(vm.name);
      continue;
    }
    if (!prev || now - prev.at < 500) continue;
    const dt = (now - prev.at) / 1000;
    const r = ratesOf(vm.name);
    r.time.push(now / 1000);
    // Counters restart with the VM: a drop is a new run, not a negative rate.
    r.cpu.push(Math.min(1, Math.max(0, (next.cpuSeconds - prev.cpuSeconds) / dt / Math.max(1, vm.cpus))));
    r.disk.push(Math.max(0, (next.disk - prev.disk) / dt));
    r.net.push(Math.max(0, (next.net - prev.net) / dt));
    while (r.time.length > 0 && r.time[0] < now / 1000 - HISTORY_SECONDS) {
      r.time.shift();
      r.cpu.shift();
      r.disk.shift();
      r.net.shift();
    }
  }
  for (const name of [...lasts.keys()]) {
    if (!seen.has(name)) {
      lasts.delete(name);
      histories.delete(name);
    }
  }
}
