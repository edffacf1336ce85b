/**
 * The guest's own /proc entries. The guest sees the host's /proc (as under
 * qemu-user), but the files that describe a process must describe the
 * guest's: /proc/{self,thread-self,<pid>}/{maps,cmdline,environ,auxv,
 * stat,statm,status,comm} are made from the process VM's tables when
 * opened. glibc's pthread_getattr_np reads maps to find the main stack;
 * ps-like tools read stat and status. Other /proc paths stay the host's;
 * exe, cwd and fd/N links are answered in paths.ts.
 */
import * as fs from "node:fs";
import { PAGE_SIZE } from "./phys-pages.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE, type Vma } from "./address-space.ts";
import type { ProcessVm } from "./kernel.ts";
import type { Process, Thread } from "./process.ts";
import { SIG_DFL, SIG_IGN } from "./signals.ts";

const encoder = new TextEncoder();
/** Linux pads a maps line to this width, then one space, before the name (seq_setwidth: 25 + 6 * sizeof(void *) - 1). */
const MAPS_PAD = 72;
const CLOCK_TICKS_PER_S = 100n;

type Generator = (vm: ProcessVm, p: Process, reader: Thread) => Uint8Array;

const GENERATORS: Record<string, Generator> = {
  maps: (_vm, p) => encoder.encode(p.space.vmas.map(mapsLine).join("")),
  cmdline: (_vm, p) => p.space.read(p.startup.argStart, p.startup.envStart - p.startup.argStart) ?? new Uint8Array(0),
  environ: (_vm, p) => p.space.read(p.startup.envStart, p.startup.envEnd - p.startup.envStart) ?? new Uint8Array(0),
  auxv: (_vm, p) => {
    const out = new Uint8Array(p.startup.auxv.length * 16);
    const dv = new DataView(out.buffer);
    p.startup.auxv.forEach(([type, value], i) => {
      dv.setBigUint64(i * 16, BigInt(type), true);
      dv.setBigUint64(i * 16 + 8, BigInt(value), true);
    });
    return out;
  },
  comm: (_vm, p) => encoder.encode(`${p.comm}\n`),
  stat: (_vm, p, reader) => encoder.encode(statLine(p, reader)),
  statm: (_vm, p) => {
    const size = virtualBytes(p.space.vmas) / PAGE_SIZE;
    const rss = p.space.residentPages;
    return encoder.encode(`${size} ${rss} 0 ${codePages(p)} 0 ${size - codePages(p)} 0\n`);
  },
  status: (vm, p, reader) => encoder.encode(statusText(vm, p, reader)),
};

/**
 * The content of `hostPath` when it names one of a guest process's /proc
 * files, else null (an ordinary host path).
 */
export function procFile(vm: ProcessVm, reader: Thread, hostPath: string): Uint8Array | null {
  const m = /^\/proc\/(self|thread-self|\d+)\/([a-z]+)$/.exec(hostPath);
  if (m === null) return null;
  const gen = GENERATORS[m[2]];
  if (gen === undefined) return null;
  const who = m[1] === "self" || m[1] === "thread-self" ? reader.process : processOf(vm, Number(m[1]));
  if (who === undefined || !who.alive) return null;
  return gen(vm, who, reader);
}

