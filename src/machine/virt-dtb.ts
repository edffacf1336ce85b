/**
 * The device tree of the virt board, built from the board's configuration
 * and laid out like QEMU 7.2's `-M virt` (node names, compatible strings,
 * phandle numbering and node order), minus devices we do not model (PCIe,
 * flash, fw_cfg, platform bus, PMU).
 */
import { CLINT_BASE, CLINT_SIZE } from "../devices/clint.ts";
import { RTC_BASE, RTC_IRQ, RTC_SIZE } from "../devices/goldfish-rtc.ts";
import { PLIC_BASE, PLIC_SIZE } from "../devices/plic.ts";
import { FINISHER_BASE, FINISHER_PASS, FINISHER_RESET, FINISHER_SIZE } from "../devices/test-finisher.ts";
import { UART_BASE, UART_CLOCK_HZ, UART_IRQ, UART_SIZE } from "../devices/uart16550.ts";
import { TIMEBASE_HZ } from "./clock.ts";
import { cells64, encodeFdt, FdtNode } from "./fdt.ts";

/** What the hart implements, for `riscv,isa` (matches src/cpu). */
export const DEFAULT_ISA = "rv64imafdc_zicsr_zifencei_zba_zbb_zbs_sstc";
export const DEFAULT_MMU_TYPE = "riscv,sv48";

export const VIRTIO_BASE = 0x10001000;
export const VIRTIO_STRIDE = 0x1000;
export const VIRTIO_SLOTS = 8;
/** Slot i (0-based) interrupts on PLIC source 1 + i. */
export const VIRTIO_IRQ_BASE = 1;
/**
 * `riscv,ndev` as QEMU 7.2 writes it (0x60), although its PLIC, like ours,
 * has sources 1..95 only; Linux's accesses to a source 96 are ignored.
 */
export const PLIC_NDEV = 96;

const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;
const IRQ_S_EXT = 9;
const IRQ_M_EXT = 11;

export interface VirtDtbConfig {
  ramBase: number;
  ramSize: number;
  harts: number;
  isa?: string;
  mmuType?: string;
  /** Kernel command line (`/chosen/bootargs`). */
  bootargs?: string;
  /** Guest-physical [start, end) of the initrd. */
  initrd?: { start: number; end: number };
  /** Entropy for `/chosen/rng-seed`, a multiple of 4 bytes. */
  rngSeed?: Uint8Array;
}

export const STDOUT_PATH = `/soc/serial@${hex(UART_BASE)}`;

function hex(n: number): string {
  return n.toString(16);
}

/** `reg` for a (base, size) pair with #address-cells = #size-cells = 2. */
function reg(node: FdtNode, base: number, size: number): FdtNode {
  return node.u32("reg", ...cells64("reg", base), ...cells64("reg", size));
}

