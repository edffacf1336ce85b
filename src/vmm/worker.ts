/**
 * A VM's worker thread: builds (or restores) one machine from the posted
 * config, runs it, and serves the host's requests between run-loop slices
 * (the loop yields every ~10 ms, so even a guest in a tight loop hears a
 * stop at once). Console bytes cross in two ByteRings; everything else is
 * messages (messages.ts). One job per request; a request that fails gets
 * an error reply and the machine carries on.
 */
import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { GdbStub } from "../debug/gdb-stub.ts";
import { VirtMachineTarget } from "../machine/gdb-target.ts";
import { MIN_RAM_SIZE, VirtMachine, type SerialSink } from "../machine/virt-machine.ts";
import { PAGE_SIZE, PAGE_USED } from "../machine/ram-pages.ts";
import { boardShape, sameShape, type BoardShape } from "./board-shape.ts";
import { backendsReady, buildBoard, buildMachine, closeBackends } from "./build.ts";
import { ByteRing } from "./byte-ring.ts";
import type { ReplyValue, Request, VmStats, WorkerEvent, WorkerInit } from "./messages.ts";
import { VirtioBlk } from "../devices/virtio/blk.ts";
import { VirtioNet } from "../devices/virtio/net.ts";
import { captureImage, closeSnapshot, restoreImage, restoreSnapshot, saveSnapshot, SnapshotError } from "./snapshot.ts";

/** Guest input is handed to the UART in chunks this size, and only while its queue is shorter. */
const INPUT_CHUNK = 4096;
/** How often a full guest input queue is looked at again. */
const INPUT_POLL_MS = 10;

const port = parentPort!;
/** Given by the pool (worker-pool.ts): the shape of board the VM this worker will serve probably has. */
const expected = (workerData as { board?: BoardShape } | null)?.board;

// Set once the worker knows its VM (the first message).
let consoleOut!: ByteRing;
let consoleIn!: ByteRing;

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

// Before knowing its VM, the worker builds a board: the first hart of a thread
// primes the interpreter (src/cpu/primer.ts, a few hundred ms on a busy host),
// and allocating a VM memory costs tens of milliseconds (and garbage
// collections), so a prewarmed worker has both behind it when a restore or
// fork arrives. Without an expected shape the board is a throwaway.
let board: VirtMachine | null = expected === undefined
  ? (new VirtMachine({ ramSize: MIN_RAM_SIZE, firmware: { kind: "none" }, boot: false }), null)
  : buildBoard(expected, serial);

// The first message says which VM this worker is (it may have been started before that VM existed: worker-pool.ts).
const init = await new Promise<WorkerInit>((resolve) => port.once("message", resolve));
const post = (event: WorkerEvent) => port.postMessage(event);
consoleOut = new ByteRing(init.consoleOut);
consoleIn = new ByteRing(init.consoleIn);

let machine!: VirtMachine;
let gdb: GdbStub | null = null;

async function build(): Promise<void> {
  const { config, source } = init;
  if (source.kind === "boot") {
    machine = buildMachine(config, { serial });
  } else {
    // The board waiting here serves a restore or fork of its shape; another shape gets a new one.
    const fits = board !== null && expected !== undefined && sameShape(boardShape(config), expected);
    try {
      machine = buildMachine(config, { serial, boot: false, board: fits ? (board ?? undefined) : undefined });
    } catch (e) {
      if (source.kind === "snapshot") closeSnapshot(source.file); // it is this worker's to close
      throw e;
    }
    if (source.kind === "snapshot") restoreSnapshot(source.file, machine);
    else restoreImage(source.image, machine, source.mac === undefined ? undefined : { mac: source.mac });
  }
  board = null;
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
      return { ramUsedBytes: used * PAGE_SIZE, heapUsedBytes: getHeapStatistics().used_heap_size, ...activity() };
    }
    case "stop":
      await machine.virtio.drainIo(); // disk requests in flight finish before the backends close
      return finish(null);
  }
}

/** What the machine has done so far: instructions (all-time and this worker's), CPU time, disk and network bytes. */
function activity(): Omit<VmStats, "ramUsedBytes" | "heapUsedBytes"> {
  const instret = machine.harts.reduce((sum, hart) => sum + hart.instretNow(), 0);
  const counts = { instret, cpuSeconds: machine.busyMs / 1000, instructions: instret - instretAtBuild, diskReadBytes: 0, diskWriteBytes: 0, netRxBytes: 0, netTxBytes: 0 };
  for (const slot of machine.virtio.populated()) {
    const device = slot.transport!.device;
    if (device instanceof VirtioBlk) {
      counts.diskReadBytes += device.stats.readBytes;
      counts.diskWriteBytes += device.stats.writeBytes;
    } else if (device instanceof VirtioNet) {
      counts.netRxBytes += device.stats.rxBytes;
      counts.netTxBytes += device.stats.txBytes;
    }
  }
  return counts;
}

const attention = new Int32Array(init.attention);
port.on("message", (request: Request) => {
  Atomics.store(attention, 0, 0);
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
machine.cpuCap = init.cpuCap ?? 1;
machine.attention = attention;
// A restored machine's minstret counts from its first boot; this worker counts its own.
const instretAtBuild = machine.harts.reduce((sum, hart) => sum + hart.instretNow(), 0);
void pumpInput();
post({ kind: "ready" });
if (init.start === true) start();
