/**
 * Opens a snapshot file and checks everything that can be checked without
 * reading its RAM pages: header, section table, metadata and page index
 * (checksums, bounds, sizes), and for a diff snapshot the whole parent
 * chain. RAM pages are read later, one at a time, each against its own
 * checksum (SnapshotPages, for a lazy restore).
 */
import * as fs from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { MachineState } from "../machine/virt-machine.ts";
import type { PageSource } from "../machine/ram-pages.ts";
import { crc32 } from "./crc32.ts";
import { SnapshotError } from "./snapshot-error.ts";
import {
  decodeHeader, decodeSections, ENTRY_PARENT, ENTRY_ZERO, FLAG_DIFF, HEADER_SIZE, PAGE_SIZE, SECTION_INDEX,
  SECTION_META, SECTION_PAGES, sectionTableSize, type Header,
} from "./snapshot-format.ts";
import { stateFromJson } from "./state-json.ts";

/** The META section. */
export interface SnapshotMeta {
  config: unknown;
  machine: MachineState;
  /** For a diff snapshot: the file it was taken against and that file's id. */
  parent: { path: string; id: string } | null;
}

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
    if (header.sectionCount > 16) throw new SnapshotError(`${name}: the snapshot header is corrupt (${header.sectionCount} sections)`);
    const tableBytes = readAt(fd, HEADER_SIZE, sectionTableSize(header.sectionCount));
    const sections = decodeSections(tableBytes, header.sectionCount, size, name);
    const metaSection = sections.get(SECTION_META)!;
    const indexSection = sections.get(SECTION_INDEX)!;
    const pagesSection = sections.get(SECTION_PAGES)!;
    const metaBytes = readAt(fd, metaSection.offset, metaSection.length);
    if (crc32(metaBytes) !== metaSection.crc) throw new SnapshotError(`${name}: the snapshot's metadata is corrupt (checksum)`);
    const meta = parseMeta(metaBytes, name, header);
    const fullPath = resolve(path);
    const identity = `${stat.dev}:${stat.ino}:${stat.size}:${stat.ctimeNs}`;
    let index = checkedIndexes.get(fullPath);
    if (index?.file !== identity) {
      // Shared memory: a worker restoring the file gets the index without a copy.
      const indexBytes = readAt(fd, indexSection.offset, indexSection.length, true);
      if (crc32(indexBytes) !== indexSection.crc) throw new SnapshotError(`${name}: the snapshot's page index is corrupt (checksum)`);
      index = { file: identity, ...parseIndex(indexBytes, header, pagesSection.length, name) };
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

function parseMeta(bytes: Uint8Array, name: string, header: Header): SnapshotMeta {
  let meta: SnapshotMeta;
  try {
    meta = stateFromJson(new TextDecoder().decode(bytes)) as SnapshotMeta;
  } catch {
    throw new SnapshotError(`${name}: the snapshot's metadata is not valid JSON`);
  }
  const m = meta as Partial<SnapshotMeta> | null;
  if (m === null || typeof m !== "object" || !("config" in m) || typeof m.machine !== "object" || m.machine === null) {
    throw new SnapshotError(`${name}: the snapshot's metadata lacks the config or the machine state`);
  }
  if (m.machine.ramSize !== header.pageCount * PAGE_SIZE) {
    throw new SnapshotError(`${name}: the machine state's RAM size does not match the page index`);
  }
  const diff = (header.flags & FLAG_DIFF) !== 0;
  const p = m.parent;
  if (diff !== (p !== null && p !== undefined)) throw new SnapshotError(`${name}: the snapshot's diff flag and parent disagree`);
  if (diff && (typeof p?.path !== "string" || typeof p.id !== "string")) {
    throw new SnapshotError(`${name}: the snapshot's parent is malformed`);
  }
  meta.parent ??= null;
  return meta;
}

function parseIndex(bytes: Uint8Array, header: Header, pagesLength: number, name: string) {
  const bad = (why: string) => new SnapshotError(`${name}: the snapshot's page index is malformed (${why})`);
  if (bytes.length < 4) throw bad("too short");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = dv.getUint32(0, true);
  if (bytes.length !== 4 + 4 * header.pageCount + 4 * slots) throw bad("wrong length");
  if (pagesLength !== slots * PAGE_SIZE) throw bad(`${slots} pages indexed, ${pagesLength / PAGE_SIZE} stored`);
  // `bytes` starts its own buffer (readAt), so it is word-aligned: word 0 is the slot count.
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  const entries = words.subarray(1, 1 + header.pageCount);
  const pageCrcs = words.subarray(1 + header.pageCount);
  const diff = (header.flags & FLAG_DIFF) !== 0;
  for (let p = 0; p < entries.length; p++) {
    const e = entries[p];
    if (e === ENTRY_ZERO || (e === ENTRY_PARENT && diff)) continue;
    if (e >= slots) throw bad(`page ${p} points at slot ${e} of ${slots}`);
  }
  return { entries, pageCrcs };
}
