/**
 * The hypervisor host: every VM, pool, image, network and snapshot the
 * daemon owns, persisted under the data directory so a restarted daemon
 * (even after kill -9) finds them all again. `execute` runs one typed
 * Command (commands.ts); the API only parses requests into commands.
 *
 * <data-dir>/state/{vms,pools,networks}/<name>.json   records (atomic writes)
 * <data-dir>/vms/<vm>/snapshots/<snap>.{json,snap}       snapshots
 * <data-dir>/vms/<vm>/saved.snap                         saved at shutdown (--on-shutdown save)
 * <data-dir>/pools/default/                              the default pool
 */
import { cpus as hostCpus, totalmem } from "node:os";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { Budget } from "./budget.ts";
import type { Command, Reply } from "./commands.ts";
import { conflict, invalid, notFound } from "./errors.ts";
import { EventBus } from "./events.ts";
import { Jobs } from "./jobs.ts";
import { renderMetrics } from "./metrics.ts";
import type { HostView, NetworkRecord, PoolRecord, SnapshotView, VmActionName, VmCreate, VmRecord, VmUpdate, VmView } from "./model.ts";
import { Networks } from "./networks.ts";
import { Pools } from "./pools.ts";
import { JsonCollection } from "./store/json-collection.ts";
import { vmConfigOf } from "./vm-config.ts";
import { VmSupervisor } from "./vm-supervisor.ts";
import { defaultGuestView, tabLease } from "./browser/tab-views.ts";

export const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface HypervisorOptions {
  dataDir: string;
  /** Guest RAM and vCPUs may add up to this times the host's memory and cores (default 1). */
  overcommitRatio?: number;
  /** For tests: pretend the host has this much memory / these many cores. */
  hostMemoryBytes?: number;
  hostCpus?: number;
  /** The TCP API port guests must not reach (null: no TCP listener). */
  apiPort?: () => number | null;
  warn?: (message: string) => void;
}

export type ShutdownMode = "stop" | "save";

export class Hypervisor {
  readonly events = new EventBus();
  readonly jobs = new Jobs(this.events);
  readonly budget: Budget;
  readonly pools: Pools;
  readonly networks: Networks;
  private readonly vms = new Map<string, VmSupervisor>();
  /** Names taken by a clone still in progress. */
  private readonly pendingNames = new Set<string>();
  private readonly vmStore: JsonCollection<VmRecord>;
  private readonly snapshotStores = new Map<string, JsonCollection<SnapshotView>>();
  private readonly hostMemory: number;
  private readonly hostCores: number;

  constructor(private readonly options: HypervisorOptions) {
    const { dataDir } = options;
    const warn = options.warn ?? (() => {});
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.hostMemory = options.hostMemoryBytes ?? totalmem();
    this.hostCores = options.hostCpus ?? hostCpus().length;
    const ratio = options.overcommitRatio ?? 1;
    this.budget = new Budget({ memoryBytes: Math.floor(this.hostMemory * ratio), vcpus: Math.floor(this.hostCores * ratio), overcommitRatio: ratio });
    this.vmStore = new JsonCollection<VmRecord>(join(dataDir, "state", "vms"), warn);
    this.pools = new Pools(new JsonCollection<PoolRecord>(join(dataDir, "state", "pools"), warn), join(dataDir, "pools", "default"), (image) => this.usersOf((r) => r.disks.some((d) => d.image === image)), this.jobs, this.events);
    this.networks = new Networks(new JsonCollection<NetworkRecord>(join(dataDir, "state", "networks"), warn), join(dataDir, "run"), (net) => this.usersOf((r) => r.nics.some((n) => "network" in n && n.network === net)), this.events, options.apiPort ?? (() => null));
    for (const record of this.vmStore.values()) this.vms.set(record.name, this.supervise(record));
  }

  /** Starts the VMs marked autostart (a saved one resumes from its save file). Failures are returned, not thrown. */
  async autostart(): Promise<{ vm: string; error: string }[]> {
    const failures: { vm: string; error: string }[] = [];
    await Promise.all(
      [...this.vms.values()]
        .filter((s) => s.record.autostart)
        .map((s) => s.start().catch((e: Error) => failures.push({ vm: s.name, error: e.message }))),
    );
    return failures;
  }

