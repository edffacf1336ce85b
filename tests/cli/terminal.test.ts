import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { Terminal } from "../../src/cli/terminal.ts";

function terminal() {
  const sent: string[] = [];
  const quits: number[] = [];
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (b: Buffer) => (err += b.toString()));
  const t = new Terminal(
    { sendInput: (d) => sent.push(Buffer.from(d).toString("latin1")), quit: (c = 0) => quits.push(c) },
    stdin as unknown as NodeJS.ReadStream,
    stdout as unknown as NodeJS.WriteStream,
    stderr as unknown as NodeJS.WriteStream,
  );
  t.start();
  const type = async (s: string) => {
    stdin.write(Buffer.from(s, "latin1"));
    await new Promise((r) => setImmediate(r));
  };
  return { t, sent, quits, type, stdout, stderr: () => err };
}

test("input passes through; Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A x quits", async () => {
  const { sent, quits, type, stderr } = terminal();
  await type("ab\x01\x01c");
  assert.equal(sent.join(""), "ab\x01c");
  assert.deepEqual(quits, []);
  await type("\x01x");
  assert.deepEqual(quits, [0]);
  assert.match(stderr(), /terminated/);
  assert.equal(sent.join(""), "ab\x01c", "the escape itself is not sent");
});

test("an escape split across reads still works, and unknown escapes are swallowed", async () => {
  const { sent, quits, type, stderr } = terminal();
  await type("x\x01");
  await type("zy\x01");
  await type("h");
  assert.equal(sent.join(""), "xy");
  assert.match(stderr(), /C-a x +exit/);
  await type("\x01");
  await type("x");
  assert.deepEqual(quits, [0]);
});

test("stop() detaches from stdin", async () => {
  const { t, sent, type } = terminal();
  t.stop();
  await type("late");
  assert.deepEqual(sent, []);
});

test("guest output goes to stdout", async () => {
  const { t, stdout } = terminal();
  const output = new PassThrough();
  t.showOutput(output);
  output.write("out");
  await new Promise((r) => setImmediate(r));
  assert.equal(stdout.read()?.toString(), "out");
});
