// The default guest: a Linux kernel Image, a busybox initramfs and an ext4
// data disk, built from Debian packages by scripts/guest/build.sh and cached
// outside the checkout under a hash of the recipe (docs/guest-images.md).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface DefaultGuest {
  /** The kernel `Image`, booted in S-mode at RAM + 2 MiB. */
  kernel: string;
  /** The gzip-compressed newc initramfs whose /init starts a console shell. */
  initrd: string;
  /** The pristine raw ext4 data disk: copy it before letting a guest write. */
  disk: string;
  /** The cache directory that holds them and manifest.json. */
  dir: string;
}

/** What build.sh records in manifest.json (the fields consumers use). */
export interface DefaultGuestManifest {
  recipeHash: string;
  kernelRelease: string;
  busyboxVersion: string;
  /** The kernel command line the guest is meant to boot with. */
  append: string;
  /** The line /init prints once the guest is up, before the shell starts. */
  readyMarker: string;
  /** A file the pristine data disk holds, with its exact contents. */
  dataDiskFile: { path: string; text: string };
  files: Record<string, { bytes: number; sha256: string }>;
  stepSeconds: Record<string, number>;
}

const BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/guest/build.sh", import.meta.url));

/**
 * The cache directory of the default guest for the current recipe, whether
 * or not it has been built yet.
 */
export function defaultGuestCachePath(): string {
  return execFileSync("bash", [BUILD_SCRIPT, "--print-cache-dir"], { encoding: "utf8" }).trim();
}

/**
 * Returns the default guest's files, building them first (several minutes,
 * progress on stderr unless `quiet`) when the cache lacks this recipe.
 */
export async function ensureDefaultGuest(opts: { quiet?: boolean } = {}): Promise<DefaultGuest> {
  const cached = defaultGuestCachePath();
  const dir = isComplete(cached) ? cached : await runBuild(opts.quiet ?? false);
  return {
    kernel: join(dir, "Image"),
    initrd: join(dir, "initramfs.cpio.gz"),
    disk: join(dir, "data.ext4"),
    dir,
  };
}

export function readDefaultGuestManifest(dir: string): DefaultGuestManifest {
  return JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as DefaultGuestManifest;
}

// build.sh renames a finished directory into place, so a manifest means a
// complete guest.
function isComplete(dir: string): boolean {
  return existsSync(join(dir, "manifest.json"));
}

function runBuild(quiet: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT], {
      stdio: ["ignore", "pipe", quiet ? "pipe" : "inherit"],
    });
    let stdout = "";
    let stderrTail = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-8192);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const dir = stdout.trim().split("\n").at(-1) ?? "";
      if (code === 0 && isComplete(dir)) {
        resolve(dir);
        return;
      }
      const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      const detail = quiet ? `; the end of its output:\n${stderrTail}` : "; its output is above";
      reject(new Error(`building the default guest failed: ${BUILD_SCRIPT} ${how}${detail}`));
    });
  });
}
