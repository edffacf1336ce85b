/** File-system statistics (statfs, fstatfs): the host's, through node's statfs. */
import * as fs from "node:fs";
import type { ProcessVm } from "../kernel.ts";
import type { Thread } from "../process.ts";
import { AT_FDCWD } from "../paths.ts";
import type { SyscallHandler } from "./table.ts";
import { EBADF, StructWriter, host, isErr, pathArg, put } from "./util.ts";

/** NAME_MAX: node's statfs does not report f_namelen; every file system Linux mounts here uses 255. */
const NAME_MAX = 255;
/** struct statfs (asm-generic, 64-bit): 120 bytes. */
const STATFS_SIZE = 120;

function encodeStatfs(s: fs.StatsFs): Uint8Array {
  const w = new StructWriter(STATFS_SIZE);
  w.u64(0, s.type).u64(8, s.bsize).u64(16, s.blocks).u64(24, s.bfree).u64(32, s.bavail);
  w.u64(40, s.files).u64(48, s.ffree);
  // f_fsid (56) stays zero: node does not report it.
  w.u64(64, NAME_MAX).u64(72, s.bsize);
  // f_flags (80): mount flags are not reported either; 0 says "read-write, nothing special".
  return w.bytes;
}

function statfsOf(t: Thread, hostPath: string, bufVa: number): number {
  const s = host(() => fs.statfsSync(hostPath));
  if (isErr(s)) return s;
  return put(t, bufVa, encodeStatfs(s as fs.StatsFs));
}

export const statfsSyscalls: Record<string, SyscallHandler> = {
  statfs: (vm: ProcessVm, t, a) => {
    const path = pathArg(t, a.u[0]);
    if (typeof path === "number") return path;
    const hostPath = vm.paths.resolveAt(t.process, AT_FDCWD, path);
    if (typeof hostPath === "number") return hostPath;
    return statfsOf(t, hostPath, a.u[1]);
  },

  fstatfs: (_vm, t, a) => {
    const f = t.process.fds.get(a.i[0]);
    if (f === null) return EBADF;
    // Pipes, sockets and anonymous files live on pseudo file systems; their path is no host path.
    const target = f.hostFd >= 0 ? `/proc/self/fd/${f.hostFd}` : "/proc";
    return statfsOf(t, target, a.u[1]);
  },
};
