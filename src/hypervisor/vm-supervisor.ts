/**
 * One VM under the daemon: its record, its `Vm` (a worker thread) while it
 * runs, its console scrollback and viewers, its budget share and its
 * accounting. Operations on one VM are serialized (start, stop, restore
 * never interleave); different VMs never wait for each other. A worker that
 * crashes or runs out of memory ends only this VM: the state becomes
 * "crashed" with the reason, and its budget share is released.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_MAC } from "../devices/virtio/net.ts";
import { ConfigError, type VmConfig } from "../vmm/config.ts";
import { DEFAULT_RESOURCE_LIMITS, Vm } from "../vmm/vm.ts";
import type { VmStats } from "../vmm/messages.ts";
import { closeSnapshot, openSnapshot, SnapshotError, verifySnapshot } from "../vmm/snapshot.ts";
import { ActiveLease, newLeaseId, type LeaseRecord } from "./browser/lease.ts";
import { rebaseSnapshot } from "./browser/snapshot-rebase.ts";
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
  /** Where this VM's lease files live while it runs in a browser tab (<data-dir>/vms/<vm>/lease). */
  leaseDir(name: string): string;
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
  /** Set while the VM runs in a browser tab. */
  private lease: ActiveLease | null = null;

  constructor(
    public record: VmRecord,
    private readonly ctx: SupervisorContext,
  ) {
    this.currentState = record.everStarted ? "stopped" : "created";
    if (record.lease) {
      this.lease = new ActiveLease(record.lease, ctx.leaseDir(record.name));
      this.currentState = "running";
    }
  }

  get location(): "host" | "browser" {
    return this.lease === null ? "host" : "browser";
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
      location: this.location,
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
      this.onHost("start");
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
      this.onHost("restore a snapshot of");
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
    if (vm === null) return Promise.reject(conflict(`VM ${this.name} is not running ${this.lease === null ? "" : "on the host (it is in a browser tab)"}`.trim()));
    return new Promise((resolve, reject) => vm.console.write(data, (e) => (e ? reject(e) : resolve())));
  }

  /**
   * Moves the VM into a browser tab: pause (in-flight disk requests drain),
   * save into its lease directory, end the worker (its images' locks and its
   * switch ports are freed), then hold the drives for the tab and persist
   * the lease. If anything after the save fails, the VM runs on the host again.
   */
  moveToBrowser(): Promise<ActiveLease> {
    return this.exclusive(async () => {
      const vm = this.running("move to a browser");
      const dir = this.ctx.leaseDir(this.name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const snapshotFile = join(dir, "snapshot.snap");
      const wasRunning = vm.state === "running";
      if (wasRunning) await vm.pause();
      try {
        await vm.save(snapshotFile);
      } catch (e) {
        if (wasRunning) await vm.resume();
        throw conflict(`VM ${this.name} could not be saved to move it: ${(e as Error).message}`);
      }
      const file = openSnapshot(snapshotFile);
      closeSnapshot(file);
      const record: LeaseRecord = {
        id: newLeaseId(),
        snapshotFile,
        snapshotId: file.header.id,
        sizeBytes: statSync(snapshotFile).size,
        movedAt: new Date().toISOString(),
        drives: vm.config.drives,
        nics: vm.config.nics.map((nic) => ({ ...nic, mac: nic.mac ?? DEFAULT_MAC })),
      };
      await this.refreshStats();
      this.ended(vm); // from here on the worker's state changes are not this VM's
      await vm.stop();
      const lease = new ActiveLease(record, dir);
      this.lease = lease;
      try {
        record.drives.forEach((_, i) => lease.drive(i)); // the tab's drives: the images and their locks are the daemon's now
        this.record = { ...this.record, lease: record };
        await this.ctx.persist(this.record);
      } catch (e) {
        lease.close();
        this.lease = null;
        this.record = { ...this.record, lease: null };
        await this.launch((options) => Vm.restore(snapshotFile, options));
        throw conflict(`VM ${this.name} could not move to a browser (it runs on the host again): ${(e as Error).message}`);
      }
      this.setState("running", true);
      return lease;
    });
  }

  /** The live lease `id` names: 409 when the VM is not in a tab or the id is stale. */
  browserLease(id: string | undefined): ActiveLease {
    const lease = this.lease;
    if (lease === null) throw conflict(`VM ${this.name} is not in a browser tab`);
    if (!lease.matches(id)) throw conflict(`the lease of VM ${this.name} is ${id === undefined ? "missing (send X-Typevisor-Lease)" : "stale: the VM has moved since"}`);
    return lease;
  }

  /** Brings the VM back from its tab: the tab's snapshot (a diff against the lease snapshot, or full), its drives synced. */
  moveToHost(leaseId: string | undefined, upload: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      const lease = this.browserLease(leaseId);
      const file = join(lease.dir, "upload.snap");
      writeFileSync(file, upload);
      await this.returnFrom(lease, file);
    });
  }

  /** The tab is gone: the VM runs on the host from its move-time snapshot, with the drive writes the tab synced. */
  reclaim(): Promise<void> {
    return this.exclusive(async () => {
      if (this.lease === null) throw conflict(`VM ${this.name} is not in a browser tab`);
      await this.returnFrom(this.lease, this.lease.record.snapshotFile);
    });
  }

  /** Restores `source` (made the host's) and runs it; on any failure the lease stays as it was. */
  private async returnFrom(lease: ActiveLease, source: string): Promise<void> {
    const file = join(lease.dir, "host.snap");
    try {
      rebaseSnapshot(source, file, (meta) => lease.hostMeta(meta));
      verifySnapshot(file);
    } catch (e) {
      rmSync(file, { force: true });
      if (e instanceof SnapshotError) throw invalid(`the snapshot cannot be restored: ${e.message}`);
      throw e;
    }
    lease.close(); // the host VM opens the images (and takes their locks) itself
    try {
      await this.launch((options) => Vm.restore(file, options));
    } catch (e) {
      lease.reopen();
      rmSync(file, { force: true });
      throw e;
    }
    this.lease = null;
    this.record = { ...this.record, lease: null };
    await this.ctx.persist(this.record);
    rmSync(lease.dir, { recursive: true, force: true }); // the restored VM holds its snapshot files open
    this.setState(this.currentState, true);
  }

  /** Releases what the lease holds open (the daemon shuts down); the lease itself stays, persisted. */
  closeLease(): void {
    this.lease?.close();
  }

  /** Forgets the lease (the VM is being deleted). */
  dropLease(): void {
    this.lease?.close();
    this.lease = null;
  }

  /** Refuses a host action while the VM runs in a browser tab. */
  onHost(action: string): void {
    if (this.lease !== null) throw conflict(`VM ${this.name} runs in a browser tab: move it to the host (or reclaim it) before you ${action} it`);
  }

  private running(action: string): Vm {
    this.onHost(action);
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

  private setState(state: VmStateName, force = false): void {
    if (state === this.currentState && !force) return;
    this.currentState = state;
    this.ctx.events.publish({ type: "vm.state", vm: this.name, state, location: this.location });
  }
}
