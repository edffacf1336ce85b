/**
 * `typevisor run` with nothing to boot: the default guest. Builds it on first
 * use (src/guest), then boots its kernel and initramfs with the built-in SBI
 * and attaches a writable copy of its data disk that persists across runs.
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../guest/default-guest.ts";
import type { RunFlags } from "./run-command.ts";

/**
 * Where the default guest's writable data disk lives: TYPEVISOR_DATA_DISK,
 * else under the cache root (TYPEVISOR_CACHE, else ~/.cache/typevisor).
 */
export function defaultDataDiskPath(): string {
  if (process.env.TYPEVISOR_DATA_DISK) return process.env.TYPEVISOR_DATA_DISK;
  const root = process.env.TYPEVISOR_CACHE ?? join(homedir(), ".cache", "typevisor");
  return join(root, "disks", "default-data.ext4");
}

/** True when the flags name nothing to boot, so the default guest applies. */
export function wantsDefaultGuest(flags: RunFlags): boolean {
  return flags.kernel === undefined && flags.bios === undefined && flags.dumpdtb === undefined;
}

/** Fills in kernel, initrd, command line and data disk from the default guest. */
export async function withDefaultGuest(flags: RunFlags): Promise<RunFlags> {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = defaultDataDiskPath();
  if (!existsSync(disk)) {
    mkdirSync(dirname(disk), { recursive: true });
    copyFileSync(guest.disk, disk);
  }
  process.stderr.write(
    `typevisor: booting the default guest (Linux ${manifest.kernelRelease}, busybox ${manifest.busyboxVersion}); ` +
      `data disk ${disk} is /dev/vda. Ctrl-A x quits, Ctrl-A h lists the escapes.\n`,
  );
  return {
    ...flags,
    kernel: guest.kernel,
    initrd: guest.initrd,
    append: flags.append ?? manifest.append,
    drive: [`file=${disk},format=raw`, ...flags.drive],
    net: flags.net ?? "null",
    rng: true,
  };
}
