/**
 * Interoperability with QEMU's own tools (Debian qemu-utils): images we
 * write pass `qemu-img check` and compare equal to what we meant to write;
 * images qemu-img and qemu-io write read back identically through our code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openImage, openQcow2 } from "../../src/backends/block/open-image.ts";
import { checkImage } from "../../src/backends/block/qcow2/check.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import { applySnapshot, createSnapshot } from "../../src/backends/block/qcow2/snapshots.ts";
import { ok, pattern, rng, run, scratchDir, TYPEVISOR } from "./helpers.ts";

const MiB = 2 ** 20;

function qemuCheckClean(file: string): void {
  const r = run("qemu-img", ["check", file]);
  assert.equal(r.status, 0, `qemu-img check ${file}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No errors were found on the image/);
}

function qemuCompare(a: string, b: string, extra: string[] = []): void {
  const r = run("qemu-img", ["compare", ...extra, a, b]);
  assert.equal(r.status, 0, `qemu-img compare ${a} ${b}: ${r.stdout}${r.stderr}`);
}

function readAll(file: string): Uint8Array {
  const b = openImage(file, { readOnly: true });
  const out = new Uint8Array(b.size);
  assert.ok(b.readAt(0, out, 0, out.length));
  b.close();
  return out;
}

/** qemu-io commands for random pattern writes, zero writes and discards, mirrored in `model`. */
function qemuIoScript(model: Uint8Array, seed: number, count: number): string[] {
  const r = rng(seed);
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = 512 * (1 + r(300));
    const pos = 512 * r((model.length - len) / 512);
    const kind = r(10);
    if (kind < 7) {
      const byte = 1 + r(255);
      args.push("-c", `write -P ${byte} ${pos} ${len}`);
      model.fill(byte, pos, pos + len);
    } else {
      args.push("-c", `write -z ${pos} ${len}`);
      model.fill(0, pos, pos + len);
    }
  }
  return args;
}

test("images we write pass qemu-img check and compare equal to the data we wrote", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "ours.qcow2");
  const raw = path.join(dir, "model.raw");
  const size = 24 * MiB;
  createQcow2(file, { size });
  const image = openQcow2(file, false);
  const model = new Uint8Array(size);
  const r = rng(11);
  for (let i = 0; i < 200; i++) {
    const len = 1 + r(300000);
    const pos = r(size - len);
    const data = pattern(len, i);
    image.write(pos, data, 0, len);
    model.set(data, pos);
    if (i === 100) createSnapshot(image, "half");
  }
  image.deallocate(3 * MiB, 2 * MiB, "zero");
  model.fill(0, 3 * MiB, 5 * MiB);
  image.close();
  fs.writeFileSync(raw, model);
  qemuCheckClean(file);
  qemuCompare(file, raw, ["-F", "raw"]);
  const info = JSON.parse(ok("qemu-img", ["info", "--output", "json", file]));
  assert.equal(info["virtual-size"], size);
  assert.equal(info["cluster-size"], 65536);
  assert.deepEqual(info.snapshots.map((s: { name: string }) => s.name), ["half"]);
  // qemu-img can apply our snapshot and keep using the image.
  ok("qemu-img", ["snapshot", "-a", "half", file]);
  qemuCheckClean(file);
});

