/**
 * Creating an empty qcow2 (version 3) image: header, one refcount table,
 * the refcount blocks and the L1 table, laid out from cluster 0 in that
 * order, each cluster with refcount 1 — the layout qemu-img uses.
 */
import * as fs from "node:fs";
import { ImageError } from "./errors.ts";
import { writeU64 } from "./entries.ts";
import { MAX_CLUSTER_BITS, MAX_VIRTUAL_SIZE, MIN_CLUSTER_BITS, serializeHeader, type Qcow2Header } from "./header.ts";
import { setRefcount } from "./refcount-entries.ts";

export interface CreateQcow2Options {
  size: number;
  /** log2 of the cluster size (default 16: 64 KiB). */
  clusterBits?: number;
  backingFile?: string;
  backingFormat?: string;
  /** log2 of the refcount width in bits (default 4: 16-bit refcounts). */
  refcountOrder?: number;
}

export function createQcow2(path: string, opts: CreateQcow2Options): void {
  const clusterBits = opts.clusterBits ?? 16;
  const refcountOrder = opts.refcountOrder ?? 4;
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new ImageError(`cluster size must be a power of two between 512 bytes and 2 MiB`);
  }
  if (refcountOrder < 0 || refcountOrder > 6) throw new ImageError("refcount width must be 1, 2, 4, ..., 64 bits");
  if (!Number.isSafeInteger(opts.size) || opts.size < 0 || opts.size > MAX_VIRTUAL_SIZE) {
    throw new ImageError(`image size ${opts.size} is outside 0..${MAX_VIRTUAL_SIZE} bytes`);
  }
  const cs = 2 ** clusterBits;
  const l1Size = Math.ceil(opts.size / (cs * (cs / 8)));
  if (l1Size * 8 > 32 * 2 ** 20) throw new ImageError(`image size ${opts.size} needs an L1 table over 32 MiB; use larger clusters`);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const perBlock = (cs * 8) / 2 ** refcountOrder;
  let blocks = 1;
  let tableClusters = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const b = Math.ceil(total / perBlock);
    const t = Math.ceil((b * 8) / cs);
    if (b === blocks && t === tableClusters) break;
    blocks = b;
    tableClusters = t;
  }
  const total = 1 + tableClusters + blocks + l1Clusters;
  const image = new Uint8Array(total * cs);
  const tableAt = cs;
  const blocksAt = tableAt + tableClusters * cs;
  const l1At = blocksAt + blocks * cs;
  const header: Qcow2Header = {
    version: 3,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits,
    size: opts.size,
    cryptMethod: 0,
    l1Size,
    l1TableOffset: l1At,
    refcountTableOffset: tableAt,
    refcountTableClusters: tableClusters,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder,
    headerLength: 112,
    compressionType: 0,
    backingFile: opts.backingFile ?? null,
    backingFormat: opts.backingFile !== undefined ? (opts.backingFormat ?? null) : null,
    extensions: [],
  };
  image.set(serializeHeader(header), 0);
  const tv = new DataView(image.buffer, tableAt, tableClusters * cs);
  for (let b = 0; b < blocks; b++) writeU64(tv, b * 8, blocksAt + b * cs);
  for (let c = 0; c < total; c++) {
    const b = Math.floor(c / perBlock);
    setRefcount(image.subarray(blocksAt + b * cs, blocksAt + (b + 1) * cs), c % perBlock, 2 ** refcountOrder, 1);
  }
  try {
    fs.writeFileSync(path, image, { flag: "w" });
  } catch (e) {
    throw new ImageError(`cannot create ${path}: ${(e as Error).message}`);
  }
}
