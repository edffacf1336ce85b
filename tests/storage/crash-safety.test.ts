/**
 * kill -9 of a process writing a qcow2 image, at random moments, many
 * times over the same image: every write covered by a completed flush must
 * survive, and the image must pass `qemu-img check` (leaked clusters at
 * most) and then keep working (the next writer takes over the stale lock).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { openImage } from "../../src/backends/block/open-image.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import { crashWrites, GROUP } from "./crash-plan.ts";
import { rng, run, scratchDir } from "./helpers.ts";

const ROUNDS = 20;
const SIZE = 8 * 2 ** 20;

function readAll(file: string): Uint8Array {
  const disk = openImage(file, { readOnly: true });
  const out = new Uint8Array(disk.size);
  assert.ok(disk.readAt(0, out, 0, out.length));
  disk.close();
  return out;
}

test(`kill -9 during writes, ${ROUNDS} times: flushed data survives and qemu-img check finds no corruption`, async (t) => {
  const dir = scratchDir(t);
  const base = path.join(dir, "base.qcow2");
  const file = path.join(dir, "disk.qcow2");
  createQcow2(base, { size: SIZE, clusterBits: 12 });
  createQcow2(file, { size: SIZE, clusterBits: 12, backingFile: "base.qcow2", backingFormat: "qcow2" });
  const delays = rng(99);
  let leaksSeen = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const before = readAll(file);
    const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "crash-writer.ts"), file, String(round)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    // Kill at a random point once writing has begun.
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, delays(400)));
    child.kill("SIGKILL");
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
    assert.ok(signal === "SIGKILL" || code === 0, `round ${round}: writer failed (${code}): ${err}`);
    const flushed = Math.max(0, ...[...out.matchAll(/flushed (\d+)/g)].map((m) => Number(m[1])));

    const check = run("qemu-img", ["check", file]);
    assert.ok(check.status === 0 || check.status === 3, `round ${round}: qemu-img check exit ${check.status}\n${check.stdout}${check.stderr}`);
    if (check.status === 3) leaksSeen++;

    // Expected: the old contents with writes 1..flushed applied; bytes the
    // next unflushed group may have touched can hold either value.
    const expected = before.slice();
    const maybe = new Uint8Array(SIZE);
    let i = 0;
    for (const w of crashWrites(round, SIZE)) {
      i++;
      if (i <= flushed) expected.set(w.data, w.position);
      else if (i <= flushed + GROUP) maybe.fill(1, w.position, w.position + w.data.length);
      else break;
    }
    const actual = readAll(file);
    let bad = -1;
    for (let b = 0; b < SIZE; b++) {
      if (maybe[b] === 0 && actual[b] !== expected[b]) {
        bad = b;
        break;
      }
    }
    assert.equal(bad, -1, `round ${round}: byte ${bad} lost after ${flushed} flushed writes`);
  }
  // Leaks are allowed, but repair must make the image clean again.
  run("qemu-img", ["check", "-r", "leaks", file]);
  assert.equal(run("qemu-img", ["check", file]).status, 0);
  t.diagnostic(`${leaksSeen} of ${ROUNDS} crashes left leaked clusters`);
});
