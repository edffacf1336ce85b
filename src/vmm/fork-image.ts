/**
 * Fork: a frozen copy of a paused machine (state + the non-zero RAM pages in
 * one SharedArrayBuffer) that any number of machines, in any worker, restore
 * from. A restored machine copies a page from the image when it first
 * touches it (ram-pages.ts), so a copy costs host memory only for the pages
 * it touches, and the image is never written.
 */
import type { MachineState, VirtMachine } from "../machine/virt-machine.ts";
import { PAGE_USED, type PageSource } from "../machine/ram-pages.ts";
import { parseMac, VirtioNet } from "../devices/virtio/net.ts";
import { SnapshotError } from "./snapshot-error.ts";
import { isZeroPage } from "./zero-page.ts";

const PAGE_SIZE = 4096;

/** Structured-cloneable: post it to workers as is; its memory is shared, not copied. */
export interface MachineImage {
  v: 1;
  config: unknown;
  state: MachineState;
  /** The stored pages, 4 KiB each, by slot. */
  ram: SharedArrayBuffer;
  /** Per RAM page: its slot in `ram`, or -1 for a zero page (an Int32Array over a SharedArrayBuffer). */
  pages: Int32Array;
}

/** Copies a paused machine into an image. Throws SnapshotError if it is running. */
export function captureImage(machine: VirtMachine, config: unknown): MachineImage {
  let state: MachineState;
  try {
    state = machine.save();
  } catch (e) {
    throw new SnapshotError(`cannot capture the machine: ${(e as Error).message}`);
  }
  const pages = machine.bus.pages;
  const ram = machine.bus.ram;
  pages.ensureAll();
  const index = new Int32Array(new SharedArrayBuffer(4 * pages.count)).fill(-1);
  let slots = 0;
  for (let p = 0; p < pages.count; p++) {
    if ((pages.flags[p] & PAGE_USED) !== 0 && !isZeroPage(ram, p)) index[p] = slots++;
  }
  const stored = new Uint8Array(new SharedArrayBuffer(slots * PAGE_SIZE));
  for (let p = 0; p < pages.count; p++) {
    const slot = index[p];
    if (slot >= 0) stored.set(ram.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), slot * PAGE_SIZE);
  }
  return { v: 1, config, state, ram: stored.buffer as SharedArrayBuffer, pages: index };
}

/** Pages of an image, copied into a machine's RAM on first touch. */
class ImagePages implements PageSource {
  private readonly bytes: Uint8Array;

  constructor(private readonly index: Int32Array, ram: SharedArrayBuffer) {
    this.bytes = new Uint8Array(ram);
  }

  load(page: number, ram: Uint8Array): boolean {
    const slot = this.index[page];
    const off = page * PAGE_SIZE;
    if (slot < 0) {
      ram.fill(0, off, off + PAGE_SIZE);
      return false;
    }
    ram.set(this.bytes.subarray(slot * PAGE_SIZE, (slot + 1) * PAGE_SIZE), off);
    return true;
  }

  release(): void {}
}

/**
 * Makes `machine` (built from the image's config with `boot: false`, not
 * running) a copy of the imaged machine. `identity.mac` gives its first
 * virtio-net device that MAC. Throws SnapshotError, leaving the machine
 * untouched, if the image does not fit the machine.
 */
export function restoreImage(image: MachineImage, machine: VirtMachine, identity: { mac?: string } = {}): void {
  const pages = machine.bus.pages;
  const ok =
    image?.v === 1 &&
    image.ram instanceof SharedArrayBuffer &&
    image.pages instanceof Int32Array &&
    image.pages.length === pages.count &&
    image.ram.byteLength % PAGE_SIZE === 0;
  if (!ok) throw new SnapshotError("cannot restore the image: it is malformed or for another RAM size");
  const slots = image.ram.byteLength / PAGE_SIZE;
  for (let p = 0; p < image.pages.length; p++) {
    if (image.pages[p] >= slots) throw new SnapshotError(`cannot restore the image: page ${p} points outside it`);
  }
  const why = machine.mismatch(image.state);
  if (why !== null) throw new SnapshotError(`cannot restore the image: ${why}`);
  const net = machine.virtio.populated().find((s) => s.transport?.device instanceof VirtioNet)?.transport?.device as
    | VirtioNet
    | undefined;
  if (identity.mac !== undefined) {
    if (net === undefined) throw new SnapshotError("cannot give the copy a MAC: it has no network card");
    try {
      parseMac(identity.mac);
    } catch (e) {
      throw new SnapshotError((e as Error).message);
    }
  }
  pages.attach(new ImagePages(image.pages, image.ram)); // every page clean: no write tags survive restore's TLB flush
  try {
    machine.restore(image.state);
  } catch (e) {
    throw new SnapshotError(`cannot restore the image: ${(e as Error).message}`);
  }
  if (identity.mac !== undefined) net?.setMac(identity.mac);
}
