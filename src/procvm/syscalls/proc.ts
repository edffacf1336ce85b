/** Process and thread system calls: clone/fork/vfork, execve, wait, exit, ids, limits. */
import { randomFillSync } from "node:crypto";
import * as os from "node:os";
import { ERRNO } from "../abi.ts";
import { NO_RETURN, type ProcessVm, type SyscallArgs } from "../kernel.ts";
import { WOULD_BLOCK } from "../files.ts";
import { Process, Thread } from "../process.ts";
import { CLD_DUMPED, CLD_EXITED, CLD_KILLED, SIGCHLD, defaultAction, encodeSiginfo } from "../signals.ts";
import type { SyscallHandler } from "./table.ts";
import { EFAULT, EINVAL, StructWriter, pathArg, put, stringArray } from "./util.ts";
import { hostNofileLimit } from "../host-limits.ts";
import { dupDirectoryHandle } from "../paths.ts";

const CLONE_VM = 0x100;
const CLONE_FS = 0x200;
const CLONE_FILES = 0x400;
const CLONE_SIGHAND = 0x800;
const CLONE_PIDFD = 0x1000;
const CLONE_VFORK = 0x4000;
const CLONE_PARENT = 0x8000;
const CLONE_THREAD = 0x10000;
const CLONE_SYSVSEM = 0x40000;
const CLONE_SETTLS = 0x80000;
const CLONE_PARENT_SETTID = 0x100000;
const CLONE_CHILD_CLEARTID = 0x200000;
const CLONE_CHILD_SETTID = 0x1000000;
const CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;

const RLIM_INFINITY = (1n << 64n) - 1n;
const RLIMIT_STACK = 3;
const RLIMIT_CORE = 4;
const RLIMIT_NOFILE = 7;
const RLIMIT_NLIMITS = 16;

interface CloneRequest {
  flags: number;
  exitSignal: number;
  stack: number;
  parentTid: number;
  childTid: number;
  tls: number;
}

function clone(vm: ProcessVm, t: Thread, req: CloneRequest): number {
  const { flags } = req;
  const p = t.process;
  if ((flags & CLONE_NAMESPACES) !== 0) return -ERRNO.EPERM;
  if ((flags & CLONE_THREAD) !== 0 && (flags & CLONE_SIGHAND) === 0) return EINVAL;
  if ((flags & CLONE_SIGHAND) !== 0 && (flags & CLONE_VM) === 0) return EINVAL;
  if ((flags & CLONE_PIDFD) !== 0) return EINVAL;
  const tls = (flags & CLONE_SETTLS) !== 0 ? req.tls : null;

  if ((flags & CLONE_THREAD) !== 0) {
    const child = vm.newThread(t, p);
    vm.prepareChild(child, req.stack, tls);
    if ((flags & CLONE_PARENT_SETTID) !== 0 && !p.space.writeU32(req.parentTid, child.tid)) return EFAULT;
    if ((flags & CLONE_CHILD_SETTID) !== 0 && !p.space.writeU32(req.childTid, child.tid)) return EFAULT;
    if ((flags & CLONE_CHILD_CLEARTID) !== 0) child.clearChildTid = req.childTid;
    vm.addThread(child);
    return child.tid;
  }

  let space;
  if ((flags & CLONE_VM) !== 0) {
    space = p.space;
    space.users++;
  } else {
    space = p.space.fork();
    vm.invalidateTlb();
    vm.sliceRunner?.spaceForked(p.space, space);
  }
  const child = new Process(vm.allocPid(), space, p.fds.clone(), p.cwd, dupDirectoryHandle(p.cwdHandle));
  const parent = (flags & CLONE_PARENT) !== 0 && p.parent !== null ? p.parent : p;
  child.parent = parent;
  parent.children.add(child);
  child.pgid = p.pgid;
  child.sid = p.sid;
  child.umask = p.umask;
  child.exePath = p.exePath;
  child.startup = p.startup;
  child.sigreturn = p.sigreturn;
  child.comm = p.comm;
  child.exitSignal = req.exitSignal;
  p.actions.forEach((a, i) => (child.actions[i] = { ...a }));
  for (const [k, v] of p.rlimits) child.rlimits.set(k, [...v] as [bigint, bigint]);
  const thread = new Thread(child.pid, child);
  thread.regs.set(vm.regsOf(t).subarray(0, thread.regs.length));
  thread.sigmask = t.sigmask;
  thread.altstack = { ...t.altstack };
  vm.prepareChild(thread, req.stack, tls);
  if ((flags & CLONE_PARENT_SETTID) !== 0) p.space.writeU32(req.parentTid, child.pid);
  if ((flags & CLONE_CHILD_SETTID) !== 0) space.writeU32(req.childTid, child.pid);
  if ((flags & CLONE_CHILD_CLEARTID) !== 0) thread.clearChildTid = req.childTid;
  vm.addProcess(child);
  vm.addThread(thread);
  void CLONE_FS;
  void CLONE_FILES;
  void CLONE_SYSVSEM;
  if ((flags & CLONE_VFORK) !== 0) {
    // The parent sleeps until the child execs or exits; signals do not end the wait.
    return vm.block(t, {
      retry: () => (child.vforkDone ? child.pid : WOULD_BLOCK),
      deadline: Infinity,
      restartable: false,
      interruptible: false,
    });
  }
  return child.pid;
}

