/**
 * Writes a snapshot file (layout in snapshot-format.ts, encoding in
 * snapshot-encode.ts): to a temporary file beside the target, synced, then
 * renamed over it, so a crash or a full disk never leaves a half-written
 * snapshot under the real name.
 */
import * as fs from "node:fs";
import { SnapshotError } from "./snapshot-error.ts";
import { encodeSnapshot, layoutSnapshot, type SnapshotContents } from "./snapshot-encode.ts";

export { ENTRY_STORE, type SnapshotContents } from "./snapshot-encode.ts";

/** Writes `c` to `path`; returns the file's size in bytes and the number of pages stored. */
export function writeSnapshotFile(path: string, c: SnapshotContents): { bytes: number; pages: number } {
  const layout = layoutSnapshot(c);
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, "w");
  } catch (e) {
    throw new SnapshotError(`cannot write snapshot ${path}: ${(e as Error).message}`);
  }
  try {
    encodeSnapshot(c, layout, (bytes, position) => writeAll(fd, bytes, position));
    fs.ftruncateSync(fd, layout.bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
    return { bytes: layout.bytes, pages: layout.slots };
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