export function buildVirtTree(config: VirtDtbConfig): FdtNode {
  const harts = config.harts;
  let nextPhandle = 1;
  // QEMU numbers the cpus from the last one down, each followed by its intc.
  const cpuPhandle: number[] = [];
  const intcPhandle: number[] = [];
  for (let h = harts - 1; h >= 0; h--) {
    cpuPhandle[h] = nextPhandle++;
    intcPhandle[h] = nextPhandle++;
  }
  const plicPhandle = nextPhandle++;
  const testPhandle = nextPhandle++;

  const root = new FdtNode("");
  root.u32("#address-cells", 2).u32("#size-cells", 2);
  root.str("compatible", "riscv-virtio").str("model", "riscv-virtio,qemu");

  const chosen = root.addChild("chosen");
  if (config.initrd) {
    const { start, end } = config.initrd;
    if (end < 2 ** 32) chosen.u32("linux,initrd-end", end).u32("linux,initrd-start", start);
    else chosen.u64("linux,initrd-end", end).u64("linux,initrd-start", start);
  }
  if (config.rngSeed) chosen.bytes("rng-seed", config.rngSeed);
  if (config.bootargs !== undefined) chosen.str("bootargs", config.bootargs);
  chosen.str("stdout-path", STDOUT_PATH);

  for (const [name, value, compatible] of [
    ["poweroff", FINISHER_PASS, "syscon-poweroff"],
    ["reboot", FINISHER_RESET, "syscon-reboot"],
  ] as const) {
    root.addChild(name).u32("value", value).u32("offset", 0).u32("regmap", testPhandle).str("compatible", compatible);
  }

  reg(root.addChild(`memory@${hex(config.ramBase)}`).str("device_type", "memory"), config.ramBase, config.ramSize);

  const cpus = root.addChild("cpus");
  cpus.u32("#address-cells", 1).u32("#size-cells", 0).u32("timebase-frequency", TIMEBASE_HZ);
  for (let h = 0; h < harts; h++) {
    const cpu = cpus.addChild(`cpu@${hex(h)}`);
    cpu.u32("phandle", cpuPhandle[h]).str("device_type", "cpu").u32("reg", h).str("status", "okay");
    cpu.str("compatible", "riscv").str("riscv,isa", config.isa ?? DEFAULT_ISA);
    cpu.str("mmu-type", config.mmuType ?? DEFAULT_MMU_TYPE);
    cpu.addChild("interrupt-controller")
      .u32("#interrupt-cells", 1)
      .empty("interrupt-controller")
      .str("compatible", "riscv,cpu-intc")
      .u32("phandle", intcPhandle[h]);
  }
  const cluster = cpus.addChild("cpu-map").addChild("cluster0");
  for (let h = 0; h < harts; h++) cluster.addChild(`core${h}`).u32("cpu", cpuPhandle[h]);

  const soc = root.addChild("soc");
  soc.u32("#address-cells", 2).u32("#size-cells", 2).str("compatible", "simple-bus").empty("ranges");

  const rtc = soc.addChild(`rtc@${hex(RTC_BASE)}`);
  rtc.u32("interrupts", RTC_IRQ).u32("interrupt-parent", plicPhandle);
  reg(rtc, RTC_BASE, RTC_SIZE).str("compatible", "google,goldfish-rtc");

  const serial = soc.addChild(`serial@${hex(UART_BASE)}`);
  serial.u32("interrupts", UART_IRQ).u32("interrupt-parent", plicPhandle).u32("clock-frequency", UART_CLOCK_HZ);
  reg(serial, UART_BASE, UART_SIZE).str("compatible", "ns16550a");

  const test = soc.addChild(`test@${hex(FINISHER_BASE)}`).u32("phandle", testPhandle);
  reg(test, FINISHER_BASE, FINISHER_SIZE).str("compatible", "sifive,test1", "sifive,test0", "syscon");

  // Highest slot first, as QEMU: Linux probes them in this order.
  for (let slot = VIRTIO_SLOTS - 1; slot >= 0; slot--) {
    const base = VIRTIO_BASE + slot * VIRTIO_STRIDE;
    const node = soc.addChild(`virtio_mmio@${hex(base)}`);
    node.u32("interrupts", VIRTIO_IRQ_BASE + slot).u32("interrupt-parent", plicPhandle);
    reg(node, base, VIRTIO_STRIDE).str("compatible", "virtio,mmio");
  }

  const plic = soc.addChild(`plic@${hex(PLIC_BASE)}`);
  plic.u32("phandle", plicPhandle).u32("riscv,ndev", PLIC_NDEV);
  reg(plic, PLIC_BASE, PLIC_SIZE);
  plic.u32("interrupts-extended", ...perHart(harts, (h) => [intcPhandle[h], IRQ_M_EXT, intcPhandle[h], IRQ_S_EXT]));
  plic.empty("interrupt-controller").str("compatible", "sifive,plic-1.0.0", "riscv,plic0");
  plic.u32("#address-cells", 0).u32("#interrupt-cells", 1);

  const clint = soc.addChild(`clint@${hex(CLINT_BASE)}`);
  clint.u32("interrupts-extended", ...perHart(harts, (h) => [intcPhandle[h], IRQ_M_SOFT, intcPhandle[h], IRQ_M_TIMER]));
  reg(clint, CLINT_BASE, CLINT_SIZE).str("compatible", "sifive,clint0", "riscv,clint0");

  return root;
}

function perHart(harts: number, cells: (h: number) => number[]): number[] {
  const out: number[] = [];
  for (let h = 0; h < harts; h++) out.push(...cells(h));
  return out;
}

export function buildVirtDtb(config: VirtDtbConfig): Uint8Array {
  return encodeFdt(buildVirtTree(config));
}
