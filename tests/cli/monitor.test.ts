// The monitor of `typevisor run` (Ctrl-A c), driven through the process's
// console as a user would type it. The guest is the echo program: each
// byte b comes back as b + 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { program as vmmProgram } from "../vmm/runaway-programs.ts";
import { program } from "./programs.ts";
import { bareMetal, Session, typevisor } from "./session.ts";
import { TYPEVISOR_BIN } from "../support/run.ts";

const PROMPT = "(typevisor) ";

test("Ctrl-A c opens the monitor: info status, stop, cont, help; Ctrl-A c returns to the guest; quit ends with status 0", async () => {
  const s = bareMetal(await program("echo"));
  await s.waitFor(">");
  s.write("\x01c");
  await s.waitFor(PROMPT);
  s.write("info status\r");
  await s.waitFor("VM status: running");
  s.write("stop\r");
  s.write("info status\r");
  await s.waitFor("VM status: paused");
  s.write("5\x15"); // typed at the monitor (then erased with Ctrl-U): never the guest's
  s.write("\x01c0"); // back at the guest, which is paused: no "1" yet
  await sleep(500);
  assert.ok(!s.stdout.includes("1"), `a paused guest answered:\n${s.stdout}`);
  s.write("\x01c");
  s.write("cont\r");
  s.write("\x01c"); // the guest's output waits while the monitor is shown
  await s.waitFor("1");
  s.write("\x01c");
  s.write("help\r");
  await s.waitFor("save FILE");
  s.write("bogus\r");
  await s.waitFor("unknown command: 'bogus'");
  s.write("\x01c7");
  await s.waitFor("8");
  s.write("\x01cquit\r");
  const r = await s.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes("6"), `the guest got input typed at the monitor:\n${r.stdout}`);
});

test("the monitor's save FILE, then typevisor run --restore FILE continues the guest where it was", async () => {
  const dir = mkdtempSync(join(tmpdir(), "typevisor-monitor-"));
  const file = join(dir, "counter.snap");
  try {
    const first = bareMetal(await vmmProgram("counter"));
    await first.waitFor("?");
    first.write("cc");
    await first.waitFor("0000000000000002\n");
    first.write(`\x01csave ${file}\r`);
    await first.waitFor(`saved ${file}`);
    first.write("quit\r");
    assert.equal((await first.exited).code, 0);

    const second = typevisor("run", "--restore", file);
    second.write("c");
    await second.waitFor("0000000000000003\n");
    second.write("\x01x");
    const r = await second.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "0000000000000003\n");

    const bad = await typevisor("run", "--restore", file, "--kernel", file).exited;
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^typevisor: --restore .*the snapshot defines the machine; drop --kernel\n$/);
    const missing = await typevisor("run", "--restore", join(dir, "none.snap")).exited;
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^typevisor: [^\n]*none\.snap[^\n]*\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("in a real terminal (a pty from script(1), raw mode): the guest echoes, the monitor answers, quit ends with status 0", async () => {
  const elf = await program("echo");
  const s = new Session("script", ["-qfec", `${process.execPath} ${TYPEVISOR_BIN} run --bios none --kernel ${elf}`, "/dev/null"]);
  await s.waitFor(">");
  s.write("a");
  await s.waitFor("b");
  s.write("\x01c");
  await s.waitFor(PROMPT);
  s.write("info status\r");
  await s.waitFor("VM status: running");
  s.write("quit\r");
  const r = await s.exited;
  assert.equal(r.code, 0, r.stdout);
  assert.ok(r.stdout.endsWith("quit\r\r\n"), `no prompt after quit:\n${JSON.stringify(r.stdout)}`);
});
