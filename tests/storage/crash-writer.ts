/**
 * Child process of crash-safety.test.ts: writes a seeded sequence of random
 * blocks to an image, flushing after every GROUP writes and then printing
 * "flushed N" (writes 1..N are durable). Sometimes starts by creating or
 * deleting an internal snapshot, so crashes also hit copy-on-write paths.
 * It is killed with SIGKILL at a random moment.
 *
 *   node --import tsx tests/storage/crash-writer.ts IMAGE SEED
 */
import { openImage, qcow2Of } from "../../src/backends/block/open-image.ts";
import { createSnapshot, deleteSnapshot } from "../../src/backends/block/qcow2/snapshots.ts";
import { crashWrites, GROUP } from "./crash-plan.ts";

const [file, seedText] = process.argv.slice(2);
const seed = Number(seedText);
const disk = openImage(file, { readOnly: false });
const image = qcow2Of(disk)!;
if (seed % 3 === 0) createSnapshot(image, `s${seed}`);
if (seed % 4 === 0 && image.snapshots.length > 2) deleteSnapshot(image, image.snapshots[0].name);
let n = 0;
for (const w of crashWrites(seed, disk.size)) {
  if (!disk.writeAt(w.position, w.data, 0, w.data.length)) throw new Error(image.lastError ?? "write failed");
  n++;
  if (n % GROUP === 0) {
    if (!disk.flush()) throw new Error("flush failed");
    process.stdout.write(`flushed ${n}\n`);
  }
}
process.stdout.write("done\n");
