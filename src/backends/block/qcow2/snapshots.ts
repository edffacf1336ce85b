/**
 * Internal snapshots: create (copy the active L1 table, raise the refcount
 * of everything it reaches), apply (make a snapshot's L1 the active one),
 * delete (drop its references), as QEMU's block/qcow2-snapshot.c does.
 * Refcounts go up before anything new points at clusters and down after
 * nothing does, so a crash in the middle only leaks clusters.
 */
import { COMPRESSED, COPIED, ZERO, entryOffset, hiWord, loWord, setEntry, writeU64 } from "./entries.ts";
import { decodeCompressed } from "./compressed.ts";
import { ImageError } from "./errors.ts";
import { FIELD } from "./header.ts";
import type { Qcow2Image } from "./qcow2-image.ts";
import { serializeSnapshotTable, type SnapshotEntry } from "./snapshot-table.ts";

export function findSnapshot(image: Qcow2Image, idOrName: string): SnapshotEntry | undefined {
  return image.snapshots.find((s) => s.id === idOrName) ?? image.snapshots.find((s) => s.name === idOrName);
}

export function createSnapshot(image: Qcow2Image, name: string, now = new Date()): SnapshotEntry {
  if (image.readOnly) throw new ImageError(`${image.path}: image is open read-only`);
  if (name === "" || findSnapshot(image, name)) throw new ImageError(`${image.path}: a snapshot named "${name}" already exists`);
  const cs = image.clusterSize;
  const h = image.header;
  adjustRefcounts(image, image.l1, h.l1Size, 1, h.l1TableOffset);
  const l1Bytes = h.l1Size * 8;
  const copyAt = l1Bytes > 0 ? image.refcounts.allocate(Math.ceil(l1Bytes / cs)) : 0;
  if (l1Bytes > 0) {
    image.guard.check(copyAt, l1Bytes, "snapshot L1 table");
    image.file.write(copyAt, new Uint8Array(image.l1.buffer, image.l1.byteOffset, l1Bytes));
    image.guard.add(copyAt, l1Bytes);
  }
  const id = String(image.snapshots.reduce((m, s) => Math.max(m, Number(s.id) || 0), 0) + 1);
  const ms = now.getTime();
  const entry: SnapshotEntry = {
    l1TableOffset: copyAt,
    l1Size: h.l1Size,
    id,
    name,
    dateSec: Math.floor(ms / 1000),
    dateNsec: (ms % 1000) * 1e6,
    vmClockNsec: 0,
    vmStateSize: 0,
    diskSize: h.size,
    icount: null,
    extraTail: new Uint8Array(0),
  };
  writeSnapshotTable(image, [...image.snapshots, entry]);
  return entry;
}

export function applySnapshot(image: Qcow2Image, idOrName: string): void {
  if (image.readOnly) throw new ImageError(`${image.path}: image is open read-only`);
  const sn = findSnapshot(image, idOrName);
  if (!sn) throw new ImageError(`${image.path}: no snapshot "${idOrName}"`);
  if (sn.l1Size > image.header.l1Size) image.growL1(sn.l1Size);
  const h = image.header;
  const snL1 = new DataView(image.file.readBytes(sn.l1TableOffset, sn.l1Size * 8).buffer);
  adjustRefcounts(image, snL1, sn.l1Size, 1, sn.l1TableOffset);
  const old = new DataView(image.l1.buffer.slice(0));
  const active = new Uint8Array(h.l1Size * 8);
  active.set(new Uint8Array(snL1.buffer));
  image.file.write(h.l1TableOffset, active);
  image.l1 = new DataView(active.buffer);
  adjustRefcounts(image, old, old.byteLength / 8, -1, null);
  adjustRefcounts(image, image.l1, h.l1Size, 0, h.l1TableOffset);
  if (sn.diskSize !== null && sn.diskSize !== h.size) {
    const field = new Uint8Array(8);
    writeU64(new DataView(field.buffer), 0, sn.diskSize);
    image.file.write(FIELD.size, field);
    h.size = sn.diskSize;
  }
  image.dropCachedTables();
}

