/**
 * Zero-copy calls, with Linux's checks and error codes (fs/splice.c,
 * fs/read_write.c): splice (a pipe on at least one side; files and sockets
 * on the other), tee (pipe to pipe, leaving the input), sendfile (a regular
 * file, or anything splice can read when the output is a pipe) and
 * copy_file_range (regular file to regular file on one file system).
 * Bytes move through a host buffer; what is taken from a pipe is only
 * taken once the other side accepted it.
 */
import * as fs from "node:fs";
import { ERRNO } from "../abi.ts";
import type { ProcessVm, SyscallArgs } from "../kernel.ts";
import { HostFile, hostErrno, O_APPEND, O_NONBLOCK, OpenFile, PipeEnd, S_IFDIR, S_IFMT, S_IFREG, WOULD_BLOCK, type Pipe } from "../files.ts";
import { FifoEnd } from "../fifo.ts";
import { MemoryFile } from "../memory-file.ts";
import type { Thread } from "../process.ts";
import { SIGPIPE } from "../signals.ts";
import { Socket } from "../sockets/socket.ts";
import { blocking, writeFrom } from "./fs.ts";
import type { SyscallHandler } from "./table.ts";
import { EBADF, EFAULT, EINVAL } from "./util.ts";

const SPLICE_F_NONBLOCK = 2;
/** MOVE | NONBLOCK | MORE | GIFT. MOVE and GIFT are hints; MORE (cork) is not applied to node's sockets. */
const SPLICE_F_ALL = 0xf;
/** Linux MAX_RW_COUNT. */
const MAX_RW = 0x7ffff000;
/** Most bytes one call moves through the host buffer (a short count, as Linux's pipe-sized steps). */
const STEP = 1 << 20;

function pipeOf(f: OpenFile): Pipe | null {
  return f instanceof PipeEnd || f instanceof FifoEnd ? f.pipe : null;
}

/** FMODE_PREAD / FMODE_PWRITE: a file with a position of its own. */
function positional(f: OpenFile): f is HostFile {
  return f instanceof HostFile && f.seekable;
}

/** Whether the file has a splice_read (regular files, /proc files, sockets, terminals). */
function spliceReadable(f: OpenFile): boolean {
  return f instanceof HostFile || f instanceof MemoryFile || f instanceof Socket;
}

/** Whether the file has a splice_write. */
function spliceWritable(f: OpenFile): boolean {
  return f instanceof HostFile || f instanceof Socket;
}

function mode(f: OpenFile): number {
  const s = f.stat();
  return typeof s === "number" ? 0 : s.mode & S_IFMT;
}

function sigpipe(vm: ProcessVm, t: Thread): number {
  vm.sendToThread(t, { signo: SIGPIPE, code: 0, pid: t.process.pid, uid: vm.creds.uid });
  return -ERRNO.EPIPE;
}

/** A loff_t argument: null when the pointer is NULL, else the value (or -EFAULT as a number in `err`). */
function offsetArg(t: Thread, va: number): { pos: number | null; err: number } {
  if (va === 0) return { pos: null, err: 0 };
  const b = t.process.space.read(va, 8);
  if (b === null) return { pos: null, err: EFAULT };
  const v = new DataView(b.buffer).getBigInt64(0, true);
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) return { pos: null, err: EINVAL };
  return { pos: Number(v), err: 0 };
}

function storeOffset(t: Thread, va: number, pos: number): boolean {
  return va === 0 || t.process.space.writeU64(va, pos);
}

/** Reads up to `n` bytes from a file or socket: data, or a negated errno / WOULD_BLOCK. */
function takeFrom(f: OpenFile, n: number, pos: number | null, nonblock: boolean): Uint8Array | number {
  const buf = new Uint8Array(n);
  let r: number;
  if (f instanceof Socket) {
    const m = f.recv(n, 0, nonblock || f.nonblocking);
    if (typeof m === "number") return m;
    return m.data;
  }
  r = pos === null ? f.read(buf) : f.pread(buf, pos);
  if (r === WOULD_BLOCK && nonblock) return -ERRNO.EAGAIN;
  return r < 0 || r === WOULD_BLOCK ? r : buf.subarray(0, r);
}

/** Waits for (or refuses) pipe input: 0 when bytes are there, else the result to return. */
function pipeInput(p: Pipe, nonblock: boolean): number {
  if (p.length > 0) return 0;
  if (p.writers === 0) return 0;
  return nonblock ? -ERRNO.EAGAIN : WOULD_BLOCK;
}

/** Waits for room in a pipe: 0 when there is room, else the result (EPIPE + SIGPIPE with no reader). */
function pipeOutput(vm: ProcessVm, t: Thread, p: Pipe, nonblock: boolean): number {
  if (p.readers === 0) return sigpipe(vm, t);
  if (p.room > 0) return 0;
  return nonblock ? -ERRNO.EAGAIN : WOULD_BLOCK;
}

