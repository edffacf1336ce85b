/**
 * Worker threads for VMs, optionally started ahead of time. Starting a
 * worker and loading the machine code into it takes a few hundred
 * milliseconds on a busy host, far more than restoring or forking a booted
 * guest; `prewarm(n)` keeps n started workers waiting (unreferenced: they
 * never keep the process alive), so Vm.restore and vm.fork take one and only
 * build the machine. A worker waits for its WorkerInit message either way.
 */
import { Worker, type ResourceLimits } from "node:worker_threads";
import { workerUrl } from "./worker-url.ts";

/** A taken spare is replaced this much later, so the VM that took it gets the CPU first. */
const REFILL_DELAY_MS = 500;

const spares: Worker[] = [];
let target = 0;
let spareLimits: ResourceLimits | undefined;

function spawn(resourceLimits: ResourceLimits): Worker {
  // The guest's console is vm.console; the worker itself never prints.
  return new Worker(workerUrl(), { resourceLimits, stdout: false, stderr: false });
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
    const worker = spawn(spareLimits!);
    worker.unref();
    // A spare that dies (e.g. killed by its limits) is simply dropped.
    worker.once("exit", () => {
      const i = spares.indexOf(worker);
      if (i >= 0) spares.splice(i, 1);
    });
    worker.once("error", () => {});
    spares.push(worker);
  }
}

/** Keeps `count` workers with these limits started and waiting (0: none; the default). */
export function prewarm(count: number, resourceLimits: ResourceLimits): void {
  target = count;
  spareLimits = resourceLimits;
  for (const worker of spares.splice(count)) void worker.terminate();
  refill();
}

/** A worker for a new VM: a waiting spare when one fits, else a new one. */
export function takeWorker(resourceLimits: ResourceLimits): Worker {
  const spare = sameLimits(spareLimits, resourceLimits) ? spares.shift() : undefined;
  if (spare === undefined) return spawn(resourceLimits);
  spare.removeAllListeners();
  spare.ref();
  setTimeout(refill, REFILL_DELAY_MS).unref();
  return spare;
}
