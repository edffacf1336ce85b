/**
 * strace-like lines for --trace-syscalls: `[pid] name(args) = result`.
 * Path arguments are shown as strings, buffers of read/write as a short
 * quoted preview; everything else as decimal or hex.
 */
import { SYSCALL_NAMES, errnoName } from "./abi.ts";
import type { ProcessVm, SyscallArgs } from "./kernel.ts";
import { NO_RETURN } from "./kernel.ts";
import { WOULD_BLOCK } from "./files.ts";
import type { Thread } from "./process.ts";

/** Argument kinds per call: s = C string, b = buffer (length in the next argument), d = int, x = hex. */
const SIGNATURES: Record<string, string> = {
  openat: "dsxx", close: "d", read: "dbd", write: "dbd", pread64: "dbdd", pwrite64: "dbdd", lseek: "ddd",
  readv: "dxd", writev: "dxd", fstat: "dx", fstatat: "dsxx", statx: "dsxxx", getdents64: "dxd",
  readlinkat: "dsxd", faccessat: "dsx", faccessat2: "dsxx", mkdirat: "dsx", unlinkat: "dsx",
  renameat2: "dsdsx", symlinkat: "sds", linkat: "dsdsx", fchmodat: "dsx", fchownat: "dsddx", chdir: "s",
  execve: "sxx", fcntl: "ddx", dup: "d", dup3: "ddx", pipe2: "xx", ioctl: "dxx", exit: "d", exit_group: "d",
  kill: "dd", tgkill: "ddd", wait4: "dxxx", clone: "xxxxx", mmap: "xxxxdx", munmap: "xx", mprotect: "xxx",
  brk: "x", futex: "xddxxx", rt_sigaction: "dxxd", rt_sigprocmask: "dxxd", nanosleep: "xx", utimensat: "dsxx",
  clock_nanosleep: "ddxx", clock_gettime: "dx", uname: "x",
  truncate: "sd", epoll_create1: "x", epoll_ctl: "dddx", epoll_pwait: "dxddxd", epoll_pwait2: "dxdxxd",
  eventfd2: "dx", timerfd_create: "dx", timerfd_settime: "dxxx", timerfd_gettime: "dx", signalfd4: "dxdx",
  ppoll: "xdxxd", pselect6: "dxxxxx", close_range: "ddx",
  socket: "dxd", socketpair: "dxdx", bind: "dxd", listen: "dd", accept: "dxx", accept4: "dxxx", connect: "dxd",
  getsockname: "dxx", getpeername: "dxx", sendto: "dbdxxd", recvfrom: "dxdxxx", setsockopt: "dddxd",
  getsockopt: "dddxx", shutdown: "dd", sendmsg: "dxx", recvmsg: "dxx",
  timer_create: "dxx", timer_settime: "dxxx", timer_gettime: "dx", timer_delete: "d", statfs: "sx", fstatfs: "dx",
};

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
        args.push(s === null ? `0x${a.u[i].toString(16)}` : JSON.stringify(new TextDecoder().decode(s)));
        break;
      }
      case "b": {
        const len = Math.min(a.u[i + 1], 64);
        const shown = name === "read" || name === "pread64" ? (result > 0 ? Math.min(result, len) : 0) : len;
        args.push(shown > 0 ? preview(space.read(a.u[i], shown)) : `0x${a.u[i].toString(16)}`);
        break;
      }
      case "d":
        args.push(String(a.i[i]));
        break;
      default:
        args.push(`0x${a.u[i].toString(16)}`);
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
