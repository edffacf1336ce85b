/**
 * Opening a disk image by format, QEMU style: without a format the file is
 * probed (qcow2 magic → qcow2, else raw), a qcow2 image's backing chain is
 * opened read-only to any depth (a file met twice is a loop and an error),
 * and a qcow2 image is never opened as raw for writing — its guest would
 * overwrite the image's metadata. Writable images are locked (image-lock.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { BlockBackend } from "./block-backend.ts";
import { ImageLock } from "./image-lock.ts";
import { ImageError } from "./qcow2/errors.ts";
import { isQcow2 } from "./qcow2/header.ts";
import { Qcow2Image } from "./qcow2/qcow2-image.ts";
import { RawFileBackend } from "./raw-file.ts";

export type ImageFormat = "raw" | "qcow2";
export const IMAGE_FORMATS: readonly ImageFormat[] = ["raw", "qcow2"];

export interface OpenImageOptions {
  readOnly: boolean;
  /** Absent: probe the file. */
  format?: ImageFormat;
  /** Take the write lock (default: when writable). */
  lock?: boolean;
  /** Pass the guest's DISCARD requests on (QEMU's discard=unmap; default: ignore them). */
  discard?: boolean;
  /** When writes become durable (default writeback); see CacheMode. */
  cache?: CacheMode;
}

/**
 * What a drive's cache mode promises (QEMU's names):
 * - writeback: a write completes once the host has it (page cache); data is
 *   durable after the guest's FLUSH (fsync). A kill -9 of Typevisor loses
 *   nothing that completed; a host crash loses what was not flushed.
 * - writethrough: every write is followed by fsync before it completes; FLUSH
 *   has nothing left to do. Slow, durable without guest flushes.
 * - unsafe: FLUSH does nothing; a host crash may lose any write (the image
 *   stays consistent after a kill -9: metadata is written through in order).
 * cache=none (O_DIRECT) is refused: Node cannot guarantee the buffer
 * alignment O_DIRECT needs, and its durability promise is writeback's.
 */
export type CacheMode = "writeback" | "writethrough" | "unsafe";
export const CACHE_MODES: readonly CacheMode[] = ["writeback", "writethrough", "unsafe"];

/** The format a file's first bytes announce. Throws an ImageError if it cannot be read. */
export function probeFormat(file: string): ImageFormat {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw new ImageError(`cannot open disk image ${file}: ${(e as Error).message}`);
  }
  try {
    const magic = new Uint8Array(4);
    const n = fs.readSync(fd, magic, 0, 4, 0);
    return n === 4 && isQcow2(magic) ? "qcow2" : "raw";
  } finally {
    fs.closeSync(fd);
  }
}

export function parseFormat(name: string, what: string): ImageFormat {
  if ((IMAGE_FORMATS as readonly string[]).includes(name)) return name as ImageFormat;
  throw new ImageError(`${what}: unknown image format "${name}" (known: ${IMAGE_FORMATS.join(", ")})`);
}

/** Opens an image as a BlockBackend (qcow2 with its backing chain, or raw). */
export function openImage(file: string, opts: OpenImageOptions): BlockBackend {
  const format = opts.format ?? probeFormat(file);
  const backend = format === "qcow2" ? openQcow2(file, opts.readOnly) : openRaw(file, opts.readOnly, opts.format !== undefined);
  try {
    const lock = (opts.lock ?? !opts.readOnly) ? ImageLock.acquire(file) : null;
    return new ImageBackend(backend, lock, opts.discard === true, opts.cache ?? "writeback");
  } catch (e) {
    backend.close();
    throw e;
  }
}

/** Opens a qcow2 image and its whole backing chain (backing files read-only). */
export function openQcow2(file: string, readOnly: boolean): Qcow2Image {
  return openChainLink(file, "qcow2", readOnly, []) as Qcow2Image;
}

/** The file a backing name refers to: relative names are relative to the image that names them. */
export function resolveBacking(imagePath: string, backingName: string): string {
  return path.isAbsolute(backingName) ? backingName : path.join(path.dirname(imagePath), backingName);
}

function openRaw(file: string, readOnly: boolean, explicit: boolean): BlockBackend {
  if (!readOnly && probeFormat(file) === "qcow2") {
    throw new ImageError(
      `${file} is a qcow2 image; ${explicit ? "format=raw" : "raw"} would let the guest overwrite its metadata. ` +
        "Use format=qcow2 (or no format=), or readonly=on to read its raw bytes",
    );
  }
  return RawFileBackend.open(file, { readOnly });
}

function openChainLink(file: string, format: ImageFormat, readOnly: boolean, seen: string[]): BlockBackend {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (e) {
    throw new ImageError(`cannot open ${seen.length > 0 ? "backing file" : "disk image"} ${file}: ${(e as Error).message}`);
  }
  if (seen.includes(real)) {
    throw new ImageError(`backing chain loop: ${[...seen, real].join(" -> ")}`);
  }
  if (format === "raw") return RawFileBackend.open(file, { readOnly });
  const image = Qcow2Image.open(file, { readOnly });
  try {
    const name = image.header.backingFile;
    if (name !== null) {
      const backingPath = resolveBacking(file, name);
      const backingFormat = image.header.backingFormat !== null
        ? parseFormat(image.header.backingFormat, `${file}: backing file format`)
        : probeFormat(backingPath);
      image.backing = openChainLink(backingPath, backingFormat, true, [...seen, real]);
    }
    return image;
  } catch (e) {
    image.close();
    throw e;
  }
}

/** The qcow2 image behind a backend openImage returned, or null for raw. */
export function qcow2Of(backend: BlockBackend): Qcow2Image | null {
  const inner = backend instanceof ImageBackend ? backend.inner : backend;
  return inner instanceof Qcow2Image ? inner : null;
}

/**
 * What openImage returns: the image, plus its write lock (released on
 * close), its cache mode and the drive's discard policy (DISCARD is only offered to the
 * guest when the drive says discard=unmap and the format can free space).
 */
class ImageBackend implements BlockBackend {
  readonly discard?: (position: number, length: number) => boolean;
  readonly writeZeroes?: (position: number, length: number, unmap: boolean) => boolean;

  constructor(
    readonly inner: BlockBackend,
    private readonly lock: ImageLock | null,
    discard: boolean,
    private readonly cache: CacheMode,
  ) {
    if (discard && inner.discard !== undefined) this.discard = (p, l) => inner.discard!(p, l);
    // Without discard=unmap a WRITE_ZEROES request may still zero, but not free storage.
    if (inner.writeZeroes !== undefined) this.writeZeroes = (p, l, unmap) => inner.writeZeroes!(p, l, unmap && discard);
  }

  get size(): number {
    return this.inner.size;
  }

  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  /** The image file (virtio-blk records it in machine snapshots). */
  get path(): string | undefined {
    return (this.inner as { path?: string }).path;
  }

  readAt(position: number, dst: Uint8Array, offset: number, length: number): boolean {
    return this.inner.readAt(position, dst, offset, length);
  }

  writeAt(position: number, src: Uint8Array, offset: number, length: number): boolean {
    const ok = this.inner.writeAt(position, src, offset, length);
    return ok && (this.cache !== "writethrough" || this.inner.flush());
  }

  flush(): boolean {
    return this.cache === "unsafe" || this.inner.flush();
  }

  close(): void {
    // Even cache=unsafe makes the image durable on a clean close, as QEMU does.
    this.inner.flush();
    this.inner.close();
    this.lock?.release();
  }
}
