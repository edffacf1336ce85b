import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { AddressSpace, PROT_READ, PROT_WRITE } from "../../src/procvm/address-space.ts";
import {
  FdTable, HostFile, O_NONBLOCK, O_RDONLY, PIPE_CAPACITY, Pipe, PipeEnd, WOULD_BLOCK,
} from "../../src/procvm/files.ts";
import { Paths } from "../../src/procvm/paths.ts";
import { PhysPages } from "../../src/procvm/phys-pages.ts";
import { Process } from "../../src/procvm/process.ts";
import { SIGFRAME_SIZE, SIGUSR1, SA_ONSTACK, SS_DISABLE, popSignalFrame, pushSignalFrame } from "../../src/procvm/signals.ts";
import { implementedSyscalls } from "../../src/procvm/syscalls/table.ts";
import { ERRNO } from "../../src/procvm/abi.ts";

test("every system call the issue names has a handler", () => {
  const required = `openat read write pread64 pwrite64 readv writev lseek close fstat fstatat statx getdents64
    readlinkat faccessat faccessat2 mkdirat unlinkat renameat2 fcntl dup dup3 pipe2 ioctl mmap munmap mprotect mremap
    madvise brk clock_gettime gettimeofday nanosleep clock_nanosleep getpid getppid gettid getuid geteuid getgid
    getegid uname prlimit64 sched_getaffinity getrandom rt_sigaction rt_sigprocmask sigaltstack kill tgkill
    rt_sigreturn futex set_tid_address set_robust_list exit exit_group clone execve wait4`.split(/\s+/);
  const have = new Set(implementedSyscalls());
  assert.deepEqual(required.filter((n) => !have.has(n)), []);
});

test("pipes: EOF after the last writer, EPIPE without readers, atomic small writes, O_NONBLOCK", () => {
  const pipe = new Pipe();
  const r = new PipeEnd(pipe, true, 0);
  const w = new PipeEnd(pipe, false, 0);
  const buf = new Uint8Array(10);
  assert.equal(r.read(buf), WOULD_BLOCK, "empty pipe with a writer blocks");
  assert.equal(w.write(new TextEncoder().encode("hello")), 5);
  assert.equal(r.available(), 5);
  assert.equal(r.read(buf.subarray(0, 3)), 3);
  assert.equal(new TextDecoder().decode(buf.subarray(0, 3)), "hel");
  assert.equal(w.write(new Uint8Array(PIPE_CAPACITY)), PIPE_CAPACITY - 2, "a big write fills what it can");
  assert.equal(w.write(new Uint8Array(1)), WOULD_BLOCK, "full");
  w.flags |= O_NONBLOCK;
  assert.equal(w.write(new Uint8Array(1)), -ERRNO.EAGAIN);
  const big = new Uint8Array(PIPE_CAPACITY);
  assert.equal(r.read(big), PIPE_CAPACITY);
  assert.equal(w.write(new Uint8Array(100)), 100);
  assert.equal(r.read(big.subarray(0, 98)), 98, "wraps around the ring");
  assert.ok(w.pollWritable() && r.pollReadable());
  const table = new FdTable();
  const rfd = table.install(r, false);
  const wfd = table.install(w, false);
  const copy = table.clone();
  table.close(wfd);
  assert.equal(pipe.writers, 1, "the fork's copy still writes");
  copy.close(wfd);
  assert.equal(pipe.writers, 0);
  assert.equal(r.read(buf), 2);
  assert.equal(r.read(buf), 0, "EOF");
  table.close(rfd);
  copy.close(rfd);
  assert.equal(w.write(new Uint8Array(1)), -ERRNO.EPIPE);
});

test("fd table: lowest free fd, dup2 semantics, close-on-exec, EMFILE", () => {
  const t = new FdTable();
  const file = new PipeEnd(new Pipe(), true, 0);
  assert.equal(t.install(file, false), 0);
  assert.equal(t.install(file, true), 1);
  assert.equal(t.install(file, false, 5), 5);
  t.placeAt(1, file, false);
  assert.equal(t.isCloexec(1), false);
  t.setCloexec(5, true);
  t.closeOnExec();
  assert.deepEqual(t.fds(), [0, 1]);
  assert.equal(file.refs, 2);
  t.limit = 1024; // RLIMIT_NOFILE's soft limit (the host's by default)
  for (let i = 2; i < 1024; i++) t.install(file, false);
  assert.equal(t.install(file, false), -ERRNO.EMFILE);
  const forked = t.clone();
  assert.equal(forked.limit, 1024, "a fork keeps the limit");
  forked.closeAll();
  t.closeAll();
  assert.equal(file.refs, 0);
});

