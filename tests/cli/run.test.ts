import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { program, type ProgramName } from "./programs.ts";
import { bareMetal, hasQemu, qemuBareMetal, Session, typevisor, type Exit } from "./session.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** One line on stderr, no stack trace, nothing on stdout, exit status 1. */
function assertUserError(r: Exit, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^typevisor: [^\n]+\n$/);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

test("a bare-metal ELF prints through the UART and its finisher code is the exit status", async () => {
  const r = await bareMetal(await program("hello")).exited;
  assert.deepEqual(r, { code: 3, signal: null, stdout: "hello", stderr: "" });
});

test("a malformed ELF is a one-line error with exit status 1", async () => {
  const elf = readFileSync(await program("hello"));
  const truncated = join(tmp, "truncated.elf");
  writeFileSync(truncated, elf.subarray(0, 100));
  assertUserError(await bareMetal(truncated).exited, /truncated\.elf: program headers .* run past the end of the file/);
  const badClass = join(tmp, "class32.elf");
  const copy = Buffer.from(elf);
  copy[4] = 1;
  writeFileSync(badClass, copy);
  assertUserError(await bareMetal(badClass).exited, /class32\.elf: not a 64-bit ELF/);
  assertUserError(await bareMetal(process.execPath).exited, /built for machine x86-64 \(62\), expected RISC-V \(243\)|built for machine AArch64/);
});

test("an image that collides with the device tree is a one-line error", async () => {
  assertUserError(await bareMetal(await program("hello"), "-m", "2M").exited, /cli-hello-\w+\.elf \(up to 0x[0-9a-f]+\) overlaps the device tree at 0x80000000; use more memory \(-m\)/);
});

test("bad flags and files are one-line errors", async () => {
  const hello = await program("hello");
  assertUserError(await bareMetal(join(tmp, "missing.elf")).exited, /--kernel .*missing\.elf: no such file/);
  assertUserError(await bareMetal(hello, "-m", "lots").exited, /-m lots: not a size/);
  assertUserError(await bareMetal(hello, "-m", "8G").exited, /-m 8G: 8 GiB of guest RAM does not fit: one wasm32 memory .* the most is 4084M \(3G in whole gigabytes\)/);
  assertUserError(await bareMetal(hello, "--smp", "0").exited, /--smp 0: the virt board takes 1 to 8 harts, got 0/);
  assertUserError(await typevisor("run", "--bios", "default").exited, /nothing to boot: give a kernel with --kernel/);
  assertUserError(await typevisor("run", "--bios", "none").exited, /--bios none needs a program/);
  assertUserError(await typevisor("run", "--bogus").exited, /unknown option '--bogus'/);
  assertUserError(await bareMetal(hello, "--drive", "format=qcow9").exited, /--drive format=qcow9: /);
});

test("--dumpdtb writes the device tree with the command line in /chosen", async () => {
  const out = join(tmp, "board.dtb");
  const r = await typevisor("run", "--bios", "none", "-m", "512M", "--append", "console=ttyS0 quiet", "--dumpdtb", out).exited;
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, "", ""]);
  const dts = execFileSync("dtc", ["-I", "dtb", "-O", "dts", out], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.match(dts, /bootargs = "console=ttyS0 quiet";/);
  assert.match(dts, /reg = <0x00 0x80000000 0x00 0x20000000>;/);
});

test("Ctrl-A x quits a machine idling in WFI; Ctrl-A Ctrl-A sends Ctrl-A", async () => {
  const s = bareMetal(await program("echo"));
  await s.waitFor(">");
  s.write("\x01\x01");
  await s.waitFor(">\x02");
  s.write("\x01x");
  const r = await s.exited;
  assert.equal(r.code, 0);
  assert.equal(r.stdout, ">\x02");
  assert.match(r.stderr, /terminated/);
});

test("--icount runs the timer program deterministically", async () => {
  const r = await bareMetal(await program("timer"), "--icount", "10").exited;
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, "ttttt", ""]);
});

/** Runs a program on both machines feeding `input` once ">" appears (if given). */
async function both(name: ProgramName, input?: string, args: string[] = []): Promise<[Exit, Exit]> {
  const elf = await program(name);
  const drive = async (s: Session) => {
    if (input !== undefined) {
      await s.waitFor(">");
      s.write(input);
    }
    return s.exited;
  };
  return Promise.all([drive(bareMetal(elf, ...args)), drive(qemuBareMetal(elf, ...args))]);
}

const cases: [string, ProgramName, string | undefined, string[]][] = [
  ["polled UART output and a failure code", "hello", undefined, []],
  ["interrupt-driven UART input through the PLIC", "echo", "HAL", []],
  ["CLINT timer interrupts waking WFI", "timer", undefined, []],
  ["a finisher reset reboots and keeps RAM", "reset", undefined, []],
  ["the device tree address in a1 (256 MiB)", "dtbAddress", undefined, ["-m", "256M"]],
  ["the device tree address in a1 (1 GiB)", "dtbAddress", undefined, ["-m", "1G"]],
];
for (const [what, name, input, args] of cases) {
  test(`same as QEMU: ${what}`, { skip: !hasQemu() && "qemu-system-riscv64 not installed" }, async () => {
    const [ours, theirs] = await both(name, input === undefined ? undefined : input + "q", args);
    assert.equal(ours.stderr, "");
    assert.deepEqual([ours.code, ours.stdout], [theirs.code, theirs.stdout]);
  });
}

const OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";

test("OpenSBI fw_dynamic boots an S-mode payload that powers off through SBI", { skip: !existsSync(OPENSBI) && "Debian's opensbi package is not installed" }, async () => {
  const payload = await program("sbiHello");
  const ours = await typevisor("run", "--bios", OPENSBI, "--kernel", payload).exited;
  assert.equal(ours.stderr, "");
  assert.equal(ours.code, 0);
  assert.match(ours.stdout, /^\s*OpenSBI v\d/);
  assert.match(ours.stdout, /Platform Console Device\s+: uart8250/);
  assert.match(ours.stdout, /Domain0 Next Address\s+: 0x0*80200000/);
  assert.match(ours.stdout, /Domain0 Next Arg1\s+: 0x0*8fe00000/);
  assert.ok(ours.stdout.endsWith("S-mode hello, dtb y"), JSON.stringify(ours.stdout.slice(-200)));
  if (hasQemu()) {
    const theirs = await new Session("qemu-system-riscv64", ["-M", "virt", "-m", "256M", "-nographic", "-bios", OPENSBI, "-kernel", payload]).exited;
    assert.equal(theirs.code, ours.code);
    assert.ok(theirs.stdout.endsWith("S-mode hello, dtb y"), "the reference agrees");
  }
});

test("the built-in SBI runs a kernel in S-mode on hart 0 only, serving console and shutdown calls", async () => {
  const payload = await program("sbiHello");
  for (const smp of ["1", "2"]) {
    const r = await typevisor("run", "--smp", smp, "--kernel", payload).exited;
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "S-mode hello, dtb y", ""], `--smp ${smp}`);
  }
});