  /** Stops every VM, or saves each running one first so the next start resumes it. */
  async shutdown(mode: ShutdownMode): Promise<void> {
    await Promise.all(
      [...this.vms.values()].map(async (s) => {
        if (mode === "save" && s.active) {
          const file = join(this.vmDir(s.name), "saved.snap");
          try {
            await s.save(file);
            s.record = { ...s.record, saveFile: file };
            await this.vmStore.put(s.name, s.record);
          } catch (e) {
            this.options.warn?.(`VM ${s.name} could not be saved, stopping it: ${(e as Error).message}`);
          }
        }
        await s.stop();
        s.closeLease();
      }),
    );
    await this.networks.closeAll();
  }

  async metrics(): Promise<string> {
    await Promise.all([...this.vms.values()].map((s) => s.refreshStats()));
    return renderMetrics(this.host(), [...this.vms.values()].map((s) => s.view()));
  }

  /** The supervisor of `name` (for the console), or not_found. */
  supervisor(name: string): VmSupervisor {
    const s = this.vms.get(name);
    if (s === undefined) throw notFound(`VM ${name}`);
    return s;
  }

  /** Number of VMs with a worker (tests and benchmarks check nothing leaks). */
  get activeVms(): number {
    return [...this.vms.values()].filter((s) => s.active).length;
  }

  async execute(c: Command): Promise<Reply> {
    switch (c.kind) {
      case "vm.list":
        await Promise.all([...this.vms.values()].map((s) => s.refreshStats()));
        return ok([...this.vms.values()].map((s) => s.view()));
      case "vm.create":
        return { status: 201, body: await this.createVm(c.body) };
      case "vm.get": {
        const s = this.supervisor(c.vm);
        await s.refreshStats();
        return ok(s.view());
      }
      case "vm.update":
        return ok(await this.updateVm(c.vm, c.body));
      case "vm.delete":
        await this.deleteVm(c.vm, c.force);
        return { status: 204 };
      case "vm.action":
        return ok(await this.act(c.vm, c.action));
      case "vm.clone":
        return { status: 202, body: { job: this.cloneVm(c.vm, c.name) } };
      case "vm.move-to-browser": {
        const s = this.supervisor(c.vm);
        return ok({ lease: tabLease(s.record, await s.moveToBrowser()) });
      }
      case "vm.move-to-host": {
        const s = this.supervisor(c.vm);
        await s.moveToHost(c.lease, c.snapshot);
        return ok(s.view());
      }
      case "vm.reclaim": {
        const s = this.supervisor(c.vm);
        await s.reclaim();
        return ok(s.view());
      }
      case "drive.sync": {
        const lease = this.supervisor(c.vm).browserLease(c.lease);
        if (c.data === undefined) throw invalid("the body is the block to write (Content-Type: application/octet-stream)");
        lease.drive(c.index).write(c.offset, c.data);
        return { status: 204 };
      }
      case "guest.default":
        return ok(await defaultGuestView());
      case "snapshot.list":
        this.supervisor(c.vm);
        return ok(this.snapshots(c.vm).values().sort((a, b) => a.createdAt.localeCompare(b.createdAt)));
      case "snapshot.create":
        return { status: 201, body: await this.createSnapshot(c.vm, c.name) };
      case "snapshot.restore": {
        const s = this.supervisor(c.vm);
        this.snapshot(c.vm, c.snapshot);
        await s.restoreFrom(this.snapshotFile(c.vm, c.snapshot));
        return ok(s.view());
      }
      case "snapshot.delete":
        this.snapshot(c.vm, c.snapshot);
        await unlink(this.snapshotFile(c.vm, c.snapshot)).catch(() => {});
        await this.snapshots(c.vm).delete(c.snapshot);
        return { status: 204 };
      case "job.get": {
        const job = this.jobs.get(c.id);
        if (job === undefined) throw notFound(`job ${c.id}`);
        return ok(job);
      }
      case "pool.list":
        return ok(this.pools.list());
      case "pool.create":
        return { status: 201, body: await this.pools.create(c.body) };
      case "image.list":
        return ok(this.pools.images(c.pool));
      case "image.create": {
        const result = this.pools.createImage(c.pool, c.body);
        return { status: "job" in result ? 202 : 201, body: result };
      }
      case "image.clone":
        return { status: 202, body: this.pools.cloneImage(c.pool, c.image, c.name) };
      case "image.delete":
        await this.pools.deleteImage(c.pool, c.image);
        return { status: 204 };
      case "network.list":
        return ok(this.networks.list());
      case "network.create":
        return { status: 201, body: await this.networks.create(c.body) };
      case "network.get":
        return ok(this.networks.get(c.name));
      case "network.delete":
        await this.networks.delete(c.name);
        return { status: 204 };
      case "host.get":
        return ok(this.host());
    }
  }