test("paths: a sysroot prefix wins for absolute paths that exist there; /proc/self/exe names the guest program", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-prefix-"));
  try {
    fs.mkdirSync(path.join(root, "lib"));
    fs.writeFileSync(path.join(root, "lib/libfoo.so"), "x");
    const paths = new Paths(root);
    const space = new AddressSpace(new PhysPages(new Uint8Array(1 << 20)));
    const p = new Process(100, space, new FdTable(), "/work/dir");
    p.exePath = "/opt/guest/prog";
    paths.processLookup = (pid) => (pid === 100 ? p : undefined);
    assert.equal(paths.host("/lib/libfoo.so", p), path.join(root, "lib/libfoo.so"));
    assert.equal(paths.host("/etc/passwd", p), "/etc/passwd", "not in the sysroot: the host's");
    assert.equal(paths.host("/", p), "/");
    assert.equal(paths.host("/proc/self/exe", p), "/opt/guest/prog");
    assert.equal(paths.host("/proc/100/exe", p), "/opt/guest/prog");
    assert.equal(paths.procLink("/proc/self/cwd", p), "/work/dir");
    assert.equal(paths.resolveAt(p, -100, "a/../b"), "/work/dir/b");
    assert.equal(paths.resolveAt(p, -100, ""), -ERRNO.ENOENT);
    assert.equal(paths.resolveAt(p, 7, "x"), -ERRNO.EBADF);
    const fd = fs.openSync(root, "r");
    p.fds.install(new HostFile(fd, O_RDONLY, root, true), false);
    assert.equal(paths.resolveAt(p, 0, "lib"), path.join(root, "lib"));
    assert.equal(paths.resolveForExec("bin/x", p), "/work/dir/bin/x");
    p.fds.closeAll();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("a signal frame round-trips every register, the mask and the alternate stack", () => {
  const space = new AddressSpace(new PhysPages(new Uint8Array(1 << 20)));
  space.map(0x10000, 0x20000, PROT_READ | PROT_WRITE, false, "stack");
  const regs = new Int32Array(133);
  for (let i = 0; i < 133; i++) regs[i] = (i * 0x01010101) | 0;
  regs[131] = 0x1f;
  regs[132] = 3;
  const sp = 0x1f000;
  regs[4] = sp;
  regs[5] = 0;
  const saved = regs.slice();
  const alt = { sp: 0, size: 0, flags: SS_DISABLE };
  const ok = pushSignalFrame(regs, space, { signo: SIGUSR1, code: 0, pid: 9 }, { handler: 0x12340, flags: SA_ONSTACK, mask: 0n }, 0x55n, alt, 0x9000);
  assert.ok(ok);
  const frame = regs[4] >>> 0;
  assert.equal(frame, Math.floor((sp - SIGFRAME_SIZE) / 16) * 16, "below sp, 16-aligned");
  assert.equal(regs[128], 0x12340, "pc = handler");
  assert.equal(regs[2], 0x9000, "ra = the sigreturn trampoline");
  assert.equal(regs[20], SIGUSR1, "a0 = signal");
  assert.equal(regs[22], frame, "a1 = &info");
  assert.equal(regs[24], frame + 128, "a2 = &ucontext");
  assert.equal(space.readU32(frame), SIGUSR1, "si_signo");
  assert.equal(space.readU32(frame + 16), 9, "si_pid");
  assert.equal(space.readU32(frame + 128 + 176), saved[128] >>> 0, "uc_mcontext pc");
  assert.equal(space.readU64(frame + 128 + 40), 0x55, "uc_sigmask");
  const back = popSignalFrame(regs, space);
  assert.ok(back !== null);
  assert.equal(back.mask, 0x55n);
  for (let i = 2; i < 133; i++) if (i !== 130) assert.equal(regs[i], saved[i], `word ${i}`);
});
