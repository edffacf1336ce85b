/**
 * `typevisor run -S --gdb tcp::PORT` (the system VM's harts) driven by
 * gdb-multiarch, with qemu-system-riscv64 -S -gdb tcp::PORT running the
 * same script as the oracle on a bare-metal C program; then a raw client
 * for Ctrl-C on a spinning hart and the W reply at power-off.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { TYPEVISOR, requireTools } from "../procvm/helpers.ts";
import { buildElf } from "../support/toolchain.ts";
import { RawClient, freePort, gdbBatch, start, symbolAddress } from "./helpers.ts";

const HERE = path.join(path.dirname(fileURLToPath(import.meta.url)), "programs");

function program(): Promise<string> {
  return buildElf({ sources: [path.join(HERE, "bare-start.S"), path.join(HERE, "gdb-bare.c")], flags: ["-g", "-O0"] });
}

const SCRIPT = [
  "break compute",
  "continue",
  "print counter",
  "print x",
  "next",
  "next",
  "print y",
  "stepi",
  "x/i $pc",
  "info registers a5",
  "set var mode = 7",
  "delete",
];

async function session(runner: "typevisor" | "qemu", elf: string, script: string[]) {
  const port = await freePort();
  const vm = runner === "typevisor"
    ? start(process.execPath, [TYPEVISOR, "run", "--bios", "none", "--kernel", elf, "-S", "--gdb", `tcp::${port}`])
    : start("qemu-system-riscv64", ["-M", "virt", "-nographic", "-bios", "none", "-kernel", elf, "-S", "-gdb", `tcp::${port}`]);
  return gdbBatch(vm, elf, ["set architecture riscv:rv64", `target remote 127.0.0.1:${port}`, ...script]);
}

/**
 * From the first breakpoint hit on: what happens before differs (qemu starts
 * in its boot ROM at 0x1000). gdb's "Source file is more recent than
 * executable" is about the host's files (a cached ELF and a newer checkout
 * of the same source), not the stub, and gdb prints it a varying number of
 * times: left out.
 */
function fromBreakpoint(out: string): string[] {
  const lines = out.split("\n");
  return lines
    .slice(lines.findIndex((l) => l.startsWith("Breakpoint 1,")))
    .filter((l) => l.trim() !== "" && !/^(Remote connection closed|\[Inferior 1|warning: Source file is more recent than executable)/.test(l));
}

test("gdb-multiarch against run -S --gdb gives qemu-system-riscv64's session on a bare-metal program", async () => {
  requireTools("cc", "gdb");
  const elf = await program();
  const ours = await session("typevisor", elf, [...SCRIPT, "continue"]);
  const qemu = await session("qemu", elf, [...SCRIPT, "continue"]);
  assert.match(ours.gdb, /^_start \(\) at .*bare-start\.S:5$/m, ours.gdb); // -S: stopped at the first instruction
  assert.match(ours.gdb, /^Breakpoint 1, compute \(x=5\) at .*gdb-bare\.c:9$/m);
  assert.match(ours.gdb, /^\$1 = 41$/m);
  assert.match(ours.gdb, /^\$3 = 51$/m);
  assert.match(ours.gdb, /^\[Inferior 1 \(Remote target\) exited with code 03\]$/m);
  assert.equal(ours.vm.status, 3, ours.vm.stderr); // set var mode = 7 changed the finisher code
  assert.deepEqual(fromBreakpoint(ours.gdb), fromBreakpoint(qemu.gdb));
  assert.equal(qemu.vm.status, 3);
});

test("Ctrl-C stops a spinning hart; a memory write lets it power off with W", async () => {
  requireTools("cc", "gdb");
  const elf = await program();
  const spin = symbolAddress(elf, "spin").toString(16);
  const port = await freePort();
  const vm = start(process.execPath, [TYPEVISOR, "run", "--bios", "none", "--kernel", elf, "-S", "--gdb", `tcp::${port}`]);
  const c = await RawClient.connect(port);
  try {
    assert.equal(await c.ask("?"), "T05thread:1;");
    assert.equal(await c.ask("p20"), "0000008000000000");
    assert.equal(await c.ask(`M${spin},4:01000000`), "OK");
    c.send("c");
    await new Promise((r) => setTimeout(r, 500));
    c.raw("\x03");
    assert.equal(await c.reply(), "T02thread:1;");
    assert.equal(await c.ask(`m${spin},4`), "01000000");
    assert.equal(await c.ask(`M${spin},4:00000000`), "OK");
    assert.equal(await c.ask("c"), "W05");
  } finally {
    c.close();
  }
  assert.equal((await vm.done).status, 5);
});
