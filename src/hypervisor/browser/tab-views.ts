/**
 * What the API tells a browser tab: the lease of a VM that moved into it
 * (every URL a path on the daemon), and the default guest's files for a
 * tab that boots one of its own.
 */
import { statSync } from "node:fs";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../../guest/default-guest.ts";
import type { DefaultGuestView, TabLease, VmRecord } from "../model.ts";
import type { ActiveLease } from "./lease.ts";

/** The default guest's RAM in a tab (as a daemon VM's default). */
const TAB_GUEST_MEMORY_MIB = 256;

export const DEFAULT_GUEST_ARTIFACTS = ["kernel", "initrd", "disk"] as const;
export type DefaultGuestArtifact = (typeof DEFAULT_GUEST_ARTIFACTS)[number];

export function tabLease(vm: VmRecord, lease: ActiveLease): TabLease {
  const base = `/v1/vms/${encodeURIComponent(vm.name)}/browser`;
  const r = lease.record;
  return {
    vm: vm.name,
    lease: r.id,
    memoryMiB: vm.memoryMiB,
    cpus: vm.cpus,
    snapshot: { url: `${base}/snapshot`, id: r.snapshotId, sizeBytes: r.sizeBytes },
    drives: r.drives.map((_, index) => {
      const drive = lease.drive(index);
      return { index, url: `${base}/drives/${index}`, sizeBytes: drive.sizeBytes, readonly: drive.readonly, syncUrl: `${base}/drives/${index}` };
    }),
    nics: r.nics.map((nic, index) => ({ index, mac: nic.mac, url: `${base}/nics/${index}?lease=${encodeURIComponent(r.id)}` })),
  };
}

/** The default guest's file for `artifact` (built first if the cache lacks it). */
export async function defaultGuestFile(artifact: DefaultGuestArtifact): Promise<string> {
  const guest = await ensureDefaultGuest({ quiet: true });
  return { kernel: guest.kernel, initrd: guest.initrd, disk: guest.disk }[artifact];
}

export async function defaultGuestView(): Promise<DefaultGuestView> {
  const guest = await ensureDefaultGuest({ quiet: true });
  const file = (artifact: DefaultGuestArtifact, path: string) => ({ url: `/v1/guest/default/${artifact}`, sizeBytes: statSync(path).size });
  return {
    memoryMiB: TAB_GUEST_MEMORY_MIB,
    append: readDefaultGuestManifest(guest.dir).append,
    kernel: file("kernel", guest.kernel),
    initrd: file("initrd", guest.initrd),
    disk: file("disk", guest.disk),
  };
}
