// planRun: run's flags → a checked VmConfig (no process, nothing booted).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planRun, type RunFlags } from "../../src/cli/run-config.ts";

const tmp = mkdtempSync(join(tmpdir(), "typevisor-run-config-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const [a, b, c, kernel] = ["a.img", "b.img", "c.img", "Image"].map((name) => {
  const path = join(tmp, name);
  writeFileSync(path, new Uint8Array(4096));
  return path;
});

function flags(extra: Partial<RunFlags>): RunFlags {
  return { memory: "256M", smp: "1", drive: [], device: [], kernel, ...extra };
}

test("flags map onto the config; -snapshot reaches every drive", () => {
  const plan = planRun(flags({ memory: "1G", smp: "2", drive: [`file=${a},serial=s1`, `file=${b},readonly=on`], snapshot: true, net: "loopback", rng: true, icount: "7", gdb: "tcp::2345", append: "quiet" }));
  assert.equal(plan.defaultGuest, false);
  assert.equal(plan.gdbPort, 2345);
  assert.deepEqual(plan.config, {
    memory: 2 ** 30,
    harts: 2,
    firmware: { kind: "builtin" },
    kernel,
    append: "quiet",
    drives: [
      { file: a, readonly: false, snapshot: true, serial: "s1" },
      { file: b, readonly: true, snapshot: true },
    ],
    nics: [{ backend: "loopback" }],
    rng: true,
    icount: 7,
  });
});

test("QEMU's -drive if=none + -device virtio-blk-device,drive=ID; if=virtio drives come first", () => {
  const plan = planRun(flags({
    drive: [`file=${a},if=none,id=second`, `file=${b}`, `file=${c},if=none,id=third`],
    device: ["virtio-blk-device,drive=second", "virtio-rng-device", "virtio-blk-device,drive=third"],
  }));
  assert.deepEqual(plan.config.drives.map((d) => d.file), [b, a, c]);
  assert.equal(plan.config.rng, true);
});

test("-device mistakes are named", () => {
  assert.throws(() => planRun(flags({ drive: [`file=${a},if=none,id=d0`] })), /--drive .*a\.img,if=none,id=d0: if=none, but no --device virtio-blk-device,drive=d0 attaches it/);
  assert.throws(() => planRun(flags({ device: ["virtio-blk-device,drive=nope"] })), /--device virtio-blk-device,drive=nope: no --drive \.\.\.,if=none,id=nope to attach/);
  assert.throws(() => planRun(flags({ device: ["virtio-blk-pci,drive=x"] })), /--device virtio-blk-pci,drive=x: expected virtio-blk-device,drive=ID or virtio-rng-device/);
  assert.throws(
    () => planRun(flags({ drive: [`file=${a},if=none,id=d0`, `file=${b},if=none,id=d0`], device: ["virtio-blk-device,drive=d0"] })),
    /another drive already has id=d0/,
  );
});

test("the default guest gets a user-mode NAT NIC unless --net says otherwise; a user NIC keeps its options", () => {
  const plan = planRun(flags({ kernel: undefined }));
  assert.equal(plan.defaultGuest, true);
  assert.deepEqual(plan.config.nics, [{ backend: "user" }]);
  assert.deepEqual(planRun(flags({ kernel: undefined, net: "null" })).config.nics, [{ backend: "null" }]);
  assert.deepEqual(planRun(flags({ net: "user,hostfwd=tcp::2222-:22" })).config.nics, [{ backend: "user", options: "hostfwd=tcp::2222-:22" }]);
  assert.deepEqual(planRun(flags({})).config.nics, [], "a kernel of one's own gets no NIC unless asked, as before");
  assert.throws(() => planRun(flags({ net: "user,bogus=1" })), /--net user,bogus=1: .*bogus/);
});

test("--net switch=PATH gets its own MAC unless mac= names one; mac= and dump= go on any NIC, not into the NAT's options", () => {
  const pcap = join(tmp, "x.pcap");
  const [nic] = planRun(flags({ net: `switch=${tmp}/sw.sock,dump=${pcap}` })).config.nics;
  assert.equal(nic.backend, "switch");
  assert.equal(nic.path, `${tmp}/sw.sock`);
  assert.equal(nic.dump, pcap);
  assert.match(nic.mac!, /^52:54:00(:[0-9a-f]{2}){3}$/);
  assert.notEqual(planRun(flags({ net: `switch=${tmp}/sw.sock` })).config.nics[0].mac, nic.mac, "two runs, two MACs");
  assert.deepEqual(planRun(flags({ net: `switch=${tmp}/sw.sock,mac=52:54:00:00:00:0a` })).config.nics, [
    { backend: "switch", path: `${tmp}/sw.sock`, mac: "52:54:00:00:00:0a" },
  ]);
  assert.deepEqual(planRun(flags({ net: `user,hostfwd=tcp::2222-:22,dump=${pcap},restrict=on` })).config.nics, [
    { backend: "user", options: "hostfwd=tcp::2222-:22,restrict=on", dump: pcap },
  ]);
  assert.deepEqual(planRun(flags({ net: "loopback,mac=02:00:00:00:00:01" })).config.nics, [{ backend: "loopback", mac: "02:00:00:00:00:01" }]);
  assert.throws(() => planRun(flags({ net: "loopback,hostfwd=tcp::1-:2" })), /--net loopback,hostfwd=tcp::1-:2: unknown option "hostfwd=tcp::1-:2" \(a loopback NIC takes mac= and dump=\)/);
  assert.throws(() => planRun(flags({ net: "switch=" })), /--net switch=: a switch NIC needs path/);
  assert.throws(() => planRun(flags({ net: "null,mac=zz" })), /--net null,mac=zz: mac "zz"/);
  assert.throws(() => planRun(flags({ net: `user,dump=${tmp}/nowhere/x.pcap` })), /--net user,dump=.*: dump ".*x\.pcap": no folder/);
});
