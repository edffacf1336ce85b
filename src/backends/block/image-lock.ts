/**
 * Advisory lock on a writable image, so that two VMs (or a VM and
 * `typevisor img`) never write one image at once. QEMU takes OFD fcntl
 * byte-range locks; Node has no fcntl without a native module, so we use
 * a lock file beside the image, `<image>.lock`, created with O_EXCL and
 * holding the owner's pid and host name. A lock whose owner process is gone
 * (kill -9) is stale and is taken over. Readers take no lock: read-only
 * sharing always works, as with QEMU's force-share. (It does not see QEMU's
 * own locks; see docs/storage.md.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { ImageError } from "./qcow2/errors.ts";

interface LockOwner {
  pid: number;
  host: string;
}

const held = new Set<string>();
let exitHookInstalled = false;

export class ImageLock {
  private constructor(readonly lockPath: string) {}

  /** Takes the write lock on `imagePath`, or throws an ImageError saying who holds it. */
  static acquire(imagePath: string): ImageLock {
    const lockPath = `${imagePath}.lock`;
    const me: LockOwner = { pid: process.pid, host: os.hostname() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(lockPath, "wx", 0o644);
        fs.writeSync(fd, `${JSON.stringify(me)}\n`);
        fs.closeSync(fd);
        held.add(lockPath);
        installExitHook();
        return new ImageLock(lockPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new ImageError(`cannot lock ${imagePath}: ${(e as Error).message}`);
        }
      }
      const owner = readOwner(lockPath);
      if (owner !== null && owner.host === me.host && owner.pid === me.pid && held.has(lockPath)) {
        throw new ImageError(`${imagePath} is already open for writing in this process`);
      }
      if (owner !== null && (owner.host !== me.host || alive(owner.pid))) {
        const who = owner.host === me.host ? `process ${owner.pid}` : `process ${owner.pid} on ${owner.host}`;
        throw new ImageError(
          `${imagePath} is in use for writing by ${who} (lock file ${lockPath}); ` +
            "open it read-only, or stop the other user first",
        );
      }
      // The owner died without unlocking (or the file is unreadable junk): the lock is stale.
      try {
        fs.unlinkSync(lockPath);
      } catch {
        // Someone else removed it first; try again.
      }
    }
    throw new ImageError(`cannot lock ${imagePath}: lock file ${lockPath} keeps reappearing`);
  }

  release(): void {
    if (!held.delete(this.lockPath)) return;
    const owner = readOwner(this.lockPath);
    if (owner !== null && owner.pid === process.pid) {
      try {
        fs.unlinkSync(this.lockPath);
      } catch {
        // Already gone.
      }
    }
  }
}

function readOwner(lockPath: string): LockOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(lockPath, "utf8")) as LockOwner;
    return Number.isInteger(o.pid) && typeof o.host === "string" ? o : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes our lock files when the process exits normally (kill -9 leaves them stale, which is handled). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const lockPath of held) {
      try {
        fs.unlinkSync(lockPath);
      } catch {
        // Nothing to clean.
      }
    }
  });
}
