/**
 * Guest-physical page frames for the process VM: every address space (and
 * its page tables) draws 4 KiB frames from one pool in the VM's RAM.
 *
 * Frames are numbered from 0 (frame `n` is guest physical
 * `RAM_BASE + n * 4096`, `ram[n * 4096]`). A frame is shared by
 * copy-on-write forks and MAP_SHARED mappings, hence a reference count.
 * Frames never handed out are still zero (fresh wasm memory), so only
 * recycled frames are cleared.
 */
import { codeWritten } from "../cpu/decode-cache.ts";

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

export class OutOfGuestMemory extends Error {
  override name = "OutOfGuestMemory";
}

export class PhysPages {
  readonly frameCount: number;
  /** Reference count per frame (0 = free). */
  readonly refs: Int32Array;
  private readonly free: Int32Array;
  private freeTop = 0;
  /** Frames below this were never handed out. */
  private nextFresh = 0;

  constructor(
    readonly ram: Uint8Array,
    /** First frame this pool may use (the frames before are left alone). */
    readonly firstFrame = 0,
  ) {
    this.frameCount = Math.floor(ram.length / PAGE_SIZE);
    this.refs = new Int32Array(this.frameCount);
    this.free = new Int32Array(this.frameCount);
    this.nextFresh = firstFrame;
  }

  /** Frames in use. */
  get used(): number {
    return this.nextFresh - this.firstFrame - this.freeTop;
  }

  /** A zeroed frame with one reference. Throws OutOfGuestMemory when none is left. */
  alloc(): number {
    let frame: number;
    if (this.freeTop > 0) {
      frame = this.free[--this.freeTop];
      this.ram.fill(0, frame * PAGE_SIZE, (frame + 1) * PAGE_SIZE);
      codeWritten(this.ram, frame * PAGE_SIZE, PAGE_SIZE);
    } else if (this.nextFresh < this.frameCount) {
      frame = this.nextFresh++;
    } else {
      throw new OutOfGuestMemory(
        `the process VM ran out of guest memory (${(this.frameCount * PAGE_SIZE) >> 20} MiB); raise it with --memory`,
      );
    }
    this.refs[frame] = 1;
    return frame;
  }

  /** A new frame holding a copy of `frame`. */
  copy(frame: number): number {
    const f = this.alloc();
    this.ram.copyWithin(f * PAGE_SIZE, frame * PAGE_SIZE, (frame + 1) * PAGE_SIZE);
    codeWritten(this.ram, f * PAGE_SIZE, PAGE_SIZE);
    return f;
  }

  retain(frame: number): void {
    this.refs[frame]++;
  }

  release(frame: number): void {
    const r = --this.refs[frame];
    if (r === 0) this.free[this.freeTop++] = frame;
    else if (r < 0) throw new Error(`procvm: frame ${frame} released twice`);
  }
}
