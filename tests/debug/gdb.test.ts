/**
 * `typevisor exec -g PORT` driven by the real client, Debian's
 * gdb-multiarch, with qemu-riscv64 -g PORT running the same gdb script as
 * the oracle: breakpoints, source-line stepping, reading and writing
 * variables (which changes what the program does), threads, the exit code.
 * Signals stop the program as under qemu-user: a fault (SIGSEGV) and a
 * signal with a handler (SIGUSR1), passed, suppressed or not stopped for.
 * Then a raw protocol client for what a batch gdb cannot do: Ctrl-C
 * (0x03) stopping a spinning program, memory writes, detach and kill.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CC, SYSROOT, TYPEVISOR, buildCachedC, compile, requireTools } from "../procvm/helpers.ts";
import { RawClient, freePort, gdbBatch, start, symbolAddress } from "./helpers.ts";

/** Runs the debuggee under `runner` (typevisor or qemu) with -g, and gdb's batch script against it. */
async function debugSession(runner: "typevisor" | "qemu", prog: string, dynamic: boolean, commands: string[], progArgs: string[] = []) {
  const port = await freePort();
  const vm = runner === "typevisor"
    ? start(process.execPath, [TYPEVISOR, "exec", "-L", dynamic ? SYSROOT : "", "-g", String(port), prog, ...progArgs])
    : start("qemu-riscv64", [...(dynamic ? ["-L", SYSROOT] : []), "-g", String(port), prog, ...progArgs]);
  const script = ["set architecture riscv:rv64", "set confirm off", ...(dynamic ? [`set sysroot ${SYSROOT}`] : []), `target remote 127.0.0.1:${port}`, ...commands];
  const { gdb, vm: program } = await gdbBatch(vm, prog, script);
  return { gdb, program };
}

/**
 * gdb's output without what legitimately differs between the two stubs
 * (thread ids, pids, transfer warnings) and, for a dynamic program, where
 * each lays out memory (Linux's PIE base vs qemu-user's): addresses keep
 * their page offset.
 */
function normalize(out: string, dynamic: boolean): string[] {
  return out
    .split("\n")
    .filter((l) => !/^warning: |^\s+Id\s+Target Id|^[* ] \d+\s+Thread /.test(l) && l.trim() !== "")
    .map((l) => l.replace(/Thread (\d+\.)?\d+/g, "Thread N").replace(/Inferior 1 \([^)]*\)/, "Inferior 1"))
    .map((l) => (dynamic ? l.replace(/0x[0-9a-f]{6,}([0-9a-f]{3})\b/g, "0x…$1") : l));
}

const SCRIPT = [
  "break compute",
  "continue",
  "info registers pc",
  "print counter",
  "print x",
  "next",
  "next",
  "print y",
  "print ratio",
  "stepi",
  "x/i $pc",
  "break worker",
  "continue",
  "info threads",
  "print id",
  "set var mode = 7",
  "delete",
  "continue",
];

for (const linkage of ["static", "dynamic"] as const) {
  test(`gdb-multiarch against exec -g (${linkage}) gives qemu-riscv64 -g's session`, async () => {
    requireTools("cc", "sysroot", "qemu", "gdb");
    const prog = compile("gdb-target", linkage, ["-g", "-O0"]);
    const dynamic = linkage === "dynamic";
    const ours = await debugSession("typevisor", prog, dynamic, SCRIPT);
    const qemu = await debugSession("qemu", prog, dynamic, SCRIPT);
    const lines = ours.gdb.split("\n");
    const at = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `no line matching ${re} in:\n${ours.gdb}\n${ours.program.stderr}`);
    at(/^Breakpoint 1, compute \(x=5\) at .*gdb-target\.c:12$/);
    at(/^\$1 = 41$/);
    at(/^\$2 = 5$/);
    at(/^13\t  y \+= counter;$/);
    at(/^14\t  return y;$/);
    at(/^\$3 = 51$/);
    at(/^\$4 = 2\.5$/);
    at(/hit Breakpoint 2, worker \(arg=0x64\) at .*gdb-target\.c:18$/);
    at(/^\* 2 +Thread \d+ .*worker/);
    at(/^\[Inferior 1 \(.*\) exited with code 03\]$/);
    assert.equal(lines.filter((l) => /^[* ] \d+ +Thread /.test(l)).length, 2, "two threads in info threads");
    // The program saw the debugger's write (mode = 7) and ended with its status.
    assert.equal(ours.program.stdout, "compute=51\ncounter=141 ratio=2.5\nmode changed\n");
    assert.equal(ours.program.status, 3);
    assert.deepEqual(normalize(ours.gdb, dynamic), normalize(qemu.gdb, dynamic));
    assert.equal(qemu.program.stdout, ours.program.stdout);
  });
}

