/**
 * Whole-machine snapshots: save a paused VirtMachine to one file, restore it
 * into a machine built from the same config with `boot: false`. Restore is
 * lazy: RAM pages come from the file when first touched (ram-pages.ts), so
 * a restored guest runs again at once. A save with `parent` writes only the
 * pages that differ from that snapshot (a diff; restore follows the chain).
 * docs/snapshots.md describes the format and the design.
 */
import { randomBytes } from "node:crypto";
import type { VirtMachine } from "../machine/virt-machine.ts";
import { SnapshotError } from "./snapshot-error.ts";
import { ENTRY_PARENT, ENTRY_ZERO, PAGE_SIZE } from "./snapshot-format.ts";
import { closeSnapshot, openSnapshot, SnapshotPages, type SnapshotFile, type SnapshotMeta } from "./snapshot-reader.ts";
import { ENTRY_STORE, writeSnapshotFile } from "./snapshot-writer.ts";
import { dirtyEntries, fullEntries } from "./snapshot-entries.ts";
import { stateToJson } from "./state-json.ts";
import { isZeroPage } from "./zero-page.ts";

export { SnapshotError } from "./snapshot-error.ts";
export { captureImage, imagePageCount, restoreImage, type MachineImage } from "./fork-image.ts";

export interface SaveOptions {
  /** The VM's config (opaque here): stored, and given back by readSnapshotConfig. */
  config: unknown;
  /** Write a diff against this snapshot file: only pages that differ from it. */
  parent?: string;
}

export interface SnapshotInfo {
  /** File size. */
  bytes: number;
  /** RAM pages stored in the file. */
  ramPages: number;
  /** Time taken, milliseconds. */
  ms: number;
}

/** The snapshot id whose RAM a machine's pages not marked PAGE_DIRTY equal (after save or restore). */
const baselines = new WeakMap<VirtMachine, string>();

/** Saves a paused machine to `path`. Throws SnapshotError (the machine is unchanged). */
export function saveSnapshot(machine: VirtMachine, path: string, opts: SaveOptions): SnapshotInfo {
  const started = performance.now();
  let state;
  try {
    state = machine.save();
  } catch (e) {
    throw new SnapshotError(`cannot save ${path}: ${(e as Error).message}`);
  }
  const id = randomBytes(16).toString("hex");
  let entries: Uint32Array;
  let parent: SnapshotMeta["parent"] = null;
  if (opts.parent !== undefined) {
    const file = openSnapshot(opts.parent);
    try {
      if (file.header.pageCount !== machine.bus.pages.count) {
        throw new SnapshotError(`cannot save a diff against ${opts.parent}: it has a different RAM size`);
      }
      entries = diffEntries(machine, file);
      parent = { path: file.path, id: file.header.id };
    } finally {
      closeSnapshot(file);
    }
  } else {
    entries = fullEntries(machine);
  }
  const meta: SnapshotMeta = { config: opts.config, machine: state, parent };
  const { bytes, pages } = writeSnapshotFile(path, {
    id,
    metaJson: stateToJson(meta),
    ram: machine.bus.ram,
    entries,
    diff: parent !== null,
  });
  machine.cleanPages();
  baselines.set(machine, id);
  return { bytes, ramPages: pages, ms: performance.now() - started };
}

export { openSnapshot, closeSnapshot, type SnapshotFile } from "./snapshot-reader.ts";

/** The config stored in a snapshot (the file and its parents are checked). Throws SnapshotError. */
export function readSnapshotConfig(path: string): unknown {
  const file = openSnapshot(path);
  closeSnapshot(file);
  return file.meta.config;
}

/**
 * Reads every RAM page of a snapshot (and its parents) against its CRC: the
 * check a lazy restore makes page by page, all at once. Throws SnapshotError.
 */
export function verifySnapshot(path: string): void {
  const file = openSnapshot(path);
  try {
    const reader = new SnapshotPages(file);
    const page = new Uint8Array(PAGE_SIZE);
    for (let p = 0; p < file.header.pageCount; p++) reader.read(p, page, 0);
  } finally {
    closeSnapshot(file);
  }
}

/**
 * Makes `machine` (built from the snapshot's config with `boot: false`, not
 * running) the saved machine. Everything is checked first — files, parents,
 * that the machine and its disks match — and a SnapshotError leaves the
 * machine untouched. RAM is not read here: pages load on first touch.
 * `snapshot` is a path, or a file openSnapshot checked already (in another
 * thread, say: its index is shared memory and its descriptors are the
 * process's); the machine then owns it and closes it.
 */
export function restoreSnapshot(snapshot: string | SnapshotFile, machine: VirtMachine): void {
  const file = typeof snapshot === "string" ? openSnapshot(snapshot) : snapshot;
  const path = file.path;
  const why = machine.mismatch(file.meta.machine);
  if (why !== null) {
    closeSnapshot(file);
    throw new SnapshotError(`cannot restore ${path}: ${why}`);
  }
  machine.bus.pages.attach(new SnapshotPages(file)); // every page clean: no write tags survive restore's TLB flush
  try {
    machine.restore(file.meta.machine);
  } catch (e) {
    throw new SnapshotError(`cannot restore ${path}: ${(e as Error).message}`);
  }
  baselines.set(machine, file.header.id);
}

/**
 * Pages that differ from the snapshot `file`. When the machine's RAM was
 * last saved to or restored from that very snapshot, those are the pages
 * marked dirty since; otherwise every page is compared with the file's.
 */
function diffEntries(machine: VirtMachine, file: SnapshotFile): Uint32Array {
  const pages = machine.bus.pages;
  const ram = machine.bus.ram;
  if (baselines.get(machine) === file.header.id) return dirtyEntries(machine);
  const entries = new Uint32Array(pages.count).fill(ENTRY_PARENT);
  const changed = (p: number) => (isZeroPage(ram, p) ? ENTRY_ZERO : ENTRY_STORE);
  pages.ensureAll();
  const reader = new SnapshotPages(file);
  const theirs = new Uint8Array(PAGE_SIZE);
  for (let p = 0; p < pages.count; p++) {
    reader.read(p, theirs, 0);
    const off = p * PAGE_SIZE;
    for (let i = 0; i < PAGE_SIZE; i++) {
      if (ram[off + i] !== theirs[i]) {
        entries[p] = changed(p);
        break;
      }
    }
  }
  return entries;
}
