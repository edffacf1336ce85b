/**
 * A paused tab machine as a snapshot file (the host's format,
 * snapshot-format.ts) in a Blob: full after a boot; after a restore, a
 * diff against the restored snapshot holding only the pages written since
 * (the dirty marks restore started from clean), with META parent
 * {path: "lease", id} as the contract says — the host resolves it by id.
 */
import { toHex } from "../vmm/bytes-text.ts";
import { encodeSnapshot, layoutSnapshot, type SnapshotContents } from "../vmm/snapshot-encode.ts";
import { dirtyEntries, fullEntries } from "../vmm/snapshot-entries.ts";
import type { SnapshotMeta } from "../vmm/snapshot-parse.ts";
import { stateToJson } from "../vmm/state-json.ts";
import type { TabMachine } from "./tab-machine.ts";

export function snapshotBlob(tab: TabMachine): Blob {
  const { machine, parentId } = tab;
  const meta: SnapshotMeta = {
    config: tab.config,
    machine: machine.save(),
    parent: parentId === null ? null : { path: "lease", id: parentId },
  };
  const contents: SnapshotContents = {
    id: toHex(crypto.getRandomValues(new Uint8Array(16))),
    metaJson: stateToJson(meta),
    ram: machine.bus.ram,
    entries: parentId === null ? fullEntries(machine) : dirtyEntries(machine),
    diff: parentId !== null,
  };
  const layout = layoutSnapshot(contents);
  const file = new Uint8Array(layout.bytes);
  encodeSnapshot(contents, layout, (bytes, position) => file.set(bytes, position));
  return new Blob([file], { type: "application/octet-stream" });
}
