/**
 * The snapshot file layout (docs/snapshots.md), little-endian:
 *
 *   0     header, 64 bytes: magic "TYPEVSNP", version, flags (DIFF), 16-byte
 *         id, page size, RAM page count, section count; CRC-32 of the rest
 *   64    section table: per section kind, CRC-32, offset, length (24 bytes);
 *         then the table's CRC-32
 *         META   JSON: caller's config, machine state, parent {path, id}
 *         INDEX  stored page count S; one entry per RAM page (a slot in
 *                PAGES, or ZERO, or PARENT: see the parent file); S page CRCs
 *         PAGES  S pages of 4 KiB, 4 KiB-aligned in the file (no section
 *                CRC: each page has its own in INDEX, checked when loaded)
 *
 * Only the encoding lives here; snapshot-reader.ts validates, snapshot-writer.ts writes.
 */
import { fromHex, toHex } from "./bytes-text.ts";
import { crc32 } from "./crc32.ts";
import { SnapshotError } from "./snapshot-error.ts";

export const MAGIC = "TYPEVSNP";
export const VERSION = 1;
export const HEADER_SIZE = 64;
export const PAGE_SIZE = 4096;
export const FLAG_DIFF = 1;
export const SECTION_ENTRY_SIZE = 24;
export const SECTION_META = 1;
export const SECTION_INDEX = 2;
export const SECTION_PAGES = 3;
export const SECTION_KINDS = [SECTION_META, SECTION_INDEX, SECTION_PAGES];
/** INDEX entries that are not slots. */
export const ENTRY_ZERO = 0xffffffff;
export const ENTRY_PARENT = 0xfffffffe;

export interface Header {
  version: number;
  flags: number;
  /** 32 hex digits. */
  id: string;
  pageCount: number;
  sectionCount: number;
}

export interface Section {
  kind: number;
  crc: number;
  offset: number;
  length: number;
}

export function encodeHeader(h: Header): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE);
  const dv = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  dv.setUint32(8, h.version, true);
  dv.setUint32(12, h.flags, true);
  bytes.set(fromHex(h.id).subarray(0, 16), 16);
  dv.setUint32(32, PAGE_SIZE, true);
  dv.setUint32(36, h.pageCount, true);
  dv.setUint32(40, h.sectionCount, true);
  dv.setUint32(60, crc32(bytes, 0, 60), true);
  return bytes;
}

/** Decodes and checks a header; `name` is the file, for messages. */
export function decodeHeader(bytes: Uint8Array, name: string): Header {
  if (bytes.length < HEADER_SIZE) throw new SnapshotError(`${name} is not a Typevisor snapshot (too short: truncated?)`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new SnapshotError(`${name} is not a Typevisor snapshot (wrong magic)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const version = dv.getUint32(8, true);
  if (version !== VERSION) {
    throw new SnapshotError(`${name} is a version ${version} snapshot; this Typevisor reads version ${VERSION}`);
  }
  if (dv.getUint32(60, true) !== crc32(bytes, 0, 60)) throw new SnapshotError(`${name}: the snapshot header is corrupt (checksum)`);
  if (dv.getUint32(32, true) !== PAGE_SIZE) throw new SnapshotError(`${name}: unsupported page size ${dv.getUint32(32, true)}`);
  const sectionCount = dv.getUint32(40, true);
  if (sectionCount > 16) throw new SnapshotError(`${name}: the snapshot header is corrupt (${sectionCount} sections)`);
  return {
    version,
    flags: dv.getUint32(12, true),
    id: toHex(bytes.subarray(16, 32)),
    pageCount: dv.getUint32(36, true),
    sectionCount,
  };
}

export function sectionTableSize(count: number): number {
  return count * SECTION_ENTRY_SIZE + 4;
}

export function encodeSections(sections: Section[]): Uint8Array {
  const bytes = new Uint8Array(sectionTableSize(sections.length));
  const dv = new DataView(bytes.buffer);
  sections.forEach((s, i) => {
    const o = i * SECTION_ENTRY_SIZE;
    dv.setUint32(o, s.kind, true);
    dv.setUint32(o + 4, s.crc, true);
    dv.setBigUint64(o + 8, BigInt(s.offset), true);
    dv.setBigUint64(o + 16, BigInt(s.length), true);
  });
  dv.setUint32(bytes.length - 4, crc32(bytes, 0, bytes.length - 4), true);
  return bytes;
}

/** Decodes the section table and checks every section lies inside a file of `fileSize` bytes. */
export function decodeSections(bytes: Uint8Array, count: number, fileSize: number, name: string): Map<number, Section> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < sectionTableSize(count) || dv.getUint32(bytes.length - 4, true) !== crc32(bytes, 0, bytes.length - 4)) {
    throw new SnapshotError(`${name}: the snapshot's section table is corrupt (checksum)`);
  }
  const sections = new Map<number, Section>();
  for (let i = 0; i < count; i++) {
    const o = i * SECTION_ENTRY_SIZE;
    const s: Section = {
      kind: dv.getUint32(o, true),
      crc: dv.getUint32(o + 4, true),
      offset: Number(dv.getBigUint64(o + 8, true)),
      length: Number(dv.getBigUint64(o + 16, true)),
    };
    if (s.offset + s.length > fileSize) {
      throw new SnapshotError(`${name} is truncated: it has ${fileSize} bytes, its sections need ${s.offset + s.length}`);
    }
    sections.set(s.kind, s);
  }
  for (const kind of SECTION_KINDS) {
    if (!sections.has(kind)) throw new SnapshotError(`${name}: the snapshot lacks section ${kind}`);
  }
  return sections;
}
