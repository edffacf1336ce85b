/**
 * Worker threads for VMs, optionally started ahead of time. Starting a
 * worker and loading the machine code into it takes a few hundred
 * milliseconds on a busy host, far more than restoring or forking a booted
 * guest; `prewarm(n)` keeps n started workers waiting (unreferenced: they
 * never keep the process alive), so Vm.restore and vm.fork take one. Each
 * spare also builds a board (memory, harts) ahead, of the shape of the VM
 * last started here (or the one prewarm names): a restore or fork of that
 * shape only plugs in its devices and loads its state. A worker waits for
 * its WorkerInit message either way.
 */
import { Worker, type ResourceLimits } from "node:worker_threads";
import { sameShape, type BoardShape } from "./board-shape.ts";
import { workerUrl } from "./worker-url.ts";

/** A taken spare is replaced this much later, so the VM that took it gets the CPU first. */
const REFILL_DELAY_MS = 500;

/** Waiting workers and the board each built. */
const spares: { worker: Worker; board: BoardShape | undefined }[] = [];
let target = 0;
let spareLimits: ResourceLimits | undefined;
/** The board spares build ahead: the last VM's, until prewarm names one. */
let spareShape: BoardShape | undefined;

function spawn(resourceLimits: ResourceLimits, board: BoardShape | undefined): Worker {
  // The guest's console is vm.console; the worker itself never prints. It runs only our
  // code: the host's Node options would carry its preloads into every VM's thread
  // (`--import tsx` cost ~4 MiB of heap per worker); from sources, worker-source.mjs registers tsx.
  return new Worker(workerUrl(), { resourceLimits, stdout: false, stderr: false, execArgv: [], workerData: { board } });
}

function sameLimits(a: ResourceLimits | undefined, b: ResourceLimits): boolean {
  return (
    a !== undefined &&
    a.maxOldGenerationSizeMb === b.maxOldGenerationSizeMb &&
    a.maxYoungGenerationSizeMb === b.maxYoungGenerationSizeMb &&
    a.codeRangeSizeMb === b.codeRangeSizeMb &&
    a.stackSizeMb === b.stackSizeMb
  );
}

function refill(): void {
  while (spares.length < target) {
    const worker = spawn(spareLimits!, spareShape);
    worker.unref();
    // A spare that dies (e.g. killed by its limits) is simply dropped.
    worker.once("exit", () => {
      const i = spares.findIndex((s) => s.worker === worker);
      if (i >= 0) spares.splice(i, 1);
    });
    worker.once("error", () => {});
    spares.push({ worker, board: spareShape });
  }
}

/** Keeps `count` workers with these limits started and waiting (0: none; the default), with boards of `board`'s shape if given. */
export function prewarm(count: number, resourceLimits: ResourceLimits, board?: BoardShape): void {
  target = count;
  spareLimits = resourceLimits;
  if (board !== undefined) spareShape = board;
  for (const spare of spares.splice(count)) void spare.worker.terminate();
  refill();
}

/** A worker for a new VM whose board has shape `board`: a waiting spare when one fits, else a new one. */
export function takeWorker(resourceLimits: ResourceLimits, board: BoardShape): Worker {
  spareShape = board; // the next VM is likely alike (restores and forks of one guest)
  if (!sameLimits(spareLimits, resourceLimits) || spares.length === 0) return spawn(resourceLimits, board);
  const fitting = spares.findIndex((s) => s.board !== undefined && sameShape(s.board, board));
  const spare = spares.splice(Math.max(fitting, 0), 1)[0].worker;
  spare.removeAllListeners();
  spare.ref();
  setTimeout(refill, REFILL_DELAY_MS).unref();
  return spare;
}
