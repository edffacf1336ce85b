/**
 * A snapshot restored lazily from a URL: its header, section table, META
 * and INDEX are fetched and checked up front (as snapshot-reader.ts does
 * for a file); RAM pages come by Range when the guest first touches them.
 *
 * The machine's page loader is synchronous, so a page the guest waits for
 * is fetched with synchronous XMLHttpRequest, together with the rest of
 * its chunk (CHUNK_SLOTS stored pages, adjacent in the file and mostly in
 * RAM). Meanwhile `stream` fetches the other chunks in the background and
 * installs their pages between run-loop slices, so the snapshot is soon
 * not needed at all. Only full snapshots: a diff's parent is on the host.
 */
import { PAGE_PRESENT, type PageSource, type RamPages } from "../machine/ram-pages.ts";
import { crc32 } from "../vmm/crc32.ts";
import { SnapshotError } from "../vmm/snapshot-error.ts";
import {
  decodeHeader, decodeSections, ENTRY_PARENT, ENTRY_ZERO, FLAG_DIFF, HEADER_SIZE, PAGE_SIZE, SECTION_INDEX, SECTION_META,
  SECTION_PAGES, sectionTableSize, type Header,
} from "../vmm/snapshot-format.ts";
import { parseIndex, parseMeta, type SnapshotMeta } from "../vmm/snapshot-parse.ts";
import { fetchRange, fetchRangeSync, type Headers } from "../backends/web-http.ts";

/** Stored pages per Range request: 64 KiB. */
export const CHUNK_SLOTS = 16;
/** Chunks per background request: 1 MiB. */
const STREAM_SPAN = 16;
/** Pause between background requests, so the guest and the page keep the worker's time. */
const STREAM_GAP_MS = 2;

export interface RangeSnapshot {
  url: string;
  header: Header;
  meta: SnapshotMeta;
  entries: Uint32Array;
  pageCrcs: Uint32Array;
  pagesOffset: number;
  headers: Headers;
}

async function get(url: string, start: number, end: number, headers: Headers): Promise<Uint8Array> {
  try {
    return await fetchRange(url, start, end, headers);
  } catch (e) {
    throw new SnapshotError(`cannot read snapshot ${url}: ${(e as Error).message}`);
  }
}

/** Fetches and checks everything but the RAM pages. Throws SnapshotError. */
export async function openRangeSnapshot(url: string, size: number, headers: Headers): Promise<RangeSnapshot> {
  if (!Number.isSafeInteger(size) || size < HEADER_SIZE) throw new SnapshotError(`${url} is not a Typevisor snapshot (${size} bytes: truncated?)`);
  const head = await get(url, 0, Math.min(size, PAGE_SIZE), headers);
  const header = decodeHeader(head.subarray(0, HEADER_SIZE), url);
  if ((header.flags & FLAG_DIFF) !== 0) throw new SnapshotError(`${url} is a diff snapshot; a tab restores only full snapshots`);
  const tableEnd = HEADER_SIZE + sectionTableSize(header.sectionCount);
  const table = tableEnd <= head.length ? head.subarray(HEADER_SIZE, tableEnd) : await get(url, HEADER_SIZE, tableEnd, headers);
  const sections = decodeSections(table.slice(), header.sectionCount, size, url);
  const metaSection = sections.get(SECTION_META)!;
  const indexSection = sections.get(SECTION_INDEX)!;
  const pagesSection = sections.get(SECTION_PAGES)!;
  const metaBytes = await get(url, metaSection.offset, metaSection.offset + metaSection.length, headers);
  const meta = parseMeta(metaBytes, metaSection.crc, url, header);
  const indexBytes = (await get(url, indexSection.offset, indexSection.offset + indexSection.length, headers)).slice();
  const { entries, pageCrcs } = parseIndex(indexBytes, indexSection.crc, header, pagesSection.length, url);
  return { url, header, meta, entries, pageCrcs, pagesOffset: pagesSection.offset, headers };
}

/** RAM pages of a RangeSnapshot, by chunk: on demand (synchronous) and in the background. */
export class RangePageSource implements PageSource {
  /** Pages brought in because the guest touched them (with their chunks), and by the background stream. */
  readonly counts = { demandPages: 0, streamedPages: 0, requests: 0 };
  private readonly slotPage: Uint32Array;
  private readonly chunkCount: number;
  /** Fetched chunks whose pages are not all in RAM yet. */
  private readonly chunks = new Map<number, Uint8Array>();
  private released = false;

  constructor(private readonly snap: RangeSnapshot) {
    const slots = snap.pageCrcs.length;
    this.slotPage = new Uint32Array(slots);
    snap.entries.forEach((slot, page) => {
      if (slot !== ENTRY_ZERO && slot !== ENTRY_PARENT) this.slotPage[slot] = page;
    });
    this.chunkCount = Math.ceil(slots / CHUNK_SLOTS);
  }

