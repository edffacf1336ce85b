/** `img create`: a new raw or qcow2 image, optionally on a backing file whose size it inherits. */
import * as fs from "node:fs";
import { openImage, probeFormat, resolveBacking, type ImageFormat } from "../open-image.ts";
import { ImageError } from "../qcow2/errors.ts";
import { createQcow2 } from "../qcow2/create.ts";

export interface CreateImageOptions {
  format: ImageFormat;
  /** Bytes; may be omitted when there is a backing file. */
  size?: number;
  backingFile?: string;
  backingFormat?: ImageFormat;
  clusterSize?: number;
}

/** Creates the image and returns its virtual size. */
export function createImage(file: string, opts: CreateImageOptions): number {
  if (opts.backingFile !== undefined && opts.format !== "qcow2") {
    throw new ImageError(`backing files need format qcow2, not ${opts.format}`);
  }
  let size = opts.size;
  let backingFormat = opts.backingFormat;
  if (opts.backingFile !== undefined) {
    const backingPath = resolveBacking(file, opts.backingFile);
    backingFormat ??= probeFormat(backingPath);
    const backing = openImage(backingPath, { readOnly: true, format: backingFormat });
    size ??= backing.size;
    backing.close();
  }
  if (size === undefined) throw new ImageError("give the image size (or a backing file to take it from)");
  if (opts.format === "raw") {
    try {
      fs.writeFileSync(file, new Uint8Array(0));
      fs.truncateSync(file, size);
    } catch (e) {
      throw new ImageError(`cannot create ${file}: ${(e as Error).message}`);
    }
    return size;
  }
  let clusterBits: number | undefined;
  if (opts.clusterSize !== undefined) {
    clusterBits = Math.log2(opts.clusterSize);
    if (!Number.isInteger(clusterBits)) throw new ImageError(`cluster size ${opts.clusterSize} is not a power of two`);
  }
  createQcow2(file, { size, clusterBits, backingFile: opts.backingFile, backingFormat });
  return size;
}
