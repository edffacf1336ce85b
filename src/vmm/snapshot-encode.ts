/**
 * Lays out and encodes a snapshot (format in snapshot-format.ts) through a
 * positioned `write` callback: the file writer (snapshot-writer.ts) writes
 * to a file, a browser tab (src/browser/snapshot-blob.ts) into one buffer.
 */
import { crc32 } from "./crc32.ts";
import {
  encodeHeader, encodeSections, ENTRY_PARENT, ENTRY_ZERO, FLAG_DIFF, HEADER_SIZE, PAGE_SIZE, SECTION_INDEX,
  SECTION_META, SECTION_PAGES, sectionTableSize, VERSION,
} from "./snapshot-format.ts";

/** Marks a page whose bytes go into the file (the writer gives it a slot). */
export const ENTRY_STORE = 0;

export interface SnapshotContents {
  id: string;
  /** The META section's JSON text. */
  metaJson: string;
  /** Guest RAM (all of it present). */
  ram: Uint8Array;
  /** Per RAM page: ENTRY_STORE, ENTRY_ZERO or (diff only) ENTRY_PARENT. */
  entries: Uint32Array;
  diff: boolean;
}

/** Where each part goes and how big the file is. */
export interface SnapshotLayout {
  /** Per RAM page: its slot in PAGES, ENTRY_ZERO or ENTRY_PARENT. */
  slotted: Uint32Array;
  slots: number;
  metaBytes: Uint8Array;
  metaOffset: number;
  indexOffset: number;
  indexLength: number;
  pagesOffset: number;
  /** File size in bytes. */
  bytes: number;
}

/** Pages copied per write call. */
const CHUNK_PAGES = 256;

export function layoutSnapshot(c: SnapshotContents): SnapshotLayout {
  const pageCount = c.entries.length;
  const slotted = c.entries.slice();
  let slots = 0;
  for (let p = 0; p < pageCount; p++) if (slotted[p] === ENTRY_STORE) slotted[p] = slots++;
  const metaBytes = new TextEncoder().encode(c.metaJson);
  const metaOffset = HEADER_SIZE + sectionTableSize(3);
  const indexOffset = metaOffset + metaBytes.length;
  const indexLength = 4 + 4 * pageCount + 4 * slots;
  const pagesOffset = Math.ceil((indexOffset + indexLength) / PAGE_SIZE) * PAGE_SIZE;
  return { slotted, slots, metaBytes, metaOffset, indexOffset, indexLength, pagesOffset, bytes: pagesOffset + slots * PAGE_SIZE };
}

/** Writes every part of the file (pages first: their CRCs go into the index; the header last). */
export function encodeSnapshot(c: SnapshotContents, l: SnapshotLayout, write: (bytes: Uint8Array, position: number) => void): void {
  const pageCount = l.slotted.length;
  const index = new Uint32Array(1 + pageCount + l.slots);
  index[0] = l.slots;
  index.set(l.slotted, 1);
  const chunk = new Uint8Array(CHUNK_PAGES * PAGE_SIZE);
  let inChunk = 0;
  let written = 0;
  const flush = () => {
    write(chunk.subarray(0, inChunk * PAGE_SIZE), l.pagesOffset + written * PAGE_SIZE);
    written += inChunk;
    inChunk = 0;
  };
  for (let p = 0; p < pageCount; p++) {
    const slot = l.slotted[p];
    if (slot === ENTRY_ZERO || slot === ENTRY_PARENT) continue;
    const off = p * PAGE_SIZE;
    chunk.set(c.ram.subarray(off, off + PAGE_SIZE), inChunk * PAGE_SIZE);
    index[1 + pageCount + slot] = crc32(chunk, inChunk * PAGE_SIZE, (inChunk + 1) * PAGE_SIZE);
    if (++inChunk === CHUNK_PAGES) flush();
  }
  if (inChunk > 0) flush();
  const indexBytes = new Uint8Array(index.buffer);
  const sections = encodeSections([
    { kind: SECTION_META, crc: crc32(l.metaBytes), offset: l.metaOffset, length: l.metaBytes.length },
    { kind: SECTION_INDEX, crc: crc32(indexBytes), offset: l.indexOffset, length: l.indexLength },
    { kind: SECTION_PAGES, crc: 0, offset: l.pagesOffset, length: l.slots * PAGE_SIZE },
  ]);
  write(l.metaBytes, l.metaOffset);
  write(indexBytes, l.indexOffset);
  write(sections, HEADER_SIZE);
  write(encodeHeader({ version: VERSION, flags: c.diff ? FLAG_DIFF : 0, id: c.id, pageCount, sectionCount: 3 }), 0);
}