  host(): HostView {
    const all = [...this.vms.values()];
    return {
      version: VERSION,
      cpus: this.hostCores,
      memoryBytes: this.hostMemory,
      budget: this.budget.limits,
      used: this.budget.used,
      vms: { total: all.length, running: all.filter((s) => s.active).length },
    };
  }

  private async createVm(body: VmCreate): Promise<VmView> {
    if (this.vms.has(body.name) || this.pendingNames.has(body.name)) throw conflict(`VM ${body.name} exists already`);
    const record: VmRecord = {
      name: body.name,
      memoryMiB: body.memoryMiB ?? 256,
      cpus: body.cpus ?? 1,
      autostart: body.autostart ?? false,
      boot: body.boot ?? { kind: "default-guest" },
      disks: body.disks ?? [],
      nics: body.nics ?? [],
      cpuWeight: body.cpuWeight ?? 100,
      cpuCap: body.cpuCap ?? 1,
      createdAt: new Date().toISOString(),
      everStarted: false,
      saveFile: null,
    };
    await this.check(record);
    if (this.vms.has(body.name)) throw conflict(`VM ${body.name} exists already`);
    await this.vmStore.put(record.name, record);
    const s = this.supervise(record);
    this.vms.set(record.name, s);
    this.events.publish({ type: "vm.created", vm: record.name });
    return s.view();
  }

  private async updateVm(name: string, patch: VmUpdate): Promise<VmView> {
    const s = this.supervisor(name);
    return s.exclusive(async () => {
      s.onHost("change");
      if (s.active) throw conflict(`VM ${name} is ${s.state}: stop it before changing it`);
      const record: VmRecord = { ...s.record, ...patch, saveFile: s.record.saveFile };
      if (record.saveFile !== null && (patch.memoryMiB !== undefined || patch.cpus !== undefined || patch.disks !== undefined || patch.nics !== undefined || patch.boot !== undefined)) {
        throw conflict(`VM ${name} resumes from a save at its next start: its hardware cannot change until then (delete and recreate it, or start and stop it first)`);
      }
      await this.check(record, name);
      await this.vmStore.put(name, record);
      s.record = record;
      this.events.publish({ type: "vm.updated", vm: name });
      return s.view();
    });
  }

  /** Refuses a record that could never run: budget, images, networks, boot files, writable disks shared with another VM. */
  private async check(record: VmRecord, self?: string): Promise<void> {
    if (!this.budget.fitsAlone(record.memoryMiB * 2 ** 20, record.cpus)) {
      throw invalid(`VM ${record.name} (${record.memoryMiB} MiB, ${record.cpus} vCPUs) is larger than the whole host budget`);
    }
    for (const nic of record.nics) this.networks.check(nic);
    for (const disk of record.disks) {
      this.pools.existingImage(disk.image);
      if (disk.readonly === true) continue;
      const others = this.usersOf((r) => r.name !== self && r.disks.some((d) => d.image === disk.image && d.readonly !== true));
      if (others.length > 0) throw conflict(`image ${disk.image} is attached writable to VM ${others.join(", ")}`);
    }
    await vmConfigOf(record, this.pools, this.networks);
  }

  private async deleteVm(name: string, force: boolean): Promise<void> {
    const s = this.supervisor(name);
    await s.exclusive(async () => {
      if (s.active && !force) throw conflict(`VM ${name} is ${s.state}: stop it first, or delete with ?force=true`);
      if (s.location === "browser" && !force) throw conflict(`VM ${name} runs in a browser tab: reclaim it first, or delete with ?force=true`);
    });
    s.dropLease();
    await s.stop();
    this.vms.delete(name);
    await this.vmStore.delete(name);
    this.snapshotStores.delete(name);
    rmSync(this.vmDir(name), { recursive: true, force: true });
    this.events.publish({ type: "vm.deleted", vm: name });
  }