function waitMatch(p: Process, pid: number): (c: Process) => boolean {
  return (c) => pid === -1 || (pid > 0 && c.pid === pid) || (pid === 0 && c.pgid === p.pgid) || (pid < -1 && c.pgid === -pid);
}

function wait4(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const p = t.process;
  const pid = a.i[0];
  const statusVa = a.u[1];
  const options = a.i[2];
  const rusageVa = a.u[3];
  const match = waitMatch(p, pid);
  const attempt = (): number => {
    const candidates = [...p.children].filter(match);
    if (candidates.length === 0) return -ERRNO.ECHILD;
    const z = candidates.find((c) => c.exited);
    if (z === undefined) return (options & WNOHANG) !== 0 ? 0 : WOULD_BLOCK;
    if (statusVa !== 0 && !p.space.writeU32(statusVa, z.waitStatus)) return EFAULT;
    if (rusageVa !== 0 && !p.space.zero(rusageVa, 144)) return EFAULT;
    vm.reap(z);
    return z.pid;
  };
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  return vm.block(t, { retry: attempt, deadline: Infinity, restartable: true });
}

function waitid(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const p = t.process;
  const [idtype, id, infoVa, options] = [a.i[0], a.i[1], a.u[2], a.i[3]];
  if ((options & WEXITED) === 0) return EINVAL;
  let match: (c: Process) => boolean;
  if (idtype === 0) match = () => true;
  else if (idtype === 1) match = (c) => c.pid === id;
  else if (idtype === 2) match = (c) => c.pgid === (id === 0 ? p.pgid : id);
  else return EINVAL;
  const attempt = (): number => {
    const candidates = [...p.children].filter(match);
    if (candidates.length === 0) return -ERRNO.ECHILD;
    const z = candidates.find((c) => c.exited);
    if (z === undefined) {
      if ((options & WNOHANG) === 0) return WOULD_BLOCK;
      return infoVa !== 0 && !p.space.zero(infoVa, 128) ? EFAULT : 0;
    }
    const sig = z.waitStatus & 0x7f;
    const info = encodeSiginfo({
      signo: SIGCHLD,
      code: sig === 0 ? CLD_EXITED : defaultAction(sig) === "core" ? CLD_DUMPED : CLD_KILLED,
      pid: z.pid,
      uid: vm.creds.uid,
      status: sig === 0 ? (z.waitStatus >> 8) & 0xff : sig,
    });
    if (infoVa !== 0 && !p.space.write(infoVa, info)) return EFAULT;
    if ((options & WNOWAIT) === 0) vm.reap(z);
    return 0;
  };
  const r = attempt();
  if (r !== WOULD_BLOCK) return r;
  return vm.block(t, { retry: attempt, deadline: Infinity, restartable: true });
}

function rlimit(p: Process, resource: number): [bigint, bigint] {
  const set = p.rlimits.get(resource);
  if (set !== undefined) return set;
  switch (resource) {
    case RLIMIT_STACK: return [8n << 20n, RLIM_INFINITY];
    case RLIMIT_CORE: return [0n, RLIM_INFINITY];
    case RLIMIT_NOFILE: return [BigInt(p.fds.limit), BigInt(hostNofileLimit().hard)];
    default: return [RLIM_INFINITY, RLIM_INFINITY];
  }
}