/** A guest process by pid, or by the tid of one of its threads (as Linux's hidden /proc/<tid>). */
function processOf(vm: ProcessVm, id: number): Process | undefined {
  return vm.processes.get(id) ?? vm.threads.find((t) => t.tid === id)?.process;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** One line of /proc/<pid>/maps, as Linux's show_map_vma prints it. */
function mapsLine(v: Vma): string {
  const perms =
    ((v.prot & PROT_READ) !== 0 ? "r" : "-") + ((v.prot & PROT_WRITE) !== 0 ? "w" : "-") +
    ((v.prot & PROT_EXEC) !== 0 ? "x" : "-") + (v.shared ? "s" : "p");
  let dev = "00:00";
  let ino = 0n;
  const isFile = v.name.startsWith("/");
  if (isFile) {
    try {
      const st = fs.statSync(v.name, { bigint: true });
      const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
      const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
      dev = `${hex(major, 2)}:${hex(minor, 2)}`;
      ino = st.ino;
    } catch {
      // the file is gone: Linux would print its dev/ino still; zeros are the honest answer we have
    }
  }
  const head = `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms} ${hex(isFile ? v.offset : 0, 8)} ${dev} ${ino} `;
  return v.name === "" ? `${head}\n` : `${head.padEnd(MAPS_PAD)} ${v.name}\n`;
}

function virtualBytes(vmas: Vma[]): number {
  let n = 0;
  for (const v of vmas) n += v.end - v.start;
  return n;
}

/** The main program's executable mapping. */
function codeVma(p: Process): Vma | undefined {
  return p.space.vmas.find((v) => v.name === p.exePath && (v.prot & PROT_EXEC) !== 0);
}

function codePages(p: Process): number {
  const c = codeVma(p);
  return c === undefined ? 0 : (c.end - c.start) / PAGE_SIZE;
}

function stateOf(p: Process, reader: Thread): string {
  if (reader.process === p) return "R";
  return p.threads.some((t) => t.state === "runnable") ? "R" : "S";
}

function ppidOf(p: Process): number {
  return p.parent?.pid ?? process.ppid;
}

/** /proc/<pid>/stat: the 52 fields of Linux's do_task_stat, those we know filled in. */
function statLine(p: Process, reader: Thread): string {
  const code = codeVma(p);
  const startTicks = p.startNs / (1_000_000_000n / CLOCK_TICKS_PER_S);
  const stack = p.space.vmas.find((v) => v.name === "[stack]");
  const fields = [
    p.pid, `(${p.comm})`, stateOf(p, reader), ppidOf(p), p.pgid, p.sid, 0, -1, 0x400000,
    0, 0, 0, 0, 0, 0, 0, 0, 20, 0, p.threads.length, 0, startTicks,
    virtualBytes(p.space.vmas), p.space.residentPages, "18446744073709551615",
    code?.start ?? 0, code?.end ?? 0, stack?.end ?? 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, p.exitSignal, 0, 0, 0, 0, 0, 0,
    0, 0, p.space.brkStart, p.startup.argStart, p.startup.envStart, p.startup.envStart, p.startup.envEnd, 0,
  ];
  return `${fields.join(" ")}\n`;
}

function maskHex(mask: bigint): string {
  return mask.toString(16).padStart(16, "0");
}

/** /proc/<pid>/status: the commonly read fields. */
function statusText(vm: ProcessVm, p: Process, reader: Thread): string {
  const t = reader.process === p ? reader : (p.threads[0] ?? reader);
  let pending = 0n;
  for (const s of t.pending) pending |= 1n << BigInt(s.signo - 1);
  let shared = 0n;
  for (const s of p.pending) shared |= 1n << BigInt(s.signo - 1);
  let ignored = 0n;
  let caught = 0n;
  p.actions.forEach((a, sig) => {
    if (sig === 0) return;
    if (a.handler === SIG_IGN) ignored |= 1n << BigInt(sig - 1);
    else if (a.handler !== SIG_DFL) caught |= 1n << BigInt(sig - 1);
  });
  const kb = (bytes: number) => `${String(bytes / 1024).padStart(8)} kB`;
  const { uid, euid, gid, egid } = vm.creds;
  const state = stateOf(p, reader) === "R" ? "R (running)" : "S (sleeping)";
  return [
    `Name:\t${p.comm}`, `Umask:\t${p.umask.toString(8).padStart(4, "0")}`, `State:\t${state}`,
    `Tgid:\t${p.pid}`, `Ngid:\t0`, `Pid:\t${p.pid}`, `PPid:\t${ppidOf(p)}`, `TracerPid:\t0`,
    `Uid:\t${uid}\t${euid}\t${euid}\t${euid}`, `Gid:\t${gid}\t${egid}\t${egid}\t${egid}`,
    `FDSize:\t${Math.max(64, p.fds.fds().length)}`, `Groups:\t`,
    `VmPeak:\t${kb(virtualBytes(p.space.vmas))}`, `VmSize:\t${kb(virtualBytes(p.space.vmas))}`,
    `VmRSS:\t${kb(p.space.residentPages * PAGE_SIZE)}`, `Threads:\t${p.threads.length}`,
    `SigPnd:\t${maskHex(pending)}`, `ShdPnd:\t${maskHex(shared)}`, `SigBlk:\t${maskHex(t.sigmask)}`,
    `SigIgn:\t${maskHex(ignored)}`, `SigCgt:\t${maskHex(caught)}`,
    "",
  ].join("\n");
}
