/**
 * Code a thread runs for the first time is compiled lazily and interpreted
 * slowly: in a fresh worker the devices' half of a restore (plugging virtio
 * devices into the board, their state restored with live queues, a page
 * source attached and ring pages loaded through it) took 10–60 ms where a
 * warm thread takes 1–2 ms. A spare worker (worker-pool.ts) runs that path
 * once, on a small throwaway machine with in-memory backends, while it waits
 * for its VM, so the VM's own restore or fork finds it compiled.
 */
import { MemoryBlockBackend } from "../backends/block/memory.ts";
import { NullEthernetBackend } from "../backends/net/null.ts";
import { STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FEATURES_OK } from "../devices/virtio/constants.ts";
import { VirtioBlk, VirtioNet, VirtioRng } from "../devices/virtio/index.ts";
import {
  REG_DEVICE_FEATURES, REG_DEVICE_FEATURES_SEL, REG_DRIVER_FEATURES, REG_DRIVER_FEATURES_SEL, REG_QUEUE_DESC_LOW,
  REG_QUEUE_DEVICE_LOW, REG_QUEUE_DRIVER_LOW, REG_QUEUE_NUM, REG_QUEUE_NUM_MAX, REG_QUEUE_READY, REG_QUEUE_SEL, REG_STATUS,
} from "../devices/virtio/mmio-transport.ts";
import { RAM_BASE } from "../cpu/layout.ts";
import { MIN_RAM_SIZE, VirtMachine } from "../machine/virt-machine.ts";
import { captureImage, restoreImage } from "./fork-image.ts";
import { crc32 } from "./crc32.ts";

/** Entries per primed queue, and where its rings go (one page each, past the first page of RAM). */
const QUEUE_SIZE = 16;
const QUEUE_PAGES = RAM_BASE + 0x1000;

/** A machine of MIN_RAM_SIZE with a disk, a NIC and an rng, their queues set up as a driver would. */
function primerMachine(): VirtMachine {
  const machine = new VirtMachine({ ramSize: MIN_RAM_SIZE, firmware: { kind: "none" }, boot: false });
  machine.plugVirtio([
    new VirtioBlk({ backend: new MemoryBlockBackend(1 << 16) }),
    new VirtioNet({ backend: new NullEthernetBackend() }),
    new VirtioRng(),
  ]);
  let ring = QUEUE_PAGES;
  for (const slot of machine.virtio.populated()) {
    const reg = (offset: number) => slot.mmio.read(offset, 4) >>> 0;
    const set = (offset: number, value: number) => slot.mmio.write(offset, 4, value);
    set(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    for (const sel of [0, 1]) {
      set(REG_DEVICE_FEATURES_SEL, sel);
      const offered = reg(REG_DEVICE_FEATURES);
      set(REG_DRIVER_FEATURES_SEL, sel);
      set(REG_DRIVER_FEATURES, offered);
    }
    set(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    for (let q = 0; q < 8; q++) {
      set(REG_QUEUE_SEL, q);
      if (reg(REG_QUEUE_NUM_MAX) === 0) break;
      set(REG_QUEUE_NUM, QUEUE_SIZE);
      set(REG_QUEUE_DESC_LOW, ring);
      set(REG_QUEUE_DRIVER_LOW, ring + 0x1000);
      set(REG_QUEUE_DEVICE_LOW, ring + 0x2000);
      set(REG_QUEUE_READY, 1);
      ring += 0x3000;
    }
    set(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }
  return machine;
}

/**
 * Captures a primer machine and restores the image into another (the fork
 * path; a snapshot restore shares all of it but where pages come from) and
 * checks a page's CRC (a snapshot's page loads). Returns what the copy's
 * restore did — queues live, pages loaded — for the test that keeps it honest.
 */
export function primeRestorePath(): { liveDevices: number; pagesLoaded: number } {
  const original = primerMachine();
  crc32(original.bus.ram, 0, 4096);
  const image = captureImage(original, null);
  const copy = primerMachine();
  restoreImage(image, copy, { mac: "52:54:00:00:00:01" });
  const liveDevices = copy.virtio.populated().filter((slot) => (slot.mmio.read(REG_STATUS, 4) & STATUS_DRIVER_OK) !== 0).length;
  const pagesLoaded = copy.bus.pages.loaded;
  for (const machine of [original, copy]) machine.close();
  return { liveDevices, pagesLoaded };
}
