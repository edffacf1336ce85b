/**
 * A VM's worker thread: builds (or restores) one machine from the posted
 * config, runs it, and serves the host's requests between run-loop slices
 * (the loop yields every ~10 ms, so even a guest in a tight loop hears a
 * stop at once). Console bytes cross in two ByteRings; everything else is
 * messages (messages.ts). One job per request; a request that fails gets
 * an error reply and the machine carries on.
 */
import { getHeapStatistics } from "node:v8";
import { parentPort } from "node:worker_threads";
import { GdbStub } from "../debug/gdb-stub.ts";
import { VirtMachineTarget } from "../machine/gdb-target.ts";
import { MIN_RAM_SIZE, VirtMachine, type SerialSink } from "../machine/virt-machine.ts";
import { PAGE_SIZE, PAGE_USED } from "../machine/ram-pages.ts";
import { backendsReady, buildMachine, closeBackends } from "./build.ts";
import { ByteRing } from "./byte-ring.ts";
import type { ReplyValue, Request, WorkerEvent, WorkerInit } from "./messages.ts";
import { captureImage, restoreImage, restoreSnapshot, saveSnapshot, SnapshotError } from "./snapshot.ts";

/** Guest input is handed to the UART in chunks this size, and only while its queue is shorter. */
const INPUT_CHUNK = 4096;
/** How often a full guest input queue is looked at again. */
const INPUT_POLL_MS = 10;

const port = parentPort!;
// Before knowing its VM, the worker builds a throwaway board: the first hart of
// a thread primes the interpreter (src/cpu/primer.ts, a few hundred ms on a
// busy host), so a prewarmed worker has that behind it when a restore or fork
// arrives.
new VirtMachine({ ramSize: MIN_RAM_SIZE, firmware: { kind: "none" }, boot: false });

// The first message says which VM this worker is (it may have been started before that VM existed: worker-pool.ts).
const init = await new Promise<WorkerInit>((resolve) => port.once("message", resolve));
const post = (event: WorkerEvent) => port.postMessage(event);
const consoleOut = new ByteRing(init.consoleOut);
const consoleIn = new ByteRing(init.consoleIn);

/**
 * UART output the ring had no room for. The run loop waits (backpressure)
 * after each slice until it fits, so this holds at most one slice of output.
 */
const overflow: Uint8Array[] = [];
/** Resolves a run loop waiting on a full console, so a request (pause, stop) is served. */
let interruptWait: (() => void) | null = null;

function drainOverflow(): void {
  while (overflow.length > 0) {
    const chunk = overflow[0];
    const n = consoleOut.write(chunk);
    if (n < chunk.length) {
      overflow[0] = chunk.subarray(n);
      return;
    }
    overflow.shift();
  }
}

const serial: SerialSink = {
  write(data) {
    const n = overflow.length === 0 ? consoleOut.write(data) : 0;
    if (n < data.length) overflow.push(data.slice(n));
  },
  backpressure() {
    drainOverflow();
    if (overflow.length === 0) return null;
    const interrupted = new Promise<void>((resolve) => (interruptWait = resolve));
    const drained = (async () => {
      while (overflow.length > 0) {
        await consoleOut.whenWritable();
        drainOverflow();
      }
    })();
    return Promise.race([drained, interrupted]).finally(() => (interruptWait = null));
  },
};

let machine!: VirtMachine;
let gdb: GdbStub | null = null;

async function build(): Promise<void> {
  const { config, source } = init;
  if (source.kind === "boot") {
    machine = buildMachine(config, { serial });
  } else {
    machine = buildMachine(config, { serial, boot: false });
    if (source.kind === "snapshot") restoreSnapshot(source.path, machine);
    else restoreImage(source.image, machine, source.mac === undefined ? undefined : { mac: source.mac });
  }
  try {
    await backendsReady(machine);
  } catch (e) {
    finish({ kind: "build-failed", gdb: false, message: (e as Error).message });
  }
  if (init.gdb) {
    gdb = new GdbStub(new VirtMachineTarget(machine, init.gdb.waitForDebugger));
    try {
      await gdb.listen(init.gdb.port);
    } catch (e) {
      finish({ kind: "build-failed", gdb: true, message: `cannot listen on 127.0.0.1:${init.gdb.port}: ${(e as Error).message}` });
    }
  }
}

/** Feeds host console input to the guest while its UART queue is short (back-pressure on the host's writes). */
async function pumpInput(): Promise<void> {
  for (;;) {
    if (machine.inputBacklog >= INPUT_CHUNK) {
      await new Promise((resolve) => setTimeout(resolve, INPUT_POLL_MS));
      continue;
    }
    const data = consoleIn.read(INPUT_CHUNK);
    if (data === null) await consoleIn.whenReadable();
    else machine.sendInput(data);
  }
}

/** Ends the worker: the rest of the console output goes out as far as the ring takes it. */
function finish(event: WorkerEvent | null): never {
  drainOverflow();
  gdb?.close();
  if (machine) {
    closeBackends(machine);
    machine.close(); // a snapshot file that a lazy restore kept open
  }
  if (event !== null) post(event);
  process.exit(0);
}


function start(): void {
  machine.run().then(
    (code) => finish({ kind: "exit", code }),
    (e: Error) =>
      finish({
        kind: "crash",
        reason: e instanceof SnapshotError ? `guest RAM could not be loaded: ${e.message}` : `internal error: ${e?.stack ?? String(e)}`,
      }),
  );
}

async function pauseMachine(): Promise<void> {
  const paused = machine.pause();
  interruptWait?.();
  await paused;
}

async function serve(request: Request): Promise<ReplyValue> {
  switch (request.kind) {
    case "start":
      start();
      return null;
    case "pause":
      await pauseMachine();
      return null;
    case "resume":
      machine.resume();
      return null;
    case "save":
    case "capture": {
      const wasPaused = machine.paused;
      await pauseMachine();
      try {
        return request.kind === "save"
          ? saveSnapshot(machine, request.path, { config: init.config, parent: request.parent })
          : captureImage(machine, init.config);
      } finally {
        if (!wasPaused) machine.resume();
      }
    }
    case "stats": {
      const flags = machine.bus.pages.flags;
      let used = 0;
      for (let p = 0; p < flags.length; p++) if ((flags[p] & PAGE_USED) !== 0) used++;
      return { ramUsedBytes: used * PAGE_SIZE, heapUsedBytes: getHeapStatistics().used_heap_size };
    }
    case "stop":
      await machine.virtio.drainIo(); // disk requests in flight finish before the backends close
      return finish(null);
  }
}

port.on("message", (request: Request) => {
  serve(request).then(
    (value) => post({ kind: "reply", id: request.id, ok: true, value }),
    (e: Error) => post({ kind: "reply", id: request.id, ok: false, message: e?.message ?? String(e) }),
  );
});

try {
  await build();
} catch (e) {
  finish({ kind: "build-failed", gdb: false, message: (e as Error)?.message ?? String(e) });
}
machine.onReset = () => post({ kind: "reboot" });
void pumpInput();
post({ kind: "ready" });
