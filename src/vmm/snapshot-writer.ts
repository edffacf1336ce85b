/**
 * Writes a snapshot file (layout in snapshot-format.ts): to a temporary file
 * beside the target, synced, then renamed over it, so a crash or a full disk
 * never leaves a half-written snapshot under the real name.
 */
import * as fs from "node:fs";
import { crc32 } from "./crc32.ts";
import { SnapshotError } from "./snapshot-error.ts";
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

/** Pages copied per write call. */
const CHUNK_PAGES = 256;

/** Writes `c` to `path`; returns the file's size in bytes and the number of pages stored. */
export function writeSnapshotFile(path: string, c: SnapshotContents): { bytes: number; pages: number } {
  const pageCount = c.entries.length;
  const entries = c.entries.slice();
  let slots = 0;
  for (let p = 0; p < pageCount; p++) if (entries[p] === ENTRY_STORE) entries[p] = slots++;
  const metaBytes = new TextEncoder().encode(c.metaJson);
  const tableSize = sectionTableSize(3);
  const metaOffset = HEADER_SIZE + tableSize;
  const indexOffset = metaOffset + metaBytes.length;
  const indexLength = 4 + 4 * pageCount + 4 * slots;
  const pagesOffset = Math.ceil((indexOffset + indexLength) / PAGE_SIZE) * PAGE_SIZE;
  const pagesLength = slots * PAGE_SIZE;

  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, "w");
  } catch (e) {
    throw new SnapshotError(`cannot write snapshot ${path}: ${(e as Error).message}`);
  }
  try {
    // Pages first: their CRCs go into the index.
    const index = new Uint32Array(1 + pageCount + slots);
    index[0] = slots;
    index.set(entries, 1);
    const chunk = new Uint8Array(CHUNK_PAGES * PAGE_SIZE);
    let inChunk = 0;
    let written = 0;
    const flush = () => {
      writeAll(fd, chunk.subarray(0, inChunk * PAGE_SIZE), pagesOffset + written * PAGE_SIZE);
      written += inChunk;
      inChunk = 0;
    };
    for (let p = 0; p < pageCount; p++) {
      const slot = entries[p];
      if (slot === ENTRY_ZERO || slot === ENTRY_PARENT) continue;
      const off = p * PAGE_SIZE;
      chunk.set(c.ram.subarray(off, off + PAGE_SIZE), inChunk * PAGE_SIZE);
      index[1 + pageCount + slot] = crc32(chunk, inChunk * PAGE_SIZE, (inChunk + 1) * PAGE_SIZE);
      if (++inChunk === CHUNK_PAGES) flush();
    }
    if (inChunk > 0) flush();
    const indexBytes = new Uint8Array(index.buffer);
    const sections = encodeSections([
      { kind: SECTION_META, crc: crc32(metaBytes), offset: metaOffset, length: metaBytes.length },
      { kind: SECTION_INDEX, crc: crc32(indexBytes), offset: indexOffset, length: indexLength },
      { kind: SECTION_PAGES, crc: 0, offset: pagesOffset, length: pagesLength },
    ]);
    const header = encodeHeader({ version: VERSION, flags: c.diff ? FLAG_DIFF : 0, id: c.id, pageCount, sectionCount: 3 });
    writeAll(fd, metaBytes, metaOffset);
    writeAll(fd, indexBytes, indexOffset);
    writeAll(fd, sections, HEADER_SIZE);
    writeAll(fd, header, 0);
    fs.ftruncateSync(fd, pagesOffset + pagesLength);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
    return { bytes: pagesOffset + pagesLength, pages: slots };
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(`cannot write snapshot ${path}: ${(e as Error).message}`);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}
