/**
 * The physical address space: guest RAM plus memory-mapped devices.
 *
 * This is the slow path. The hart's TLB turns RAM accesses into direct
 * typed-array indexing and only comes here for MMIO, page walks and accesses
 * that cross a page. Devices doing DMA use `ramOffset` to bounds-check a guest
 * buffer before touching `ram`, and report writes with `ramWritten`. Both
 * keep `pages` (ram-pages.ts) true: a range is loaded before anyone sees it
 * (lazy restore) and marked when written (dirty tracking).
 */
import { decodeCacheFor, type DecodeCache } from "../cpu/decode-cache.ts";
import { RAM_BASE, RAM_OFFSET } from "../cpu/layout.ts";
import type { AccessSize, MmioDevice } from "./device.ts";
import { RamPages } from "./ram-pages.ts";

export class Bus {
  /** Guest RAM bytes; guest physical `RAM_BASE + i` is `ram[i]`. */
  readonly ram: Uint8Array;
  readonly ramBase = RAM_BASE;
  readonly ramSize: number;
  /** High word of the last 8-byte `read`. */
  hi = 0;
  /** Set by `read`/`write` when nothing answers at the address (access fault). */
  fault = false;
  /** The harts' decoded instructions: every write to RAM must tell it (`ramWritten`). */
  readonly code: DecodeCache;
  /** Which pages are present and which were written (snapshots). */
  readonly pages: RamPages;
  private readonly devices: MmioDevice[] = [];
  private readonly dv: DataView;

  constructor(
    readonly memory: WebAssembly.Memory,
    ramSize: number,
  ) {
    this.ramSize = ramSize;
    this.ram = new Uint8Array(memory.buffer, RAM_OFFSET, ramSize);
    this.dv = new DataView(memory.buffer, RAM_OFFSET, ramSize);
    this.code = decodeCacheFor(memory, ramSize);
    this.pages = new RamPages(this.ram, Math.ceil(ramSize / 4096));
    this.code.pageFlags = this.pages.flags;
  }

  /**
   * RAM bytes [off, off + len) (offsets into `ram`) were written other than
   * through `write` or a hart's TLB (DMA, loaders): drops the harts' decoded
   * instructions there and marks the pages written.
   */
  ramWritten(off: number, len: number): void {
    this.code.written(off, len);
    this.pages.markWritten(off, len);
  }

  addDevice(device: MmioDevice): void {
    for (const d of this.devices) {
      if (device.base < d.base + d.size && d.base < device.base + device.size) {
        throw new Error(`device ${device.name} overlaps ${d.name} at 0x${device.base.toString(16)}`);
      }
    }
    this.devices.push(device);
  }

  /** Puts `next` where `old` was (same address range: a virtio slot getting its device). */
  replaceDevice(old: MmioDevice, next: MmioDevice): void {
    const i = this.devices.indexOf(old);
    if (i < 0 || next.base !== old.base || next.size !== old.size) throw new Error(`cannot replace device ${old.name} with ${next.name}`);
    this.devices[i] = next;
  }

  deviceAt(paddr: number): MmioDevice | null {
    const ds = this.devices;
    for (let i = 0; i < ds.length; i++) {
      const d = ds[i];
      if (paddr >= d.base && paddr < d.base + d.size) return d;
    }
    return null;
  }

  /**
   * Offset into `ram` of the guest-physical range [paddr, paddr+len), or -1
   * if any of it lies outside RAM. Every DMA address from the guest goes
   * through here first (and writes report themselves with `ramWritten`);
   * so does every other host access to `ram`: the range's pages are loaded
   * here if a lazy restore has not brought them in yet.
   */
  ramOffset(paddr: number, len: number): number {
    const off = paddr - RAM_BASE;
    if (off < 0 || len < 0 || off + len > this.ramSize) return -1;
    if (this.pages.lazy && len > 0) this.pages.ensure(off >>> 12, (off + len - 1) >>> 12);
    return off;
  }

  /**
   * Reads `size` bytes at guest physical `paddr`. Returns the low 32 bits
   * (zero-extended for sizes below 4); for size 8 the high word is in `hi`.
   * On an access fault returns 0 and sets `fault`.
   */
  read(paddr: number, size: 1 | 2 | 4 | 8): number {
    this.fault = false;
    const off = this.ramOffset(paddr, size);
    if (off >= 0) {
      const dv = this.dv;
      switch (size) {
        case 1: return dv.getUint8(off);
        case 2: return dv.getUint16(off, true);
        case 4: return dv.getInt32(off, true);
        default:
          this.hi = dv.getInt32(off + 4, true);
          return dv.getInt32(off, true);
      }
    }
    const d = this.deviceAt(paddr);
    if (d === null || paddr + size > d.base + d.size) {
      this.fault = true;
      return 0;
    }
    const o = paddr - d.base;
    if (size === 8) {
      const lo = d.read(o, 4) | 0;
      this.hi = d.read(o + 4, 4) | 0;
      return lo;
    }
    return d.read(o, size as AccessSize);
  }

  /** Writes `size` bytes; for size 8 `hi` is the high word. Returns false on an access fault. */
  write(paddr: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): boolean {
    const off = this.ramOffset(paddr, size);
    if (off >= 0) {
      const dv = this.dv;
      switch (size) {
        case 1: dv.setUint8(off, lo & 0xff); break;
        case 2: dv.setUint16(off, lo & 0xffff, true); break;
        case 4: dv.setInt32(off, lo | 0, true); break;
        default:
          dv.setInt32(off, lo | 0, true);
          dv.setInt32(off + 4, hi | 0, true);
      }
      this.ramWritten(off, size);
      return true;
    }
    const d = this.deviceAt(paddr);
    if (d === null || paddr + size > d.base + d.size) return false;
    const o = paddr - d.base;
    if (size === 8) {
      d.write(o, 4, lo);
      d.write(o + 4, 4, hi);
    } else {
      d.write(o, size as AccessSize, lo);
    }
    return true;
  }
}
