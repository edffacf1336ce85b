/**
 * `typevisor run` with nothing to boot: the default guest. Builds it on first
 * use (src/guest), then boots its kernel and initramfs with the built-in SBI
 * and attaches a writable copy of its data disk, which the guest's /init
 * mounts at /data and which persists across runs.
 */
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { copySparse } from "../backends/block/sparse-copy.ts";
import { ensureDefaultGuest, readDefaultGuestManifest } from "../guest/default-guest.ts";
import { validateVmConfig, type VmConfig } from "../vmm/config.ts";

/**
 * Where the default guest's writable data disk lives: TYPEVISOR_DATA_DISK,
 * else under the cache root (TYPEVISOR_CACHE, else ~/.cache/typevisor).
 */
export function defaultDataDiskPath(): string {
  if (process.env.TYPEVISOR_DATA_DISK) return process.env.TYPEVISOR_DATA_DISK;
  const root = process.env.TYPEVISOR_CACHE ?? join(homedir(), ".cache", "typevisor");
  return join(root, "disks", "default-data.ext4");
}

/**
 * `config` (the user's flags, already validated) with the default guest's
 * kernel, initrd, command line and data disk (first, so it is /dev/vda).
 * `snapshot`: the data disk's writes are thrown away at exit.
 */
export async function withDefaultGuest(config: VmConfig, snapshot: boolean): Promise<VmConfig> {
  const guest = await ensureDefaultGuest();
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk = defaultDataDiskPath();
  if (!existsSync(disk)) {
    mkdirSync(dirname(disk), { recursive: true });
    copySparse(guest.disk, disk);
  }
  const full = validateVmConfig({
    ...config,
    kernel: guest.kernel,
    initrd: guest.initrd,
    append: config.append ?? manifest.append,
    drives: [{ file: disk, format: "raw", readonly: false, snapshot }, ...config.drives],
  });
  const kept = snapshot ? "what the guest writes there is thrown away at exit (-snapshot)" : "what the guest writes there is kept";
  process.stderr.write(
    `typevisor: booting the default guest (Linux ${manifest.kernelRelease}, busybox ${manifest.busyboxVersion}); ` +
      `its data disk ${disk} is mounted at /data, ${kept}. Ctrl-A x quits, Ctrl-A h lists the escapes.\n`,
  );
  return full;
}