test("our compressed convert and backing chains are read by qemu-img", (t) => {
  const dir = scratchDir(t);
  const base = path.join(dir, "base.qcow2");
  const top = path.join(dir, "top.qcow2");
  ok(TYPEVISOR, ["img", "create", "-q", "-f", "qcow2", base, "16M"]);
  const model = new Uint8Array(16 * MiB);
  ok("qemu-io", ["-f", "qcow2", ...qemuIoScript(model, 21, 40), base]);
  ok(TYPEVISOR, ["img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top]);
  const image = openQcow2(top, false);
  const data = pattern(3 * MiB, 22);
  image.write(5 * MiB + 123, data, 0, data.length);
  model.set(data, 5 * MiB + 123);
  image.close();
  qemuCheckClean(top);
  fs.writeFileSync(path.join(dir, "model.raw"), model);
  qemuCompare(top, path.join(dir, "model.raw"), ["-F", "raw"]);
  const compressed = path.join(dir, "c.qcow2");
  ok(TYPEVISOR, ["img", "convert", "-c", "-O", "qcow2", top, compressed]);
  qemuCheckClean(compressed);
  qemuCompare(compressed, path.join(dir, "model.raw"), ["-F", "raw"]);
  assert.ok(fs.statSync(compressed).size < fs.statSync(top).size + fs.statSync(base).size, "compression saved space");
  // map agrees with qemu-img map, range for range.
  assert.equal(ok(TYPEVISOR, ["img", "map", "--output", "json", top]), ok("qemu-img", ["map", "--output", "json", top]));
});

for (const compat of ["1.1", "0.10"]) {
  test(`images qemu writes (compat=${compat}, qemu-io random writes, snapshots, compressed) read the same through our code`, (t) => {
    const dir = scratchDir(t);
    const file = path.join(dir, "theirs.qcow2");
    ok("qemu-img", ["create", "-q", "-f", "qcow2", "-o", `compat=${compat},cluster_size=4096`, file, "8M"]);
    const model = new Uint8Array(8 * MiB);
    ok("qemu-io", ["-f", "qcow2", ...qemuIoScript(model, 31, 60), file]);
    ok("qemu-img", ["snapshot", "-c", "s1", file]);
    const atSnapshot = model.slice();
    ok("qemu-io", ["-f", "qcow2", ...qemuIoScript(model, 32, 60), file]);
    assert.deepEqual(readAll(file), model, "qemu-io writes");
    const compressed = path.join(dir, "theirs-c.qcow2");
    ok("qemu-img", ["convert", "-c", "-O", "qcow2", "-o", `compat=${compat}`, file, compressed]);
    assert.deepEqual(readAll(compressed), model, "qemu-img convert -c");
    const info = JSON.parse(ok(TYPEVISOR, ["img", "info", "--output", "json", file]));
    assert.equal(info["format-specific"].data.compat, compat);
    for (const f of [file, compressed]) {
      const image = openQcow2(f, true);
      assert.deepEqual(checkImage(image).messages, [], `our check of ${path.basename(f)}`);
      image.close();
    }
    // We write into their images (including compressed clusters) and apply their snapshot; qemu-img agrees.
    const image = openQcow2(compressed, false);
    const data = pattern(MiB, 33);
    image.write(3 * MiB + 7, data, 0, data.length);
    image.close();
    model.set(data, 3 * MiB + 7);
    fs.writeFileSync(path.join(dir, "model.raw"), model);
    qemuCheckClean(compressed);
    qemuCompare(compressed, path.join(dir, "model.raw"), ["-F", "raw"]);
    const snap = openQcow2(file, false);
    applySnapshot(snap, "s1");
    snap.close();
    fs.writeFileSync(path.join(dir, "snap.raw"), atSnapshot);
    qemuCheckClean(file);
    qemuCompare(file, path.join(dir, "snap.raw"), ["-F", "raw"]);
  });
}

test("img check finds what qemu-img check finds: leaks and corruption", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "leaky.qcow2");
  createQcow2(file, { size: MiB, clusterBits: 12 });
  const image = openQcow2(file, false);
  image.write(0, pattern(8192, 1), 0, 8192);
  // Allocated and written, never referenced: a leak (what a crash between allocation and the L2 update leaves).
  image.file.write(image.refcounts.allocate(3), new Uint8Array(3 * 4096).fill(1));
  image.close();
  assert.equal(run("qemu-img", ["check", file]).status, 3, "qemu-img sees leaks");
  const ours = run(TYPEVISOR, ["img", "check", file]);
  assert.equal(ours.status, 3, ours.stdout + ours.stderr);
  assert.match(ours.stdout, /3 leaked clusters were found on the image/);
  assert.equal(run(TYPEVISOR, ["img", "check", "-r", "leaks", file]).status, 0);
  qemuCheckClean(file);
  // A refcount too low is corruption (exit 2) for both tools.
  const bad = openQcow2(file, false);
  const host = bad.clusterInfo(0).host;
  bad.refcounts.set(host / bad.clusterSize, 0);
  bad.close();
  assert.equal(run("qemu-img", ["check", file]).status, 2);
  assert.equal(run(TYPEVISOR, ["img", "check", file]).status, 2);
});

