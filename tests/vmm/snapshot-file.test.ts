/**
 * The snapshot file: bad files (corrupt, truncated, wrong magic or version,
 * another disk) are a SnapshotError and leave the machine untouched; diff
 * snapshots round-trip and refuse a parent that is not theirs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtMachine, type VirtMachineOptions } from "../../src/machine/virt-machine.ts";
import { RawFileBackend } from "../../src/backends/block/raw-file.ts";
import { VirtioBlk } from "../../src/devices/virtio/index.ts";
import { crc32 } from "../../src/vmm/crc32.ts";
import {
  captureImage, closeSnapshot, openSnapshot, readSnapshotConfig, restoreImage, restoreSnapshot, saveSnapshot, SnapshotError, verifySnapshot,
  type MachineImage,
} from "../../src/vmm/snapshot.ts";
import { exactProgram } from "./programs.ts";

const dir = mkdtempSync(join(tmpdir(), "tv-snapfile-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const disk = (name: string, size: number) => {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(size));
  return path;
};
const diskA = disk("a.img", 1 << 20);
const diskB = disk("b.img", 1 << 20);
const diskBig = join(dir, "big.img");

class Guest {
  out = "";
  readonly machine: VirtMachine;
  running: Promise<number> | null = null;
  constructor(bytes: Uint8Array, opts: Partial<VirtMachineOptions> & { disk?: string } = {}) {
    this.machine = new VirtMachine({
      firmware: { kind: "none" },
      kernel: { name: "exact", bytes },
      instructionsPerTick: 7,
      ramSize: 64 << 20,
      virtio: [new VirtioBlk({ backend: RawFileBackend.open(opts.disk ?? diskA) })],
      serial: { write: (d) => (this.out += Buffer.from(d).toString("latin1")) },
      ...opts,
    });
  }
  start(): this {
    this.running = this.machine.run();
    return this;
  }
  async untilLines(n: number): Promise<void> {
    while ((this.out.match(/\n/g)?.length ?? 0) < n) await new Promise((r) => setTimeout(r, 5));
  }
}

let bytes: Uint8Array;
let reference = "";
let good = "";

test("setup: a reference run and a snapshot taken part way", async () => {
  bytes = await exactProgram();
  const ref = new Guest(bytes).start();
  assert.equal(await ref.running, 0);
  reference = ref.out;
  const g = new Guest(bytes).start();
  await g.untilLines(4);
  await g.machine.pause();
  good = join(dir, "good.tvsnap");
  saveSnapshot(g.machine, good, { config: { memory: 64 << 20, note: "exact" } });
  g.machine.quit(0);
  await g.running;
  assert.deepEqual(readSnapshotConfig(good), { memory: 64 << 20, note: "exact" });
});

/** A copy of the good snapshot, changed by `edit`. */
function broken(name: string, edit: (bytes: Uint8Array, path: string) => void): string {
  const path = join(dir, name);
  copyFileSync(good, path);
  const b = new Uint8Array(readFileSync(path));
  edit(b, path);
  if (statSync(path).size === b.length) writeFileSync(path, b);
  return path;
}

const section = (b: Uint8Array, kind: number) => {
  const dv = new DataView(b.buffer);
  for (let i = 0; i < dv.getUint32(40, true); i++) {
    const o = 64 + 24 * i;
    if (dv.getUint32(o, true) === kind) return Number(dv.getBigUint64(o + 8, true));
  }
  throw new Error("no section");
};

const cases: [string, (b: Uint8Array, path: string) => void, RegExp][] = [
  ["wrong magic", (b) => (b[0] = 0x58), /not a Typevisor snapshot \(wrong magic\)/],
  [
    "another version",
    (b) => {
      const dv = new DataView(b.buffer);
      dv.setUint32(8, 99, true);
      dv.setUint32(60, crc32(b, 0, 60), true);
    },
    /version 99 snapshot; this Typevisor reads version 1/,
  ],
  ["a corrupt header", (b) => (b[20] ^= 1), /header is corrupt/],
  ["a corrupt section table", (b) => (b[64 + 8] ^= 1), /section table is corrupt/],
  ["corrupt metadata", (b) => (b[section(b, 1) + 10] ^= 0x20), /metadata is corrupt/],
  ["a corrupt page index", (b) => (b[section(b, 2) + 100] ^= 1), /page index is corrupt/],
  ["truncation", (b, path) => truncateSync(path, Math.floor(b.length / 2)), /truncated/],
  ["truncation to nothing", (_b, path) => truncateSync(path, 0), /too short/],
];

