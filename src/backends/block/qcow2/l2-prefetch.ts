/**
 * Reads the L2 tables a request will look up on the thread pool before
 * the request is worked out, so that a table missing from the cache does
 * not stop the machine's thread on the disk. A table that may have
 * changed while it was being read is dropped (Qcow2Image.adoptL2); the
 * lookup then reads it itself, which is rare and always correct.
 */
import * as fs from "node:fs";
import { entryOffset, hiWord, loWord } from "./entries.ts";
import type { Qcow2Image } from "./qcow2-image.ts";

/** Calls `done` once the L2 tables mapping [position, position+length) are in memory (at once if they are). */
export function prefetchL2(img: Qcow2Image, position: number, length: number, done: () => void): void {
  if (length <= 0) return done();
  const cs = img.clusterSize;
  const first = Math.floor(Math.floor(position / cs) / img.l2Entries);
  const last = Math.min(Math.floor(Math.floor((position + length - 1) / cs) / img.l2Entries), img.header.l1Size - 1);
  const fd = img.file.descriptor;
  let pending = 1;
  const end = (): void => {
    if (--pending === 0) done();
  };
  for (let i = first; i <= last; i++) {
    let at: number;
    try {
      at = entryOffset(hiWord(img.l1, i), loWord(img.l1, i), "L1 entry");
      if (at === 0 || img.hasL2(at)) continue;
      img.checkL2Offset(at);
    } catch {
      continue; // a corrupt entry: the lookup itself reports it
    }
    pending++;
    const table = new Uint8Array(cs);
    const epoch = img.metaEpoch;
    fs.read(fd, table, 0, cs, at, (err, n) => {
      if (err === null && n === cs) img.adoptL2(at, table, epoch);
      end();
    });
  }
  end();
}
