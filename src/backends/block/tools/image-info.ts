/**
 * `img info`: what an image is, as qemu-img's QAPI ImageInfo (its JSON keys
 * are the ones `qemu-img info --output json` prints, so scripts work with both).
 */
import * as fs from "node:fs";
import { parseFormat, probeFormat, resolveBacking, type ImageFormat } from "../open-image.ts";
import { Qcow2Image } from "../qcow2/qcow2-image.ts";
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY, COMPAT_LAZY_REFCOUNTS } from "../qcow2/header.ts";

export interface SnapshotInfo {
  id: string;
  name: string;
  "vm-state-size": number;
  "date-sec": number;
  "date-nsec": number;
  "vm-clock-sec": number;
  "vm-clock-nsec": number;
  icount?: number;
}

export interface ImageInfo {
  "virtual-size": number;
  filename: string;
  format: ImageFormat;
  "actual-size": number;
  "dirty-flag": boolean;
  "cluster-size"?: number;
  "backing-filename"?: string;
  "full-backing-filename"?: string;
  "backing-filename-format"?: string;
  snapshots?: SnapshotInfo[];
  "format-specific"?: {
    type: "qcow2";
    data: {
      compat: string;
      "compression-type": string;
      "lazy-refcounts": boolean;
      "refcount-bits": number;
      corrupt: boolean;
      "extended-l2": boolean;
    };
  };
}

export function imageInfo(file: string, format?: ImageFormat): ImageInfo {
  const fmt = format ?? probeFormat(file);
  if (fmt === "raw") {
    const st = fs.statSync(file);
    return { "virtual-size": st.size, filename: file, format: "raw", "actual-size": st.blocks * 512, "dirty-flag": false };
  }
  const image = Qcow2Image.open(file, { readOnly: true });
  try {
    const h = image.header;
    const info: ImageInfo = {
      "virtual-size": h.size,
      filename: file,
      format: "qcow2",
      "actual-size": image.file.allocatedBytes(),
      "dirty-flag": (h.incompatible & INCOMPAT_DIRTY) !== 0n,
      "cluster-size": image.clusterSize,
    };
    if (h.backingFile !== null) {
      info["backing-filename"] = h.backingFile;
      info["full-backing-filename"] = resolveBacking(file, h.backingFile);
      if (h.backingFormat !== null) info["backing-filename-format"] = h.backingFormat;
    }
    if (image.snapshots.length > 0) {
      info.snapshots = image.snapshots.map((s) => {
        const snap: SnapshotInfo = {
          id: s.id,
          name: s.name,
          "vm-state-size": s.vmStateSize,
          "date-sec": s.dateSec,
          "date-nsec": s.dateNsec,
          "vm-clock-sec": Math.floor(s.vmClockNsec / 1e9),
          "vm-clock-nsec": s.vmClockNsec % 1e9,
        };
        if (s.icount !== null && s.icount >= 0) snap.icount = s.icount;
        return snap;
      });
    }
    info["format-specific"] = {
      type: "qcow2",
      data: {
        compat: h.version === 3 ? "1.1" : "0.10",
        "compression-type": "zlib",
        "lazy-refcounts": (h.compatible & COMPAT_LAZY_REFCOUNTS) !== 0n,
        "refcount-bits": 2 ** h.refcountOrder,
        corrupt: (h.incompatible & INCOMPAT_CORRUPT) !== 0n,
        "extended-l2": false,
      },
    };
    return info;
  } finally {
    image.close();
  }
}

/** The image and each image below it, top first (loops stop with an error). */
export function backingChainInfo(file: string, format?: ImageFormat): ImageInfo[] {
  const chain: ImageInfo[] = [];
  const seen = new Set<string>();
  let next: { file: string; format?: ImageFormat } | null = { file, format };
  while (next !== null) {
    const real = fs.realpathSync(next.file);
    if (seen.has(real)) throw new Error(`backing chain loop at ${next.file}`);
    seen.add(real);
    const info = imageInfo(next.file, next.format);
    chain.push(info);
    next = info["full-backing-filename"] !== undefined
      ? {
          file: info["full-backing-filename"],
          format: info["backing-filename-format"] !== undefined ? parseFormat(info["backing-filename-format"], info.filename) : undefined,
        }
      : null;
  }
  return chain;
}