for (const [what, edit, message] of cases) {
  test(`a snapshot with ${what} is a SnapshotError, and the machine is untouched`, async () => {
    const path = broken(`${what.replace(/ /g, "-")}.tvsnap`, edit);
    assert.throws(() => readSnapshotConfig(path), (e) => e instanceof SnapshotError && message.test(e.message));
    const target = new Guest(bytes); // booted: a failed restore must leave it as it was
    assert.throws(() => restoreSnapshot(path, target.machine), (e) => e instanceof SnapshotError && message.test(e.message));
    target.start();
    assert.equal(await target.running, 0);
    assert.equal(target.out, reference, "the machine runs its own program as if nothing happened");
  });
}

test("a page index checked once is reused while the file is unchanged; a file changed in place since is checked again", () => {
  const path = join(dir, "reopened.tvsnap");
  copyFileSync(good, path);
  const first = openSnapshot(path);
  const again = openSnapshot(path);
  closeSnapshot(first);
  closeSnapshot(again);
  assert.equal(again.entries.buffer, first.entries.buffer, "the second open read the index again");
  const b = new Uint8Array(readFileSync(path));
  b[section(b, 2) + 100] ^= 1;
  writeFileSync(path, b); // same path, same size
  assert.throws(() => openSnapshot(path), (e) => e instanceof SnapshotError && /page index is corrupt/.test(e.message));
});

test("a snapshot restored onto another disk, or one of another size, is refused", async () => {
  writeFileSync(diskBig, new Uint8Array(2 << 20));
  for (const [other, message] of [
    [diskB, /belongs to disk .*a\.img, not .*b\.img/],
    [diskBig, /belongs to disk .*a\.img, not .*big\.img/],
  ] as const) {
    const target = new Guest(bytes, { disk: other, boot: false });
    assert.throws(() => restoreSnapshot(good, target.machine), (e) => e instanceof SnapshotError && message.test(e.message));
    assert.equal(target.machine.bus.pages.lazy, false, "nothing was attached");
  }
  restoreSnapshot(good, new Guest(bytes, { boot: false }).machine); // its own disk is fine
  // The same file, grown since the snapshot: refused too.
  const grown = join(dir, "grown.tvsnap");
  saveSnapshot(new Guest(bytes, { disk: diskB }).machine, grown, { config: null });
  writeFileSync(diskB, new Uint8Array(3 << 20));
  const target = new Guest(bytes, { disk: diskB, boot: false });
  assert.throws(
    () => restoreSnapshot(grown, target.machine),
    (e) => e instanceof SnapshotError && /3145728 bytes but was 1048576 bytes/.test(e.message),
  );
});

test("a corrupt RAM page is found by verifySnapshot, or when the guest first touches it: run() fails with a SnapshotError", async () => {
  const path = broken("bad-page.tvsnap", (b) => {
    const pages = section(b, 3);
    for (let i = 0; i < 4096 * 8; i++) b[pages + i] ^= 0xff; // the first stored pages: the program's
  });
  verifySnapshot(good);
  assert.throws(() => verifySnapshot(path), (e) => e instanceof SnapshotError && /RAM page \d+ is corrupt/.test(e.message));
  const target = new Guest(bytes, { boot: false });
  restoreSnapshot(path, target.machine); // lazy: pages are not read yet
  target.start();
  await assert.rejects(target.running as Promise<number>, (e) => e instanceof SnapshotError && /RAM page \d+ is corrupt/.test(e.message));
});

