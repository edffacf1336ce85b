/**
 * `img rebase`: points a qcow2 image at a different backing file. The safe
 * mode first copies into the image every cluster it does not hold whose
 * contents differ between the old and the new backing, so the guest sees the
 * same disk afterwards; `unsafe` only rewrites the name.
 */
import type { BlockBackend } from "../block-backend.ts";
import { ImageLock } from "../image-lock.ts";
import { openImage, openQcow2, resolveBacking, type ImageFormat } from "../open-image.ts";
import { ImageError } from "../qcow2/errors.ts";
import { Qcow2Image } from "../qcow2/qcow2-image.ts";

export interface RebaseOptions {
  /** New backing file name as stored in the image ("" for none). */
  backingFile: string;
  backingFormat?: ImageFormat;
  unsafe?: boolean;
  progress?: (done: number, total: number) => void;
}

export function rebaseImage(file: string, opts: RebaseOptions): void {
  const lock = ImageLock.acquire(file);
  let image: Qcow2Image | null = null;
  let next: BlockBackend | null = null;
  try {
    const newName = opts.backingFile === "" ? null : opts.backingFile;
    if (opts.unsafe) {
      image = Qcow2Image.open(file, { readOnly: false });
    } else {
      image = openQcow2(file, false);
      if (newName !== null) next = openImage(resolveBacking(file, newName), { readOnly: true, format: opts.backingFormat });
      copyDifferences(image, next, opts.progress);
    }
    image.setBackingFile(newName, newName === null ? null : (opts.backingFormat ?? null));
    image.file.sync();
  } finally {
    next?.close();
    image?.close();
    lock.release();
  }
}

function copyDifferences(image: Qcow2Image, next: BlockBackend | null, progress?: (done: number, total: number) => void): void {
  const cs = image.clusterSize;
  const old = new Uint8Array(cs);
  const fresh = new Uint8Array(cs);
  const clusters = Math.ceil(image.size / cs);
  for (let gc = 0; gc < clusters; gc++) {
    if (image.clusterInfo(gc).kind !== "unallocated") continue;
    const pos = gc * cs;
    const n = Math.min(cs, image.size - pos);
    image.read(pos, old, 0, n);
    const avail = next === null ? 0 : Math.max(0, Math.min(n, next.size - pos));
    if (avail > 0 && !next!.readAt(pos, fresh, 0, avail)) throw new ImageError(`reading the new backing file at ${pos} failed`);
    fresh.fill(0, avail, n);
    if (Buffer.compare(old.subarray(0, n), fresh.subarray(0, n)) !== 0) image.write(pos, old, 0, n);
    if (gc % 256 === 0) progress?.(pos, image.size);
  }
  progress?.(image.size, image.size);
}
