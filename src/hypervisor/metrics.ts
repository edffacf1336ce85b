/**
 * Prometheus text exposition (format 0.0.4) of the host and every VM:
 * counters per VM (CPU seconds, guest instructions, disk and NIC bytes) and
 * gauges (guest memory touched + worker heap, state, budget).
 */
import type { HostView, VmView } from "./model.ts";

type Sample = [labels: Record<string, string>, value: number];

function family(name: string, type: "counter" | "gauge", help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) {
    const text = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
    lines.push(`${name}${text.length > 0 ? `{${text.join(",")}}` : ""} ${Number.isFinite(value) ? value : 0}`);
  }
  return lines.join("\n");
}

export function renderMetrics(host: HostView, vms: VmView[]): string {
  const perVm = (pick: (v: VmView) => number): Sample[] => vms.map((v) => [{ vm: v.name }, pick(v)]);
  return [
    family("typevisor_vm_cpu_seconds_total", "counter", "Time the VM's machine spent running guest instructions.", perVm((v) => v.stats.cpuSeconds)),
    family("typevisor_vm_instructions_total", "counter", "Guest instructions retired (all vCPUs).", perVm((v) => v.stats.instructions)),
    family("typevisor_vm_memory_bytes", "gauge", "Guest RAM the VM touched plus its worker's heap (0 when not running).", perVm((v) => v.stats.memoryBytes)),
    family("typevisor_vm_disk_read_bytes_total", "counter", "Bytes the guest read from its virtio disks.", perVm((v) => v.stats.diskReadBytes)),
    family("typevisor_vm_disk_write_bytes_total", "counter", "Bytes the guest wrote to its virtio disks.", perVm((v) => v.stats.diskWriteBytes)),
    family("typevisor_vm_net_rx_bytes_total", "counter", "Frame bytes the guest's NICs received.", perVm((v) => v.stats.netRxBytes)),
    family("typevisor_vm_net_tx_bytes_total", "counter", "Frame bytes the guest's NICs sent.", perVm((v) => v.stats.netTxBytes)),
    family("typevisor_vm_up", "gauge", "1 while the VM runs or is paused.", perVm((v) => (v.state === "running" || v.state === "paused" ? 1 : 0))),
    family("typevisor_vm_memory_configured_bytes", "gauge", "Guest RAM configured.", perVm((v) => v.memoryMiB * 2 ** 20)),
    family("typevisor_host_budget_memory_bytes", "gauge", "Guest RAM the host budget allows (host memory × overcommit ratio).", [[{}, host.budget.memoryBytes]]),
    family("typevisor_host_budget_vcpus", "gauge", "vCPUs the host budget allows (host cores × overcommit ratio).", [[{}, host.budget.vcpus]]),
    family("typevisor_host_used_memory_bytes", "gauge", "Guest RAM held by running VMs.", [[{}, host.used.memoryBytes]]),
    family("typevisor_host_used_vcpus", "gauge", "vCPUs held by running VMs.", [[{}, host.used.vcpus]]),
    family("typevisor_host_vms", "gauge", "VMs defined.", [[{}, host.vms.total]]),
    family("typevisor_host_vms_running", "gauge", "VMs running or paused.", [[{}, host.vms.running]]),
  ].join("\n") + "\n";
}
