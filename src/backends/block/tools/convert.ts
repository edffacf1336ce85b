/**
 * `img convert`: copies the guest-visible contents of any image (a whole
 * backing chain flattened) into a new raw or qcow2 image. All-zero clusters
 * are not written (they stay unallocated in qcow2, holes in raw); with
 * `compress`, qcow2 clusters are written deflated.
 */
import type { BlockBackend } from "../block-backend.ts";
import { ImageLock } from "../image-lock.ts";
import { openImage, type ImageFormat } from "../open-image.ts";
import { ImageError } from "../qcow2/errors.ts";
import { Qcow2Image } from "../qcow2/qcow2-image.ts";
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

const CHUNK = 2 * 2 ** 20;

export function convertImage(source: string, target: string, opts: ConvertOptions): void {
  if (opts.compress && opts.outputFormat !== "qcow2") throw new ImageError("compression (-c) needs output format qcow2");
  const src = openImage(source, { readOnly: true, format: opts.sourceFormat });
  let lock: ImageLock | null = null;
  let dst: BlockBackend | null = null;
  try {
    createImage(target, { format: opts.outputFormat, size: src.size, clusterSize: opts.clusterSize });
    lock = ImageLock.acquire(target);
    dst = opts.outputFormat === "qcow2" ? Qcow2Image.open(target, { readOnly: false }) : openImage(target, { readOnly: false, format: "raw", lock: false });
    copy(src, dst, opts);
    if (opts.flush && !dst.flush()) throw new ImageError(`${target}: flush failed`);
  } finally {
    src.close();
    dst?.close();
    lock?.release();
  }
}

function copy(src: BlockBackend, dst: BlockBackend, opts: ConvertOptions): void {
  const qcow2 = dst instanceof Qcow2Image ? dst : null;
  const unit = qcow2 !== null ? qcow2.clusterSize : 4096;
  const buf = new Uint8Array(CHUNK);
  const zeros = Buffer.alloc(unit);
  const total = src.size;
  for (let pos = 0; pos < total; pos += CHUNK) {
    const n = Math.min(CHUNK, total - pos);
    if (!src.readAt(pos, buf, 0, n)) throw new ImageError(`reading the source at ${pos} failed${why(src)}`);
    // Write each run of non-zero units with one call.
    let runStart = -1;
    const flushRun = (end: number) => {
      if (runStart < 0) return;
      if (!dst.writeAt(pos + runStart, buf, runStart, end - runStart)) throw new ImageError(`writing the target at ${pos + runStart} failed${why(dst)}`);
      runStart = -1;
    };
    for (let at = 0; at < n; at += unit) {
      const len = Math.min(unit, n - at);
      const zero = Buffer.compare(buf.subarray(at, at + len), zeros.subarray(0, len)) === 0;
      if (zero) {
        flushRun(at);
      } else if (opts.compress && qcow2 !== null && len === unit) {
        flushRun(at);
        qcow2.writeCompressed((pos + at) / unit, buf.subarray(at, at + unit));
      } else if (runStart < 0) {
        runStart = at;
      }
    }
    flushRun(n);
    opts.progress?.(pos + n, total);
  }
  if (total === 0) opts.progress?.(0, 0);
}

function why(b: BlockBackend): string {
  const e = (b as { lastError?: string | null }).lastError;
  return e ? `: ${e}` : "";
}
