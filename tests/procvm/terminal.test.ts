/**
 * Ctrl-C at a terminal: `typevisor exec` with stdin on a pseudo-terminal
 * (util-linux `script`). The terminal's SIGINT must reach the guest's
 * foreground process group instead of ending typevisor, and typevisor must
 * end when the guest does, as the guest did.
 *
 * Oracles: qemu-riscv64 for a C program (it too forwards host signals to its
 * guest, and dies of the signal that killed it); the host's busybox 1.35 for
 * shell scripts; literal expectations for an interactive job-control shell.
 * Every command runs under a small node wrapper that ignores SIGINT itself
 * and prints how its child ended ("[exited STATUS SIGNAL]").
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import {
  HOST_BUSYBOX, PtySession, TYPEVISOR, compile, requireTools, scratchDir, setUpBusybox, type BusyboxSetup,
} from "./helpers.ts";

const CTRL_C = "\x03";
const REPORT =
  'process.on("SIGINT", () => {});' +
  'const r = require("node:child_process").spawnSync(process.argv[1], process.argv.slice(2), { stdio: "inherit" });' +
  'console.log(`[exited ${r.status} ${r.signal}]`);';

let work = "";
let bb: BusyboxSetup;

before(async () => {
  requireTools("cc", "sysroot", "qemu", "busybox", "script");
  work = scratchDir();
  bb = await setUpBusybox(work);
});

after(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `cmd` on a terminal under the reporting wrapper; once it has printed
 * `ready`, types each of `keys` a moment apart. Returns the whole transcript.
 */
async function interrupt(cmd: string[], keys: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const pty = new PtySession([process.execPath, "-e", REPORT, ...cmd], { cwd: work, env });
  await pty.waitFor("ready");
  for (const k of keys) {
    await sleep(300);
    pty.type(k);
  }
  const { status, output } = await pty.exited;
  assert.equal(status, 0, `the wrapper ends normally: ${JSON.stringify(output)}`);
  return output;
}

const tv = (...args: string[]) => [process.execPath, TYPEVISOR, "exec", ...args];

const programCases: Array<[string, string[], string]> = [
  ["handler", [CTRL_C], "[exited 3 null]"],
  ["spin", [CTRL_C], "[exited null SIGINT]"],
  ["read", [CTRL_C], "[exited null SIGINT]"],
  ["raw", [CTRL_C], "[exited null SIGINT]"],
  ["rawnosig", [CTRL_C], "read 1, first byte 3"],
  ["ignore", [CTRL_C, "line\r"], "read 5, first byte 108"],
];

for (const [mode, keys, expected] of programCases) {
  test(`Ctrl-C reaches a program that is ${mode === "rawnosig" ? "reading raw bytes" : mode}: same as qemu-riscv64`, async () => {
    const bin = compile("interrupt", "static");
    const want = await interrupt(["qemu-riscv64", bin, mode], keys);
    const got = await interrupt(tv(bin, mode), keys);
    assert.equal(got, want);
    assert.ok(got.includes(expected), `${JSON.stringify(got)} includes ${expected}`);
  });
}

const scripts: Array<[string, string, string]> = [
  ["a pipeline dies", "echo ready; sleep 30 | cat; echo not reached", "[exited null SIGINT]"],
  ["a trap runs after the foreground command dies", "trap 'echo trapped; exit 4' INT; echo ready; sleep 30; echo after", "trapped"],
  ["an ignored SIGINT changes nothing", "trap '' INT; echo ready; sleep 1; echo done", "done"],
];

for (const [name, script, expected] of scripts) {
  test(`Ctrl-C in busybox sh -c: ${name}; same as the host's busybox`, async () => {
    const want = await interrupt([HOST_BUSYBOX, "sh", "-c", script], [CTRL_C], { PATH: bb.hostBin });
    const got = await interrupt(tv("-L", bb.sysroot, bb.busybox, "sh", "-c", script), [CTRL_C], { PATH: bb.guestBin });
    assert.equal(got, want);
    assert.ok(got.includes(expected), `${JSON.stringify(got)} includes ${expected}`);
  });
}

test("an interactive busybox sh with job control: Ctrl-C ends the foreground job, not the shell", async () => {
  const started = Date.now();
  const pty = new PtySession(tv("-L", bb.sysroot, bb.busybox, "sh"), { cwd: work, env: { PATH: bb.guestBin, PS1: "PROMPT> " } });
  let at = await pty.waitFor("PROMPT> ");
  // The job says when it runs (in its own process group, the terminal's foreground one by then).
  pty.type("sh -c 'echo started; exec sleep 30'\r");
  at = await pty.waitFor("started\r\n", at);
  await sleep(200);
  pty.type(CTRL_C);
  at = await pty.waitFor("PROMPT> ", at);
  pty.type("echo alive $?\r");
  at = await pty.waitFor("alive 130\r\n", at);
  await pty.waitFor("PROMPT> ", at);
  pty.type("exit 7\r");
  const { status, output } = await pty.exited;
  assert.equal(status, 7, output);
  assert.ok(Date.now() - started < 25_000, "sleep 30 was cut short");
});