  private async act(name: string, action: VmActionName): Promise<VmView> {
    const s = this.supervisor(name);
    s.onHost(action);
    await s[action](); // each action is the supervisor method of that name
    return s.view();
  }

  /** A running VM forks (RAM shared copy-on-write); a stopped one is copied with its writable disks. */
  private cloneVm(name: string, target: string): unknown {
    const original = this.supervisor(name);
    original.onHost("clone");
    if (this.vms.has(target) || this.pendingNames.has(target)) throw conflict(`VM ${target} exists already`);
    const writable = original.record.disks.filter((d) => d.readonly !== true);
    if (original.active && writable.length > 0) {
      throw conflict(`VM ${name} is running with writable disks (${writable.map((d) => d.image).join(", ")}): stop it to clone its disks, or attach them read-only`);
    }
    this.pendingNames.add(target);
    return this.jobs.run("vm.clone", name, async (progress) => {
      try {
        const record: VmRecord = { ...original.record, name: target, autostart: false, createdAt: new Date().toISOString(), everStarted: false, saveFile: null };
        if (original.active) {
          this.budget.reserve(target, record.memoryMiB * 2 ** 20, record.cpus);
          let copy;
          try {
            copy = await original.fork();
          } catch (e) {
            this.budget.release(target);
            throw e;
          }
          await this.vmStore.put(target, record);
          const s = this.supervise(record);
          this.vms.set(target, s);
          await s.adopt(copy);
        } else {
          const disks = [];
          for (const [i, disk] of record.disks.entries()) {
            if (disk.readonly === true) {
              disks.push(disk);
              continue;
            }
            const [pool, image] = disk.image.split("/");
            const copyName = `${image}-${target}`.slice(0, 63);
            const source = this.pools.existingImage(disk.image);
            await this.pools.copyImage(source, pool, copyName, (f) => progress((i + f) / record.disks.length));
            disks.push({ ...disk, image: `${pool}/${copyName}` });
          }
          record.disks = disks;
          await this.vmStore.put(target, record);
          this.vms.set(target, this.supervise(record));
        }
        this.events.publish({ type: "vm.created", vm: target });
        return this.vms.get(target)!.view();
      } finally {
        this.pendingNames.delete(target);
      }
    });
  }

  private async createSnapshot(vm: string, name: string): Promise<SnapshotView> {
    const s = this.supervisor(vm);
    const store = this.snapshots(vm);
    if (store.has(name)) throw conflict(`VM ${vm} has a snapshot ${name} already`);
    const { sizeBytes } = await s.save(this.snapshotFile(vm, name));
    const view: SnapshotView = { name, vm, createdAt: new Date().toISOString(), sizeBytes, parent: null };
    await store.put(name, view);
    return view;
  }

  private snapshot(vm: string, name: string): SnapshotView {
    const snap = this.snapshots(vm).get(name);
    if (snap === undefined) throw notFound(`snapshot ${name} of VM ${vm}`);
    return snap;
  }

  private snapshots(vm: string): JsonCollection<SnapshotView> {
    this.supervisor(vm);
    let store = this.snapshotStores.get(vm);
    if (store === undefined) {
      store = new JsonCollection<SnapshotView>(join(this.vmDir(vm), "snapshots"), this.options.warn);
      this.snapshotStores.set(vm, store);
    }
    return store;
  }

  private snapshotFile(vm: string, name: string): string {
    return join(this.vmDir(vm), "snapshots", `${name}.snap`);
  }

  private vmDir(vm: string): string {
    return join(this.options.dataDir, "vms", vm);
  }

  private usersOf(uses: (r: VmRecord) => boolean): string[] {
    return [...this.vms.values()].map((s) => s.record).filter(uses).map((r) => r.name);
  }

  private supervise(record: VmRecord): VmSupervisor {
    return new VmSupervisor(record, {
      budget: this.budget,
      events: this.events,
      configOf: (r) => vmConfigOf(r, this.pools, this.networks),
      persist: (r) => this.vmStore.put(r.name, r),
      leaseDir: (name) => join(this.vmDir(name), "lease"),
    });
  }
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}
