/**
 * The default guest (Linux 6.1 + busybox shell + ext4 data disk) as a
 * VmConfig for the library: builds the guest on first use (several minutes,
 * then cached), and by default attaches its pristine data disk with
 * `snapshot: true`, so what a VM writes there is thrown away and the cached
 * image stays pristine for every other VM.
 */
import { ensureDefaultGuest, readDefaultGuestManifest } from "./default-guest.ts";
import { validateVmConfig, type VmConfig } from "../vmm/config.ts";

export interface DefaultGuestOptions {
  /** Guest RAM in bytes (default 256 MiB). */
  memory?: number;
  /** A raw ext4 image of your own to mount at /data, written in place (default: the pristine data disk, writes discarded). */
  dataDisk?: string;
  /** No build progress on stderr when the guest must be built first. */
  quiet?: boolean;
}

/** The line the default guest prints once its shell is about to start. */
export const DEFAULT_GUEST_READY_MARKER = "TYPEVISOR-GUEST-READY";

export async function defaultGuestConfig(options: DefaultGuestOptions = {}): Promise<VmConfig> {
  const guest = await ensureDefaultGuest({ quiet: options.quiet });
  const manifest = readDefaultGuestManifest(guest.dir);
  const disk =
    options.dataDisk === undefined
      ? { file: guest.disk, format: "raw", readonly: false, snapshot: true }
      : { file: options.dataDisk, format: "raw", readonly: false, snapshot: false };
  return validateVmConfig({
    name: "default-guest",
    memory: options.memory ?? 256 * 2 ** 20,
    harts: 1,
    firmware: { kind: "builtin" },
    kernel: guest.kernel,
    initrd: guest.initrd,
    append: manifest.append,
    drives: [disk],
    nics: [{ backend: "null" }],
    rng: true,
  });
}