/** tests/debug/programs/gdb-signals.c, static, -g -O0 (cached by content). */
function signalsProgram(): string {
  const src = path.join(path.dirname(fileURLToPath(import.meta.url)), "programs", "gdb-signals.c");
  return buildCachedC(src, CC, "debug", ["-static", "-g", "-O0", "-Wall"]);
}

/** Both sessions' gdb output, normalized, with stack addresses (argv=…) masked: the two stubs place the stack apart. */
function normalizeSignals(out: string): string[] {
  return normalize(out, false).map((l) => l.replace(/argv=0x[0-9a-f]+/, "argv=0x…"));
}

const SIGNAL_CASES: Array<{ name: string; args: string[]; script: string[]; expect: RegExp[]; stdout: string; status: number }> = [
  {
    name: "a NULL write stops with SIGSEGV at the faulting instruction; continue ends the program with it",
    args: [],
    script: ["continue", "info registers pc", "bt", "print local", "print depth", "continue"],
    expect: [
      /^Program received signal SIGSEGV, Segmentation fault\.$/,
      /^0x[0-9a-f]+ in crash \(depth=6\) at .*gdb-signals\.c:16$/,
      /^16\t  \*target = local;$/,
      /^#1  0x[0-9a-f]+ in main \(/,
      /^\$1 = 42$/,
      /^Program terminated with signal SIGSEGV, Segmentation fault\.$/,
    ],
    stdout: "about to crash\n",
    status: 139,
  },
  {
    name: "SIGUSR1 stops; continue passes it and its handler runs (a breakpoint in it stops)",
    args: ["usr1"],
    script: ["break on_usr1", "continue", "info registers pc", "continue", "print sig", "bt", "continue"],
    expect: [
      /^Program received signal SIGUSR1, User defined signal 1\.$/,
      /^Breakpoint 1, on_usr1 \(sig=10\) at .*gdb-signals\.c:11$/,
      /^\$1 = 10$/,
      /^#1  <signal handler called>$/,
      /^\[Inferior 1 \(.*\) exited normally\]$/,
    ],
    stdout: "handled SIGUSR1\nafter raise\n",
    status: 0,
  },
  {
    name: "handle SIGUSR1 nopass: the stop is reported, continue (c) suppresses the signal",
    args: ["usr1"],
    script: ["handle SIGUSR1 nopass", "continue", "continue"],
    expect: [/^Program received signal SIGUSR1, User defined signal 1\.$/, /^\[Inferior 1 \(.*\) exited normally\]$/],
    stdout: "after raise\n",
    status: 0,
  },
  {
    name: "handle SIGUSR1 nostop noprint pass: no stop shown, the handler runs",
    args: ["usr1"],
    script: ["handle SIGUSR1 nostop noprint pass", "continue"],
    expect: [/^\[Inferior 1 \(.*\) exited normally\]$/],
    stdout: "handled SIGUSR1\nafter raise\n",
    status: 0,
  },
];

for (const c of SIGNAL_CASES) {
  test(`signals under exec -g as under qemu-riscv64 -g: ${c.name}`, async () => {
    requireTools("cc", "sysroot", "qemu", "gdb");
    const prog = signalsProgram();
    const ours = await debugSession("typevisor", prog, false, c.script, c.args);
    const qemu = await debugSession("qemu", prog, false, c.script, c.args);
    const lines = ours.gdb.split("\n");
    for (const re of c.expect) assert.ok(lines.some((l) => re.test(l)), `no line matching ${re} in:\n${ours.gdb}\n${ours.program.stderr}`);
    assert.equal(ours.program.stdout, c.stdout);
    assert.equal(ours.program.status, c.status);
    assert.deepEqual(normalizeSignals(ours.gdb), normalizeSignals(qemu.gdb));
    assert.equal(qemu.program.stdout, ours.program.stdout);
  });
}