function splice(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const len = Math.min(a.u[4], MAX_RW);
  const flags = a.i[5];
  if (a.u[4] === 0) return 0;
  if ((flags & ~SPLICE_F_ALL) !== 0) return EINVAL;
  const inp = t.process.fds.get(a.i[0]);
  const out = t.process.fds.get(a.i[2]);
  if (inp === null || out === null) return EBADF;
  const ipipe = pipeOf(inp);
  const opipe = pipeOf(out);
  const offInVa = a.u[1];
  const offOutVa = a.u[3];
  if ((ipipe !== null && offInVa !== 0) || (opipe !== null && offOutVa !== 0)) return -ERRNO.ESPIPE;
  const offIn = offsetArg(t, offInVa);
  const offOut = offsetArg(t, offOutVa);
  if (offIn.err !== 0 || offOut.err !== 0) return offIn.err !== 0 ? offIn.err : offOut.err;
  if (!inp.canRead() || !out.canWrite()) return EBADF;
  let nonblock = (flags & SPLICE_F_NONBLOCK) !== 0;

  if (ipipe !== null && opipe !== null) {
    if (ipipe === opipe) return EINVAL;
    if ((inp.flags | out.flags) & O_NONBLOCK) nonblock = true;
    return blocking(vm, t, () => pipeToPipe(vm, t, ipipe, opipe, len, nonblock, true), inp, out);
  }
  if (ipipe !== null) {
    if (offOut.pos !== null && !positional(out)) return EINVAL;
    if (out.flags & O_APPEND) return EINVAL;
    if (!spliceWritable(out)) return EINVAL;
    if (inp.flags & O_NONBLOCK) nonblock = true;
    let pos = offOut.pos;
    return blocking(vm, t, () => {
      const r = pipeInput(ipipe, nonblock);
      if (r !== 0 || ipipe.length === 0) return r;
      const data = ipipe.peek(Math.min(len, STEP));
      const w = writeFrom(vm, t, out, data, pos);
      if (w <= 0 || w === WOULD_BLOCK) return w;
      ipipe.consume(w);
      if (pos !== null) {
        pos += w;
        if (!storeOffset(t, offOutVa, pos)) return EFAULT;
      }
      return w;
    }, inp, out);
  }
  if (opipe !== null) {
    if (offIn.pos !== null && !positional(inp)) return EINVAL;
    if (!spliceReadable(inp)) return EINVAL;
    if (out.flags & O_NONBLOCK) nonblock = true;
    let pos = offIn.pos;
    return blocking(vm, t, () => {
      const r = pipeOutput(vm, t, opipe, nonblock);
      if (r !== 0) return r;
      const data = takeFrom(inp, Math.min(len, opipe.room, STEP), pos, nonblock);
      if (typeof data === "number") return data;
      opipe.push(data);
      if (pos !== null) {
        pos += data.length;
        if (!storeOffset(t, offInVa, pos)) return EFAULT;
      }
      return data.length;
    }, inp, out);
  }
  return EINVAL;
}

/** Moves (or, for tee, copies) up to `len` bytes from one pipe to another. */
function pipeToPipe(vm: ProcessVm, t: Thread, from: Pipe, to: Pipe, len: number, nonblock: boolean, move: boolean): number {
  // Input first (no writers is not an error yet), then output: a missing reader wins over end of file.
  const r = pipeInput(from, nonblock);
  if (r !== 0) return r;
  const w = pipeOutput(vm, t, to, nonblock);
  if (w !== 0 || from.length === 0) return w;
  const data = from.peek(Math.min(len, to.room));
  to.push(data);
  if (move) from.consume(data.length);
  return data.length;
}

function tee(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const len = Math.min(a.u[2], MAX_RW);
  const flags = a.i[3];
  if ((flags & ~SPLICE_F_ALL) !== 0) return EINVAL;
  if (a.u[2] === 0) return 0;
  const inp = t.process.fds.get(a.i[0]);
  const out = t.process.fds.get(a.i[1]);
  if (inp === null || out === null) return EBADF;
  if (!inp.canRead() || !out.canWrite()) return EBADF;
  const ipipe = pipeOf(inp);
  const opipe = pipeOf(out);
  if (ipipe === null || opipe === null || ipipe === opipe) return EINVAL;
  const nonblock = (flags & SPLICE_F_NONBLOCK) !== 0;
  return blocking(vm, t, () => pipeToPipe(vm, t, ipipe, opipe, len, nonblock, false), inp, out);
}

/**
 * sendfile(out, in, offset, count): Linux splices `in` into `out`; unless
 * `out` is a pipe, `in` must be a regular file (or block device), so a
 * pipe or socket as input is EINVAL (Go then falls back to read/write).
 */