test("img commit, rebase, resize and snapshot give images qemu-img agrees with", (t) => {
  const dir = scratchDir(t);
  const base = path.join(dir, "base.qcow2");
  const top = path.join(dir, "top.qcow2");
  ok("qemu-img", ["create", "-q", "-f", "qcow2", base, "8M"]);
  const model = new Uint8Array(8 * MiB);
  ok("qemu-io", ["-f", "qcow2", ...qemuIoScript(model, 41, 30), base]);
  const baseOnly = model.slice();
  ok("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top]);
  ok("qemu-io", ["-f", "qcow2", ...qemuIoScript(model, 42, 30), top]);
  fs.writeFileSync(path.join(dir, "model.raw"), model);
  fs.writeFileSync(path.join(dir, "base-only.raw"), baseOnly);

  // rebase onto nothing: the image keeps its contents and stands alone.
  const alone = path.join(dir, "alone.qcow2");
  fs.copyFileSync(top, alone);
  ok(TYPEVISOR, ["img", "rebase", "-b", "", alone]);
  assert.equal(JSON.parse(ok("qemu-img", ["info", "--output", "json", alone]))["backing-filename"], undefined);
  qemuCheckClean(alone);
  qemuCompare(alone, path.join(dir, "model.raw"), ["-F", "raw"]);

  // rebase onto a copy of the base with other contents: still the same guest disk.
  const other = path.join(dir, "other.qcow2");
  ok("qemu-img", ["create", "-q", "-f", "qcow2", other, "8M"]);
  ok("qemu-io", ["-f", "qcow2", "-c", "write -P 77 0 8M", other]);
  const moved = path.join(dir, "moved.qcow2");
  fs.copyFileSync(top, moved);
  ok(TYPEVISOR, ["img", "rebase", "-b", "other.qcow2", "-F", "qcow2", moved]);
  assert.equal(JSON.parse(ok("qemu-img", ["info", "--output", "json", moved]))["backing-filename"], "other.qcow2");
  qemuCheckClean(moved);
  qemuCompare(moved, path.join(dir, "model.raw"), ["-F", "raw"]);

  // commit: the base takes the overlay's data; the overlay empties and reads the same.
  assert.match(ok(TYPEVISOR, ["img", "commit", top]), /Image committed/);
  qemuCheckClean(base);
  qemuCheckClean(top);
  qemuCompare(base, path.join(dir, "model.raw"), ["-F", "raw"]);
  qemuCompare(top, path.join(dir, "model.raw"), ["-F", "raw"]);
  assert.equal(JSON.parse(ok("qemu-img", ["map", "--output", "json", top])).filter((e: { depth: number; present: boolean }) => e.depth === 0 && e.present).length, 0);

  // resize grows (and with --shrink shrinks) as qemu-img sees it.
  ok(TYPEVISOR, ["img", "resize", "-q", base, "+24M"]);
  assert.equal(JSON.parse(ok("qemu-img", ["info", "--output", "json", base]))["virtual-size"], 32 * MiB);
  qemuCheckClean(base);
  assert.notEqual(run(TYPEVISOR, ["img", "resize", base, "4M"]).status, 0, "shrinking needs --shrink");
  ok(TYPEVISOR, ["img", "resize", "-q", "--shrink", base, "4M"]);
  qemuCheckClean(base);
  assert.equal(JSON.parse(ok("qemu-img", ["info", "--output", "json", base]))["virtual-size"], 4 * MiB);

  // snapshots made by our CLI are listed and applied by qemu-img, and the other way round.
  ok(TYPEVISOR, ["img", "snapshot", "-c", "ours", base]);
  ok("qemu-img", ["snapshot", "-c", "theirs", base]);
  const listed = ok(TYPEVISOR, ["img", "snapshot", "-l", base]);
  assert.match(listed, /1\s+ours/);
  assert.match(listed, /2\s+theirs/);
  ok("qemu-io", ["-f", "qcow2", "-c", "write -P 9 0 1M", base]);
  ok(TYPEVISOR, ["img", "snapshot", "-a", "ours", base]);
  ok(TYPEVISOR, ["img", "snapshot", "-d", "theirs", base]);
  qemuCheckClean(base);
  fs.writeFileSync(path.join(dir, "base4.raw"), model.subarray(0, 4 * MiB));
  qemuCompare(base, path.join(dir, "base4.raw"), ["-F", "raw"]);
});

test("img info --output json and --backing-chain agree with qemu-img", (t) => {
  const dir = scratchDir(t);
  ok("qemu-img", ["create", "-q", "-f", "qcow2", path.join(dir, "b.qcow2"), "1G"]);
  ok("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", path.join(dir, "t.qcow2")]);
  const keys = ["virtual-size", "filename", "cluster-size", "format", "backing-filename", "full-backing-filename", "backing-filename-format", "dirty-flag", "format-specific"];
  const pick = (o: Record<string, unknown>) => Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
  const theirs = JSON.parse(ok("qemu-img", ["info", "--output", "json", "--backing-chain", "t.qcow2"], { cwd: dir }));
  const ours = JSON.parse(ok(TYPEVISOR, ["img", "info", "--output", "json", "--backing-chain", "t.qcow2"], { cwd: dir }));
  assert.deepEqual(ours.map(pick), theirs.map(pick));
  const human = ok(TYPEVISOR, ["img", "info", "t.qcow2"], { cwd: dir });
  assert.match(human, /virtual size: 1 GiB \(1073741824 bytes\)\n/);
  assert.match(human, /backing file: b\.qcow2\n/);
});

test("a dirty image (lazy refcounts, not closed cleanly) is refused for writing until img check -r all repairs it", (t) => {
  const dir = scratchDir(t);
  const file = path.join(dir, "lazy.qcow2");
  ok("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on,cluster_size=4096", file, "4M"]);
  ok("qemu-io", ["-f", "qcow2", "-c", "write -P 3 0 1M", file]);
  // What a crash with lazy refcounts leaves: the dirty bit set and refcounts behind the tables.
  const image = openQcow2(file, false);
  const host = image.clusterInfo(5).host;
  image.refcounts.set(host / image.clusterSize, 0);
  image.writeHeaderU64(72, 1n);
  image.close();
  assert.throws(() => openQcow2(file, false), /not closed cleanly \(lazy refcounts\); repair it with 'typevisor img check -r all'/);
  const repaired = run(TYPEVISOR, ["img", "check", "-r", "all", file]);
  assert.equal(repaired.status, 0, repaired.stdout + repaired.stderr);
  assert.match(repaired.stdout, /The following inconsistencies were found and repaired/);
  qemuCheckClean(file);
  assert.equal(JSON.parse(ok("qemu-img", ["info", "--output", "json", file]))["dirty-flag"], false);
  openQcow2(file, false).close();
});
