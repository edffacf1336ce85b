/**
 * One VM as an object: `Vm.create(config)` validates the config, then builds
 * the machine in its own worker thread; the caller drives it with
 * start/pause/resume/stop, save/restore/fork, and talks to its serial
 * console through `vm.console`. The host side holds no machine state: it
 * sends requests (messages.ts) and moves console bytes through two shared
 * rings, so a guest that loops, faults or floods its console can always be
 * stopped, and a worker that dies takes only its own VM with it.
 *
 * States: created → running ⇄ paused → stopped, or crashed (with
 * `crashReason`) when the worker fails. Events: "state" (VmState), "exit"
 * (the guest powered off; its exit code), "reboot" (the guest reset the
 * board), "console" (Buffer: console output, for whoever prefers events to
 * reading the stream), "error" (the crash, only when someone listens).
 */
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import type { ResourceLimits, Worker } from "node:worker_threads";
import { ByteRing } from "./byte-ring.ts";
import { validateVmConfig, type VmConfig } from "./config.ts";
import type { GdbOptions, MachineSource, ReplyValue, Request, VmStats, WorkerEvent, WorkerInit } from "./messages.ts";
import { closeSnapshot, openSnapshot, verifySnapshot, type MachineImage, type SnapshotInfo } from "./snapshot.ts";
import { VmConsole } from "./vm-console.ts";
import { prewarm, takeWorker } from "./worker-pool.ts";
import { boardShape } from "./board-shape.ts";

export type VmState = "created" | "running" | "paused" | "stopped" | "crashed";

export interface VmOptions {
  /**
   * Limits on the worker's JavaScript heap and stack (a runaway VM then
   * crashes alone). Guest RAM is a WebAssembly.Memory outside these limits.
   */
  resourceLimits?: ResourceLimits;
  /** Serve the GDB remote protocol from the worker (typevisor run -s / --gdb). */
  gdb?: GdbOptions;
  /** Share of one host core the guest may use, 0 < cap <= 1 (default 1): the run loop rests between slices. */
  cpuCap?: number;
}

export interface RestoreOptions extends VmOptions {
  /** Check every RAM page of the snapshot before restoring (slower; the default checks each page at first touch). */
  verify?: boolean;
}

/**
 * A small young generation: an idle VM's worker otherwise holds megabytes of
 * short-lived garbage between scavenges (docs/benchmarks.md: 2 MiB instead of
 * 16 cut the host memory per idle VM by 6–9 MiB; the interpreter's hot path
 * does not allocate, so scavenges stay rare and cheap).
 */
export const DEFAULT_RESOURCE_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 2, stackSizeMb: 4 };
/** Each console direction's ring. */
const CONSOLE_RING_BYTES = 1 << 16;
/** How long stop() lets the worker end by itself before terminating it. */
const STOP_GRACE_MS = 2000;

/** A request that the VM's current state does not allow. */
export class VmStateError extends Error {
  override name = "VmStateError";
}

/** The VM's worker failed; `message` says why (an internal error, out of memory). */
export class VmCrashedError extends Error {
  override name = "VmCrashedError";
}

/** The GDB stub asked for (VmOptions.gdb) could not listen; the VM was not created. */
export class GdbListenError extends Error {
  override name = "GdbListenError";
}

type Pending = { resolve: (value: ReplyValue) => void; reject: (error: Error) => void };

export class Vm extends EventEmitter {
  /** The validated config this VM was built from. */
  readonly config: VmConfig;
  readonly console: VmConsole;
  /** Why the VM crashed, when its state is "crashed". */
  crashReason: string | null = null;

  private currentState: VmState = "created";
  private readonly worker: Worker;
  private readonly options: VmOptions;
  private readonly pending = new Map<number, Pending>();
  /** Set before each request is posted (WorkerInit.attention). */
  private readonly attention = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  private exitCode: number | null = null;
  /** The fork image captured while paused, until the VM runs again. */
  private pausedImage: MachineImage | null = null;
  private stopping = false;
  /** Resolves once the worker has ended (whatever the reason). */
  private readonly ended: Promise<void>;
  /** Resolves once the machine is built; rejects with the build error. */
  private readonly built: Promise<void>;

  /** Validates `config` (ConfigError names every bad field), then builds the VM in a new worker; resolves in state "created". */
  static async create(config: VmConfig | unknown, options: VmOptions = {}): Promise<Vm> {
    return Vm.launch(validateVmConfig(config), { kind: "boot" }, options, false);
  }

