// The monitor of `typevisor run` (Ctrl-A c), driven through the process's
// console as a user would type it. The guest is the echo program: each
// byte b comes back as b + 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { program } from "./programs.ts";
import { bareMetal } from "./session.ts";

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
