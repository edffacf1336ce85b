/** Memory management system calls: brk, mmap and friends. */
import * as fs from "node:fs";
import { ERRNO } from "../abi.ts";
import {
  MMAP_MIN_ADDR, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, TASK_SIZE, pageDown, pageUp,
} from "../address-space.ts";
import { HostFile, O_ACCMODE, O_RDWR, O_WRONLY } from "../files.ts";
import type { Thread } from "../process.ts";
import type { SyscallHandler } from "./table.ts";
import { EBADF, EINVAL } from "./util.ts";

const MAP_SHARED = 0x1;
const MAP_PRIVATE = 0x2;
const MAP_SHARED_VALIDATE = 0x3;
const MAP_TYPE = 0xf;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_FIXED_NOREPLACE = 0x100000;

const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;

const MADV_DONTNEED = 4;
const MADV_FREE = 8;

const ENOMEM = -ERRNO.ENOMEM;
const PROT_MASK = PROT_READ | PROT_WRITE | PROT_EXEC;

function brk(t: Thread, addr: number): number {
  const s = t.process.space;
  if (addr < s.brkStart || addr >= TASK_SIZE) return s.brk;
  const oldEnd = pageUp(s.brk);
  const newEnd = pageUp(addr);
  if (newEnd > oldEnd) {
    if (!s.isFree(oldEnd, newEnd)) return s.brk;
    const heap = oldEnd > s.brkStart ? s.vmaAt(oldEnd - 1) : null;
    if (heap !== null && heap.name === "[heap]" && heap.end === oldEnd) s.resizeInPlace(heap, newEnd);
    else s.map(oldEnd, newEnd, PROT_READ | PROT_WRITE, false, "[heap]");
  } else if (newEnd < oldEnd) {
    s.unmap(newEnd, oldEnd);
  }
  s.brk = addr;
  return addr;
}

function mmap(t: Thread, addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number {
  const s = t.process.space;
  const type = flags & MAP_TYPE;
  if (length === 0 || offset % PAGE_SIZE !== 0 || offset < 0) return EINVAL;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return EINVAL;
  if (length > TASK_SIZE) return ENOMEM;
  const len = pageUp(length);
  const shared = type !== MAP_PRIVATE;
  let file: HostFile | null = null;
  if ((flags & MAP_ANONYMOUS) === 0) {
    const f = t.process.fds.get(fd);
    if (f === null) return EBADF;
    if (!(f instanceof HostFile) || !f.seekable || f.isDirectory) return -ERRNO.ENODEV;
    if ((f.flags & O_ACCMODE) === O_WRONLY) return -ERRNO.EACCES;
    if (shared && (prot & PROT_WRITE) !== 0 && (f.flags & O_ACCMODE) !== O_RDWR) return -ERRNO.EACCES;
    file = f;
  }
  let start: number;
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) {
    if (addr % PAGE_SIZE !== 0) return EINVAL;
    if (addr + len > TASK_SIZE || addr < PAGE_SIZE) return ENOMEM;
    if ((flags & MAP_FIXED) === 0 && !s.isFree(addr, addr + len)) return -ERRNO.EEXIST;
    start = addr;
  } else {
    const hint = pageDown(addr);
    if (hint >= MMAP_MIN_ADDR && hint + len <= TASK_SIZE && s.isFree(hint, hint + len)) start = hint;
    else {
      start = s.findFree(len);
      if (start < 0) return ENOMEM;
    }
  }
  s.map(start, start + len, prot & PROT_MASK, shared, file?.path ?? "", false, file !== null ? offset : 0);
  if (file !== null) {
    const size = file.stat();
    const fileSize = typeof size === "number" ? 0 : Number(size.size);
    const n = Math.max(0, Math.min(len, fileSize - offset));
    const eofPage = start + pageUp(n);
    if (eofPage < start + len) s.map(eofPage, start + len, prot & PROT_MASK, shared, file.path, true, offset + (eofPage - start));
    for (let done = 0; done < n; ) {
      const chunk = new Uint8Array(Math.min(n - done, 1 << 20));
      let got: number;
      try {
        got = fs.readSync(file.hostFd, chunk, 0, chunk.length, offset + done);
      } catch {
        break;
      }
      if (got <= 0) break;
      s.writeForce(start + done, chunk.subarray(0, got));
      done += got;
    }
  }
  return start;
}