test("diff snapshots: only changed pages, restore follows the chain exactly, a wrong parent is refused", async () => {
  const g = new Guest(bytes).start();
  await g.untilLines(6);
  await g.machine.pause();
  const base = join(dir, "base.tvsnap");
  const full = saveSnapshot(g.machine, base, { config: "base" });
  const atBase = g.out;
  g.machine.resume();
  await g.untilLines(12);
  await g.machine.pause();
  const diff = join(dir, "diff.tvsnap");
  const d = saveSnapshot(g.machine, diff, { config: "diff", parent: base });
  const atDiff = g.out;
  g.machine.quit(0);
  await g.running;
  assert.ok(d.ramPages < full.ramPages, `the diff stores ${d.ramPages} pages, the full snapshot ${full.ramPages}`);
  assert.equal(readSnapshotConfig(diff), "diff");

  const fromDiff = new Guest(bytes, { boot: false });
  restoreSnapshot(diff, fromDiff.machine);
  fromDiff.start();
  assert.equal(await fromDiff.running, 0);
  assert.equal(atDiff + fromDiff.out, reference);

  // A diff of a diff, taken by a machine whose baseline is not the parent (pages compared).
  const second = new Guest(bytes, { boot: false });
  restoreSnapshot(diff, second.machine);
  second.start();
  await second.untilLines(3);
  await second.machine.pause();
  const diff2 = join(dir, "diff2.tvsnap");
  saveSnapshot(second.machine, diff2, { config: "diff2", parent: base });
  const atDiff2 = atDiff + second.out;
  second.machine.quit(0);
  await second.running;
  const fromDiff2 = new Guest(bytes, { boot: false });
  restoreSnapshot(diff2, fromDiff2.machine);
  fromDiff2.start();
  assert.equal(await fromDiff2.running, 0);
  assert.equal(atDiff2 + fromDiff2.out, reference);

  // The parent is still a snapshot of its own.
  const fromBase = new Guest(bytes, { boot: false });
  restoreSnapshot(base, fromBase.machine);
  fromBase.start();
  assert.equal(await fromBase.running, 0);
  assert.equal(atBase + fromBase.out, reference);

  // Overwrite the parent with another snapshot: the diff no longer belongs to it.
  copyFileSync(good, base);
  assert.throws(
    () => restoreSnapshot(diff, new Guest(bytes, { boot: false }).machine),
    (e) => e instanceof SnapshotError && /is a diff against snapshot [0-9a-f]{32}, but .*base\.tvsnap is snapshot/.test(e.message),
  );
  rmSync(base);
  assert.throws(() => readSnapshotConfig(diff), (e) => e instanceof SnapshotError && /its parent .*base\.tvsnap is missing/.test(e.message));
});

test("a malformed fork image is a SnapshotError, and the machine is untouched", async () => {
  const target = new Guest(bytes);
  const image = captureImage(new Guest(bytes).machine, null);
  const bad: [string, unknown][] = [
    ["not an image", {}],
    ["another RAM size", { ...image, pages: new Int32Array(new SharedArrayBuffer(64)) }],
    ["a page outside the image", { ...image, pages: new Int32Array(new SharedArrayBuffer(image.pages.byteLength)).fill(1 << 20) }],
    ["another machine", { ...image, state: { ...image.state, harts: [] } }],
  ];
  for (const [what, img] of bad) {
    assert.throws(() => restoreImage(img as MachineImage, target.machine), SnapshotError, what);
  }
  assert.throws(() => restoreImage(image, target.machine, { mac: "52:54:00:00:00:01" }), /no network card/);
  target.start();
  assert.equal(await target.running, 0);
  assert.equal(target.out, reference);
});

test("a lazy restore reads only the pages the program touches, each once", async () => {
  const target = new Guest(bytes, { boot: false, virtio: [] });
  const loads: number[] = [];
  const file = join(dir, "nodisk.tvsnap");
  const g = new Guest(bytes, { virtio: [] }).start();
  await g.untilLines(4);
  await g.machine.pause();
  saveSnapshot(g.machine, file, { config: null });
  g.machine.quit(0);
  await g.running;
  restoreSnapshot(file, target.machine);
  assert.equal(target.machine.bus.pages.loaded, 0, "restoring reads no RAM");
  const pages = target.machine.bus.pages as unknown as { load(page: number): void };
  const load = pages.load.bind(pages);
  pages.load = (page: number) => {
    loads.push(page);
    load(page);
  };
  target.start();
  assert.equal(await target.running, 0);
  // The program: a few pages of code and data, a 64 KiB stack (16 pages,
  // the top ones used) and a 128 KiB table it writes all over (32 pages).
  assert.equal(new Set(loads).size, loads.length, "no page is read twice");
  assert.ok(loads.length >= 32 && loads.length <= 64, `${loads.length} pages read of ${target.machine.bus.pages.count}`);
  assert.equal(target.machine.bus.pages.loaded, loads.length);
});

test("a page that cannot be loaded for a device (which swallows errors) still stops the machine", async () => {
  const target = new Guest(bytes, { boot: false });
  restoreSnapshot(good, target.machine);
  const pages = target.machine.bus.pages as unknown as { source: { load(page: number, ram: Uint8Array): boolean } };
  const load = pages.source.load.bind(pages.source);
  pages.source.load = (page, ram) => {
    if (page === 10000) throw new SnapshotError("page 10000 is unreadable");
    return load(page, ram);
  };
  try {
    target.machine.bus.ramOffset(0x80000000 + 10000 * 4096, 16); // as a device's DMA would, inside its own try
  } catch {
    // swallowed, as mmio-transport does with device errors
  }
  target.start();
  await assert.rejects(target.running as Promise<number>, /page 10000 is unreadable/);
});
