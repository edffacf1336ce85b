import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openDrive, parseDriveSpec } from "../../src/backends/block/drive-spec.ts";

test("parses QEMU-style --drive values", () => {
  assert.deepEqual(parseDriveSpec("file=disk.img,format=raw"), { file: "disk.img", format: "raw", readOnly: false, snapshot: false });
  assert.deepEqual(parseDriveSpec("file=/a/b.img"), { file: "/a/b.img", format: "raw", readOnly: false, snapshot: false });
  assert.deepEqual(parseDriveSpec("format=raw,readonly=on,file=x.img"), { file: "x.img", format: "raw", readOnly: true, snapshot: false });
  assert.equal(parseDriveSpec("file=x,readonly=off").readOnly, false);
  assert.equal(parseDriveSpec("file=x,readonly=true").readOnly, true);
  assert.equal(parseDriveSpec("file=x,snapshot=on").snapshot, true);
  assert.deepEqual(parseDriveSpec("file=x,serial=abc,id=hd0,if=virtio"), {
    file: "x",
    format: "raw",
    readOnly: false,
    snapshot: false,
    serial: "abc",
    id: "hd0",
  });
  assert.equal(parseDriveSpec("file=a,,b.img,format=raw").file, "a,b.img", "a doubled comma is a literal one");
  assert.equal(parseDriveSpec("file=x=y").file, "x=y");
  assert.deepEqual(parseDriveSpec("file=x,if=none,id=d0"), { file: "x", format: "raw", readOnly: false, snapshot: false, id: "d0", ifNone: true });
});

test("rejects bad --drive values with a message that says what is expected", () => {
  assert.throws(() => parseDriveSpec("format=raw"), /no file= given.*expected --drive file=PATH/);
  assert.throws(() => parseDriveSpec("file="), /no file= given/);
  assert.throws(() => parseDriveSpec("file=x,format=qcow2"), /format=qcow2 is not supported yet; only format=raw/);
  assert.throws(() => parseDriveSpec("file=x,readonly=maybe"), /readonly=maybe must be on or off/);
  assert.throws(() => parseDriveSpec("file=x,snapshot=2"), /snapshot=2 must be on or off/);
  assert.throws(() => parseDriveSpec("file=x,cache=none"), /unknown option "cache"/);
  assert.throws(() => parseDriveSpec("disk.img"), /"disk.img" is not key=value/);
  assert.throws(() => parseDriveSpec("file=x,if=ide"), /only if=virtio or if=none/);
  assert.throws(() => parseDriveSpec("file=x,if=none"), /if=none needs id=NAME/);
  assert.throws(() => parseDriveSpec(`file=x,serial=${"s".repeat(21)}`), /longer than 20 bytes/);
});

test("openDrive opens the named raw image with its read-only flag", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-drive-"));
  try {
    const file = path.join(dir, "d.img");
    fs.writeFileSync(file, new Uint8Array(4096));
    const rw = openDrive(parseDriveSpec(`file=${file},format=raw`));
    assert.equal(rw.size, 4096);
    assert.equal(rw.readOnly, false);
    rw.close();
    const ro = openDrive(parseDriveSpec(`file=${file},format=raw,readonly=on`));
    assert.equal(ro.readOnly, true);
    ro.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