test("a fault is T0b with pc in the faulting function; c suppresses it (it faults again), vCont;C0b delivers it: X0b", async () => {
  requireTools("cc", "sysroot", "gdb");
  const prog = signalsProgram();
  const port = await freePort();
  const vm = start(process.execPath, [TYPEVISOR, "exec", "-L", "", "-g", String(port), prog]);
  const c = await RawClient.connect(port);
  try {
    const stop = await c.ask("c");
    const m = /^T0bthread:([0-9a-f]+);$/.exec(stop);
    assert.ok(m, stop);
    const pc = await c.ask("p20");
    const crash = symbolAddress(prog, "crash");
    const at = Number(Buffer.from(pc, "hex").readBigUInt64LE());
    assert.ok(at > crash && at < crash + 64, `pc 0x${at.toString(16)} not in crash (0x${crash.toString(16)})`);
    assert.equal(await c.ask("c"), stop);
    assert.equal(await c.ask("p20"), pc);
    assert.equal(await c.ask(`vCont;C0b:${m[1]}`), "X0b");
  } finally {
    c.close();
  }
  const r = await vm.done;
  assert.equal(r.status, 139);
  assert.match(r.stderr, /Segmentation fault \(SIGSEGV\) at pc 0x/);
});

test("Ctrl-C (0x03) stops a spinning program; a memory write ends the loop; D lets it finish", async () => {
  requireTools("cc", "sysroot", "gdb");
  const prog = compile("gdb-target", "static", ["-g", "-O0"]);
  const port = await freePort();
  const vm = start(process.execPath, [TYPEVISOR, "exec", "-L", "", "-g", String(port), prog, "spin"]);
  const c = await RawClient.connect(port);
  try {
    assert.match(await c.ask("?"), /^T05thread:[0-9a-f]+;$/);
    c.send("c");
    await new Promise((r) => setTimeout(r, 1500)); // it prints and enters the loop
    c.raw("\x03");
    assert.match(await c.reply(), /^T02thread:[0-9a-f]+;$/);
    assert.match(await c.ask("g"), /^[0-9a-f]{528}$/);
    const spin = symbolAddress(prog, "spin").toString(16);
    assert.equal(await c.ask(`m${spin},4`), "01000000");
    assert.equal(await c.ask(`M${spin},4:00000000`), "OK");
    assert.equal(await c.ask("D"), "OK");
  } finally {
    c.close();
  }
  const r = await vm.done;
  assert.equal(r.stdout, "compute=51\ncounter=141 ratio=2.5\nspun\n");
  assert.equal(r.status, 0);
});

test("k kills the program; a stepped instruction moves pc; the end is reported as W", async () => {
  requireTools("cc", "sysroot", "gdb");
  const prog = compile("gdb-target", "static", ["-g", "-O0"]);
  {
    const port = await freePort();
    const vm = start(process.execPath, [TYPEVISOR, "exec", "-L", "", "-g", String(port), prog, "spin"]);
    const c = await RawClient.connect(port);
    const pc0 = await c.ask("p20");
    assert.match(await c.ask("s"), /^T05thread:[0-9a-f]+;$/);
    assert.notEqual(await c.ask("p20"), pc0);
    c.send("k");
    const r = await vm.done;
    c.close();
    assert.equal(r.status, 137);
  }
  {
    const port = await freePort();
    const vm = start(process.execPath, [TYPEVISOR, "exec", "-L", "", "-g", String(port), prog]);
    const c = await RawClient.connect(port);
    assert.equal(await c.ask("QStartNoAckMode"), "OK");
    assert.equal(await c.ask("vCont;c"), "W00");
    c.close();
    assert.equal((await vm.done).status, 0);
  }
});