  load(page: number, ram: Uint8Array): boolean {
    const slot = this.snap.entries[page];
    const off = page * PAGE_SIZE;
    if (slot === ENTRY_ZERO || slot === ENTRY_PARENT) {
      ram.fill(0, off, off + PAGE_SIZE);
      return false;
    }
    const c = Math.floor(slot / CHUNK_SLOTS);
    let chunk = this.chunks.get(c);
    if (chunk === undefined) {
      chunk = this.fetchChunk(c);
      this.counts.demandPages += chunk.length / PAGE_SIZE;
    }
    const at = (slot - c * CHUNK_SLOTS) * PAGE_SIZE;
    ram.set(chunk.subarray(at, at + PAGE_SIZE), off);
    if (crc32(ram, off, off + PAGE_SIZE) !== this.snap.pageCrcs[slot]) {
      ram.fill(0, off, off + PAGE_SIZE);
      throw new SnapshotError(`${this.snap.url}: RAM page ${page} is corrupt (checksum)`);
    }
    return true;
  }

  release(): void {
    this.released = true;
    this.chunks.clear();
  }

  /**
   * Fetches every chunk not fetched yet, STREAM_SPAN chunks per request,
   * and puts their pages into `pages` between slices, until all are in or
   * the source is released. A failure is left for the guest's own touch
   * to report.
   */
  async stream(pages: RamPages): Promise<void> {
    for (let c = 0; c < this.chunkCount && !this.released; c += STREAM_SPAN) {
      const last = Math.min(c + STREAM_SPAN, this.chunkCount) - 1;
      let todo = false;
      for (let k = c; k <= last && !todo; k++) todo = !this.chunks.has(k) && !this.chunkLoaded(k, pages);
      if (todo) {
        try {
          await this.fetchSpan(c, last);
        } catch {
          return;
        }
      }
      for (let k = c; k <= last && !this.released; k++) {
        if (!this.chunks.has(k)) continue;
        const end = Math.min((k + 1) * CHUNK_SLOTS, this.slotPage.length);
        for (let s = k * CHUNK_SLOTS; s < end; s++) {
          const page = this.slotPage[s];
          try {
            pages.ensure(page, page);
          } catch {
            return; // a corrupt page: the run loop reports pages.failure
          }
        }
        this.chunks.delete(k);
      }
      await new Promise((resolve) => setTimeout(resolve, STREAM_GAP_MS));
    }
  }

  /** Fetches chunks first..last in one request; keeps those not fetched meanwhile. */
  private async fetchSpan(first: number, last: number): Promise<void> {
    const slots = this.snap.pageCrcs.length;
    const start = this.snap.pagesOffset + first * CHUNK_SLOTS * PAGE_SIZE;
    const end = this.snap.pagesOffset + Math.min((last + 1) * CHUNK_SLOTS, slots) * PAGE_SIZE;
    this.counts.requests++;
    const bytes = await fetchRange(this.snap.url, start, end, this.snap.headers);
    if (this.released) return;
    for (let k = first; k <= last; k++) {
      if (this.chunks.has(k)) continue;
      const from = (k - first) * CHUNK_SLOTS * PAGE_SIZE;
      const chunk = bytes.subarray(from, Math.min(from + CHUNK_SLOTS * PAGE_SIZE, bytes.length));
      this.chunks.set(k, chunk);
      this.counts.streamedPages += chunk.length / PAGE_SIZE;
    }
  }

  private chunkLoaded(c: number, pages: RamPages): boolean {
    const end = Math.min((c + 1) * CHUNK_SLOTS, this.slotPage.length);
    for (let s = c * CHUNK_SLOTS; s < end; s++) if ((pages.flags[this.slotPage[s]] & PAGE_PRESENT) === 0) return false;
    return true;
  }

  /** Chunk `c`, fetched while the guest waits. */
  private fetchChunk(c: number): Uint8Array {
    const slots = this.snap.pageCrcs.length;
    const start = this.snap.pagesOffset + c * CHUNK_SLOTS * PAGE_SIZE;
    const end = this.snap.pagesOffset + Math.min((c + 1) * CHUNK_SLOTS, slots) * PAGE_SIZE;
    this.counts.requests++;
    let chunk: Uint8Array;
    try {
      chunk = fetchRangeSync(this.snap.url, start, end, this.snap.headers);
    } catch (e) {
      throw new SnapshotError(`cannot load RAM pages: ${(e as Error).message}`);
    }
    this.chunks.set(c, chunk);
    return chunk;
  }
}
