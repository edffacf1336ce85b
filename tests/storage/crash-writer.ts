/**
 * Child process of crash-safety.test.ts: writes a seeded sequence of random
 * blocks to an image, flushing after every GROUP writes and then printing
 * "flushed N" (writes 1..N are durable). Sometimes starts by creating or
 * deleting an internal snapshot, so crashes also hit copy-on-write paths.
 * Odd seeds use the asynchronous path virtio-blk uses (`submit`): a
 * group's writes are all in flight at once (one waits only for earlier
 * ones it overlaps, as the device orders them), then a FLUSH.
 * It is killed with SIGKILL at a random moment.
 *
 *   node --import tsx tests/storage/crash-writer.ts IMAGE SEED
 */
import { openImage, qcow2Of } from "../../src/backends/block/open-image.ts";
import { createSnapshot, deleteSnapshot } from "../../src/backends/block/qcow2/snapshots.ts";
import type { BlockIo } from "../../src/backends/block/block-io.ts";
import { crashWrites, GROUP } from "./crash-plan.ts";

const [file, seedText] = process.argv.slice(2);
const seed = Number(seedText);
const disk = openImage(file, { readOnly: false });
const image = qcow2Of(disk)!;
if (seed % 3 === 0) createSnapshot(image, `s${seed}`);
if (seed % 4 === 0 && image.snapshots.length > 2) deleteSnapshot(image, image.snapshots[0].name);
let n = 0;
const asyncMode = seed % 2 === 1;
let group: { position: number; end: number; done: Promise<void> }[] = [];

/** Submits one request on the asynchronous path; resolves when it finished (throws if it failed). */
function submit(io: BlockIo): Promise<void> {
  return new Promise((resolve, reject) =>
    image.submit(io, (ok) => (ok ? resolve() : reject(new Error(image.lastError ?? `${io.op} failed`)))),
  );
}

for (const w of crashWrites(seed, disk.size)) {
  if (asyncMode) {
    const end = w.position + w.data.length;
    const earlier = group.filter((g) => g.position < end && w.position < g.end).map((g) => g.done);
    const io: BlockIo = { op: "write", position: w.position, length: w.data.length, buffers: [w.data], unmap: false };
    group.push({ position: w.position, end, done: Promise.all(earlier).then(() => submit(io)) });
  } else if (!disk.writeAt(w.position, w.data, 0, w.data.length)) {
    throw new Error(image.lastError ?? "write failed");
  }
  n++;
  if (n % GROUP === 0) {
    if (asyncMode) {
      await Promise.all(group.map((g) => g.done));
      group = [];
      await submit({ op: "flush", position: 0, length: 0, buffers: [], unmap: false });
    } else if (!disk.flush()) {
      throw new Error("flush failed");
    }
    process.stdout.write(`flushed ${n}\n`);
  }
}
process.stdout.write("done\n");
