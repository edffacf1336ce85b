/**
 * `img convert`: copies the guest-visible contents of any image (a whole
 * backing chain flattened) into a new raw or qcow2 image. All-zero clusters
 * are not written (they stay unallocated in qcow2, holes in raw); with
 * `compress`, qcow2 clusters are written deflated.
 */
import type { BlockBackend } from "../block-backend.ts";
import { submitIo, type BlockIo } from "../block-io.ts";
import { ImageLock } from "../image-lock.ts";
import { openImage, type ImageFormat } from "../open-image.ts";
import { ImageError } from "../qcow2/errors.ts";
import { deflateClusterAsync } from "../qcow2/compressed.ts";
import { Qcow2Image } from "../qcow2/qcow2-image.ts";
import { RawFileBackend } from "../raw-file.ts";
import { createImage } from "./create-image.ts";

export interface ConvertOptions {
  sourceFormat?: ImageFormat;
  outputFormat: ImageFormat;
  compress?: boolean;
  clusterSize?: number;
  /** fsync the target at the end. qemu-img convert's default cache mode (unsafe) does not; -t writeback does. */
  flush?: boolean;
  /** Called with bytes done and total, at least once per chunk. */
  progress?: (done: number, total: number) => void;
}

/** Bytes read per step; the next chunk is read (on the thread pool) while this one is written. */
const CHUNK = 8 * 2 ** 20;

export async function convertImage(source: string, target: string, opts: ConvertOptions): Promise<void> {
  if (opts.compress && opts.outputFormat !== "qcow2") throw new ImageError("compression (-c) needs output format qcow2");
  const src = openImage(source, { readOnly: true, format: opts.sourceFormat });
  let lock: ImageLock | null = null;
  let dst: BlockBackend | null = null;
  try {
    createImage(target, { format: opts.outputFormat, size: src.size, clusterSize: opts.clusterSize });
    lock = ImageLock.acquire(target);
    // Opened directly, not through openImage: we hold the lock, and closing must not fsync under -t unsafe.
    dst = opts.outputFormat === "qcow2" ? Qcow2Image.open(target, { readOnly: false }) : RawFileBackend.open(target);
    await copy(src, dst, opts);
    if (opts.flush && !dst.flush()) throw new ImageError(`${target}: flush failed`);
  } finally {
    src.close();
    dst?.close();
    lock?.release();
  }
}

async function copy(src: BlockBackend, dst: BlockBackend, opts: ConvertOptions): Promise<void> {
  const qcow2 = dst instanceof Qcow2Image ? dst : null;
  const unit = qcow2 !== null ? qcow2.clusterSize : 4096;
  const zeros = Buffer.alloc(unit);
  const total = src.size;
  const buffers = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)];
  const read = (pos: number, buf: Uint8Array): Promise<void> => {
    const n = Math.min(CHUNK, total - pos);
    const io: BlockIo = { op: "read", position: pos, length: n, buffers: [buf.subarray(0, n)], unmap: false };
    const done = new Promise<void>((resolve, reject) =>
      submitIo(src, io, (ok) => (ok ? resolve() : reject(new ImageError(`reading the source at ${pos} failed${why(src)}`)))),
    );
    done.catch(() => {}); // awaited below; a write error may come first
    return done;
  };
  let ahead = total > 0 ? read(0, buffers[0]) : null;
  try {
    for (let pos = 0, k = 0; pos < total; pos += CHUNK, k ^= 1) {
      const n = Math.min(CHUNK, total - pos);
      await ahead;
      const buf = buffers[k];
      ahead = pos + CHUNK < total ? read(pos + CHUNK, buffers[k ^ 1]) : null;
      const nonZero: number[] = [];
      for (let at = 0; at < n; at += unit) {
        const len = Math.min(unit, n - at);
        if (Buffer.compare(buf.subarray(at, at + len), zeros.subarray(0, len)) !== 0) nonZero.push(at);
      }
      if (opts.compress && qcow2 !== null) {
        // Deflate the chunk's clusters in parallel on the thread pool, then write them in order.
        const whole = nonZero.filter((at) => at + unit <= n);
        const packed = await Promise.all(whole.map((at) => deflateClusterAsync(buf.subarray(at, at + unit))));
        whole.forEach((at, i) => qcow2.writePacked((pos + at) / unit, buf.subarray(at, at + unit), packed[i]));
        for (const at of nonZero.filter((a) => a + unit > n)) write(dst, pos + at, buf, at, n - at);
      } else {
        // Each run of non-zero units is one write.
        for (let i = 0; i < nonZero.length; ) {
          let j = i + 1;
          while (j < nonZero.length && nonZero[j] === nonZero[j - 1] + unit) j++;
          const start = nonZero[i];
          write(dst, pos + start, buf, start, Math.min(n, nonZero[j - 1] + unit) - start);
          i = j;
        }
      }
      opts.progress?.(pos + n, total);
    }
  } finally {
    await ahead?.catch(() => {}); // the source is closed next: no read may still be running
  }
  if (total === 0) opts.progress?.(0, 0);
}

function write(dst: BlockBackend, position: number, buf: Uint8Array, offset: number, length: number): void {
  if (!dst.writeAt(position, buf, offset, length)) throw new ImageError(`writing the target at ${position} failed${why(dst)}`);
}

function why(b: BlockBackend): string {
  const e = (b as { lastError?: string | null }).lastError;
  return e ? `: ${e}` : "";
}
