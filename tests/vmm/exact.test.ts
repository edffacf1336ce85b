/**
 * Deterministic exactness: a bare-metal workload under deterministic time
 * (instructionsPerTick) gives the same output and the same final registers
 * whether it runs straight through or is paused at an arbitrary batch,
 * saved, and continued in a new machine restored from the snapshot (file,
 * or fork image).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtMachine, type VirtMachineOptions } from "../../src/machine/virt-machine.ts";
import { SAVED_WORDS } from "../../src/cpu/hart-state.ts";
import { captureImage, imagePageCount, restoreImage, restoreSnapshot, saveSnapshot } from "../../src/vmm/snapshot.ts";
import { exactProgram } from "./programs.ts";

const dir = mkdtempSync(join(tmpdir(), "tv-exact-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function build(bytes: Uint8Array, serial: (s: string) => void, extra: Partial<VirtMachineOptions> = {}) {
  return new VirtMachine({
    firmware: { kind: "none" },
    kernel: { name: "exact", bytes },
    instructionsPerTick: 7,
    ramSize: 64 << 20,
    serial: { write: (d) => serial(Buffer.from(d).toString("latin1")) },
    ...extra,
  });
}

const words = (m: VirtMachine) => Array.from(m.harts[0].w.subarray(0, SAVED_WORDS));

async function straight(bytes: Uint8Array) {
  let out = "";
  const m = build(bytes, (s) => (out += s));
  assert.equal(await m.run(), 0);
  return { out, words: words(m), mtime: m.clock.now() };
}

/**
 * Runs until `rounds` lines are out, pauses there, and hands the paused
 * machine to `move`; `early`, if given, gets the machine paused at a quarter
 * of the rounds first (it then runs on).
 */
async function pausedAndMoved(bytes: Uint8Array, rounds: number, move: (from: VirtMachine, to: VirtMachine) => void, early?: (m: VirtMachine) => void) {
  let before = "";
  const a = build(bytes, (s) => (before += s));
  const running = a.run();
  const lines = () => before.match(/\n/g)?.length ?? 0;
  if (early !== undefined) {
    while (lines() < rounds >> 2) await new Promise((r) => setTimeout(r, 5));
    await a.pause();
    early(a);
    a.resume();
  }
  while (lines() < rounds) await new Promise((r) => setTimeout(r, 5));
  await a.pause();
  let after = "";
  const b = build(bytes, (s) => (after += s), { boot: false });
  move(a, b);
  a.quit(0);
  await running;
  assert.equal(await b.run(), 0);
  return { before, after, words: words(b), mtime: b.clock.now() };
}

test("a snapshot file restored into a new machine continues exactly as if never paused", async () => {
  const bytes = await exactProgram();
  const ref = await straight(bytes);
  assert.match(ref.out, /ticks [0-9a-f]{16}\n$/);
  const file = join(dir, "exact.tvsnap");
  const moved = await pausedAndMoved(bytes, 5, (from, to) => {
    saveSnapshot(from, file, { config: { test: "exact" } });
    restoreSnapshot(file, to);
  });
  assert.ok(moved.before.length > 0 && moved.after.length > 0, "the pause fell inside the run");
  assert.equal(moved.before + moved.after, ref.out);
  assert.deepEqual(moved.words, ref.words);
  assert.equal(moved.mtime, ref.mtime);
});

test("a fork image restored into a new machine continues exactly too", async () => {
  const bytes = await exactProgram();
  const ref = await straight(bytes);
  const moved = await pausedAndMoved(bytes, 20, (from, to) => restoreImage(captureImage(from, null), to));
  assert.ok(moved.before.length > 0 && moved.after.length > 0);
  assert.equal(moved.before + moved.after, ref.out);
  assert.deepEqual(moved.words, ref.words);
});

test("a second image of a machine copies only the pages written since the first, and continues exactly too", async () => {
  const bytes = await exactProgram();
  const ref = await straight(bytes);
  let first!: ReturnType<typeof captureImage>;
  const moved = await pausedAndMoved(bytes, 20, (from, to) => {
    const second = captureImage(from, null);
    assert.equal(second.segments.length, 2, "the second image adds one segment to the first's");
    assert.equal(second.segments[0], first.segments[0], "and shares the first's pages");
    const copied = second.segments[1].byteLength / 4096;
    assert.ok(copied > 0 && copied < imagePageCount(first), `copied ${copied} pages again of ${imagePageCount(first)}`);
    restoreImage(second, to);
  }, (early) => (first = captureImage(early, null)));
  assert.ok(moved.before.length > 0 && moved.after.length > 0);
  assert.equal(moved.before + moved.after, ref.out);
  assert.deepEqual(moved.words, ref.words);
});
