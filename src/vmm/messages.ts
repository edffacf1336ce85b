/**
 * What the host thread and a VM's worker say to each other. Everything here
 * is structured-cloneable: plain data, SharedArrayBuffers (the console rings,
 * a fork image's RAM), never live objects.
 */
import type { VmConfig } from "./config.ts";
import type { MachineImage, SnapshotFile, SnapshotInfo } from "./snapshot.ts";

/**
 * How the worker gets its machine: booted fresh, from a snapshot file (opened
 * and checked by the host, which hands its descriptors and shared index over:
 * the file is read and checked once), or from a fork image.
 */
export type MachineSource =
  | { kind: "boot" }
  | { kind: "snapshot"; file: SnapshotFile }
  | { kind: "image"; image: MachineImage; mac?: string };

/** A GDB stub served from inside the worker (typevisor run -s / --gdb). */
export interface GdbOptions {
  port: number;
  /** -S: the harts wait for the debugger's continue. */
  waitForDebugger: boolean;
}

/** The first message to a worker: which VM it runs. */
export interface WorkerInit {
  config: VmConfig;
  source: MachineSource;
  /** Guest → host console bytes (ByteRing). */
  consoleOut: SharedArrayBuffer;
  /** Host → guest console bytes (ByteRing). */
  consoleIn: SharedArrayBuffer;
  /**
   * One Int32 the host sets before posting a request and the worker clears
   * when it takes requests: a running guest's slice ends at the next batch
   * (VirtMachine.attention), so a request waits one batch, not a whole slice.
   */
  attention: SharedArrayBuffer;
  gdb?: GdbOptions;
  /** Start the harts as soon as the machine is restored (a restore or fork: no `start` round trip). */
  start?: boolean;
  /** Share of one host core the guest may use (VmOptions.cpuCap). */
  cpuCap?: number;
}

/** Host → worker requests; each gets one `reply` with the same id. */
export type Request =
  | { kind: "start"; id: number }
  | { kind: "pause"; id: number }
  | { kind: "resume"; id: number }
  | { kind: "save"; id: number; path: string; parent?: string }
  | { kind: "capture"; id: number }
  | { kind: "stats"; id: number }
  | { kind: "stop"; id: number };

/** What one VM costs its host, as its worker sees it. */
export interface VmStats {
  /** Guest RAM pages written or loaded non-zero since power-on or restore, in bytes: RAM the guest has touched. */
  ramUsedBytes: number;
  /** The worker's JavaScript heap in use. */
  heapUsedBytes: number;
  /** Instructions the harts have retired (a restored guest counts on from its snapshot's). */
  instret: number;
  /** Time the machine spent running instructions (its thread's CPU time, near enough). */
  cpuSeconds: number;
  /** Guest instructions retired, all harts, since this worker's machine was built. */
  instructions: number;
  /** Guest data read from and written to its virtio disks. */
  diskReadBytes: number;
  diskWriteBytes: number;
  /** Frame bytes the guest's NICs received and sent. */
  netRxBytes: number;
  netTxBytes: number;
}

export type ReplyValue = null | SnapshotInfo | MachineImage | VmStats;

/** Worker → host. */
export type WorkerEvent =
  /** The machine is built (or restored) and waits for `start`, or runs already when WorkerInit.start asked. */
  | { kind: "ready" }
  /** Building the machine failed: a user error (bad image, bad snapshot); the worker ends. */
  | { kind: "build-failed"; message: string; gdb: boolean }
  | { kind: "reply"; id: number; ok: true; value: ReplyValue }
  | { kind: "reply"; id: number; ok: false; message: string }
  /** The guest powered off (finisher or SBI shutdown) with this exit code; the worker ends. */
  | { kind: "exit"; code: number }
  /** The guest asked for a reset; the board rebooted. */
  | { kind: "reboot" }
  /** An internal error in the machine; the worker ends. */
  | { kind: "crash"; reason: string };
