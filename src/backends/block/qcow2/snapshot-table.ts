/**
 * The internal snapshot table: a run of variable-length entries, each
 * naming an L1 table copy, an id, a name, times and the saved VM state size.
 */
import { CorruptImageError } from "./errors.ts";
import { readU64, writeU64 } from "./entries.ts";
import type { HostFile } from "./host-file.ts";

export interface SnapshotEntry {
  l1TableOffset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  vmStateSize: number;
  /** Guest disk size when the snapshot was taken (version 3 extra data), or null. */
  diskSize: number | null;
  icount: number | null;
  /** Extra data bytes beyond the ones we understand, preserved on rewrite. */
  extraTail: Uint8Array;
}

const FIXED = 40;
const MAX_EXTRA = 1024;
/** Bound on all snapshot L1 tables together: far above any real image, low enough that walking them cannot hang us. */
const MAX_TOTAL_L1_BYTES = 512 * 2 ** 20;

/** Reads `count` entries at `offset`; returns them and the table's length in bytes. */
export function readSnapshotTable(
  file: HostFile,
  offset: number,
  count: number,
  clusterSize: number,
): { entries: SnapshotEntry[]; bytes: number } {
  const entries: SnapshotEntry[] = [];
  const bad = (why: string) => new CorruptImageError(`${file.path}: snapshot table is corrupt: ${why}`);
  let at = offset;
  let l1Total = 0;
  for (let i = 0; i < count; i++) {
    if (at + FIXED > file.size) throw bad(`entry ${i} lies outside the file`);
    const fixed = file.readBytes(at, FIXED);
    const v = new DataView(fixed.buffer);
    const idSize = v.getUint16(12);
    const nameSize = v.getUint16(14);
    const extraSize = v.getUint32(36);
    if (extraSize > MAX_EXTRA) throw bad(`entry ${i} has ${extraSize} bytes of extra data`);
    const total = FIXED + extraSize + idSize + nameSize;
    if (at + total > file.size) throw bad(`entry ${i} runs past the end of the file`);
    const rest = file.readBytes(at + FIXED, total - FIXED);
    const rv = new DataView(rest.buffer);
    const l1Size = v.getUint32(8);
    const l1TableOffset = readU64(v, 0, "snapshot L1 table offset");
    if (l1TableOffset % clusterSize !== 0 || l1TableOffset + l1Size * 8 > file.size || l1Size * 8 > 32 * 2 ** 20) {
      throw bad(`entry ${i}'s L1 table is unaligned, too large or outside the file`);
    }
    l1Total += l1Size * 8;
    if (l1Total > MAX_TOTAL_L1_BYTES) throw bad("the snapshots' L1 tables add up to more than 512 MiB");
    const dec = new TextDecoder();
    entries.push({
      l1TableOffset,
      l1Size,
      id: dec.decode(rest.subarray(extraSize, extraSize + idSize)),
      name: dec.decode(rest.subarray(extraSize + idSize, extraSize + idSize + nameSize)),
      dateSec: v.getUint32(16),
      dateNsec: v.getUint32(20),
      vmClockNsec: Number(v.getBigUint64(24)),
      vmStateSize: extraSize >= 8 ? readU64(rv, 0, "vm state size") : v.getUint32(32),
      diskSize: extraSize >= 16 ? readU64(rv, 8, "snapshot disk size") : null,
      icount: extraSize >= 24 ? Number(rv.getBigInt64(16)) : null,
      extraTail: rest.slice(Math.min(24, extraSize), extraSize),
    });
    at += Math.ceil(total / 8) * 8;
  }
  return { entries, bytes: at - offset };
}

export function serializeSnapshotTable(entries: readonly SnapshotEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const id = enc.encode(e.id);
    const name = enc.encode(e.name);
    const extraSize = 24 + e.extraTail.length;
    const total = FIXED + extraSize + id.length + name.length;
    const buf = new Uint8Array(Math.ceil(total / 8) * 8);
    const v = new DataView(buf.buffer);
    writeU64(v, 0, e.l1TableOffset);
    v.setUint32(8, e.l1Size);
    v.setUint16(12, id.length);
    v.setUint16(14, name.length);
    v.setUint32(16, e.dateSec);
    v.setUint32(20, e.dateNsec);
    v.setBigUint64(24, BigInt(e.vmClockNsec));
    v.setUint32(32, e.vmStateSize > 0xffff_ffff ? 0 : e.vmStateSize);
    v.setUint32(36, extraSize);
    writeU64(v, FIXED, e.vmStateSize);
    writeU64(v, FIXED + 8, e.diskSize ?? 0);
    v.setBigInt64(FIXED + 16, BigInt(e.icount ?? -1));
    buf.set(e.extraTail, FIXED + 24);
    buf.set(id, FIXED + extraSize);
    buf.set(name, FIXED + extraSize + id.length);
    parts.push(buf);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
