/**
 * A snapshot a browser tab uploaded, made fit to restore on the host: its
 * META is replaced (the host's config, the lease snapshot as its parent, the
 * host's disks — see hostMeta) and the file rewritten with the same id,
 * index and pages. Everything in the upload is checked first (header,
 * section table, checksums, bounds); a bad upload is a SnapshotError and
 * nothing is written.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { crc32 } from "../../vmm/crc32.ts";
import { SnapshotError } from "../../vmm/snapshot-error.ts";
import {
  decodeHeader, decodeSections, encodeHeader, encodeSections, FLAG_DIFF, HEADER_SIZE, PAGE_SIZE, SECTION_INDEX, SECTION_META,
  SECTION_PAGES, sectionTableSize, type Header,
} from "../../vmm/snapshot-format.ts";
import { parseIndex, parseMeta, type SnapshotMeta } from "../../vmm/snapshot-parse.ts";
import { stateToJson } from "../../vmm/state-json.ts";

const COPY_CHUNK = 1 << 20;

/** Reads `upload`, gives its META to `patch`, writes the result to `out` (atomically). */
export function rebaseSnapshot(upload: string, out: string, patch: (meta: SnapshotMeta, header: Header) => SnapshotMeta): void {
  const src = openSync(upload, "r");
  try {
    const size = fstatSync(src).size;
    const header = decodeHeader(readAt(src, 0, Math.min(HEADER_SIZE, size)), "the uploaded snapshot");
    const sections = decodeSections(readAt(src, HEADER_SIZE, sectionTableSize(header.sectionCount)), header.sectionCount, size, "the uploaded snapshot");
    const metaSection = sections.get(SECTION_META)!;
    const indexSection = sections.get(SECTION_INDEX)!;
    const pagesSection = sections.get(SECTION_PAGES)!;
    const name = "the uploaded snapshot";
    const meta = parseMeta(readAt(src, metaSection.offset, metaSection.length), metaSection.crc, name, header);
    const indexBytes = readAt(src, indexSection.offset, indexSection.length);
    parseIndex(indexBytes, indexSection.crc, header, pagesSection.length, name);
    const patched = patch(meta, header);
    // The header's diff flag follows the new META's parent (the file must agree with itself).
    const flags = patched.parent === null ? header.flags & ~FLAG_DIFF : header.flags | FLAG_DIFF;
    const newMeta = new TextEncoder().encode(stateToJson(patched));
    writeRebased(out, { ...header, flags }, newMeta, indexBytes, src, pagesSection.offset, pagesSection.length);
  } finally {
    closeSync(src);
  }
}

function writeRebased(out: string, header: Header, meta: Uint8Array, index: Uint8Array, src: number, pagesFrom: number, pagesLength: number): void {
  const metaOffset = HEADER_SIZE + sectionTableSize(3);
  const indexOffset = metaOffset + meta.length;
  const pagesOffset = Math.ceil((indexOffset + index.length) / PAGE_SIZE) * PAGE_SIZE;
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    const chunk = Buffer.alloc(COPY_CHUNK);
    for (let done = 0; done < pagesLength; ) {
      const n = readSync(src, chunk, 0, Math.min(COPY_CHUNK, pagesLength - done), pagesFrom + done);
      if (n === 0) throw new SnapshotError("the uploaded snapshot is truncated");
      writeAll(fd, chunk.subarray(0, n), pagesOffset + done);
      done += n;
    }
    writeAll(fd, meta, metaOffset);
    writeAll(fd, index, indexOffset);
    writeAll(fd, encodeSections([
      { kind: SECTION_META, crc: crc32(meta), offset: metaOffset, length: meta.length },
      { kind: SECTION_INDEX, crc: crc32(index), offset: indexOffset, length: index.length },
      { kind: SECTION_PAGES, crc: 0, offset: pagesOffset, length: pagesLength },
    ]), HEADER_SIZE);
    writeAll(fd, encodeHeader({ ...header, sectionCount: 3 }), 0);
    ftruncateSync(fd, pagesOffset + pagesLength);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, out);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, bytes, done, length - done, position + done);
    if (n === 0) throw new SnapshotError("the uploaded snapshot is truncated");
    done += n;
  }
  return bytes;
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}