  /**
   * Resumes the VM saved in `file` (vm.save); resolves once it runs again.
   * SnapshotError for a bad file. RAM pages are read (and checked) when the
   * guest first touches them, so a page damaged after the save crashes the
   * VM then; `verify: true` reads and checks every page first instead.
   */
  static async restore(file: string, options: RestoreOptions = {}): Promise<Vm> {
    const path = resolve(file);
    if (options.verify === true) verifySnapshot(path);
    // Read and checked once, here; the worker restores from what this read (index in shared memory, same descriptors).
    const snapshot = openSnapshot(path);
    let config: VmConfig;
    try {
      config = validateVmConfig(snapshot.meta.config);
    } catch (e) {
      closeSnapshot(snapshot);
      throw e;
    }
    return Vm.launch(config, { kind: "snapshot", file: snapshot }, options, true);
  }

  /**
   * Keeps `count` worker threads started ahead of time (with `resourceLimits`,
   * default DEFAULT_RESOURCE_LIMITS), so restore, fork and create skip
   * starting one: milliseconds instead of a few hundred. 0 (the default)
   * starts workers on demand. Waiting workers never keep the process alive.
   * Each also builds a board ahead (guest memory allocated, harts built) like
   * `like`'s (RAM size, harts, firmware kind, icount) or else like the VM
   * last started, so a restore or fork of that shape only loads its state.
   */
  static prewarm(count: number, resourceLimits: ResourceLimits = DEFAULT_RESOURCE_LIMITS, like?: VmConfig): void {
    prewarm(count, resourceLimits, like === undefined ? undefined : boardShape(validateVmConfig(like)));
  }

  /** A VM built from `source` in a worker; `start`: running as soon as it is built (restore, fork), else created. */
  private static async launch(config: VmConfig, source: MachineSource, options: VmOptions, start: boolean): Promise<Vm> {
    const vm = new Vm(config, source, options, start);
    await vm.built;
    if (start) vm.setState("running");
    return vm;
  }

  private constructor(config: VmConfig, source: MachineSource, options: VmOptions, start: boolean) {
    super();
    this.config = config;
    this.options = options;
    const consoleOut = ByteRing.allocate(CONSOLE_RING_BYTES);
    const consoleIn = ByteRing.allocate(CONSOLE_RING_BYTES);
    this.console = new VmConsole(new ByteRing(consoleOut), new ByteRing(consoleIn));
    const init: WorkerInit = { config, source, consoleOut, consoleIn, attention: this.attention.buffer as SharedArrayBuffer, gdb: options.gdb, start, cpuCap: options.cpuCap };
    this.worker = takeWorker(options.resourceLimits ?? DEFAULT_RESOURCE_LIMITS, boardShape(config));
    this.worker.postMessage(init);
    let built!: { resolve: () => void; reject: (e: Error) => void };
    this.built = new Promise((resolve, reject) => (built = { resolve, reject }));
    this.worker.on("message", (event: WorkerEvent) => this.onWorkerEvent(event, built));
    this.worker.on("error", (error: Error & { code?: string }) => {
      this.crashReason ??=
        error.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? `out of memory: the VM's worker exceeded its heap limit (${error.message})`
          : `worker error: ${error.stack ?? error.message}`;
    });
    this.ended = new Promise((resolve) => {
      this.worker.on("exit", (code) => {
        this.onWorkerExit(code, built.reject);
        resolve();
      });
    });
    let forwarding = false;
    this.on("newListener", (event) => {
      // "console" events are the stream's output; the first listener starts the flow.
      if (event !== "console" || forwarding) return;
      forwarding = true;
      this.console.on("data", (chunk: Buffer) => this.emit("console", chunk));
    });
  }

  get state(): VmState {
    return this.currentState;
  }

  /** Starts a created VM's harts. */
  async start(): Promise<void> {
    this.expect("start", "created");
    await this.request({ kind: "start", id: 0 });
    this.setState("running");
  }

  /** Stops the guest between two instruction batches; its clock stands still until resume(). */
  async pause(): Promise<void> {
    this.expect("pause", "running");
    await this.request({ kind: "pause", id: 0 });
    this.setState("paused");
  }

  async resume(): Promise<void> {
    this.expect("resume", "paused");
    this.pausedImage = null;
    await this.request({ kind: "resume", id: 0 });
    this.setState("running");
  }

