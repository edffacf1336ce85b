import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, validateVmConfig } from "../../src/vmm/config.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-config-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const kernel = join(tmp, "Image");
writeFileSync(kernel, "k");
const disk = join(tmp, "disk.img");
writeFileSync(disk, new Uint8Array(4096));

function problems(input: unknown, labels?: Record<string, string>): string[] {
  try {
    validateVmConfig(input, { labels });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, e.problems.join("; "));
    return [...e.problems];
  }
  assert.fail("expected a ConfigError");
}

test("fills in defaults and keeps what is given", () => {
  assert.deepEqual(validateVmConfig({ kernel }), {
    memory: 256 * 2 ** 20,
    harts: 1,
    firmware: { kind: "builtin" },
    kernel,
    drives: [],
    nics: [],
    rng: false,
  });
  const full = {
    name: "web",
    memory: 2 ** 30,
    harts: 4,
    firmware: { kind: "none" as const },
    kernel,
    initrd: kernel,
    append: "console=ttyS0",
    drives: [{ file: disk, format: "raw" as const, readonly: false, snapshot: true, serial: "d0" }],
    nics: [{ backend: "loopback" as const, mac: "52:54:00:00:00:01" }],
    rng: true,
    icount: 10,
  };
  assert.deepEqual(validateVmConfig(full), full);
  assert.deepEqual(validateVmConfig(JSON.parse(JSON.stringify(full))), full, "plain JSON round-trips");
});

test("names every bad field at once", () => {
  const found = problems({
    memory: 4 * 2 ** 30,
    harts: 9,
    kernel: join(tmp, "nope"),
    drives: [{ file: disk, format: "vmdk" }, { file: join(tmp, "gone.img") }],
    nics: [{ backend: "tap" }],
    icount: 0,
    colour: "red",
  });
  assert.equal(found.length, 8, found.join("\n"));
  assert.match(found[0], /^colour: unknown field/);
  assert.match(found[1], /^memory: 4 GiB of guest RAM does not fit: one wasm32 memory .* so the most is 4084M \(3G in whole gigabytes\)/);
  assert.match(found[2], /^harts: the virt board takes 1 to 8 harts, got 9/);
  assert.match(found[3], /^kernel ".*nope": no such file$/);
  assert.match(found[4], /^drives\[0\]: format "vmdk" is not one of raw, qcow2 \(or absent: probed\)/);
  assert.match(found[5], /^drives\[1\]: .*gone\.img: no such file/);
  assert.match(found[6], /^nics\[0\]: expected a NIC \{backend: "null", "loopback", "user" or "switch", mac\?, options\?, path\?, dump\?\}, got "tap"/);
  assert.match(found[7], /^icount: expected a whole number of instructions per tick \(1 or more\), got 0/);
});

test("labels put problems in the caller's terms", () => {
  assert.deepEqual(problems({ kernel, memory: 2 ** 33 }, { memory: "-m 8G" }).map((p) => p.slice(0, 13)), ["-m 8G: 8 GiB "]);
  assert.match(problems({ kernel, memory: 1000 })[0], /1000 bytes is too little guest RAM: give at least 2M/);
  assert.match(problems({ kernel, memory: 3 * 2 ** 20 + 512 })[0], /is not a whole number of 4 KiB pages/);
});

test("boot rules: a kernel for the built-in firmware, a kernel for an initrd", () => {
  assert.match(problems({})[0], /^kernel: nothing to boot/);
  assert.doesNotThrow(() => validateVmConfig({}, { requireKernel: false }));
  assert.doesNotThrow(() => validateVmConfig({ firmware: { kind: "none" } }));
  assert.match(problems({ initrd: kernel }, undefined)[0], /^initrd: an initial ram disk needs a kernel/);
  assert.match(problems({ firmware: { kind: "file" }, kernel })[0], /^firmware: expected \{kind:"builtin"\}/);
  assert.match(problems({ firmware: { kind: "file", path: tmp }, kernel })[0], /^firmware ".*": not a regular file/);
});

test("drive files: writable unless read-only or snapshot", () => {
  const locked = join(tmp, "locked.img");
  writeFileSync(locked, new Uint8Array(512));
  chmodSync(locked, 0o444);
  // Root writes any file whatever its mode, but not an immutable one.
  const root = process.getuid?.() === 0;
  if (root) execFileSync("chattr", ["+i", locked]);
  try {
    assert.match(problems({ kernel, drives: [{ file: locked }] })[0], /locked\.img: not writable \(use it read-only, or with snapshot/);
    assert.doesNotThrow(() => validateVmConfig({ kernel, drives: [{ file: locked, snapshot: true }, { file: locked, readonly: true }] }));
  } finally {
    if (root) execFileSync("chattr", ["-i", locked]);
  }
});

test("at most eight virtio devices", () => {
  const drives = Array.from({ length: 8 }, () => ({ file: disk, readonly: true }));
  assert.match(problems({ kernel, drives, rng: true })[0], /^drives: 9 virtio devices .* 8 slots/);
  assert.match(problems(null)[0], /a VM config must be an object, got null/);
});

test("a user NIC takes QEMU's -netdev user options, checked up front", () => {
  const nics = [{ backend: "user", options: "hostfwd=tcp::2222-:22,restrict=on" }, { backend: "user" }];
  assert.deepEqual(validateVmConfig({ kernel, nics }).nics, nics);
  assert.match(problems({ kernel, nics: [{ backend: "user", options: "hostfwd=tcp::x-:22" }] })[0], /^nics\[0\]: .*hostfwd/);
  assert.match(problems({ kernel, nics: [{ backend: "null", options: "restrict=on" }] })[0], /^nics\[0\]: options "restrict=on": only a user NIC takes options/);
});
