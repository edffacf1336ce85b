/**
 * `img map`: which guest ranges are allocated where, through the whole
 * backing chain, as qemu-img map reports it (same JSON keys; adjacent
 * clusters with the same answer merge into one range).
 */
import type { BlockBackend } from "../block-backend.ts";
import { openImage, qcow2Of, type ImageFormat } from "../open-image.ts";
import type { Qcow2Image } from "../qcow2/qcow2-image.ts";

export interface MapEntry {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset?: number;
  /** File holding the data (human output). */
  filename: string;
}

export function mapImage(file: string, format?: ImageFormat): MapEntry[] {
  const top = openImage(file, { readOnly: true, format });
  try {
    const entries: MapEntry[] = [];
    const layers: Array<{ backend: BlockBackend; qcow2: Qcow2Image | null; file: string }> = [];
    for (let b: BlockBackend | null = top, f = file; b !== null; ) {
      const q = qcow2Of(b);
      layers.push({ backend: b, qcow2: q, file: q?.path ?? f });
      b = q?.backing ?? null;
      f = (b as { path?: string } | null)?.path ?? f;
    }
    const unit = layers[0].qcow2?.clusterSize ?? 65536;
    for (let pos = 0; pos < top.size; pos += unit) {
      const length = Math.min(unit, top.size - pos);
      const e = classify(layers, pos, length);
      const last = entries[entries.length - 1];
      if (last !== undefined && mergeable(last, e)) last.length += e.length;
      else entries.push(e);
    }
    return entries;
  } finally {
    top.close();
  }
}

function classify(
  layers: Array<{ backend: BlockBackend; qcow2: Qcow2Image | null; file: string }>,
  start: number,
  length: number,
): MapEntry {
  for (let depth = 0; depth < layers.length; depth++) {
    const { backend, qcow2, file } = layers[depth];
    if (start >= backend.size) break;
    if (qcow2 === null) {
      return { start, length, depth, present: true, zero: false, data: true, offset: start, filename: file };
    }
    const info = qcow2.clusterInfo(start / qcow2.clusterSize);
    switch (info.kind) {
      case "unallocated":
        continue;
      case "zero":
        return { start, length, depth, present: true, zero: true, data: false, filename: file };
      case "compressed":
        // Compressed data has no host offset a reader could use directly.
        return { start, length, depth, present: true, zero: false, data: true, filename: file };
      case "data":
        return { start, length, depth, present: true, zero: false, data: true, offset: info.host, filename: file };
    }
  }
  return { start, length, depth: layers.length - 1, present: false, zero: true, data: false, filename: layers[0].file };
}

function mergeable(a: MapEntry, b: MapEntry): boolean {
  if (a.depth !== b.depth || a.present !== b.present || a.zero !== b.zero || a.data !== b.data) return false;
  if (a.filename !== b.filename) return false;
  if (a.offset === undefined || b.offset === undefined) return a.offset === b.offset;
  return a.offset + a.length === b.offset;
}
