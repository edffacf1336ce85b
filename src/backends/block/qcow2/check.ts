/**
 * Consistency check, as `qemu-img check` does it: walk every table from the
 * header (active and snapshot L1 tables, their L2 tables and data clusters,
 * compressed extents, refcount table and blocks, snapshot table), count the
 * references to each host cluster, and compare with the stored refcounts.
 * Stored > counted is a leak (wasted space); stored < counted is corruption
 * (a cluster could be reused while in use). COPIED flags in the active
 * tables must say "refcount is 1" exactly when it is.
 */
import { decodeCompressed } from "./compressed.ts";
import { COMPRESSED, COPIED, ZERO, entryOffset, hiWord, loWord } from "./entries.ts";
import { ImageError, hex } from "./errors.ts";
import type { Qcow2Image } from "./qcow2-image.ts";
import { adjustRefcounts } from "./snapshots.ts";

export type RepairMode = "none" | "leaks" | "all";

export interface CheckResult {
  corruptions: number;
  leaks: number;
  corruptionsFixed: number;
  leaksFixed: number;
  /** One line per problem found (as qemu-img prints them). */
  messages: string[];
  /** Guest clusters the active table maps to data (normal or compressed). */
  allocatedClusters: number;
  totalClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  /** End of the last cluster anything refers to. */
  imageEndOffset: number;
}

export function checkImage(image: Qcow2Image, repair: RepairMode = "none"): CheckResult {
  const cs = image.clusterSize;
  const h = image.header;
  const fileClusters = Math.ceil(image.file.size / cs);
  const clusters = Math.max(fileClusters, image.refcounts.endCluster);
  // One counter per host cluster, as qemu-img keeps; refuse rather than exhaust memory on a huge sparse file.
  if (clusters > 2 ** 27) throw new ImageError(`${image.path}: too many host clusters (${clusters}) to check`);
  const counted = new Float64Array(clusters);
  const r: CheckResult = {
    corruptions: 0,
    leaks: 0,
    corruptionsFixed: 0,
    leaksFixed: 0,
    messages: [],
    allocatedClusters: 0,
    totalClusters: Math.ceil(h.size / cs),
    fragmentedClusters: 0,
    compressedClusters: 0,
    imageEndOffset: 0,
  };
  const error = (msg: string) => {
    r.corruptions++;
    r.messages.push(`ERROR ${msg}`);
  };
  const reference = (offset: number, bytes: number, what: string) => {
    const end = Math.ceil((offset + bytes) / cs);
    for (let c = Math.floor(offset / cs); c < end; c++) {
      if (c >= counted.length) {
        error(`${what} at ${hex(offset)} is beyond the end of the image file`);
        return;
      }
      counted[c]++;
    }
  };
  const walk = (l1: DataView, l1Size: number, active: boolean) => {
    let lastHost = -1;
    for (let i = 0; i < l1Size; i++) {
      const l2At = entryOffset(hiWord(l1, i), loWord(l1, i), "L1 entry");
      if (l2At === 0) continue;
      if (l2At % cs !== 0 || l2At + cs > image.file.size) {
        error(`L2 table at ${hex(l2At)} is unaligned or outside the file`);
        continue;
      }
      reference(l2At, cs, "L2 table");
      const l2 = image.loadL2(l2At);
      for (let j = 0; j < image.l2Entries; j++) {
        const hi = hiWord(l2, j);
        const lo = loWord(l2, j);
        if (hi & COMPRESSED) {
          const c = decodeCompressed(hi, lo, image.clusterBits);
          reference(c.sectorStart, c.sectors * 512, "compressed cluster");
          if (active) {
            r.allocatedClusters++;
            r.compressedClusters++;
            r.fragmentedClusters++; // as qemu-img counts them: adjacent ones share sectors
          }
          continue;
        }
        const host = entryOffset(hi, lo, "L2 entry");
        if (host === 0) continue;
        if (host % cs !== 0) {
          error(`data cluster offset ${hex(host)} (L2 ${hex(l2At)} entry ${j}) is not cluster-aligned`);
          continue;
        }
        reference(host, cs, "data cluster");
        if (active && !(lo & ZERO && h.version === 3)) {
          r.allocatedClusters++;
          if (lastHost >= 0 && host !== lastHost + cs) r.fragmentedClusters++;
          lastHost = host;
        }
      }
    }
  };

  reference(0, cs, "header");
  reference(h.l1TableOffset, h.l1Size * 8, "L1 table");
  walk(image.l1, h.l1Size, true);
  if (h.nbSnapshots > 0) reference(h.snapshotsOffset, image.snapshotTableBytes, "snapshot table");
  for (const s of image.snapshots) {
    reference(s.l1TableOffset, s.l1Size * 8, `snapshot ${s.id} L1 table`);
    walk(new DataView(image.file.readBytes(s.l1TableOffset, s.l1Size * 8).buffer), s.l1Size, false);
  }
  reference(h.refcountTableOffset, h.refcountTableClusters * cs, "refcount table");
  for (const b of image.refcounts.blockOffsets()) if (b !== 0) reference(b, cs, "refcount block");

  for (let c = 0; c < counted.length; c++) {
    const stored = image.refcounts.get(c);
    const want = counted[c];
    if (want > 0) r.imageEndOffset = (c + 1) * cs;
    if (stored === want) continue;
    const fixable = repair === "all" || (repair === "leaks" && stored > want);
    const what = stored > want ? "Leaked cluster" : "ERROR cluster";
    if (stored > want) r.leaks++;
    else r.corruptions++;
    r.messages.push(`${what} ${c} refcount=${stored} reference=${want}`);
    if (fixable && image.refcounts.covered(c)) {
      image.refcounts.set(c, want);
      if (stored > want) r.leaksFixed++;
      else r.corruptionsFixed++;
    }
  }

  // COPIED flags of the active tables.
  for (let i = 0; i < h.l1Size; i++) {
    const hi = hiWord(image.l1, i);
    const l2At = entryOffset(hi, loWord(image.l1, i), "L1 entry");
    if (l2At === 0 || l2At % cs !== 0 || l2At + cs > image.file.size) continue;
    const want = image.refcounts.get(l2At / cs) === 1;
    if (((hi & COPIED) !== 0) !== want) error(`OFLAG_COPIED L2 cluster: l1_index=${i} l1_entry=${hex(l2At)} refcount=${image.refcounts.get(l2At / cs)}`);
    const l2 = image.loadL2(l2At);
    for (let j = 0; j < image.l2Entries; j++) {
      const ehi = hiWord(l2, j);
      if (ehi & COMPRESSED) continue;
      const host = entryOffset(ehi, loWord(l2, j), "L2 entry");
      if (host === 0 || host % cs !== 0) continue;
      const count = image.refcounts.get(host / cs);
      if (((ehi & COPIED) !== 0) !== (count === 1)) error(`OFLAG_COPIED data cluster: l2_entry=${hex(host)} refcount=${count}`);
    }
  }
  if (repair === "all" && !image.readOnly) adjustRefcounts(image, image.l1, h.l1Size, 0, h.l1TableOffset);
  return r;
}
