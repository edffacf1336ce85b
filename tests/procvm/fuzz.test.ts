/**
 * A hostile guest program against the process VM: programs/syscall-fuzz.c
 * makes thousands of system calls with random arguments (bad pointers,
 * huge lengths, random flags and structs). Every call must get an answer:
 * the program runs to its end, and typevisor reports no internal error
 * (a handler that threw) and no fault of its own.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { compile, requireTools, runTypevisor, scratchDir } from "./helpers.ts";

const CALLS = 10_000;

for (const seed of [1, 0x5eed, 0xc0ffee]) {
  test(`syscall fuzz, seed ${seed}: ${CALLS} random calls all answered, no internal error`, () => {
    requireTools("cc", "sysroot");
    const bin = compile("syscall-fuzz", "static");
    const dir = scratchDir();
    try {
      const r = runTypevisor(bin, [String(seed), String(CALLS)], { cwd: dir });
      assert.doesNotMatch(r.stderr, /typevisor: /, "typevisor reported a problem of its own");
      assert.equal(r.status, 0, `exit status (stderr: ${r.stderr.slice(0, 500)})`);
      assert.match(r.stdout, new RegExp(`answered ${CALLS} calls\\n$`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
