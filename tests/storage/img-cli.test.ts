import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ok, pattern, run, scratchDir, TYPEVISOR } from "./helpers.ts";

test("img convert round-trips raw → qcow2 → raw, sparse where the data is zero", (t) => {
  const dir = scratchDir(t);
  const raw = path.join(dir, "in.raw");
  const data = new Uint8Array(8 * 2 ** 20);
  data.set(pattern(300000, 1), 12345);
  data.set(pattern(70000, 2), 6 * 2 ** 20);
  fs.writeFileSync(raw, data);
  ok(TYPEVISOR, ["img", "convert", "-p", "-f", "raw", "-O", "qcow2", raw, path.join(dir, "mid.qcow2")]);
  const info = JSON.parse(ok(TYPEVISOR, ["img", "info", "--output", "json", path.join(dir, "mid.qcow2")]));
  assert.equal(info.format, "qcow2");
  assert.equal(info["virtual-size"], data.length);
  assert.ok(fs.statSync(path.join(dir, "mid.qcow2")).size < 2 ** 20, "zero clusters are not stored");
  ok(TYPEVISOR, ["img", "convert", "-O", "raw", path.join(dir, "mid.qcow2"), path.join(dir, "out.raw")]);
  assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(dir, "out.raw"))), data);
  const check = JSON.parse(ok(TYPEVISOR, ["img", "check", "--output", "json", path.join(dir, "mid.qcow2")]));
  assert.equal(check["allocated-clusters"], 7);
  assert.equal(check.leaks, undefined);
});

test("img create takes qemu-img sizes and the backing file's size; bad input is one clear line", (t) => {
  const dir = scratchDir(t);
  assert.match(ok(TYPEVISOR, ["img", "create", "-f", "qcow2", "-o", "cluster_size=4k", path.join(dir, "a.qcow2"), "1.5G"]), /Formatting '.*a\.qcow2', fmt=qcow2 size=1610612736/);
  assert.equal(JSON.parse(ok(TYPEVISOR, ["img", "info", "--output", "json", path.join(dir, "a.qcow2")]))["cluster-size"], 4096);
  ok(TYPEVISOR, ["img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", path.join(dir, "b.qcow2")]);
  assert.equal(JSON.parse(ok(TYPEVISOR, ["img", "info", "--output", "json", path.join(dir, "b.qcow2")]))["virtual-size"], 1610612736);
  ok(TYPEVISOR, ["img", "create", "-q", path.join(dir, "r.raw"), "100k"]);
  assert.equal(fs.statSync(path.join(dir, "r.raw")).size, 102400);
  const cases: Array<[string[], RegExp]> = [
    [["img", "create", path.join(dir, "x"), "12Q"], /^typevisor: invalid image size "12Q"/],
    [["img", "create", "-f", "qcow2", path.join(dir, "x")], /^typevisor: give the image size/],
    [["img", "info", path.join(dir, "missing.qcow2")], /^typevisor: cannot open disk image .*missing\.qcow2: ENOENT/],
    [["img", "snapshot", path.join(dir, "a.qcow2")], /^typevisor: img snapshot: give exactly one of -l, -c NAME, -a NAME, -d NAME/],
    [["img", "snapshot", "-a", "nope", path.join(dir, "a.qcow2")], /^typevisor: .*no snapshot "nope"/],
    [["img", "commit", path.join(dir, "a.qcow2")], /^typevisor: .*has no backing file to commit to/],
    [["img", "convert", "-c", "-O", "raw", path.join(dir, "a.qcow2"), path.join(dir, "y")], /^typevisor: compression \(-c\) needs output format qcow2/],
    [["img", "check", path.join(dir, "r.raw")], /^typevisor: .*does not support checks/],
  ];
  for (const [args, message] of cases) {
    const r = run(TYPEVISOR, args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
  }
});
