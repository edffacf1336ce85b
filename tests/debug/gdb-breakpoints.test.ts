/**
 * Breakpoints patched into guest memory under `typevisor exec -g`
 * (docs/debugging.md): gdb's sessions compared with qemu-riscv64 -g's on
 * tests/debug/programs/gdb-breakpoints.c — a breakpoint hit in a loop
 * (each hit stepped over, `continue N`), one set but never hit (the output
 * is the program's), memory read at a breakpoint showing the instruction,
 * a fork or vfork child running the breakpointed code, and the program's own
 * ebreak staying a SIGTRAP. A raw client checks what gdb hides behind its
 * own shadow copies: `m` over a patch, `M` under one, and the hit count.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CC, TYPEVISOR, buildCachedC, requireTools } from "../procvm/helpers.ts";
import { RawClient, freePort, gdbBatch, start, symbolAddress } from "./helpers.ts";

/** tests/debug/programs/gdb-breakpoints.c, static, -g -O0 (cached by content). */
function breakpointsProgram(): string {
  const src = path.join(path.dirname(fileURLToPath(import.meta.url)), "programs", "gdb-breakpoints.c");
  return buildCachedC(src, CC, "debug", ["-static", "-g", "-O0", "-Wall"]);
}

async function debugSession(runner: "typevisor" | "qemu", prog: string, commands: string[], progArgs: string[]) {
  const port = await freePort();
  const vm = runner === "typevisor"
    ? start(process.execPath, [TYPEVISOR, "exec", "-L", "", "-g", String(port), prog, ...progArgs])
    : start("qemu-riscv64", ["-g", String(port), prog, ...progArgs]);
  const script = ["set architecture riscv:rv64", "set confirm off", `target remote 127.0.0.1:${port}`, ...commands];
  return gdbBatch(vm, prog, script);
}

/** gdb's output without what differs between the stubs: warnings, the inferior's name, stack addresses. */
function normalize(out: string): string[] {
  return out
    .split("\n")
    .filter((l) => !/^warning: /.test(l) && l.trim() !== "")
    .map((l) => l.replace(/Inferior 1 \([^)]*\)/, "Inferior 1").replace(/argv=0x[0-9a-f]+/, "argv=0x…"));
}

const CASES: Array<{ name: string; args: string[]; script: string[]; expect: RegExp[]; stdout: string }> = [
  {
    name: "a breakpoint in a loop is hit each time (continue 3 skips two); memory at it reads as the instruction",
    args: [],
    script: ["break tick", "break never", "continue", "x/2xh $pc", "x/i $pc", "print i", "continue 3", "print i", "print total", "delete", "continue"],
    expect: [
      /^Breakpoint 1, tick \(i=1\) at .*gdb-breakpoints\.c:\d+$/,
      /^=> 0x[0-9a-f]+ <tick\+\d+>:\s+add\s+a5,gp,/,
      /^\$1 = 1$/,
      /^Breakpoint 1, tick \(i=4\) at /,
      /^\$3 = 6$/,
      /^\[Inferior 1 \(.*\) exited normally\]$/,
    ],
    stdout: "total=515\n",
  },
  {
    name: "a breakpoint set but never hit: the program runs to its end",
    args: ["100000"],
    script: ["break never", "continue"],
    expect: [/^\[Inferior 1 \(.*\) exited normally\]$/],
    stdout: "total=50015\n",
  },
  {
    name: "a forked child runs the breakpointed function without stopping; the parent stops in it",
    args: ["fork"],
    script: ["break tick", "continue", "print i", "print total", "continue"],
    expect: [/^Breakpoint 1, tick \(i=1\) at /, /^\$1 = 1$/, /^\$2 = 0$/, /^\[Inferior 1 \(.*\) exited normally\]$/],
    stdout: "child total=100\nchild exited 7, parent total=1\n",
  },
  {
    name: "a vfork child, sharing the patched memory, runs the breakpointed function without stopping",
    args: ["vfork"],
    script: ["break tick", "continue", "print i", "continue"],
    expect: [/^Breakpoint 1, tick \(i=1\) at /, /^\$1 = 1$/, /^\[Inferior 1 \(.*\) exited normally\]$/],
    stdout: "vfork child exited 7, total=1\n",
  },
  {
    name: "the program's own ebreak stays a SIGTRAP (c drops it: it traps again)",
    args: ["trap"],
    script: ["break tick", "continue", "continue", "x/i $pc", "continue", "kill"],
    expect: [/^Breakpoint 1, tick \(i=1\) at /, /^Program received signal SIGTRAP, Trace\/breakpoint trap\.$/, /^=> 0x[0-9a-f]+ <main\+\d+>:\s+ebreak$/],
    stdout: "",
  },
];

for (const c of CASES) {
  test(`patched breakpoints under exec -g as under qemu-riscv64 -g: ${c.name}`, async () => {
    requireTools("cc", "qemu", "gdb");
    const prog = breakpointsProgram();
    const ours = await debugSession("typevisor", prog, c.script, c.args);
    const qemu = await debugSession("qemu", prog, c.script, c.args);
    const lines = ours.gdb.split("\n");
    for (const re of c.expect) assert.ok(lines.some((l) => re.test(l)), `no line matching ${re} in:\n${ours.gdb}\n${ours.vm.stderr}`);
    assert.equal(ours.vm.stdout, c.stdout);
    assert.deepEqual(normalize(ours.gdb), normalize(qemu.gdb));
    assert.equal(qemu.vm.stdout, ours.vm.stdout);
  });
}

test("m at a patched breakpoint gives the original bytes, M under it keeps the ebreak, and each of 5 calls stops", async () => {
  requireTools("cc", "gdb");
  const prog = breakpointsProgram();
  const port = await freePort();
  const vm = start(process.execPath, [TYPEVISOR, "exec", "-L", "", "-g", String(port), prog]);
  const c = await RawClient.connect(port);
  try {
    const tick = symbolAddress(prog, "tick").toString(16);
    const never = symbolAddress(prog, "never").toString(16);
    const tickBytes = await c.ask(`m${tick},8`);
    const neverBytes = await c.ask(`m${never},8`);
    assert.match(tickBytes, /^[0-9a-f]{16}$/);
    assert.equal(await c.ask(`Z0,${tick},2`), "OK");
    assert.equal(await c.ask(`Z0,${tick},2`), "OK"); // a second insert changes nothing
    assert.equal(await c.ask(`Z0,${never},2`), "OK");
    assert.equal(await c.ask(`m${tick},8`), tickBytes);
    // A write over a breakpoint (here the same bytes) updates what it gives back.
    assert.equal(await c.ask(`M${never},4:${neverBytes.slice(0, 8)}`), "OK");
    assert.equal(await c.ask(`m${never},8`), neverBytes);
    for (let i = 1; i <= 5; i++) {
      assert.match(await c.ask("c"), /^T05thread:[0-9a-f]+;swbreak:;$/, `hit ${i}`);
      assert.equal(Number(Buffer.from(await c.ask("p20"), "hex").readBigUInt64LE()).toString(16), tick);
      assert.equal(Buffer.from(await c.ask("p0a"), "hex").readBigUInt64LE(), BigInt(i), `tick(${i})`);
    }
    assert.equal(await c.ask(`z0,${tick},2`), "OK");
    assert.equal(await c.ask(`m${tick},8`), tickBytes);
    assert.equal(await c.ask("c"), "W00");
  } finally {
    c.close();
  }
  const r = await vm.done;
  assert.equal(r.stdout, "total=515\n");
  assert.equal(r.status, 0);
});
