/**
 * Parsing a snapshot's META and INDEX sections once their bytes are read
 * (checksums checked): shared by the file reader (snapshot-reader.ts) and
 * the browser's Range reader (src/browser/snapshot-range.ts).
 */
import type { MachineState } from "../machine/virt-machine.ts";
import { crc32 } from "./crc32.ts";
import { SnapshotError } from "./snapshot-error.ts";
import { ENTRY_PARENT, ENTRY_ZERO, FLAG_DIFF, PAGE_SIZE, type Header } from "./snapshot-format.ts";
import { stateFromJson } from "./state-json.ts";

/** The META section. */
export interface SnapshotMeta {
  config: unknown;
  machine: MachineState;
  /** For a diff snapshot: the file it was taken against and that file's id. */
  parent: { path: string; id: string } | null;
}

/** The META section's bytes, checked against its section CRC, parsed and checked against the header. */
export function parseMeta(bytes: Uint8Array, crc: number, name: string, header: Header): SnapshotMeta {
  if (crc32(bytes) !== crc) throw new SnapshotError(`${name}: the snapshot's metadata is corrupt (checksum)`);
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

/** The INDEX section's bytes (in a buffer of their own), checked against its section CRC; entries and page CRCs. */
export function parseIndex(bytes: Uint8Array, crc: number, header: Header, pagesLength: number, name: string) {
  if (crc32(bytes) !== crc) throw new SnapshotError(`${name}: the snapshot's page index is corrupt (checksum)`);
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