function sendfile(vm: ProcessVm, t: Thread, a: SyscallArgs): number {
  const out = t.process.fds.get(a.i[0]);
  const inp = t.process.fds.get(a.i[1]);
  const offVa = a.u[2];
  const count = Math.min(a.u[3], MAX_RW);
  if (inp === null || !inp.canRead()) return EBADF;
  let pos: number | null = null;
  if (offVa !== 0) {
    const o = offsetArg(t, offVa);
    if (o.err !== 0) return o.err;
    if (!positional(inp)) return -ERRNO.ESPIPE;
    pos = o.pos;
  }
  if (out === null || !out.canWrite()) return EBADF;
  const opipe = pipeOf(out);
  if (opipe === null) {
    if (out.flags & O_APPEND) return EINVAL;
    const m = mode(inp);
    if (m !== S_IFREG && m !== 0o060000) return EINVAL;
    if (!spliceWritable(out)) return EINVAL;
  } else if (!spliceReadable(inp)) return EINVAL;
  if (count === 0) return 0;
  const nonblock = opipe !== null && (out.flags & O_NONBLOCK) !== 0;
  return blocking(vm, t, () => {
    // Read no more than the output takes now: a file read is undone, other input cannot be.
    let want = Math.min(count, STEP);
    if (opipe !== null) {
      const r = pipeOutput(vm, t, opipe, nonblock);
      if (r !== 0) return r;
      want = Math.min(want, opipe.room);
    }
    const data = takeFrom(inp, want, pos, nonblock);
    if (typeof data === "number" || data.length === 0) return typeof data === "number" ? data : 0;
    let w: number;
    if (opipe !== null) {
      opipe.push(data);
      w = data.length;
    } else {
      w = writeFrom(vm, t, out, data, null);
      const written = w === WOULD_BLOCK || w < 0 ? 0 : w;
      if (pos === null && written < data.length && positional(inp)) inp.seek(BigInt(written - data.length), 1);
      if (w === WOULD_BLOCK || w < 0) return w;
    }
    if (pos !== null) {
      pos += w;
      if (!storeOffset(t, offVa, pos)) return EFAULT;
    }
    return w;
  }, inp, out);
}

/** copy_file_range: regular files on one file system; the input's size bounds the copy. */
function copyFileRange(t: Thread, a: SyscallArgs): number {
  const inp = t.process.fds.get(a.i[0]);
  if (inp === null) return EBADF;
  const out = t.process.fds.get(a.i[2]);
  if (out === null) return EBADF;
  const offInVa = a.u[1];
  const offOutVa = a.u[3];
  const offIn = offsetArg(t, offInVa);
  const offOut = offsetArg(t, offOutVa);
  if (offIn.err === EFAULT || offOut.err === EFAULT) return EFAULT;
  if (a.i[5] !== 0 || a.hi[5] !== 0) return EINVAL;
  const sIn = inp.stat();
  const sOut = out.stat();
  if (typeof sIn === "number") return sIn;
  if (typeof sOut === "number") return sOut;
  if ((sIn.mode & S_IFMT) === S_IFDIR || (sOut.mode & S_IFMT) === S_IFDIR) return -ERRNO.EISDIR;
  if ((sIn.mode & S_IFMT) !== S_IFREG || (sOut.mode & S_IFMT) !== S_IFREG) return EINVAL;
  if (!inp.canRead() || !out.canWrite() || (out.flags & O_APPEND) !== 0) return EBADF;
  if (!positional(inp) || !positional(out)) return EINVAL;
  if (offIn.err !== 0 || offOut.err !== 0) return EINVAL;
  const posIn = offIn.pos ?? inp.seek(0n, 1);
  const posOut = offOut.pos ?? out.seek(0n, 1);
  if (posIn < 0 || posOut < 0) return posIn < 0 ? posIn : posOut;
  let len = Math.min(a.u[4], MAX_RW);
  const size = Number(sIn.size);
  len = posIn >= size ? 0 : Math.min(len, size - posIn);
  if (sIn.dev === sOut.dev && sIn.ino === sOut.ino && posOut < posIn + len && posIn < posOut + len) return EINVAL;
  if (sIn.dev !== sOut.dev) return -ERRNO.EXDEV;
  if (len === 0) return 0;
  let done = 0;
  while (done < len) {
    const chunk = new Uint8Array(Math.min(STEP, len - done));
    let r: number;
    try {
      r = fs.readSync(inp.hostFd, chunk, 0, chunk.length, posIn + done);
      if (r > 0) fs.writeSync(out.hostFd, chunk, 0, r, posOut + done);
    } catch (e) {
      if (done > 0) break;
      return hostErrno(e);
    }
    if (r <= 0) break;
    done += r;
  }
  if (offIn.pos === null) inp.seek(BigInt(done), 1);
  else if (!storeOffset(t, offInVa, posIn + done)) return EFAULT;
  if (offOut.pos === null) out.seek(BigInt(done), 1);
  else if (!storeOffset(t, offOutVa, posOut + done)) return EFAULT;
  return done;
}

export const spliceSyscalls: Record<string, SyscallHandler> = {
  splice: (vm, t, a) => splice(vm, t, a),
  tee: (vm, t, a) => tee(vm, t, a),
  sendfile: (vm, t, a) => sendfile(vm, t, a),
  copy_file_range: (_vm, t, a) => copyFileRange(t, a),
};
