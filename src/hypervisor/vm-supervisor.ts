/**
 * One VM under the daemon: its record, its `Vm` (a worker thread) while it
 * runs, its console scrollback and viewers, its budget share and its
 * accounting. Operations on one VM are serialized (start, stop, restore
 * never interleave); different VMs never wait for each other. A worker that
 * crashes or runs out of memory ends only this VM: the state becomes
 * "crashed" with the reason, and its budget share is released.
 */
import { statSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { ConfigError, type VmConfig } from "../vmm/config.ts";
import { DEFAULT_RESOURCE_LIMITS, Vm } from "../vmm/vm.ts";
import type { VmStats } from "../vmm/messages.ts";
import type { Budget } from "./budget.ts";
import { conflict, HypervisorError, invalid } from "./errors.ts";
import type { EventBus } from "./events.ts";
import type { VmRecord, VmStateName, VmStatsView, VmView } from "./model.ts";
import { Scrollback } from "./scrollback.ts";

const MiB = 2 ** 20;
const COUNTERS = ["cpuSeconds", "instructions", "diskReadBytes", "diskWriteBytes", "netRxBytes", "netTxBytes"] as const;

export interface SupervisorContext {
  budget: Budget;
  events: EventBus;
  configOf(record: VmRecord): Promise<VmConfig>;
  persist(record: VmRecord): Promise<void>;
}

export class VmSupervisor {
  readonly scrollback = new Scrollback();
  private vm: Vm | null = null;
  private currentState: VmStateName;
  private startedAt: string | null = null;
  private crashReason: string | null = null;
  private readonly viewers = new Set<(chunk: Buffer) => void>();
  /** Counters of the runs that ended, plus the current run's latest stats. */
  private readonly totals: Record<(typeof COUNTERS)[number], number> = { cpuSeconds: 0, instructions: 0, diskReadBytes: 0, diskWriteBytes: 0, netRxBytes: 0, netTxBytes: 0 };
  private current: VmStats | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    public record: VmRecord,
    private readonly ctx: SupervisorContext,
  ) {
    this.currentState = record.everStarted ? "stopped" : "created";
  }

  get name(): string {
    return this.record.name;
  }

  get state(): VmStateName {
    return this.currentState;
  }

  /** Running or paused: a worker exists. */
  get active(): boolean {
    return this.vm !== null;
  }

  view(): VmView {
    const r = this.record;
    const c = this.current;
    const stats = Object.fromEntries(COUNTERS.map((k) => [k, this.totals[k] + (c?.[k] ?? 0)])) as Omit<VmStatsView, "memoryBytes">;
    return {
      name: r.name,
      state: this.currentState,
      memoryMiB: r.memoryMiB,
      cpus: r.cpus,
      autostart: r.autostart,
      boot: r.boot,
      disks: r.disks,
      nics: r.nics,
      cpuWeight: r.cpuWeight,
      cpuCap: r.cpuCap,
      createdAt: r.createdAt,
      startedAt: this.startedAt,
      crashReason: this.crashReason,
      resumesFromSave: r.saveFile !== null,
      stats: { ...stats, memoryBytes: c === null || this.vm === null ? 0 : c.ramUsedBytes + c.heapUsedBytes },
    };
  }

  /** Asks the worker for fresh counters (no-op when not running). */
  async refreshStats(): Promise<void> {
    const vm = this.vm;
    if (vm === null) return;
    try {
      this.current = await vm.stats();
    } catch {
      // The worker ended meanwhile: its last counters stay as they were.
    }
  }

  /** Runs `work` after every earlier operation on this VM. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }

  start(): Promise<void> {
    return this.exclusive(async () => {
      if (this.vm !== null) throw conflict(`VM ${this.name} is ${this.currentState} already`);
      const saveFile = this.record.saveFile;
      await this.launch(async (options) => {
        if (saveFile !== null) return Vm.restore(saveFile, options);
        const vm = await Vm.create(await this.ctx.configOf(this.record), options);
        await vm.start().catch(async (e) => {
          await vm.stop();
          throw e;
        });
        return vm;
      });
      if (saveFile !== null) {
        this.record = { ...this.record, saveFile: null };
        await this.ctx.persist(this.record);
        await unlink(saveFile).catch(() => {});
      }
    });
  }

  /** Replaces whatever runs with the VM saved in `file` (snapshot restore). */
  restoreFrom(file: string): Promise<void> {
    return this.exclusive(async () => {
      if (this.vm !== null) await this.stopNow();
      await this.launch((options) => Vm.restore(file, options));
    });
  }

  /** Takes over a VM that already runs (a fork of another VM). */
  adopt(vm: Vm): Promise<void> {
    return this.exclusive(async () => {
      this.attach(vm);
      await this.markStarted();
    });
  }

  stop(): Promise<void> {
    return this.exclusive(() => this.stopNow());
  }

  pause(): Promise<void> {
    return this.exclusive(async () => this.running("pause").pause());
  }

  resume(): Promise<void> {
    return this.exclusive(async () => this.running("resume").resume());
  }

  /** Asks the guest to power off (a console `poweroff`, which the default guest's shell runs); the state changes when it has. */
  shutdown(): Promise<void> {
    return this.exclusive(async () => {
      const vm = this.running("shut down");
      if (vm.state === "paused") throw conflict(`VM ${this.name} is paused: resume it before asking the guest to shut down`);
      vm.console.write("\npoweroff\n");
    });
  }

  reboot(): Promise<void> {
    return this.exclusive(async () => {
      this.running("reboot");
      await this.stopNow();
      await this.launch(async (options) => {
        const vm = await Vm.create(await this.ctx.configOf(this.record), options);
        await vm.start();
        return vm;
      });
    });
  }

  /** Saves the running or paused VM to `file`. */
  save(file: string): Promise<{ sizeBytes: number }> {
    return this.exclusive(async () => {
      await this.running("snapshot").save(file);
      return { sizeBytes: statSync(file).size };
    });
  }

  /** A running copy in a new worker (RAM shared copy-on-write); the caller adopts it into another supervisor. */
  fork(): Promise<Vm> {
    return this.exclusive(async () => this.running("clone").fork());
  }

  /** Console output from now on (after the scrollback); returns the unsubscribe function. */
  watchConsole(viewer: (chunk: Buffer) => void): () => void {
    this.viewers.add(viewer);
    return () => this.viewers.delete(viewer);
  }

  /** Types into the guest's console; resolves once the guest side took the bytes. */
  writeConsole(data: Buffer): Promise<void> {
    const vm = this.vm;
    if (vm === null) return Promise.reject(conflict(`VM ${this.name} is not running`));
    return new Promise((resolve, reject) => vm.console.write(data, (e) => (e ? reject(e) : resolve())));
  }

  private running(action: string): Vm {
    if (this.vm === null) throw conflict(`cannot ${action} VM ${this.name}: it is ${this.currentState}`);
    return this.vm;
  }

  private async stopNow(): Promise<void> {
    const vm = this.vm;
    if (vm === null) return;
    await this.refreshStats();
    await vm.stop();
  }

  private async launch(make: (options: { cpuCap: number; resourceLimits: typeof DEFAULT_RESOURCE_LIMITS }) => Promise<Vm>): Promise<void> {
    const r = this.record;
    this.ctx.budget.reserve(r.name, r.memoryMiB * MiB, r.cpus);
    let vm: Vm;
    try {
      vm = await make({ cpuCap: r.cpuCap, resourceLimits: DEFAULT_RESOURCE_LIMITS });
    } catch (e) {
      this.ctx.budget.release(r.name);
      if (e instanceof HypervisorError) throw e;
      if (e instanceof ConfigError) throw invalid(`VM ${r.name}: ${e.message}`);
      throw conflict(`VM ${r.name} could not start: ${(e as Error).message}`);
    }
    this.attach(vm);
    await this.markStarted();
  }

  private async markStarted(): Promise<void> {
    if (this.record.everStarted) return;
    this.record = { ...this.record, everStarted: true };
    await this.ctx.persist(this.record);
  }

  private attach(vm: Vm): void {
    this.vm = vm;
    this.current = null;
    this.crashReason = null;
    this.startedAt = new Date().toISOString();
    vm.on("error", () => {}); // the crash is reported through the state and crashReason
    vm.console.on("data", (chunk: Buffer) => {
      this.scrollback.push(chunk);
      for (const viewer of this.viewers) viewer(chunk);
    });
    vm.on("state", (state: VmStateName) => {
      if (this.vm !== vm) return;
      if (state === "stopped" || state === "crashed") this.ended(vm);
      this.setState(state);
    });
    this.setState(vm.state);
  }

  private ended(vm: Vm): void {
    for (const k of COUNTERS) this.totals[k] += this.current?.[k] ?? 0;
    this.current = null;
    this.vm = null;
    this.crashReason = vm.crashReason;
    this.ctx.budget.release(this.name);
  }

  private setState(state: VmStateName): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.ctx.events.publish({ type: "vm.state", vm: this.name, state });
  }
}
