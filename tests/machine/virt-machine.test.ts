import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { VirtMachine, type VirtMachineOptions } from "../../src/machine/virt-machine.ts";
import { RAM_BASE } from "../../src/cpu/layout.ts";
import { VirtioNet } from "../../src/devices/virtio/net.ts";
import { NullEthernetBackend } from "../../src/backends/net/null.ts";
import { program } from "../cli/programs.ts";
import { decompile, indexDts } from "./dts.ts";

const MiB = 1 << 20;

async function bareMetal(name: Parameters<typeof program>[0], extra: Partial<VirtMachineOptions> = {}) {
  const bytes = readFileSync(await program(name));
  let out = "";
  const machine = new VirtMachine({
    firmware: { kind: "none" },
    kernel: { name, bytes },
    serial: { write: (d) => (out += Buffer.from(d).toString("latin1")) },
    ...extra,
  });
  return { machine, output: () => out };
}

/** A Linux Image header in front of `body` (enough for the loader). */
function fakeImage(body = 64): Uint8Array {
  const bytes = new Uint8Array(64 + body);
  const dv = new DataView(bytes.buffer);
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, BigInt(bytes.length), true);
  bytes.set(new TextEncoder().encode("RSC\x05"), 0x38);
  return bytes;
}

test("run() resolves to the finisher code with the UART output delivered", async () => {
  const { machine, output } = await bareMetal("hello");
  assert.equal(await machine.run(), 3);
  assert.equal(output(), "hello");
});

test("harts start at the ELF entry in M-mode with a0 = hart id and a1 = the device tree", async () => {
  const { machine } = await bareMetal("hello", { harts: 2 });
  assert.equal(machine.dtbAddress, 0x8fe00000);
  const off = machine.dtbAddress - RAM_BASE;
  assert.deepEqual(machine.bus.ram.subarray(off, off + machine.dtb.length), machine.dtb);
  for (const hart of machine.harts) {
    assert.equal(hart.state.getPc(), RAM_BASE);
    assert.equal(hart.state.getXU(10), hart.hartId);
    assert.equal(hart.state.getXU(11), 0x8fe00000);
  }
  assert.ok(indexDts(decompile(machine.dtb)).has("/cpus/cpu@1"));
});

test("quit() ends a machine that idles with no deadline", async () => {
  const { machine, output } = await bareMetal("echo");
  const running = machine.run();
  setTimeout(() => machine.quit(9), 50);
  assert.equal(await running, 9);
  assert.equal(output(), ">");
});

test("host input is held until the UART has room, then all of it arrives", async () => {
  const { machine, output } = await bareMetal("echo");
  // 40 bytes: more than the receive FIFO holds at once.
  const text = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCD";
  const running = machine.run();
  setTimeout(() => machine.sendInput(Buffer.from(text + "q")), 50);
  assert.equal(await running, 7);
  const shifted = [...text].map((c) => String.fromCharCode(c.charCodeAt(0) + 1)).join("");
  assert.equal(output(), ">" + shifted);
});

test("a deterministic machine gives the same output at the same instruction every run", async () => {
  const results = [];
  for (let i = 0; i < 2; i++) {
    const { machine, output } = await bareMetal("timer", { instructionsPerTick: 7 });
    const code = await machine.run();
    results.push([code, output(), machine.clock.now(), machine.harts[0].instretNow()]);
  }
  assert.deepEqual(results[0], results[1]);
  assert.equal(results[0][1], "ttttt");
  assert.ok((results[0][2] as number) >= 5 * 500000, "five 50 ms timer periods elapsed in virtual time");
});

test("a firmware boot gets a fw_dynamic_info in a2 naming the kernel at RAM + 2 MiB", () => {
  const initrd = new Uint8Array(1000).fill(0x5a);
  const firmware = new Uint8Array([0x6f, 0, 0, 0]); // j .
  const machine = new VirtMachine({
    firmware: { kind: "file", image: { name: "fw.bin", bytes: firmware } },
    kernel: { name: "Image", bytes: fakeImage() },
    initrd: { name: "initrd", bytes: initrd },
    bootargs: "console=ttyS0",
  });
  const hart = machine.harts[0];
  assert.equal(hart.state.getPc(), RAM_BASE);
  const info = hart.state.getXU(12);
  const dv = new DataView(machine.bus.ram.buffer, machine.bus.ram.byteOffset + (info - RAM_BASE));
  const field = (i: number) => Number(dv.getBigUint64(8 * i, true));
  assert.deepEqual([0, 1, 2, 3].map(field), [0x4942534f, 2, 0x80200000, 1]);
  assert.equal(machine.bus.ram[0x88200000 - RAM_BASE], 0x5a);
  const chosen = indexDts(decompile(machine.dtb)).get("/chosen")!;
  assert.equal(chosen.get("linux,initrd-start"), "<0x88200000>");
  assert.equal(chosen.get("linux,initrd-end"), `<0x${(0x88200000 + 1000).toString(16)}>`);
  assert.equal(chosen.get("bootargs"), '"console=ttyS0"');
});

test("images that do not fit are refused with what to do", () => {
  const fw = { name: "fw.bin", bytes: new Uint8Array(4) };
  assert.throws(
    () => new VirtMachine({ ramSize: 64 * MiB, firmware: { kind: "file", image: fw }, kernel: { name: "Image", bytes: fakeImage() }, initrd: { name: "big.cpio", bytes: new Uint8Array(40 * MiB) } }),
    /big\.cpio .*(overlaps the device tree|does not fit in RAM).*use more memory/,
  );
  assert.throws(() => new VirtMachine({ ramSize: 1000, firmware: { kind: "none" } }), /guest RAM must be/);
  assert.throws(() => new VirtMachine({ harts: 9, firmware: { kind: "none" } }), /harts must be 1 to 8/);
  assert.throws(() => new VirtMachine({ firmware: { kind: "none" }, initrd: { name: "i", bytes: new Uint8Array(4) } }), /--initrd needs a kernel/);
});

test("a reset reloads the image and runs again, keeping the rest of RAM", async () => {
  const { machine, output } = await bareMetal("reset");
  assert.equal(await machine.run(), 5);
  assert.equal(output(), "12");
});

test("a virtio interrupt raised by a host event wakes a machine that idles with no deadline", async () => {
  const { machine } = await bareMetal("echo", { virtio: [new VirtioNet({ backend: new NullEthernetBackend() })] });
  let steps = 0;
  const m = machine as unknown as { step: () => number };
  const step = m.step.bind(machine);
  m.step = () => (steps++, step());
  const running = machine.run();
  // Idle: the echo program sits in WFI with no timer set, so the run loop sleeps with no deadline.
  let before = -1;
  while (before !== steps) {
    before = steps;
    await new Promise((r) => setTimeout(r, 100));
  }
  const transport = machine.virtio.populated()[0].transport!;
  (transport as unknown as { sink: { setIrq(irq: number, level: boolean): void } }).sink.setIrq(transport.irq, true);
  for (let i = 0; i < 100 && steps === before; i++) await new Promise((r) => setTimeout(r, 20));
  machine.quit(5);
  assert.equal(await running, 5);
  assert.ok(steps > before, "the harts ran again after the interrupt, not only at quit()");
});
