/**
 * Differential tests: each C program in programs/ is built static and
 * dynamic for riscv64, run under qemu-riscv64 and under `typevisor exec`,
 * and must give the same stdout, stderr and exit status.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { compile, assertSameRun, requireTools, runQemu, runTypevisor, scratchDir, type RunResult } from "./helpers.ts";

interface Case {
  program: string;
  args?: string[];
  /** Gets a fresh scratch directory as its last argument. */
  scratch?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Compare stderr too (false where only typevisor prints a diagnostic). */
  stderr?: boolean;
}

const cases: Case[] = [
  { program: "startup" },
  { program: "startup", args: ["one", "two words", ""], env: { PROCVM_TEST: "set" } },
  { program: "files", scratch: true },
  { program: "memory", scratch: true },
  { program: "signals" },
  { program: "threads" },
  { program: "procs" },
  { program: "misc" },
  { program: "events" },
  { program: "timers" },
  { program: "procfs", args: ["one", "two words"] },
  { program: "fault", stderr: false },
];

for (const linkage of ["static", "dynamic"] as const) {
  for (const c of cases) {
    const label = `${c.program}${c.args ? ` ${JSON.stringify(c.args)}` : ""} (${linkage}) matches qemu-riscv64`;
    test(label, () => {
      requireTools();
      const bin = compile(c.program, linkage);
      const sysroot = linkage === "dynamic";
      const args = (dir: string | null) => [...(c.args ?? []), ...(dir !== null ? [dir] : [])];
      const dirs = c.scratch ? [scratchDir(), scratchDir()] : [null, null];
      try {
        const q = runQemu(bin, args(dirs[0]), { sysroot, env: c.env });
        const t = runTypevisor(bin, args(dirs[1]), { sysroot, env: c.env });
        assertSameRun(label, q, t, c.stderr !== false);
      } finally {
        for (const d of dirs) if (d !== null) fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
}

test("a fault with no handler: status 139 and one diagnostic line", () => {
  requireTools();
  const t = runTypevisor(compile("fault", "static"), []);
  assert.equal(t.status, 139);
  assert.equal(t.stdout, "about to fault\n");
  assert.match(t.stderr, /^typevisor: fault-static-\w+\[\d+\]: Segmentation fault \(SIGSEGV\) at pc 0x[0-9a-f]+, address 0x0\n$/);
});
