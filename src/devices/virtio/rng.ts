/**
 * virtio-rng, the entropy device (virtio 1.2 section 5.4): every writable
 * buffer the driver offers comes back filled with random bytes.
 */
import type { AccessSize } from "../../machine/device.ts";
import { badState } from "../../machine/timer.ts";
import { cryptoEntropy, type EntropySource } from "../../backends/entropy/entropy-source.ts";
import { VIRTIO_ID_ENTROPY } from "./constants.ts";
import type { VirtioContext, VirtioDevice } from "./device.ts";

/**
 * Most bytes returned per request. The spec lets the device fill less than
 * offered; this bounds the host work one chain can demand (a guest could
 * otherwise alias one huge buffer many times).
 */
export const RNG_MAX_PER_REQUEST = 64 * 1024;

export interface VirtioRngOptions {
  source?: EntropySource;
  /** Queue size (power of two; default 64). */
  queueSize?: number;
}

export interface VirtioRngState {
  v: 1;
}

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_ENTROPY;
  readonly name = "virtio-rng";
  readonly features = 0n;
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(0);
  private ctx: VirtioContext | null = null;
  private readonly source: EntropySource;

  constructor(opts: VirtioRngOptions = {}) {
    this.source = opts.source ?? cryptoEntropy;
    this.queueSizes = [opts.queueSize ?? 64];
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  writeConfig(_offset: number, _size: AccessSize, _value: number): void {}

  queueNotify(index: number): void {
    const ctx = this.ctx;
    if (ctx === null || index !== 0) return;
    const q = ctx.queues[0];
    const ram = ctx.mem.ram;
    let pushed = false;
    for (let c = q.pop(); c !== null; c = q.pop()) {
      let budget = RNG_MAX_PER_REQUEST;
      for (let i = c.readable; i < c.count && budget > 0; i++) {
        const n = Math.min(c.length[i], budget);
        this.source.fill(ram, c.offset[i], n);
        ctx.mem.ramWritten(c.offset[i], n);
        budget -= n;
      }
      q.push(c.head, RNG_MAX_PER_REQUEST - budget);
      pushed = true;
    }
    if (pushed) ctx.notifyUsed(0);
  }

  reset(): void {}

  save(): VirtioRngState {
    return { v: 1 };
  }

  restore(state: unknown): void {
    if ((state as VirtioRngState | null)?.v !== 1) throw badState(this.name, state);
  }
}
