/**
 * A VM record (what the API stored) → the VmConfig its worker runs: the
 * default guest or a kernel, the pool images as drives, a NIC on a network
 * as a port of its switch (with a MAC of its own, so VMs on one switch
 * differ), a `{user}` NIC as a private NAT. Checked by validateVmConfig as
 * everywhere; a bad path becomes an `invalid` error naming the field.
 */
import { createHash } from "node:crypto";
import { defaultGuestConfig } from "../guest/default-guest-config.ts";
import { ConfigError, validateVmConfig, type DriveConfig, type NicConfig, type VmConfig } from "../vmm/config.ts";
import { invalid } from "./errors.ts";
import type { VmRecord } from "./model.ts";
import type { Networks } from "./networks.ts";
import type { Pools } from "./pools.ts";

const MiB = 2 ** 20;

export async function vmConfigOf(record: VmRecord, pools: Pools, networks: Networks): Promise<VmConfig> {
  const drives: DriveConfig[] = record.disks.map((d, i) => ({ file: pools.existingImage(d.image), readonly: d.readonly === true, snapshot: false, serial: `disk${i}` }));
  const nics: NicConfig[] = record.nics.map((nic, i) => ({ ...networks.nicConfig(nic), mac: macOf(record.name, i) }));
  const memory = record.memoryMiB * MiB;
  try {
    if (record.boot.kind === "default-guest") {
      const base = await defaultGuestConfig({ memory, quiet: true });
      return validateVmConfig({ ...base, name: record.name, harts: record.cpus, drives: [...base.drives, ...drives], nics: nics.length > 0 ? nics : base.nics });
    }
    const { kernel, initrd, append, firmware } = record.boot;
    return validateVmConfig({
      name: record.name,
      memory,
      harts: record.cpus,
      firmware: firmware === undefined || firmware === "builtin" ? { kind: "builtin" } : firmware === "none" ? { kind: "none" } : { kind: "file", path: firmware },
      kernel,
      ...(initrd === undefined ? {} : { initrd }),
      ...(append === undefined ? {} : { append }),
      drives,
      nics,
      rng: true,
    });
  } catch (e) {
    if (e instanceof ConfigError) throw invalid(`VM ${record.name}: ${e.message}`);
    throw e;
  }
}

/** A stable, locally administered MAC per VM name and NIC (QEMU's 52:54:00 prefix), so VMs on one switch get their own DHCP leases. */
export function macOf(vm: string, nic: number): string {
  const h = createHash("sha256").update(`${vm}/${nic}`).digest();
  return ["52", "54", "00", ...[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0"))].join(":");
}
