/**
 * One guest process's user address space: its mappings (VMAs), the frames
 * behind its pages, and the Sv39 page tables the hart walks.
 *
 * The host keeps its own map from virtual page number to frame, so system
 * calls translate guest pointers without walking the tables, and the tables
 * are written from it. Anonymous memory is allocated on first touch (the
 * page fault comes to `handleFault`); `fork` shares every private page
 * copy-on-write (write bit cleared in both page tables, copied on the first
 * store). Every address a guest passes in is checked here, and a bad one
 * makes the accessor return null/false, which system calls turn into EFAULT.
 */
import { codeWritten } from "../cpu/decode-cache.ts";
import { RAM_BASE } from "../cpu/layout.ts";
import { PAGE_SHIFT, PAGE_SIZE, type PhysPages } from "./phys-pages.ts";

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

/** Sv39: user addresses are 0 .. 2^38 - 1. */
export const TASK_SIZE = 0x40_0000_0000;
/** Top of the main thread's stack (Linux riscv64 with randomisation off). */
export const STACK_TOP = TASK_SIZE;
export const STACK_LIMIT = 8 << 20;
/** Where top-down mmap starts: TASK_SIZE minus Linux's minimum 128 MiB gap. */
export const MMAP_BASE = TASK_SIZE - (128 << 20);
/** Load address of PIE executables: 2/3 of TASK_SIZE, page aligned (ELF_ET_DYN_BASE). */
export const PIE_BASE = 0x2a_aaaa_a000;
/** Lowest address mmap hands out without MAP_FIXED (vm.mmap_min_addr). */
export const MMAP_MIN_ADDR = 0x10000;

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_A = 64;
const PTE_D = 128;
const RAM_PPN = RAM_BASE / PAGE_SIZE;

export interface Vma {
  start: number;
  end: number;
  prot: number;
  /** MAP_SHARED: fork shares the frames instead of copying them. */
  shared: boolean;
  /** For diagnostics and /proc/self/maps: "[stack]", "[heap]", a file path, or "". */
  name: string;
  /** File offset that `start` maps (0 for anonymous memory). */
  offset: number;
  /** Pages of a file mapping past the end of the file: touching them is SIGBUS. */
  pastEof?: boolean;
}

export type Access = "read" | "write" | "exec";

export function pageDown(a: number): number {
  return a - (a % PAGE_SIZE);
}

export function pageUp(a: number): number {
  const r = a % PAGE_SIZE;
  return r === 0 ? a : a + PAGE_SIZE - r;
}

export class AddressSpace {
  /** Mappings sorted by start, never overlapping. */
  readonly vmas: Vma[] = [];
  /** vpn → frame * 2 + (1 if copy-on-write). */
  private readonly pages = new Map<number, number>();
  /** The root page table and every intermediate table, for teardown. */
  private readonly tableFrames: number[] = [];
  readonly rootFrame: number;
  private readonly pte: Int32Array;
  private readonly ram: Uint8Array;
  /** Program break: the heap VMA is [brkStart, pageUp(brk)). */
  brkStart = 0;
  brk = 0;
  /** A valid page-table entry changed or went away: the hart must flush its TLB before running this space. */
  tlbStale = false;
  /** Shared by vfork/CLONE_VM children: the space is freed when the last user lets go. */
  users = 1;

  constructor(readonly phys: PhysPages) {
    this.ram = phys.ram;
    this.pte = new Int32Array(this.ram.buffer, this.ram.byteOffset, this.ram.length >> 2);
    this.rootFrame = phys.alloc();
    this.tableFrames.push(this.rootFrame);
  }

  /** satp for this space: MODE = Sv39, ASID 0, root PPN; as [lo, hi] words. */
  satpWords(): [number, number] {
    return [(RAM_PPN + this.rootFrame) | 0, (8 << 28) | 0];
  }

  // ---- mappings ------------------------------------------------------------

