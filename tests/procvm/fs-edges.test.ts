/**
 * What real programs' test suites tripped on (issue 16), each against
 * qemu-riscv64 (which hands the calls to the host kernel):
 * named pipes (programs/fifo.c), deep directory trees and a removed cwd
 * (programs/deepdirs.c), RLIMIT_NOFILE following the host's limit
 * (programs/rlimit.c, run under `prlimit`), and how --trace-syscalls shows
 * the dirfd of *at calls.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { test } from "node:test";
import { SYSCALL_NAMES } from "../../src/procvm/abi.ts";
import { SIGNATURES } from "../../src/procvm/trace.ts";
import { TYPEVISOR, assertSameRun, compile, requireTools, runQemu, runTypevisor, scratchDir, type RunResult } from "./helpers.ts";

function differential(program: string, linkage: "static" | "dynamic"): { q: RunResult; t: RunResult } {
  requireTools();
  const bin = compile(program, linkage);
  const dirs = [scratchDir(), scratchDir()];
  try {
    const sysroot = linkage === "dynamic";
    const q = runQemu(bin, [dirs[0]], { sysroot });
    const t = runTypevisor(bin, [dirs[1]], { sysroot });
    assert.equal(q.status, 0, `qemu-riscv64 reference run: ${q.stdout}${q.stderr}`);
    assertSameRun(program, q, t);
    return { q, t };
  } finally {
    // rm(1): node's rmSync cannot remove a tree deeper than PATH_MAX.
    for (const d of dirs) spawnSync("rm", ["-rf", d]);
  }
}

for (const linkage of ["static", "dynamic"] as const) {
  test(`fifo.c: named pipes (${linkage}) match qemu-riscv64`, () => {
    const { t } = differential("fifo", linkage);
    assert.match(t.stdout, /^open O_WRONLY\|O_NONBLOCK, no reader: -1 ENXIO$/m);
    assert.match(t.stdout, /^blocking O_RDONLY open waited for the writer: yes$/m);
    assert.match(t.stdout, /^reader child read 5$/m);
  });

  test(`deepdirs.c: relative calls past PATH_MAX and a removed cwd (${linkage}) match qemu-riscv64`, () => {
    const { t } = differential("deepdirs", linkage);
    assert.match(t.stdout, /^mkdir leaf: 0$/m);
    assert.match(t.stdout, /^stat \. \(removed\): 0\nis dir 1 nlink 0$/m);
    assert.match(t.stdout, /^getcwd \(removed\): -1 ENOENT$/m);
  });
}

/** Runs `cmd` with RLIMIT_NOFILE soft = hard = n (util-linux prlimit). */
function withNofile(n: number, cmd: string[]): RunResult {
  const r = spawnSync("prlimit", [`--nofile=${n}:${n}`, ...cmd], { encoding: "utf8", env: { PATH: process.env.PATH } });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? 128 };
}

test("rlimit.c: RLIMIT_NOFILE follows the host's (3000, past the old 1024), EMFILE at the soft limit, as qemu-riscv64", () => {
  requireTools();
  const bin = compile("rlimit", "static");
  const q = withNofile(3000, ["qemu-riscv64", bin]);
  const t = withNofile(3000, [process.execPath, TYPEVISOR, "exec", "-L", "", bin]);
  assert.equal(q.status, 0, q.stderr);
  assertSameRun("rlimit", q, t);
  assert.match(t.stdout, /^soft 3000 hard 3000$/m);
  assert.match(t.stdout, /^dup stopped after fd 2999: EMFILE$/m);
  assert.doesNotMatch(t.stdout, /: no$/m);
});

test("--trace-syscalls shows AT_FDCWD by name in mknodat and every *at call", () => {
  requireTools();
  const dir = scratchDir();
  try {
    const t = runTypevisor(compile("fifo", "static"), [dir], { flags: ["--trace-syscalls"] });
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stderr, /\] mknodat\(AT_FDCWD, "f", 0x11b6, 0x0\) = 0$/m);
    assert.match(t.stderr, /\] mknodat\(AT_FDCWD, "g", 0x1180, 0x0\) = 0$/m);
    assert.match(t.stderr, /\] openat\(AT_FDCWD, "f", 0x801, 0x0\) = -1 ENXIO$/m);
    assert.doesNotMatch(t.stderr, /0x1000000000000000/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Every call with a dirfd argument formats it as one.
  const withDirfd = Object.values(SYSCALL_NAMES).filter(
    (n) => (/at2?$/.test(n) && !["shmat", "fstat"].includes(n)) || ["statx", "open_tree", "move_mount", "fspick", "mount_setattr"].includes(n),
  );
  assert.ok(withDirfd.length >= 20, withDirfd.join(" "));
  for (const name of withDirfd) assert.match(SIGNATURES[name] ?? "", /^f|^sf/, `${name}: ${SIGNATURES[name]}`);
});
