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
import { HostFile, hostErrno } from "./files.ts";
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
    let handle: number;
    if (dirfd === AT_FDCWD) {
      base = proc.cwd;
      handle = proc.cwdHandle;
    } else {
      const f = proc.fds.get(dirfd);
      if (f === null) return -ERRNO.EBADF;
      if (!(f instanceof HostFile) || !f.isDirectory) return -ERRNO.ENOTDIR;
      base = f.path;
      handle = f.hostFd;
    }
    // Linux limits each call's own path, not the directory's absolute one, and a
    // removed cwd still serves "." : reach such paths through the directory's host fd.
    const throughHandle = base.startsWith(HANDLE_PREFIX) || (dirfd === AT_FDCWD && directoryRemoved(handle));
    if (handle >= 0 && throughHandle) return `${HANDLE_PREFIX}${handle}/${path}`;
    const joined = nodePath.posix.join(base, path);
    if (handle >= 0 && joined.length >= PATH_MAX) return `${HANDLE_PREFIX}${handle}/${path}`;
    return path.endsWith("/") && !joined.endsWith("/") ? joined + "/" : joined;
  }
}

const PATH_MAX = 4096;
/** Host paths through a directory's host fd: the kernel resolves the rest relative to it. */
const HANDLE_PREFIX = "/proc/self/fd/";
const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;

/** A host O_PATH handle on a directory (a process's cwd), or a negated errno (ENOTDIR, ENOENT...). */
export function openDirectoryHandle(hostPath: string): number {
  try {
    return fs.openSync(hostPath, O_PATH | O_DIRECTORY);
  } catch (e) {
    return hostErrno(e);
  }
}

export function closeDirectoryHandle(fd: number): void {
  if (fd < 0) return;
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/** A second handle on the same directory (fork's child). */
export function dupDirectoryHandle(fd: number): number {
  return fd < 0 ? -1 : Math.max(-1, openDirectoryHandle(`${HANDLE_PREFIX}${fd}`));
}

/** Whether the directory behind `fd` has been removed (Linux keeps serving "." with nlink 0). */
export function directoryRemoved(fd: number): boolean {
  if (fd < 0) return false;
  try {
    return fs.fstatSync(fd).nlink === 0;
  } catch {
    return false;
  }
}