function prlimit(vm: ProcessVm, t: Thread, pid: number, resource: number, newVa: number, oldVa: number): number {
  const target = pid === 0 ? t.process : vm.processes.get(pid);
  if (target === undefined) return -ERRNO.ESRCH;
  if (resource < 0 || resource >= RLIMIT_NLIMITS) return EINVAL;
  const old = rlimit(target, resource);
  if (newVa !== 0) {
    const b = t.process.space.read(newVa, 16);
    if (b === null) return EFAULT;
    const dv = new DataView(b.buffer);
    const soft = dv.getBigUint64(0, true);
    const hard = dv.getBigUint64(8, true);
    if (soft > hard) return EINVAL;
    if (hard > old[1] && vm.creds.euid !== 0) return -ERRNO.EPERM;
    if (resource === RLIMIT_NOFILE) {
      // Every guest file may need a host fd: the host's hard limit is the ceiling (Linux's is fs.nr_open).
      if (hard > BigInt(hostNofileLimit().hard)) return -ERRNO.EPERM;
      target.fds.limit = Number(soft);
    }
    target.rlimits.set(resource, [soft, hard]);
  }
  if (oldVa !== 0 && put(t, oldVa, new StructWriter(16).u64(0, old[0]).u64(8, old[1]).bytes) < 0) return EFAULT;
  return 0;
}

function uname(t: Thread, va: number): number {
  const w = new StructWriter(65 * 6);
  const fields = ["Linux", os.hostname(), os.release(), os.version(), "riscv64", "(none)"];
  fields.forEach((f, i) => w.str(i * 65, f, 65));
  return put(t, va, w.bytes);
}

/** Changes an id if the caller may (root, or the id it already has), as the credentials are virtual. */
function setIds(vm: ProcessVm, ids: number[], real: "uid" | "gid", effective: "euid" | "egid"): number {
  const c = vm.creds;
  for (const id of ids) {
    if (id === -1) continue;
    if (c.euid !== 0 && id !== c[real] && id !== c[effective]) return -ERRNO.EPERM;
  }
  if (ids[0] !== -1) c[real] = ids[0];
  if (ids.length > 1 && ids[1] !== -1) c[effective] = ids[1];
  if (ids.length === 1 && ids[0] !== -1) c[effective] = ids[0];
  return 0;
}