  /**
   * Ends the VM at once, in any state, whatever the guest is doing: the
   * worker stops between two batches (every ~10 ms), or is terminated.
   * waitForExit() then resolves with 0, as quitting QEMU exits with 0.
   */
  async stop(): Promise<void> {
    if (this.state === "stopped" || this.state === "crashed") return;
    this.stopping = true;
    this.post({ kind: "stop", id: 0 });
    const timer = setTimeout(() => void this.worker.terminate(), STOP_GRACE_MS);
    await this.ended;
    clearTimeout(timer);
  }

  /** Writes the whole machine to one snapshot file (the guest keeps its state: running or paused). */
  async save(file: string, opts: { parent?: string } = {}): Promise<SnapshotInfo> {
    this.expect("save", "created", "running", "paused");
    const parent = opts.parent === undefined ? undefined : resolve(opts.parent);
    return (await this.request({ kind: "save", id: 0, path: resolve(file), parent })) as SnapshotInfo;
  }

  /**
   * A running copy of this VM in a new worker, sharing its RAM copy-on-write;
   * the copy gets its own MAC address (and the host's fresh entropy for its rng).
   */
  async fork(): Promise<Vm> {
    this.expect("fork", "created", "running", "paused");
    // While the VM stays paused its image stays valid: every copy shares the one capture.
    const image = this.state === "paused" && this.pausedImage !== null ? this.pausedImage : ((await this.request({ kind: "capture", id: 0 })) as MachineImage);
    if (this.state === "paused") this.pausedImage = image;
    const mac = this.config.nics.length > 0 ? randomMac() : undefined;
    const nics = this.config.nics.map((nic, i) => (i === 0 ? { ...nic, mac } : nic));
    return Vm.launch({ ...this.config, nics }, { kind: "image", image, mac }, this.options, true);
  }

  /** What this VM costs its host (guest RAM touched, worker heap). */
  async stats(): Promise<VmStats> {
    this.expect("read the stats of", "created", "running", "paused");
    return (await this.request({ kind: "stats", id: 0 })) as VmStats;
  }

  /** Resolves with the guest's exit code once it powers off (0 after stop()); rejects with VmCrashedError if it crashed. */
  async waitForExit(): Promise<number> {
    await this.ended;
    if (this.crashReason !== null) throw new VmCrashedError(this.crashReason);
    return this.exitCode ?? 0;
  }

  private expect(action: string, ...states: VmState[]): void {
    if (!states.includes(this.state)) throw new VmStateError(`cannot ${action} a VM that is ${this.state}`);
  }

  private setState(state: VmState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit("state", state);
  }

  private request(message: Request): Promise<ReplyValue> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ ...message, id });
    });
  }

  /** Posts a request and asks for the worker's attention (the flag first: the worker clears it when it takes the message). */
  private post(message: Request): void {
    Atomics.store(this.attention, 0, 1);
    this.worker.postMessage(message);
  }

  private onWorkerEvent(event: WorkerEvent, built: { resolve: () => void; reject: (e: Error) => void }): void {
    switch (event.kind) {
      case "ready":
        built.resolve();
        break;
      case "build-failed":
        built.reject(event.gdb ? new GdbListenError(event.message) : new Error(event.message));
        break;
      case "reply": {
        const pending = this.pending.get(event.id);
        this.pending.delete(event.id);
        if (event.ok) pending?.resolve(event.value);
        else pending?.reject(new Error(event.message));
        break;
      }
      case "exit":
        this.exitCode = event.code;
        this.emit("exit", event.code);
        break;
      case "reboot":
        this.emit("reboot");
        break;
      case "crash":
        this.crashReason = event.reason;
        break;
    }
  }

  private onWorkerExit(code: number, rejectBuild: (e: Error) => void): void {
    this.console.detach();
    if (this.crashReason === null && this.exitCode === null && !this.stopping && code !== 0) {
      this.crashReason = `the VM's worker thread ended unexpectedly (exit code ${code})`;
    }
    const gone = this.crashReason !== null ? new VmCrashedError(this.crashReason) : new VmStateError("the VM has stopped");
    rejectBuild(gone);
    for (const pending of this.pending.values()) pending.reject(gone);
    this.pending.clear();
    if (this.crashReason !== null) {
      this.setState("crashed");
      if (this.listenerCount("error") > 0) this.emit("error", new VmCrashedError(this.crashReason));
    } else {
      this.setState("stopped");
    }
  }
}

/** A random locally administered unicast MAC in QEMU's 52:54:00 range. */
function randomMac(): string {
  return ["52", "54", "00", ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, "0"))].join(":");
}
