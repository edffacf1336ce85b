/**
 * Fork: a frozen copy of a paused machine (state + the non-zero RAM pages in
 * SharedArrayBuffers) that any number of machines, in any worker, restore
 * from. A restored machine copies a page from the image when it first
 * touches it (ram-pages.ts), so a copy costs host memory only for the pages
 * it touches, and the image is never written.
 *
 * Images of one machine share what did not change: a capture copies only
 * the pages written since the machine's previous image (PAGE_FORKED) into a
 * new segment and points at the previous image's segments for the rest, so
 * forking a running guest again costs the pages it wrote, not all of its RAM.
 * After MAX_SEGMENTS segments a capture starts over with one.
 */
import type { MachineState, VirtMachine } from "../machine/virt-machine.ts";
import { PAGE_FORKED, PAGE_USED, type PageSource } from "../machine/ram-pages.ts";
import { parseMac, VirtioNet } from "../devices/virtio/net.ts";
import { SnapshotError } from "./snapshot-error.ts";
import { isZeroPage } from "./zero-page.ts";

const PAGE_SIZE = 4096;
/** A page's entry in `pages`: segment << SLOT_BITS | slot (RAM is at most 2^20 pages). */
const SLOT_BITS = 20;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
/** Segments one image may span before a capture copies everything again (bounds memory kept for stale pages). */
const MAX_SEGMENTS = 8;

/** Structured-cloneable: post it to workers as is; its memory is shared, not copied. */
export interface MachineImage {
  v: 2;
  config: unknown;
  state: MachineState;
  /** Stored pages, 4 KiB each, by slot, in segments (each capture adds at most one). */
  segments: SharedArrayBuffer[];
  /** Per RAM page: segment << 20 | slot, or -1 for a zero page (an Int32Array over a SharedArrayBuffer). */
  pages: Int32Array;
}

/** Each machine's last image, and the RAM generation it was taken in (a restore replaces RAM). */
const lastImages = new WeakMap<VirtMachine, { image: MachineImage; generation: number }>();

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
  const flags = pages.flags;
  const last = lastImages.get(machine);
  const previous = last !== undefined && last.generation === pages.generation && last.image.segments.length < MAX_SEGMENTS ? last.image : null;
  pages.ensureAll();
  const index = new Int32Array(new SharedArrayBuffer(4 * pages.count));
  const segment = previous === null ? 0 : previous.segments.length;
  let slots = 0;
  for (let p = 0; p < pages.count; p++) {
    const f = flags[p];
    if (previous !== null && (f & PAGE_FORKED) === 0) index[p] = previous.pages[p];
    else index[p] = (f & PAGE_USED) !== 0 && !isZeroPage(ram, p) ? (segment << SLOT_BITS) | slots++ : -1;
  }
  const stored = new Uint8Array(new SharedArrayBuffer(slots * PAGE_SIZE));
  for (let p = 0; p < pages.count; p++) {
    const e = index[p];
    if (e >= 0 && e >>> SLOT_BITS === segment) stored.set(ram.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), (e & SLOT_MASK) * PAGE_SIZE);
  }
  const segments = [...(previous?.segments ?? []), stored.buffer as SharedArrayBuffer];
  const image: MachineImage = { v: 2, config, state, segments, pages: index };
  machine.cleanForkMarks();
  lastImages.set(machine, { image, generation: pages.generation });
  return image;
}

/** RAM pages the image stores (non-zero ones). */
export function imagePageCount(image: MachineImage): number {
  let n = 0;
  for (let p = 0; p < image.pages.length; p++) if (image.pages[p] >= 0) n++;
  return n;
}

/** Pages of an image, copied into a machine's RAM on first touch. */
class ImagePages implements PageSource {
  private readonly segments: Uint8Array[];

  constructor(
    private readonly index: Int32Array,
    segments: SharedArrayBuffer[],
  ) {
    this.segments = segments.map((s) => new Uint8Array(s));
  }

  load(page: number, ram: Uint8Array): boolean {
    const e = this.index[page];
    const off = page * PAGE_SIZE;
    if (e < 0) {
      ram.fill(0, off, off + PAGE_SIZE);
      return false;
    }
    const from = (e & SLOT_MASK) * PAGE_SIZE;
    ram.set(this.segments[e >>> SLOT_BITS].subarray(from, from + PAGE_SIZE), off);
    return true;
  }

  release(): void {}
}

function wellFormed(image: MachineImage, pageCount: number): boolean {
  if (image?.v !== 2 || !(image.pages instanceof Int32Array) || image.pages.length !== pageCount || !Array.isArray(image.segments)) return false;
  const slots = image.segments.map((s) => (s instanceof SharedArrayBuffer && s.byteLength % PAGE_SIZE === 0 ? s.byteLength / PAGE_SIZE : -1));
  if (slots.includes(-1)) return false;
  for (let p = 0; p < pageCount; p++) {
    const e = image.pages[p];
    if (e < -1 || (e >= 0 && (e & SLOT_MASK) >= (slots[e >>> SLOT_BITS] ?? 0))) return false;
  }
  return true;
}

/**
 * Makes `machine` (built from the image's config with `boot: false`, not
 * running) a copy of the imaged machine. `identity.mac` gives its first
 * virtio-net device that MAC. Throws SnapshotError, leaving the machine
 * untouched, if the image does not fit the machine.
 */
export function restoreImage(image: MachineImage, machine: VirtMachine, identity: { mac?: string } = {}): void {
  const pages = machine.bus.pages;
  if (!wellFormed(image, pages.count)) throw new SnapshotError("cannot restore the image: it is malformed or for another RAM size");
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
  pages.attach(new ImagePages(image.pages, image.segments)); // every page clean: no write tags survive restore's TLB flush
  try {
    machine.restore(image.state);
  } catch (e) {
    throw new SnapshotError(`cannot restore the image: ${(e as Error).message}`);
  }
  if (identity.mac !== undefined) net?.setMac(identity.mac);
}
