/**
 * strace-like lines for --trace-syscalls: `[pid] name(args) = result`.
 * Path arguments are shown as strings, buffers of read/write as a short
 * quoted preview; everything else as decimal or hex.
 */
import { SYSCALL_NAMES, errnoName } from "./abi.ts";
import type { ProcessVm, SyscallArgs } from "./kernel.ts";
import { NO_RETURN } from "./kernel.ts";
import { WOULD_BLOCK } from "./files.ts";
import { AT_FDCWD } from "./paths.ts";
import type { Thread } from "./process.ts";
import { escapeBytes } from "../util/escape-text.ts";

/**
 * Argument kinds per call: s = C string, b = buffer (length in the next
 * argument), d = int, f = a directory fd (AT_FDCWD by name), x = hex.
 * Every *at call names its dirfd arguments with f.
 */
export const SIGNATURES: Record<string, string> = {
  openat: "fsxx", openat2: "fsxd", close: "d", read: "dbd", write: "dbd", pread64: "dbdd", pwrite64: "dbdd", lseek: "ddd",
  readv: "dxd", writev: "dxd", fstat: "dx", fstatat: "fsxx", statx: "fsxxx", getdents64: "dxd",
  readlinkat: "fsxd", faccessat: "fsx", faccessat2: "fsxx", mkdirat: "fsx", mknodat: "fsxx", unlinkat: "fsx",
  renameat: "fsfs", renameat2: "fsfsx", symlinkat: "sfs", linkat: "fsfsx", fchmodat: "fsx", fchownat: "fsddx",
  execveat: "fsxxx", open_tree: "fsx", move_mount: "fsfsx", mount_setattr: "fsxxx",
  fspick: "fsx", inotify_add_watch: "dsx", chdir: "s", fchdir: "d", getcwd: "xd",
  splice: "dxdxdx", tee: "dddx", sendfile: "ddxd", copy_file_range: "dxdxdx",
  execve: "sxx", fcntl: "ddx", dup: "d", dup3: "ddx", pipe2: "xx", ioctl: "dxx", exit: "d", exit_group: "d",
  kill: "dd", tgkill: "ddd", wait4: "dxxx", clone: "xxxxx", mmap: "xxxxdx", munmap: "xx", mprotect: "xxx",
  brk: "x", futex: "xddxxx", rt_sigaction: "dxxd", rt_sigprocmask: "dxxd", nanosleep: "xx",
  clock_nanosleep: "ddxx", clock_gettime: "dx", uname: "x", utimensat: "fsxx",
  truncate: "sd", prlimit64: "ddxx", getrlimit: "dx", setrlimit: "dx", epoll_create1: "x", epoll_ctl: "dddx", epoll_pwait: "dxddxd", epoll_pwait2: "dxdxxd",
  eventfd2: "dx", timerfd_create: "dx", timerfd_settime: "dxxx", timerfd_gettime: "dx", signalfd4: "dxdx",
  ppoll: "xdxxd", pselect6: "dxxxxx", close_range: "ddx",
  socket: "dxd", socketpair: "dxdx", bind: "dxd", listen: "dd", accept: "dxx", accept4: "dxxx", connect: "dxd",
  getsockname: "dxx", getpeername: "dxx", sendto: "dbdxxd", recvfrom: "dxdxxx", setsockopt: "dddxd",
  getsockopt: "dddxx", shutdown: "dd", sendmsg: "dxx", recvmsg: "dxx",
  timer_create: "dxx", timer_settime: "dxxx", timer_gettime: "dx", timer_delete: "d", statfs: "sx", fstatfs: "dx",
};

/** Argument n in hex, exact in all 64 bits (a.u is a double: 2^64 - 100 would print as 0x10000000000000000). */
function hex(a: SyscallArgs, n: number): string {
  return `0x${((BigInt(a.hi[n] >>> 0) << 32n) | BigInt(a.i[n] >>> 0)).toString(16)}`;
}

function preview(bytes: Uint8Array | null): string {
  if (bytes === null) return "?";
  let s = "";
  for (const b of bytes.subarray(0, 32)) {
    if (b === 0x0a) s += "\\n";
    else if (b === 0x22 || b === 0x5c) s += "\\" + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += "\\x" + b.toString(16).padStart(2, "0");
  }
  return `"${s}"${bytes.length > 32 ? "..." : ""}`;
}

export function formatSyscall(vm: ProcessVm, t: Thread, nr: number, a: SyscallArgs, result: number): string {
  const name = SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
  const sig = SIGNATURES[name] ?? "xxxxxx".slice(0, 3);
  const space = t.process.space;
  const args: string[] = [];
  for (let i = 0; i < sig.length; i++) {
    switch (sig[i]) {
      case "s": {
        const s = a.u[i] === 0 ? null : space.readCString(a.u[i], 4096);
        args.push(s === null ? hex(a, i) : `"${escapeBytes(s).replace(/["]/g, '\\"')}"`);
        break;
      }
      case "b": {
        const len = Math.min(a.u[i + 1], 64);
        const shown = name === "read" || name === "pread64" ? (result > 0 ? Math.min(result, len) : 0) : len;
        args.push(shown > 0 ? preview(space.read(a.u[i], shown)) : hex(a, i));
        break;
      }
      case "d":
        args.push(String(a.i[i]));
        break;
      case "f":
        args.push(a.i[i] === AT_FDCWD ? "AT_FDCWD" : String(a.i[i]));
        break;
      default:
        args.push(hex(a, i));
    }
  }
  let res: string;
  if (result === WOULD_BLOCK) res = "? (blocked)";
  else if (result === NO_RETURN) res = "?";
  else if (result < 0 && result > -4096) res = `-1 ${errnoName(-result)}`;
  else res = result > 0xffff ? `0x${result.toString(16)}` : String(result);
  void vm;
  return `[${t.tid}] ${name}(${args.join(", ")}) = ${res}`;
}
