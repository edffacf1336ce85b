import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { buildVirtDtb, DEFAULT_ISA } from "../../src/machine/virt-dtb.ts";
import { decompile, dtbFile, fdtget, indexDts, type DtsIndex } from "./dts.ts";

const RAM_BASE = 0x8000_0000;
const MiB = 1 << 20;

function virt(harts = 1, extra: Partial<Parameters<typeof buildVirtDtb>[0]> = {}): DtsIndex {
  return indexDts(decompile(buildVirtDtb({ ramBase: RAM_BASE, ramSize: 256 * MiB, harts, ...extra })));
}

test("the board tree has QEMU virt's nodes and values", () => {
  const t = virt();
  const prop = (node: string, p: string) => t.get(node)?.get(p);
  assert.equal(prop("/", "compatible"), '"riscv-virtio"');
  assert.equal(prop("/", "model"), '"riscv-virtio,qemu"');
  assert.equal(prop("/memory@80000000", "reg"), "<0x00 0x80000000 0x00 0x10000000>");
  assert.equal(prop("/cpus", "timebase-frequency"), "<0x989680>");
  assert.equal(prop("/cpus/cpu@0", "riscv,isa"), `"${DEFAULT_ISA}"`);
  assert.equal(prop("/cpus/cpu@0", "mmu-type"), '"riscv,sv48"');
  assert.equal(prop("/cpus/cpu@0/interrupt-controller", "compatible"), '"riscv,cpu-intc"');
  assert.equal(prop("/chosen", "stdout-path"), '"/soc/serial@10000000"');
  assert.equal(prop("/soc/serial@10000000", "compatible"), '"ns16550a"');
  assert.equal(prop("/soc/serial@10000000", "interrupts"), "<0x0a>");
  assert.equal(prop("/soc/plic@c000000", "riscv,ndev"), "<0x60>");
  assert.equal(prop("/soc/clint@2000000", "compatible"), '"sifive,clint0\\0riscv,clint0"');
  assert.equal(prop("/soc/test@100000", "compatible"), '"sifive,test1\\0sifive,test0\\0syscon"');
  assert.equal(prop("/poweroff", "value"), "<0x5555>");
  assert.equal(prop("/reboot", "value"), "<0x7777>");
  assert.equal(prop("/soc/rtc@101000", "interrupts"), "<0x0b>");
  for (let slot = 0; slot < 8; slot++) {
    const node = `/soc/virtio_mmio@${(0x10001000 + slot * 0x1000).toString(16)}`;
    assert.equal(prop(node, "interrupts"), `<0x0${slot + 1}>`, node);
  }
  const soc = [...t.keys()].filter((k) => k.startsWith("/soc/") && k.split("/").length === 3);
  assert.equal(soc[3], "/soc/virtio_mmio@10008000", "highest virtio slot first, as Linux probes");
});

test("the serial clock is 3686400 Hz and the memory node follows -m", () => {
  const path = dtbFile(buildVirtDtb({ ramBase: RAM_BASE, ramSize: 3 * 1024 * MiB, harts: 1 }));
  assert.equal(fdtget(path, "/soc/serial@10000000", "clock-frequency", "u"), "3686400");
  assert.equal(fdtget(path, "/memory@80000000", "reg", "x"), "0 80000000 0 c0000000");
});

test("each hart gets a cpu node and PLIC/CLINT interrupt lines", () => {
  const t = virt(2);
  assert.ok(t.has("/cpus/cpu@1/interrupt-controller"));
  assert.equal(t.get("/cpus/cpu-map/cluster0/core1")!.get("cpu"), t.get("/cpus/cpu@1")!.get("phandle"));
  const intc0 = t.get("/cpus/cpu@0/interrupt-controller")!.get("phandle")!.slice(1, -1);
  const intc1 = t.get("/cpus/cpu@1/interrupt-controller")!.get("phandle")!.slice(1, -1);
  assert.equal(
    t.get("/soc/plic@c000000")!.get("interrupts-extended"),
    `<${intc0} 0x0b ${intc0} 0x09 ${intc1} 0x0b ${intc1} 0x09>`,
  );
  assert.equal(
    t.get("/soc/clint@2000000")!.get("interrupts-extended"),
    `<${intc0} 0x03 ${intc0} 0x07 ${intc1} 0x03 ${intc1} 0x07>`,
  );
});

test("/chosen carries bootargs, initrd bounds and the rng seed", () => {
  const dtb = buildVirtDtb({
    ramBase: RAM_BASE,
    ramSize: 256 * MiB,
    harts: 1,
    bootargs: "console=ttyS0 earlycon=sbi",
    initrd: { start: 0x8820_0000, end: 0x8830_0010 },
    rngSeed: new Uint8Array(32).fill(0xab),
  });
  const path = dtbFile(dtb);
  assert.equal(fdtget(path, "/chosen", "bootargs", "s"), "console=ttyS0 earlycon=sbi");
  assert.equal(fdtget(path, "/chosen", "linux,initrd-start", "x"), "88200000");
  assert.equal(fdtget(path, "/chosen", "linux,initrd-end", "x"), "88300010");
  assert.equal(fdtget(path, "/chosen", "rng-seed", "bx"), Array(32).fill("ab").join(" "));
});

function qemuAvailable(): boolean {
  try {
    execFileSync("qemu-system-riscv64", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Nodes of QEMU's tree for devices this board does not have. */
const NOT_MODELLED = /^\/(pmu|fw-cfg@|flash@|platform-bus@|soc\/pci@)/;

for (const harts of [1, 2]) {
  test(`every node matches QEMU 7.2's own dump (${harts} hart${harts > 1 ? "s" : ""})`, { skip: !qemuAvailable() && "qemu-system-riscv64 not installed" }, () => {
    const qemuDtb = dtbFile(new Uint8Array(0)); // a temp path dts.ts removes at exit
    execFileSync("qemu-system-riscv64", ["-M", "virt", "-m", "256M", "-smp", String(harts), "-nographic", "-machine", `dumpdtb=${qemuDtb}`], { stdio: "ignore" });
    const theirs = indexDts(decompile(qemuDtb));
    const ours = virt(harts);
    const missing = [...theirs.keys()].filter((k) => !ours.has(k));
    assert.ok(missing.length > 0 && missing.every((k) => NOT_MODELLED.test(k)), `missing: ${missing.join(", ")}`);
    assert.deepEqual([...ours.keys()].filter((k) => !theirs.has(k)), []);
    for (const [path, props] of ours) {
      const expected = new Map(theirs.get(path));
      if (path === "/chosen") expected.delete("rng-seed");
      if (path.match(/^\/cpus\/cpu@\d+$/)) expected.set("riscv,isa", `"${DEFAULT_ISA}"`);
      assert.deepEqual([...props], [...expected], path);
    }
  });
}