  vmaAt(va: number): Vma | null {
    const v = this.vmas;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = v[mid];
      if (va < m.start) hi = mid - 1;
      else if (va >= m.end) lo = mid + 1;
      else return m;
    }
    return null;
  }

  /** True when [start, end) touches no mapping. */
  isFree(start: number, end: number): boolean {
    for (const m of this.vmas) if (m.start < end && start < m.end) return false;
    return start >= 0 && end <= TASK_SIZE;
  }

  /**
   * Highest free gap of `len` bytes ending at or below `below` (top-down, as
   * Linux), or -1.
   */
  findFree(len: number, below = MMAP_BASE): number {
    let top = below;
    for (let i = this.vmas.length - 1; i >= -1; i--) {
      const m = i >= 0 ? this.vmas[i] : null;
      if (m !== null && m.start >= top) continue;
      const floor = m === null ? MMAP_MIN_ADDR : m.end;
      if (top - len >= floor) return top - len;
      if (m !== null) top = Math.min(top, m.start);
    }
    return -1;
  }

  /** Adds a mapping over [start, end) (page aligned), replacing whatever was there. */
  map(start: number, end: number, prot: number, shared: boolean, name: string, pastEof = false, offset = 0): Vma {
    this.unmap(start, end);
    const vma: Vma = { start, end, prot, shared, name, offset };
    if (pastEof) vma.pastEof = true;
    let i = 0;
    while (i < this.vmas.length && this.vmas[i].start < start) i++;
    this.vmas.splice(i, 0, vma);
    return vma;
  }

  /** Removes [start, end) (page aligned) from every mapping and frees its pages. */
  unmap(start: number, end: number): void {
    this.splitAt(start);
    this.splitAt(end);
    const kept: Vma[] = [];
    for (const m of this.vmas) {
      if (m.start >= start && m.end <= end) this.dropPages(m.start, m.end);
      else kept.push(m);
    }
    this.vmas.length = 0;
    this.vmas.push(...kept);
  }

  /** Changes the protection of [start, end); false (ENOMEM) if part of it is unmapped. */
  protect(start: number, end: number, prot: number): boolean {
    if (!this.isFullyMapped(start, end)) return false;
    this.splitAt(start);
    this.splitAt(end);
    for (const m of this.vmas) {
      if (m.start >= start && m.end <= end) {
        m.prot = prot;
        this.forEachPage(m.start, m.end, (vpn) => this.writePte(vpn));
      }
    }
    return true;
  }

  isFullyMapped(start: number, end: number): boolean {
    let at = start;
    for (const m of this.vmas) {
      if (m.end <= at) continue;
      if (m.start > at) return false;
      at = m.end;
      if (at >= end) return true;
    }
    return at >= end;
  }

  /**
   * Moves the pages of [oldStart, oldStart+len) to newStart (mremap): the
   * frames move, nothing is copied. The target range must already be free.
   */
  move(oldStart: number, len: number, newStart: number): void {
    const src = this.vmaAt(oldStart)!;
    const moved: Array<[number, number]> = [];
    this.forEachPage(oldStart, oldStart + len, (vpn, entry) => moved.push([vpn, entry]));
    for (const [vpn] of moved) {
      this.pages.delete(vpn);
      this.setPte(vpn, 0);
    }
    const { prot, shared, name, pastEof } = src;
    const offset = src.offset + (oldStart - src.start);
    this.unmap(oldStart, oldStart + len);
    this.map(newStart, newStart + len, prot, shared, name, pastEof === true, offset);
    const delta = (newStart - oldStart) / PAGE_SIZE;
    for (const [vpn, entry] of moved) {
      this.pages.set(vpn + delta, entry);
      this.writePte(vpn + delta);
    }
  }

  /** Grows or shrinks the mapping that ends at `oldEnd` in place, to end at `newEnd`. */
  resizeInPlace(vma: Vma, newEnd: number): void {
    if (newEnd < vma.end) this.unmap(newEnd, vma.end);
    else vma.end = newEnd;
  }

  private splitAt(addr: number): void {
    const m = this.vmaAt(addr);
    if (m === null || m.start === addr) return;
    const tail: Vma = { ...m, start: addr, offset: m.offset + (addr - m.start) };
    m.end = addr;
    this.vmas.splice(this.vmas.indexOf(m) + 1, 0, tail);
  }

  private forEachPage(start: number, end: number, fn: (vpn: number, entry: number) => void): void {
    const first = start / PAGE_SIZE;
    const last = end / PAGE_SIZE;
    if (last - first > this.pages.size) {
      for (const [vpn, entry] of [...this.pages]) if (vpn >= first && vpn < last) fn(vpn, entry);
    } else {
      for (let vpn = first; vpn < last; vpn++) {
        const entry = this.pages.get(vpn);
        if (entry !== undefined) fn(vpn, entry);
      }
    }
  }

  /** Frees the pages of [start, end) but keeps the mapping: they read as zero again (MADV_DONTNEED). */
  discard(start: number, end: number): void {
    this.dropPages(start, end);
  }

  private dropPages(start: number, end: number): void {
    this.forEachPage(start, end, (vpn, entry) => {
      this.pages.delete(vpn);
      this.setPte(vpn, 0);
      this.phys.release(entry >>> 1);
    });
  }

  // ---- pages and page tables -------------------------------------------------

  /** The frame behind `va`, or -1 when the page is not present. */
  frameOf(va: number): number {
    const e = this.pages.get(Math.floor(va / PAGE_SIZE));
    return e === undefined ? -1 : e >>> 1;
  }

  /** Puts `frame` (one reference handed over) at page `va`, replacing what was there. */
  installPage(va: number, frame: number): void {
    const vpn = Math.floor(va / PAGE_SIZE);
    const old = this.pages.get(vpn);
    if (old !== undefined) this.phys.release(old >>> 1);
    this.pages.set(vpn, frame * 2);
    this.writePte(vpn);
  }

  /**
   * Makes the page at `va` present and, for `write`, privately writable,
   * if the mapping allows `access`. Returns the frame, or -1 for a fault
   * the program must see (no mapping, or the protection forbids it).
   */
  ensurePage(va: number, access: Access): number {
    const vma = this.vmaAt(va);
    if (vma === null) return -1;
    const need = access === "read" ? PROT_READ : access === "write" ? PROT_WRITE : PROT_EXEC;
    if ((vma.prot & need) === 0 && !(access === "read" && (vma.prot & PROT_WRITE) !== 0)) return -1;
    const vpn = Math.floor(va / PAGE_SIZE);
    const e = this.pages.get(vpn);
    if (e === undefined) {
      const frame = this.phys.alloc();
      this.pages.set(vpn, frame * 2);
      this.writePte(vpn);
      return frame;
    }
    let frame = e >>> 1;
    if ((e & 1) !== 0 && access === "write") {
      if (this.phys.refs[frame] > 1) {
        const copy = this.phys.copy(frame);
        this.phys.release(frame);
        frame = copy;
      }
      this.pages.set(vpn, frame * 2);
      this.writePte(vpn);
    }
    return frame;
  }

  /**
   * Resolves a page fault from the hart. True when the page is now mapped
   * (the instruction can be retried); false for a genuine fault.
   * `accessError` tells SIGSEGV's si_code: the mapping exists but forbids it.
   */
  handleFault(va: number, access: Access): { ok: boolean; accessError: boolean; pastEof: boolean } {
    if (va < 0 || va >= TASK_SIZE) return { ok: false, accessError: false, pastEof: false };
    const vma = this.vmaAt(va);
    if (vma === null) return { ok: false, accessError: false, pastEof: false };
    if (vma.pastEof === true && this.frameOf(va) < 0) return { ok: false, accessError: false, pastEof: true };
    const ok = this.ensurePage(va, access) >= 0;
    return { ok, accessError: !ok, pastEof: false };
  }

  private writePte(vpn: number): void {
    const e = this.pages.get(vpn);
    if (e === undefined) return this.setPte(vpn, 0);
    const vma = this.vmaAt(vpn * PAGE_SIZE);
    const prot = vma === null ? 0 : vma.prot;
    let bits = 0;
    if (prot & PROT_READ) bits |= PTE_R;
    if (prot & PROT_WRITE && (e & 1) === 0) bits |= PTE_W | PTE_R;
    if (prot & PROT_EXEC) bits |= PTE_X;
    if (bits === 0) return this.setPte(vpn, 0);
    this.setPte(vpn, (((RAM_PPN + (e >>> 1)) << 10) | bits | PTE_V | PTE_U | PTE_A | PTE_D) | 0);
  }

  /** Writes the leaf PTE for `vpn` (low word; the high word stays 0), creating tables as needed. */
  private setPte(vpn: number, lo: number): void {
    let table = this.rootFrame;
    for (let level = 2; level > 0; level--) {
      const idx = Math.floor(vpn / 2 ** (9 * level)) & 511;
      const w = (table * PAGE_SIZE + idx * 8) >> 2;
      const entry = this.pte[w];
      if ((entry & PTE_V) === 0) {
        if (lo === 0) return;
        const next = this.phys.alloc();
        this.tableFrames.push(next);
        this.pte[w] = ((RAM_PPN + next) << 10) | PTE_V;
        this.pte[w + 1] = 0;
        codeWritten(this.pte, w * 4, 8);
        table = next;
      } else {
        table = (entry >>> 10) - RAM_PPN;
      }
    }
    const w = (table * PAGE_SIZE + (vpn & 511) * 8) >> 2;
    if ((this.pte[w] & PTE_V) !== 0 && this.pte[w] !== lo) this.tlbStale = true;
    this.pte[w] = lo;
    this.pte[w + 1] = 0;
    codeWritten(this.pte, w * 4, 8);
  }

  /** Walks the Sv39 tables in guest RAM as the hart would: the guest physical address of `va`, or -1. */
  walk(va: number): number {
    const vpn = Math.floor(va / PAGE_SIZE);
    let table = this.rootFrame;
    for (let level = 2; level >= 0; level--) {
      const idx = Math.floor(vpn / 2 ** (9 * level)) & 511;
      const entry = this.pte[(table * PAGE_SIZE + idx * 8) >> 2];
      if ((entry & PTE_V) === 0) return -1;
      const ppn = entry >>> 10;
      if ((entry & (PTE_R | PTE_X)) !== 0) {
        if (level !== 0) return -1;
        return ppn * PAGE_SIZE + (va % PAGE_SIZE);
      }
      table = ppn - RAM_PPN;
    }
    return -1;
  }

  // ---- fork / teardown -------------------------------------------------------

  /** A copy-on-write duplicate (fork). The caller flushes the hart's TLB: our PTEs lose W. */
  fork(): AddressSpace {
    const child = new AddressSpace(this.phys);
    child.brkStart = this.brkStart;
    child.brk = this.brk;
    for (const m of this.vmas) child.vmas.push({ ...m });
    for (const [vpn, e] of this.pages) {
      const frame = e >>> 1;
      this.phys.retain(frame);
      const vma = this.vmaAt(vpn * PAGE_SIZE);
      const cow = vma !== null && !vma.shared ? 1 : e & 1;
      child.pages.set(vpn, frame * 2 + cow);
      child.writePte(vpn);
      if (cow !== (e & 1)) {
        this.pages.set(vpn, frame * 2 + cow);
        this.writePte(vpn);
      }
    }
    return child;
  }

  /** Frees every page and page table. */
  destroy(): void {
    for (const e of this.pages.values()) this.phys.release(e >>> 1);
    this.pages.clear();
    for (const f of this.tableFrames) {
      this.ram.fill(0, f * PAGE_SIZE, (f + 1) * PAGE_SIZE);
      codeWritten(this.ram, f * PAGE_SIZE, PAGE_SIZE);
      this.phys.release(f);
    }
    this.tableFrames.length = 0;
    this.vmas.length = 0;
  }

  get residentPages(): number {
    return this.pages.size;
  }

  // ---- guest memory access for system calls ----------------------------------

  /**
   * Calls `fn(ramOffset, length, done)` for each page-sized piece of
   * [va, va+len); false (EFAULT) if any page is inaccessible. Pieces before
   * the bad page have been visited.
   */
  private pieces(va: number, len: number, access: Access, fn: (off: number, n: number, done: number) => void): boolean {
    if (len === 0) return true;
    if (!(va >= 0 && len > 0 && va + len <= TASK_SIZE)) return false;
    let done = 0;
    while (done < len) {
      const a = va + done;
      const inPage = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, len - done);
      const frame = this.ensurePage(a, access);
      if (frame < 0) return false;
      fn(frame * PAGE_SIZE + inPage, n, done);
      done += n;
    }
    return true;
  }

  /** Copies guest [va, va+len) into a new buffer, or null on a bad address. */
  read(va: number, len: number): Uint8Array | null {
    const out = new Uint8Array(len);
    const ram = this.ram;
    return this.pieces(va, len, "read", (off, n, done) => out.set(ram.subarray(off, off + n), done)) ? out : null;
  }

  /** Copies guest memory into `dst`; false on a bad address. */
  readInto(va: number, dst: Uint8Array): boolean {
    const ram = this.ram;
    return this.pieces(va, dst.length, "read", (off, n, done) => dst.set(ram.subarray(off, off + n), done));
  }

  /** Copies `src` to guest memory at `va`; false on a bad address. */
  write(va: number, src: Uint8Array): boolean {
    const ram = this.ram;
    return this.pieces(va, src.length, "write", (off, n, done) => {
      ram.set(src.subarray(done, done + n), off);
      codeWritten(ram, off, n);
    });
  }

  /** Fills guest [va, va+len) with zeros; false on a bad address. */
  zero(va: number, len: number): boolean {
    const ram = this.ram;
    return this.pieces(va, len, "write", (off, n) => {
      ram.fill(0, off, off + n);
      codeWritten(ram, off, n);
    });
  }

  /** Copies guest memory regardless of protection (loader, ptrace-like host access). */
  writeForce(va: number, src: Uint8Array): void {
    for (let done = 0; done < src.length; ) {
      const a = va + done;
      const inPage = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, src.length - done);
      const vpn = Math.floor(a / PAGE_SIZE);
      let e = this.pages.get(vpn);
      if (e === undefined || (e & 1) !== 0) {
        const vma = this.vmaAt(a);
        if (vma === null) throw new Error(`procvm: loader write to unmapped 0x${a.toString(16)}`);
        const saved = vma.prot;
        vma.prot = PROT_READ | PROT_WRITE;
        this.ensurePage(a, "write");
        vma.prot = saved;
        this.writePte(vpn);
        e = this.pages.get(vpn)!;
      }
      this.ram.set(src.subarray(done, done + n), (e >>> 1) * PAGE_SIZE + inPage);
      codeWritten(this.ram, (e >>> 1) * PAGE_SIZE + inPage, n);
      done += n;
    }
  }

  /** A NUL-terminated string at `va` (at most `max` bytes), or null on a bad address / no NUL. */
  readCString(va: number, max = 4096): Uint8Array | null {
    const ram = this.ram;
    let at = va;
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (total < max) {
      if (at < 0 || at >= TASK_SIZE) return null;
      const frame = this.ensurePage(at, "read");
      if (frame < 0) return null;
      const inPage = at % PAGE_SIZE;
      const base = frame * PAGE_SIZE;
      const page = ram.subarray(base + inPage, base + PAGE_SIZE);
      const nul = page.indexOf(0);
      if (nul >= 0) {
        chunks.push(page.slice(0, nul));
        total += nul;
        break;
      }
      chunks.push(page.slice());
      total += page.length;
      at += page.length;
    }
    if (total >= max) return null;
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  readU32(va: number): number | null {
    const b = this.read(va, 4);
    return b === null ? null : (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }

  /** A 64-bit value as a number (exact below 2^53; larger values lose low bits). */
  readU64(va: number): number | null {
    const b = this.read(va, 8);
    if (b === null) return null;
    const lo = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
    const hi = (b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24)) >>> 0;
    return hi * 0x1_0000_0000 + lo;
  }

  writeU32(va: number, value: number): boolean {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.write(va, b);
  }

  writeU64(va: number, value: number): boolean {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(Math.trunc(value)), true);
    return this.write(va, b);
  }
}

export { PAGE_SIZE, PAGE_SHIFT };