function mremap(t: Thread, old: number, oldLength: number, newLength: number, flags: number, newAddr: number): number {
  const s = t.process.space;
  if (old % PAGE_SIZE !== 0 || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | 4)) !== 0) return EINVAL;
  if ((flags & MREMAP_FIXED) !== 0 && (flags & MREMAP_MAYMOVE) === 0) return EINVAL;
  const oldLen = pageUp(oldLength);
  const newLen = pageUp(newLength);
  if (newLen === 0 || oldLen === 0) return EINVAL;
  const vma = s.vmaAt(old);
  if (vma === null || old + oldLen > vma.end) return -ERRNO.EFAULT;
  if ((flags & MREMAP_FIXED) !== 0) {
    if (newAddr % PAGE_SIZE !== 0 || newAddr + newLen > TASK_SIZE) return EINVAL;
    if (newAddr < old + oldLen && old < newAddr + newLen) return EINVAL;
    s.unmap(newAddr, newAddr + newLen);
    return moveTo(t, old, oldLen, newLen, newAddr);
  }
  if (newLen <= oldLen) {
    s.unmap(old + newLen, old + oldLen);
    return old;
  }
  if (vma.end === old + oldLen && s.isFree(old + oldLen, old + newLen)) {
    s.resizeInPlace(vma, old + newLen);
    return old;
  }
  if ((flags & MREMAP_MAYMOVE) === 0) return ENOMEM;
  const dest = s.findFree(newLen);
  if (dest < 0) return ENOMEM;
  return moveTo(t, old, oldLen, newLen, dest);
}

function moveTo(t: Thread, old: number, oldLen: number, newLen: number, dest: number): number {
  const s = t.process.space;
  const keep = Math.min(oldLen, newLen);
  s.move(old, keep, dest);
  if (oldLen > keep) s.unmap(old + keep, old + oldLen);
  if (newLen > keep) s.resizeInPlace(s.vmaAt(dest)!, dest + newLen);
  return dest;
}

export const mmSyscalls: Record<string, SyscallHandler> = {
  brk: (_vm, t, a) => brk(t, a.u[0]),

  mmap: (_vm, t, a) => mmap(t, a.u[0], a.u[1], a.i[2], a.i[3], a.i[4], a.s(5)),

  munmap: (_vm, t, a) => {
    const addr = a.u[0];
    if (addr % PAGE_SIZE !== 0 || a.u[1] === 0 || addr + a.u[1] > TASK_SIZE) return EINVAL;
    t.process.space.unmap(addr, addr + pageUp(a.u[1]));
    return 0;
  },

  mprotect: (_vm, t, a) => {
    const addr = a.u[0];
    if (addr % PAGE_SIZE !== 0) return EINVAL;
    if ((a.i[2] & ~(PROT_MASK | 0x03000000)) !== 0) return EINVAL;
    const len = pageUp(a.u[1]);
    if (len === 0) return 0;
    return t.process.space.protect(addr, addr + len, a.i[2] & PROT_MASK) ? 0 : ENOMEM;
  },

  mremap: (_vm, t, a) => mremap(t, a.u[0], a.u[1], a.u[2], a.i[3], a.u[4]),

  madvise: (_vm, t, a) => {
    const addr = a.u[0];
    if (addr % PAGE_SIZE !== 0) return EINVAL;
    const end = addr + pageUp(a.u[1]);
    const s = t.process.space;
    if ((a.i[2] === MADV_DONTNEED || a.i[2] === MADV_FREE) && s.isFullyMapped(addr, end)) {
      for (let va = addr; va < end; ) {
        const vma = s.vmaAt(va)!;
        const stop = Math.min(end, vma.end);
        if (!vma.shared) s.discard(va, stop);
        va = stop;
      }
    }
    return 0;
  },

  msync: (_vm, _t, a) => (a.u[0] % PAGE_SIZE !== 0 ? EINVAL : 0),
  mlock: () => 0,
  munlock: () => 0,
  mlockall: () => 0,
  munlockall: () => 0,

  mincore: (_vm, t, a) => {
    const addr = a.u[0];
    if (addr % PAGE_SIZE !== 0) return EINVAL;
    const s = t.process.space;
    const pages = pageUp(a.u[1]) / PAGE_SIZE;
    if (!s.isFullyMapped(addr, addr + pages * PAGE_SIZE)) return ENOMEM;
    const vec = new Uint8Array(pages);
    for (let i = 0; i < pages; i++) vec[i] = s.frameOf(addr + i * PAGE_SIZE) >= 0 ? 1 : 0;
    return s.write(a.u[2], vec) ? 0 : -ERRNO.EFAULT;
  },
};
