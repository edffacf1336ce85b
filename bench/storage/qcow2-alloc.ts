/**
 * qcow2 allocating writes without a guest: random 4 KiB writes, each to a
 * cluster not yet allocated (64 KiB clusters, empty image, no backing
 * file), at queue depth 1 and 8. "sync" is Qcow2Image.writeAt, what such a
 * write cost the machine's thread before it went asynchronous; "async" is
 * `submit` (metadata-lane.ts). Prints requests per second and the
 * machine's thread time inside each call (sync: the whole write; async:
 * submit until it returns, which includes working the change out).
 *
 *   node --import tsx bench/storage/qcow2-alloc.ts [--ms 1500]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { openImage, qcow2Of } from "../../src/backends/block/open-image.ts";
import { createQcow2 } from "../../src/backends/block/qcow2/create.ts";
import { printTable } from "../stats.ts";

const { values } = parseArgs({ options: { ms: { type: "string", default: "1500" } } });
const budgetMs = Number(values.ms);
const SIZE = 8 * 2 ** 30;
const CLUSTER = 65536;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typevisor-qcow2-alloc-"));

async function run(mode: "sync" | "async", depth: number): Promise<{ iops: number; threadUs: number }> {
  const file = path.join(dir, `${mode}-${depth}.qcow2`);
  createQcow2(file, { size: SIZE });
  const backend = openImage(file, { readOnly: false });
  const img = qcow2Of(backend)!;
  const data = new Uint8Array(4096).fill(0x5a);
  let next = 0;
  // Clusters in a scattered order, each written once (so every write allocates).
  const position = () => ((next++ * 7919) % (SIZE / CLUSTER)) * CLUSTER + 8192;
  let done = 0;
  let threadMs = 0;
  const start = performance.now();
  if (mode === "sync") {
    while (performance.now() - start < budgetMs) {
      const t = performance.now();
      if (!img.writeAt(position(), data, 0, data.length)) throw new Error(img.lastError ?? "write failed");
      threadMs += performance.now() - t;
      done++;
    }
  } else {
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      const issue = (): void => {
        while (inFlight < depth && performance.now() - start < budgetMs) {
          inFlight++;
          const t = performance.now();
          img.submit({ op: "write", position: position(), length: 4096, buffers: [data], unmap: false }, (ok) => {
            if (!ok) throw new Error(img.lastError ?? "write failed");
            inFlight--;
            done++;
            issue();
          });
          threadMs += performance.now() - t;
        }
        if (inFlight === 0) resolve();
      };
      issue();
    });
  }
  const elapsed = performance.now() - start;
  backend.close();
  fs.rmSync(file);
  return { iops: (done / elapsed) * 1000, threadUs: (threadMs / done) * 1000 };
}

try {
  const rows = [["random 4 KiB allocating writes", "depth", "writes/s", "thread µs per write", "load"]];
  for (const [mode, depth] of [["sync", 1], ["async", 1], ["async", 8]] as const) {
    const r = await run(mode, depth);
    rows.push([mode, String(depth), String(Math.round(r.iops)), r.threadUs.toFixed(1), os.loadavg()[0].toFixed(1)]);
  }
  printTable(rows);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
