/**
 * Opens a snapshot file and checks everything that can be checked without
 * reading its RAM pages: header, section table, metadata and page index
 * (checksums, bounds, sizes), and for a diff snapshot the whole parent
 * chain. RAM pages are read later, one at a time, each against its own
 * checksum (SnapshotPages, for a lazy restore).
 */
import * as fs from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { PageSource } from "../machine/ram-pages.ts";
import { crc32 } from "./crc32.ts";
import { SnapshotError } from "./snapshot-error.ts";
import {
  decodeHeader, decodeSections, ENTRY_PARENT, ENTRY_ZERO, HEADER_SIZE, PAGE_SIZE, SECTION_INDEX,
  SECTION_META, SECTION_PAGES, sectionTableSize, type Header,
} from "./snapshot-format.ts";
import { parseIndex, parseMeta, type SnapshotMeta } from "./snapshot-parse.ts";

export type { SnapshotMeta } from "./snapshot-parse.ts";

export interface SnapshotFile {
  path: string;
  header: Header;
  meta: SnapshotMeta;
  /** Per RAM page: a slot in PAGES, ENTRY_ZERO or ENTRY_PARENT. */
  entries: Uint32Array;
  /** CRC-32 of each stored page, by slot. */
  pageCrcs: Uint32Array;
  pagesOffset: number;
  fd: number;
  parent: SnapshotFile | null;
}

/** Longest diff chain followed (a guard against a file naming itself through copies). */
const MAX_CHAIN = 64;

/**
 * Page indexes read and checked before, by path: a VMM restoring one snapshot
 * again and again (copies of a golden image) reads and checks its index
 * (~260 KiB for 256 MiB of RAM) once. An entry serves only the same file,
 * unchanged since: device, inode, size and ctime (every write changes it).
 */
const checkedIndexes = new Map<string, { file: string; entries: Uint32Array; pageCrcs: Uint32Array }>();
const MAX_CHECKED_INDEXES = 16;

/** Opens `path` and, for a diff, its parents; every file is checked. Close with closeSnapshot. */
export function openSnapshot(path: string): SnapshotFile {
  const opened: SnapshotFile[] = [];
  try {
    let file = openOne(path);
    opened.push(file);
    const top = file;
    while (file.meta.parent !== null) {
      if (opened.length >= MAX_CHAIN) throw new SnapshotError(`${path}: the chain of parent snapshots is longer than ${MAX_CHAIN}`);
      const want = file.meta.parent;
      const parent = openOne(findParent(want.path, file.path));
      opened.push(parent);
      if (parent.header.id !== want.id) {
        throw new SnapshotError(
          `${file.path} is a diff against snapshot ${want.id}, but ${parent.path} is snapshot ${parent.header.id} (was it overwritten?)`,
        );
      }
      if (parent.header.pageCount !== file.header.pageCount) {
        throw new SnapshotError(`${parent.path} has a different RAM size than its diff ${file.path}`);
      }
      file.parent = parent;
      file = parent;
    }
    return top;
  } catch (e) {
    for (const f of opened) fs.closeSync(f.fd);
    throw e;
  }
}

export function closeSnapshot(file: SnapshotFile): void {
  for (let f: SnapshotFile | null = file; f !== null; f = f.parent) {
    if (f.fd >= 0) fs.closeSync(f.fd);
    f.fd = -1;
  }
}

/** Reads RAM pages from an open snapshot chain, each checked against its CRC. */
export class SnapshotPages implements PageSource {
  constructor(private readonly file: SnapshotFile) {}

  load(page: number, ram: Uint8Array): boolean {
    return this.read(page, ram, page * PAGE_SIZE);
  }

  /** Writes page `page`'s bytes to `dst[off..]`; returns whether any is non-zero. */
  read(page: number, dst: Uint8Array, off: number): boolean {
    const ram = dst;
    let f = this.file;
    let slot = f.entries[page];
    while (slot === ENTRY_PARENT && f.parent !== null) {
      f = f.parent;
      slot = f.entries[page];
    }
    if (slot === ENTRY_ZERO || slot === ENTRY_PARENT) {
      ram.fill(0, off, off + PAGE_SIZE);
      return false;
    }
    let n: number;
    try {
      n = fs.readSync(f.fd, ram, off, PAGE_SIZE, f.pagesOffset + slot * PAGE_SIZE);
    } catch (e) {
      throw new SnapshotError(`cannot read RAM page ${page} from ${f.path}: ${(e as Error).message}`);
    }
    if (n !== PAGE_SIZE || crc32(ram, off, off + PAGE_SIZE) !== f.pageCrcs[slot]) {
      ram.fill(0, off, off + PAGE_SIZE);
      throw new SnapshotError(`${f.path}: RAM page ${page} is ${n !== PAGE_SIZE ? "truncated" : "corrupt (checksum)"}`);
    }
    return true;
  }

  release(): void {
    closeSnapshot(this.file);
  }
}

/** The parent named `recorded` by the diff at `child`: there, or beside the child (a moved directory). */
function findParent(recorded: string, child: string): string {
  if (fs.existsSync(recorded)) return recorded;
  const beside = join(dirname(child), basename(recorded));
  if (fs.existsSync(beside)) return beside;
  throw new SnapshotError(`${child} is a diff snapshot; its parent ${recorded} is missing`);
}

function openOne(path: string): SnapshotFile {
  const name = path;
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch (e) {
    throw new SnapshotError(`cannot open snapshot ${name}: ${(e as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd, { bigint: true });
    const size = Number(stat.size);
    const header = decodeHeader(readAt(fd, 0, Math.min(size, HEADER_SIZE)), name);
    const tableBytes = readAt(fd, HEADER_SIZE, sectionTableSize(header.sectionCount));
    const sections = decodeSections(tableBytes, header.sectionCount, size, name);
    const metaSection = sections.get(SECTION_META)!;
    const indexSection = sections.get(SECTION_INDEX)!;
    const pagesSection = sections.get(SECTION_PAGES)!;
    const metaBytes = readAt(fd, metaSection.offset, metaSection.length);
    const meta = parseMeta(metaBytes, metaSection.crc, name, header);
    const fullPath = resolve(path);
    const identity = `${stat.dev}:${stat.ino}:${stat.size}:${stat.ctimeNs}`;
    let index = checkedIndexes.get(fullPath);
    if (index?.file !== identity) {
      // Shared memory: a worker restoring the file gets the index without a copy.
      const indexBytes = readAt(fd, indexSection.offset, indexSection.length, true);
      index = { file: identity, ...parseIndex(indexBytes, indexSection.crc, header, pagesSection.length, name) };
    }
    checkedIndexes.delete(fullPath); // most recently used last
    checkedIndexes.set(fullPath, index);
    if (checkedIndexes.size > MAX_CHECKED_INDEXES) checkedIndexes.delete(checkedIndexes.keys().next().value as string);
    return { path: fullPath, header, meta, entries: index.entries, pageCrcs: index.pageCrcs, pagesOffset: pagesSection.offset, fd, parent: null };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

function readAt(fd: number, position: number, length: number, shared = false): Uint8Array {
  const bytes = new Uint8Array(shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, bytes, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return bytes.subarray(0, done);
}
