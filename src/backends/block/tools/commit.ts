/**
 * `img commit`: writes every cluster a qcow2 overlay holds into its backing
 * image, then (unless told to keep them) drops them from the overlay, which
 * then reads exactly as before, through to the updated backing image.
 */
import { ImageLock } from "../image-lock.ts";
import { openImage, parseFormat, probeFormat, qcow2Of, resolveBacking } from "../open-image.ts";
import { ImageError } from "../qcow2/errors.ts";
import { Qcow2Image } from "../qcow2/qcow2-image.ts";

export function commitImage(file: string, opts: { keepOverlay?: boolean; progress?: (done: number, total: number) => void } = {}): void {
  const topLock = ImageLock.acquire(file);
  let top: Qcow2Image | null = null;
  try {
    top = Qcow2Image.open(file, { readOnly: false });
    const name = top.header.backingFile;
    if (name === null) throw new ImageError(`${file} has no backing file to commit to`);
    const basePath = resolveBacking(file, name);
    const baseFormat = top.header.backingFormat !== null ? parseFormat(top.header.backingFormat, file) : probeFormat(basePath);
    const base = openImage(basePath, { readOnly: false, format: baseFormat });
    top.backing = base;
    const cs = top.clusterSize;
    if (base.size < top.size) {
      const inner = qcow2Of(base);
      if (inner !== null) inner.resize(top.size);
      else throw new ImageError(`${basePath} is smaller than ${file}; resize it first`);
    }
    const buf = new Uint8Array(cs);
    const clusters = Math.ceil(top.size / cs);
    for (let gc = 0; gc < clusters; gc++) {
      const kind = top.clusterInfo(gc).kind;
      if (kind === "unallocated") continue;
      const pos = gc * cs;
      const n = Math.min(cs, top.size - pos);
      top.read(pos, buf, 0, n);
      if (!base.writeAt(pos, buf, 0, n)) throw new ImageError(`writing ${basePath} at ${pos} failed`);
      if (gc % 256 === 0) opts.progress?.(pos, top.size);
    }
    if (!base.flush()) throw new ImageError(`${basePath}: flush failed`);
    if (!opts.keepOverlay) top.deallocate(0, clusters * cs, "backing");
    top.file.sync();
    opts.progress?.(top.size, top.size);
  } finally {
    top?.close();
    topLock.release();
  }
}
