/** Helpers shared by the system call implementations. */
import { performance } from "node:perf_hooks";
import { ERRNO } from "../abi.ts";
import type { AddressSpace } from "../address-space.ts";
import { hostErrno } from "../files.ts";
import type { Thread } from "../process.ts";

export const EFAULT = -ERRNO.EFAULT;
export const EINVAL = -ERRNO.EINVAL;
export const EBADF = -ERRNO.EBADF;

const PATH_MAX = 4096;
const decoder = new TextDecoder();

export function space(t: Thread): AddressSpace {
  return t.process.space;
}

/** A path argument: the string, or -EFAULT / -ENAMETOOLONG. */
export function pathArg(t: Thread, va: number): string | number {
  if (va === 0) return EFAULT;
  const bytes = t.process.space.readCString(va, PATH_MAX);
  if (bytes === null) {
    const long = t.process.space.read(va, 1);
    return long === null ? EFAULT : -ERRNO.ENAMETOOLONG;
  }
  return decoder.decode(bytes);
}

/** Reads a NULL-terminated array of string pointers (argv/envp). */
export function stringArray(t: Thread, va: number): Uint8Array[] | number {
  const out: Uint8Array[] = [];
  if (va === 0) return out;
  const s = t.process.space;
  let total = 0;
  for (let i = 0; ; i++) {
    const p = s.readU64(va + i * 8);
    if (p === null) return EFAULT;
    if (p === 0) return out;
    const str = s.readCString(p, 128 * 1024);
    if (str === null) return EFAULT;
    total += str.length + 1 + 8;
    if (total > 2 << 20) return -ERRNO.E2BIG;
    out.push(str);
  }
}

/** Runs a host file-system call; its errors become negated Linux errnos. */
export function host<T>(fn: () => T): T | number {
  try {
    return fn();
  } catch (e) {
    return hostErrno(e);
  }
}

export function isErr(v: unknown): v is number {
  return typeof v === "number" && v < 0;
}

/** Little-endian struct writer. */
export class StructWriter {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
  }
  u16(off: number, v: number): this {
    this.dv.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.dv.setUint32(off, v >>> 0, true);
    return this;
  }
  i32(off: number, v: number): this {
    this.dv.setInt32(off, v | 0, true);
    return this;
  }
  u64(off: number, v: number | bigint): this {
    this.dv.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }
  str(off: number, s: string, max: number): this {
    const b = new TextEncoder().encode(s).subarray(0, max - 1);
    this.bytes.set(b, off);
    return this;
  }
}

/** Writes `bytes` to guest `va`: 0, or -EFAULT. */
export function put(t: Thread, va: number, bytes: Uint8Array): number {
  return t.process.space.write(va, bytes) ? 0 : EFAULT;
}

/** struct timespec { i64 sec; i64 nsec } from nanoseconds. */
export function timespec(ns: bigint): Uint8Array {
  return new StructWriter(16).u64(0, ns / 1_000_000_000n).u64(8, ns % 1_000_000_000n).bytes;
}

/**
 * A relative timeout argument (struct timespec *, NULL = none) as the host
 * time it ends at (performance.now() ms; Infinity for none), or -EFAULT /
 * -EINVAL.
 */
export function readTimeout(t: Thread, va: number): number {
  if (va === 0) return Infinity;
  const ns = readTimespec(t, va);
  if (ns === null) return EFAULT;
  if (ns < 0n) return EINVAL;
  return performance.now() + Number(ns) / 1e6;
}

/** Reads a struct timespec as nanoseconds; null on a bad address, -1n when invalid. */
export function readTimespec(t: Thread, va: number): bigint | null {
  const b = t.process.space.read(va, 16);
  if (b === null) return null;
  const dv = new DataView(b.buffer);
  const sec = dv.getBigInt64(0, true);
  const nsec = dv.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return -1n;
  return sec * 1_000_000_000n + nsec;
}

/** struct itimerspec { timespec it_interval; timespec it_value } from nanoseconds. */
export function itimerspec(intervalNs: bigint, valueNs: bigint): Uint8Array {
  const w = new StructWriter(32);
  w.u64(0, intervalNs / 1_000_000_000n).u64(8, intervalNs % 1_000_000_000n);
  w.u64(16, valueNs / 1_000_000_000n).u64(24, valueNs % 1_000_000_000n);
  return w.bytes;
}

/** Reads a struct itimerspec as [interval, value] in ns; -EFAULT, or -EINVAL for an invalid timespec. */
export function readItimerspec(t: Thread, va: number): [bigint, bigint] | number {
  const interval = readTimespec(t, va);
  const value = readTimespec(t, va + 16);
  if (interval === null || value === null) return EFAULT;
  if (interval < 0n || value < 0n) return EINVAL;
  return [interval, value];
}