export function deleteSnapshot(image: Qcow2Image, idOrName: string): void {
  if (image.readOnly) throw new ImageError(`${image.path}: image is open read-only`);
  const sn = findSnapshot(image, idOrName);
  if (!sn) throw new ImageError(`${image.path}: no snapshot "${idOrName}"`);
  writeSnapshotTable(image, image.snapshots.filter((s) => s !== sn));
  const snL1 = new DataView(image.file.readBytes(sn.l1TableOffset, sn.l1Size * 8).buffer);
  adjustRefcounts(image, snL1, sn.l1Size, -1, null);
  if (sn.l1Size > 0) image.refcounts.free(sn.l1TableOffset, sn.l1Size * 8);
  adjustRefcounts(image, image.l1, image.header.l1Size, 0, image.header.l1TableOffset);
}

/**
 * Adds `addend` to the refcount of every L2 table and data cluster an L1
 * table reaches, then sets the COPIED flags from the new refcounts (addend 0
 * only fixes flags). `l1At` is where to write the L1 table's flags back, or
 * null for a table being discarded.
 */
export function adjustRefcounts(image: Qcow2Image, l1: DataView, l1Size: number, addend: number, l1At: number | null): void {
  const cs = image.clusterSize;
  const rc = image.refcounts;
  for (let i = 0; i < l1Size; i++) {
    const l2At = entryOffset(hiWord(l1, i), loWord(l1, i), "L1 entry");
    if (l2At === 0) continue;
    const l2 = image.loadL2(l2At);
    let changed = false;
    for (let j = 0; j < image.l2Entries; j++) {
      const hi = hiWord(l2, j);
      const lo = loWord(l2, j);
      if (hi & COMPRESSED) {
        if (addend !== 0) {
          const c = decodeCompressed(hi, lo, image.clusterBits);
          const first = Math.floor(c.sectorStart / cs);
          const end = Math.ceil((c.sectorStart + c.sectors * 512) / cs);
          for (let k = first; k < end; k++) rc.add(k, addend);
        }
        continue;
      }
      const host = entryOffset(hi, lo, "L2 entry");
      if (host === 0) continue;
      const count = addend !== 0 ? rc.add(host / cs, addend) : rc.get(host / cs);
      const wantCopied = count === 1;
      if (((hi & COPIED) !== 0) !== wantCopied) {
        setEntry(l2, j, host, (hi & ~COPIED & 0x7f00_0000) | (wantCopied ? COPIED : 0), lo & ZERO);
        changed = true;
      }
    }
    const l2Count = addend !== 0 ? rc.add(l2At / cs, addend) : rc.get(l2At / cs);
    if (changed && l2Count > 0) image.file.write(l2At, new Uint8Array(l2.buffer));
    if (l1At !== null) {
      const wantCopied = l2Count === 1;
      if (((hiWord(l1, i) & COPIED) !== 0) !== wantCopied) {
        setEntry(l1, i, l2At, wantCopied ? COPIED : 0, 0);
        image.file.write(l1At + i * 8, new Uint8Array(l1.buffer, l1.byteOffset + i * 8, 8));
      }
    }
  }
}

/** Writes a new snapshot table, points the header at it, then frees the old one. */
function writeSnapshotTable(image: Qcow2Image, entries: SnapshotEntry[]): void {
  const cs = image.clusterSize;
  const h = image.header;
  const bytes = serializeSnapshotTable(entries);
  let at = 0;
  if (entries.length > 0) {
    at = image.refcounts.allocate(Math.ceil(bytes.length / cs));
    image.guard.check(at, bytes.length, "snapshot table");
    image.file.write(at, bytes);
    image.guard.add(at, bytes.length);
  }
  const field = new Uint8Array(12);
  const v = new DataView(field.buffer);
  v.setUint32(0, entries.length);
  writeU64(v, 4, at);
  image.file.write(FIELD.snapshots, field);
  const oldAt = h.snapshotsOffset;
  const oldBytes = image.snapshotTableBytes;
  const hadTable = h.nbSnapshots > 0;
  h.nbSnapshots = entries.length;
  h.snapshotsOffset = at;
  image.snapshots = entries;
  image.snapshotTableBytes = bytes.length;
  if (hadTable && oldBytes > 0) image.refcounts.free(oldAt, oldBytes);
}
