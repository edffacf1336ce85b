/**
 * splice, tee, sendfile and copy_file_range (programs/splice.c: pipes,
 * files, unix and TCP sockets, offsets, flags and every error case it
 * makes) and Go's io.Copy between sockets, which splices (programs/go-splice),
 * against qemu-riscv64, which hands them to the host kernel.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { assertSameRun, compile, compileGo, requireTools, runQemu, runTypevisor, scratchDir } from "./helpers.ts";

/** A directory on another file system than the scratch directories (copy_file_range's EXDEV). */
const OTHER_FS = "/dev/shm";

for (const linkage of ["static", "dynamic"] as const) {
  test(`splice.c (${linkage}) matches qemu-riscv64`, () => {
    requireTools();
    assert.notEqual(fs.statSync(OTHER_FS).dev, fs.statSync(scratchRoot()).dev, `${OTHER_FS} must be another file system`);
    const bin = compile("splice", linkage);
    const dirs = [scratchDir(), scratchDir()];
    try {
      const sysroot = linkage === "dynamic";
      const q = runQemu(bin, [dirs[0], OTHER_FS], { sysroot });
      const t = runTypevisor(bin, [dirs[1], OTHER_FS], { sysroot });
      assert.equal(q.status, 0, `qemu-riscv64 reference run: ${q.stderr}`);
      assertSameRun("splice", q, t);
      assert.match(t.stdout, /^tcp: relayed 1000000$/m);
      assert.match(t.stdout, /^sendfile pipe->file: -1 EINVAL$/m);
    } finally {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
  });
}

function scratchRoot(): string {
  const d = scratchDir();
  fs.rmSync(d, { recursive: true });
  return d.replace(/\/[^/]+$/, "");
}

test("Go io.Copy between TCP and between unix sockets (splice), from a file and a pipe, matches qemu-riscv64", () => {
  requireTools("go", "qemu");
  const bin = compileGo("go-splice");
  const dirs = [scratchDir(), scratchDir()];
  try {
    const q = runQemu(bin, [dirs[0]]);
    const t = runTypevisor(bin, [dirs[1]], { flags: ["--trace-syscalls"] });
    assert.equal(q.status, 0, `qemu-riscv64 reference run: ${q.stderr}`);
    assert.equal(t.stdout, q.stdout, "stdout");
    assert.equal(t.status, 0, "exit status");
    assert.match(t.stdout, /^unix: sink read 3145728 bytes/m);
    // Go really took the splice path (and sendfile for the file), not a fallback.
    assert.match(t.stderr, /\] splice\(\d+, 0x0, \d+, 0x0, \d+, 0x2\) = (0x|[1-9])/);
    assert.match(t.stderr, /\] sendfile\(\d+, \d+, 0x0, \d+\) = (0x|[1-9])/);
    // From the pipe, sendfile says EINVAL as Linux does, and Go falls back to read/write.
    assert.match(t.stderr, /\] sendfile\(\d+, \d+, 0x0, \d+\) = -1 EINVAL/);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});
