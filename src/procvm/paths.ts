/**
 * Guest path → host path. The guest sees the host's file system, as under
 * qemu-user, with two twists:
 *  - a sysroot prefix (`-L`): an absolute path that exists under the prefix
 *    is taken from there (the dynamic loader, libc, ...), anything else from
 *    the host itself;
 *  - /proc/self/exe (and /proc/<pid>/exe) name the guest program, not node.
 * Relative paths resolve against the process's own cwd (each guest process
 * has one; the host process's cwd never changes).
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { ERRNO } from "./abi.ts";
import { HostFile } from "./files.ts";
import type { Process } from "./process.ts";

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;

export class Paths {
  /** Looks up a guest process by pid, for /proc/<pid>/exe. */
  processLookup: (pid: number) => Process | undefined = () => undefined;

  constructor(readonly prefix: string | null) {}

  /** Host path for the absolute, normalised guest path `abs`. */
  host(abs: string, proc: Process | null): string {
    const exe = /^\/proc\/(self|\d+)\/exe$/.exec(abs);
    if (exe !== null && proc !== null) {
      const target = exe[1] === "self" ? proc : this.processLookup(Number(exe[1]));
      if (target !== undefined && target.exePath !== "") return target.exePath;
    }
    if (this.prefix !== null && abs !== "/") {
      const candidate = this.prefix + abs;
      try {
        fs.lstatSync(candidate);
        return candidate;
      } catch {
        // not in the sysroot: the host's own file
      }
    }
    return abs;
  }

  /** The guest-visible target of /proc/self/exe-like links, or null for an ordinary path. */
  procLink(abs: string, proc: Process): string | null {
    const m = /^\/proc\/(self|\d+)\/(exe|cwd|fd\/(\d+))$/.exec(abs);
    if (m === null) return null;
    const target = m[1] === "self" ? proc : this.processLookup(Number(m[1]));
    if (target === undefined) return null;
    if (m[2] === "exe") return target.exePath;
    if (m[2] === "cwd") return target.cwd;
    const f = target.fds.get(Number(m[3]));
    return f === null ? null : f.path;
  }

  /** Resolves a path given to execve / the command line. */
  resolveForExec(path: string, proc: Process | null): string {
    const cwd = proc?.cwd ?? process.cwd();
    return this.host(nodePath.posix.resolve(cwd, path), proc);
  }

  /**
   * Resolves `path` relative to `dirfd` (AT_FDCWD or a directory fd) for a
   * *at() call: the host path, or a negated errno.
   */
  resolveAt(proc: Process, dirfd: number, path: string, emptyPathOk = false): string | number {
    if (path.length === 0) {
      if (!emptyPathOk) return -ERRNO.ENOENT;
      if (dirfd === AT_FDCWD) return proc.cwd;
      const f = proc.fds.get(dirfd);
      return f === null ? -ERRNO.EBADF : f.path;
    }
    if (path.startsWith("/")) return this.host(nodePath.posix.normalize(path), proc);
    let base: string;
    if (dirfd === AT_FDCWD) base = proc.cwd;
    else {
      const f = proc.fds.get(dirfd);
      if (f === null) return -ERRNO.EBADF;
      if (!(f instanceof HostFile) || !f.isDirectory) return -ERRNO.ENOTDIR;
      base = f.path;
    }
    const joined = nodePath.posix.join(base, path);
    return path.endsWith("/") && !joined.endsWith("/") ? joined + "/" : joined;
  }
}