export const procSyscalls: Record<string, SyscallHandler> = {
  clone: (vm, t, a) =>
    clone(vm, t, {
      flags: a.i[0] & ~0xff,
      exitSignal: a.i[0] & 0xff,
      stack: a.u[1],
      parentTid: a.u[2],
      tls: a.u[3],
      childTid: a.u[4],
    }),

  clone3: (vm, t, a) => {
    const size = a.u[1];
    if (size < 64) return EINVAL;
    const b = t.process.space.read(a.u[0], 64);
    if (b === null) return EFAULT;
    const dv = new DataView(b.buffer);
    const u = (o: number) => Number(dv.getBigUint64(o, true));
    const flags = u(0);
    if (flags > 0xffffffff || (flags & 0xff) !== 0) return EINVAL;
    const stack = u(40);
    const stackSize = u(48);
    return clone(vm, t, {
      flags,
      pidfdVa: u(8),
      childTid: u(16),
      parentTid: u(24),
      exitSignal: u(32),
      stack: stack === 0 ? 0 : stack + stackSize,
      tls: u(56),
    } as CloneRequest);
  },

  execve: (vm, t, a) => {
    const path = pathArg(t, a.u[0]);
    if (typeof path === "number") return path;
    const argv = stringArray(t, a.u[1]);
    if (typeof argv === "number") return argv;
    const envp = stringArray(t, a.u[2]);
    if (typeof envp === "number") return envp;
    return vm.exec(t, path, argv, envp);
  },

  exit: (vm, t, a) => {
    vm.exitThread(t, a.i[0]);
    return NO_RETURN;
  },

  exit_group: (vm, t, a) => {
    vm.exitGroup(t.process, (a.i[0] & 0xff) << 8);
    return NO_RETURN;
  },

  wait4: (vm, t, a) => wait4(vm, t, a),
  waitid: (vm, t, a) => waitid(vm, t, a),

  getpid: (_vm, t) => t.process.pid,
  getppid: (_vm, t) => t.process.parent?.pid ?? process.ppid,
  gettid: (_vm, t) => t.tid,
  getuid: (vm) => vm.creds.uid,
  geteuid: (vm) => vm.creds.euid,
  getgid: (vm) => vm.creds.gid,
  getegid: (vm) => vm.creds.egid,
  getresuid: (vm, t, a) => {
    const c = vm.creds;
    const s = t.process.space;
    return s.writeU32(a.u[0], c.uid) && s.writeU32(a.u[1], c.euid) && s.writeU32(a.u[2], c.euid) ? 0 : EFAULT;
  },
  getresgid: (vm, t, a) => {
    const c = vm.creds;
    const s = t.process.space;
    return s.writeU32(a.u[0], c.gid) && s.writeU32(a.u[1], c.egid) && s.writeU32(a.u[2], c.egid) ? 0 : EFAULT;
  },
  setuid: (vm, _t, a) => setIds(vm, [a.i[0]], "uid", "euid"),
  setgid: (vm, _t, a) => setIds(vm, [a.i[0]], "gid", "egid"),
  setreuid: (vm, _t, a) => setIds(vm, [a.i[0], a.i[1]], "uid", "euid"),
  setregid: (vm, _t, a) => setIds(vm, [a.i[0], a.i[1]], "gid", "egid"),
  setresuid: (vm, _t, a) => setIds(vm, [a.i[0], a.i[1]], "uid", "euid"),
  setresgid: (vm, _t, a) => setIds(vm, [a.i[0], a.i[1]], "gid", "egid"),
  setfsuid: (vm) => vm.creds.euid,
  setfsgid: (vm) => vm.creds.egid,
  getgroups: (_vm, t, a) => {
    const groups = process.getgroups?.() ?? [];
    if (a.i[0] === 0) return groups.length;
    if (a.i[0] < groups.length) return EINVAL;
    const w = new StructWriter(groups.length * 4);
    groups.forEach((g, i) => w.u32(i * 4, g));
    return put(t, a.u[1], w.bytes) < 0 ? EFAULT : groups.length;
  },
  setgroups: (vm) => (vm.creds.euid === 0 ? 0 : -ERRNO.EPERM),

  getpgid: (vm, t, a) => {
    const target = a.i[0] === 0 ? t.process : vm.processes.get(a.i[0]);
    return target === undefined ? -ERRNO.ESRCH : target.pgid;
  },
  setpgid: (vm, t, a) => {
    const target = a.i[0] === 0 ? t.process : vm.processes.get(a.i[0]);
    if (target === undefined || (target !== t.process && target.parent !== t.process)) return -ERRNO.ESRCH;
    if (a.i[1] < 0) return EINVAL;
    target.pgid = a.i[1] === 0 ? target.pid : a.i[1];
    return 0;
  },
  getsid: (vm, t, a) => {
    const target = a.i[0] === 0 ? t.process : vm.processes.get(a.i[0]);
    return target === undefined ? -ERRNO.ESRCH : target.sid;
  },
  setsid: (_vm, t) => {
    const p = t.process;
    if (p.pgid === p.pid) return -ERRNO.EPERM;
    p.sid = p.pgid = p.pid;
    return p.pid;
  },

  set_tid_address: (_vm, t, a) => {
    t.clearChildTid = a.u[0];
    return t.tid;
  },
  set_robust_list: (_vm, t, a) => {
    if (a.u[1] !== 24) return EINVAL;
    t.robustList = a.u[0];
    return 0;
  },
  get_robust_list: (vm, t, a) => {
    const target = a.i[0] === 0 ? t : vm.threads.find((x) => x.tid === a.i[0]);
    if (target === undefined) return -ERRNO.ESRCH;
    const s = t.process.space;
    return s.writeU64(a.u[1], target.robustList) && s.writeU64(a.u[2], 24) ? 0 : EFAULT;
  },

  uname: (_vm, t, a) => uname(t, a.u[0]),
  sethostname: () => -ERRNO.EPERM,

  prlimit64: (vm, t, a) => prlimit(vm, t, a.i[0], a.i[1], a.u[2], a.u[3]),
  getrlimit: (vm, t, a) => prlimit(vm, t, 0, a.i[0], 0, a.u[1]),
  setrlimit: (vm, t, a) => prlimit(vm, t, 0, a.i[0], a.u[1], 0),

  sched_getaffinity: (_vm, t, a) => {
    const len = a.u[1];
    if (len < 8 || len % 8 !== 0) return EINVAL;
    return put(t, a.u[2], new StructWriter(8).u64(0, 1).bytes) < 0 ? EFAULT : 8;
  },
  sched_setaffinity: () => 0,
  sched_yield: (vm) => {
    vm.yield();
    return 0;
  },
  sched_getscheduler: () => 0,
  sched_setscheduler: () => 0,
  sched_getparam: (_vm, t, a) => (t.process.space.writeU32(a.u[1], 0) ? 0 : EFAULT),
  sched_setparam: () => 0,
  sched_get_priority_max: () => 0,
  sched_get_priority_min: () => 0,
  getpriority: () => 20,
  setpriority: () => 0,

  getrandom: (_vm, t, a) => {
    const n = Math.min(a.u[1], 1 << 25);
    const b = new Uint8Array(n);
    randomFillSync(b);
    return put(t, a.u[0], b) < 0 ? EFAULT : n;
  },

  prctl: (_vm, t, a) => {
    const p = t.process;
    switch (a.i[0]) {
      case 15: { // PR_SET_NAME
        const name = p.space.read(a.u[1], 16);
        if (name === null) return EFAULT;
        const nul = name.indexOf(0);
        p.comm = new TextDecoder().decode(name.subarray(0, nul < 0 ? 15 : Math.min(nul, 15)));
        return 0;
      }
      case 16: // PR_GET_NAME
        return put(t, a.u[1], new StructWriter(16).str(0, p.comm, 16).bytes);
      case 1: // PR_SET_PDEATHSIG
      case 4: // PR_SET_DUMPABLE
      case 38: // PR_SET_NO_NEW_PRIVS
        return 0;
      case 3: // PR_GET_DUMPABLE
        return 1;
      default:
        return EINVAL;
    }
  },

  getrusage: (_vm, t, a) => {
    const w = new StructWriter(144);
    if (a.i[0] === 0) {
      const u = process.cpuUsage();
      w.u64(0, Math.floor(u.user / 1e6)).u64(8, u.user % 1e6).u64(16, Math.floor(u.system / 1e6)).u64(24, u.system % 1e6);
    }
    return put(t, a.u[1], w.bytes);
  },

  times: (vm, t, a) => {
    const ticks = Number((process.hrtime.bigint() - vm.startNs) / 10_000_000n);
    if (a.u[0] !== 0) {
      const u = process.cpuUsage();
      const w = new StructWriter(32).u64(0, Math.floor(u.user / 10_000)).u64(8, Math.floor(u.system / 10_000));
      if (put(t, a.u[0], w.bytes) < 0) return EFAULT;
    }
    return ticks;
  },

  sysinfo: (vm, t, a) => {
    const w = new StructWriter(112);
    const load = os.loadavg().map((l) => Math.round(l * 65536));
    w.u64(0, Math.floor(os.uptime())).u64(8, load[0]).u64(16, load[1]).u64(24, load[2])
      .u64(32, os.totalmem()).u64(40, os.freemem()).u16(80, vm.processes.size).u32(104, 1);
    return put(t, a.u[0], w.bytes);
  },

  getcpu: (_vm, t, a) => {
    const s = t.process.space;
    if (a.u[0] !== 0 && !s.writeU32(a.u[0], 0)) return EFAULT;
    if (a.u[1] !== 0 && !s.writeU32(a.u[1], 0)) return EFAULT;
    return 0;
  },

  /**
   * Every guest thread runs on the one hart, one at a time, so every
   * membarrier command is already satisfied: QUERY lists them, the rest
   * succeed (the REGISTER_* ones too, as Linux after registration).
   */
  membarrier: (_vm, _t, a) => {
    const SUPPORTED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40;
    const cmd = a.i[0];
    if (a.i[1] !== 0) return EINVAL;
    if (cmd === 0) return SUPPORTED;
    return (cmd & (cmd - 1)) === 0 && (cmd & SUPPORTED) !== 0 ? 0 : EINVAL;
  },

  personality: () => 0,
  riscv_flush_icache: () => 0,
  capget: (_vm, t, a) => (a.u[1] === 0 ? 0 : t.process.space.zero(a.u[1], 24) ? 0 : EFAULT),
  capset: () => -ERRNO.EPERM,
};
