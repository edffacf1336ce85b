/**
 * The tab's build.ts: a VirtMachine from a TabBootSource (boot images
 * fetched) or from a snapshot URL (restored lazily), with browser backends —
 * disks over HTTP Range with an IndexedDB overlay, NICs over WebSockets,
 * entropy from Web Crypto. Devices go in the same order as on the host
 * (drives, NICs, RNG), so a host snapshot fits the tab's board and back.
 */
import { HttpRangeBackend } from "../backends/block/http-range.ts";
import { IdbOverlay } from "../backends/block/idb-overlay.ts";
import { fetchAll } from "../backends/web-http.ts";
import { WebSocketLink } from "../backends/net/websocket-link.ts";
import { VIRTIO_ID_BLOCK } from "../devices/virtio/constants.ts";
import { VirtioBlk, VirtioNet, VirtioRng, type VirtioDevice } from "../devices/virtio/index.ts";
import type { MmioTransportState } from "../devices/virtio/mmio-transport.ts";
import type { VirtioBlkState } from "../devices/virtio/blk.ts";
import { LoadError } from "../loader/load-error.ts";
import { MiB, VirtMachine, type Firmware, type SerialSink } from "../machine/virt-machine.ts";
import { SnapshotError } from "../vmm/snapshot-error.ts";
import { openRangeSnapshot, RangePageSource } from "./snapshot-range.ts";
import type { TabBootSource, TabDrive, TabNic, TabRestoreSource } from "./tab-source.ts";

/** The parts of a VmConfig (src/vmm/config.ts) the tab reads from a snapshot and writes into one. */
export interface TabConfig {
  memory: number;
  harts: number;
  firmware: { kind: "builtin" | "none" | "file"; path?: string };
  drives: { file: string; readonly: boolean }[];
  nics: { backend: string; mac?: string }[];
  rng: boolean;
  icount?: number;
  [other: string]: unknown;
}

export interface TabMachine {
  machine: VirtMachine;
  /** Stored in the tab's snapshots: the host's config after a move, the tab's own after a boot. */
  config: TabConfig;
  disks: HttpRangeBackend[];
  links: WebSocketLink[];
  /** The snapshot RAM comes from (a restored tab), else null. */
  pages: RangePageSource | null;
  /** The snapshot this tab was restored from: its snapshots are diffs against it. */
  parentId: string | null;
}

interface Devices {
  virtio: VirtioDevice[];
  disks: HttpRangeBackend[];
  links: WebSocketLink[];
}

async function devices(drives: TabDrive[], diskPaths: string[], nics: TabNic[], rng: boolean, headers: Record<string, string>): Promise<Devices> {
  const made: Devices = { virtio: [], disks: [], links: [] };
  try {
    for (const [i, d] of drives.entries()) {
      const overlay = await IdbOverlay.open(d.overlayKey);
      const disk = new HttpRangeBackend({ url: d.url, size: d.sizeBytes, readOnly: d.readonly, overlay, headers, syncUrl: d.syncUrl });
      made.disks.push(disk);
      made.virtio.push(new VirtioBlk({ backend: disk, diskPath: diskPaths[i] }));
    }
    for (const n of nics) {
      const link = new WebSocketLink(n.url);
      made.links.push(link);
      made.virtio.push(new VirtioNet({ backend: link, mac: n.mac }));
    }
    if (rng) made.virtio.push(new VirtioRng());
    await Promise.all(made.links.map((l) => l.ready()));
    return made;
  } catch (e) {
    closeDevices(made);
    throw e;
  }
}

function closeDevices(d: Pick<Devices, "disks" | "links">): void {
  for (const disk of d.disks) disk.close();
  for (const link of d.links) link.close();
}

export function closeTab(tab: TabMachine): void {
  closeDevices(tab);
  tab.machine.close();
}

export async function bootTab(src: TabBootSource, serial: SerialSink): Promise<TabMachine> {
  const headers = src.request.headers;
  const [kernel, initrd] = await Promise.all([
    fetchAll(src.kernelUrl, headers, "kernel"),
    src.initrdUrl === undefined ? undefined : fetchAll(src.initrdUrl, headers, "initrd"),
  ]);
  const d = await devices(src.drives, src.drives.map((x) => x.url), src.nics, true, headers);
  try {
    const machine = new VirtMachine({
      ramSize: src.memoryMiB * MiB,
      harts: src.cpus,
      firmware: { kind: "builtin" },
      kernel: { name: src.kernelUrl, bytes: kernel },
      initrd: initrd === undefined ? undefined : { name: src.initrdUrl as string, bytes: initrd },
      bootargs: src.append,
      virtio: d.virtio,
      serial,
    });
    const config: TabConfig = {
      name: "tab",
      memory: src.memoryMiB * MiB,
      harts: src.cpus,
      firmware: { kind: "builtin" },
      kernel: src.kernelUrl,
      initrd: src.initrdUrl,
      append: src.append,
      drives: src.drives.map((x) => ({ file: x.url, readonly: x.readonly, snapshot: false })),
      nics: src.nics.map((n) => ({ backend: "null", mac: n.mac })),
      rng: true,
    };
    return { machine, config, disks: d.disks, links: d.links, pages: null, parentId: null };
  } catch (e) {
    closeDevices(d);
    throw e;
  }
}

export async function restoreTab(src: TabRestoreSource, serial: SerialSink): Promise<TabMachine> {
  const snap = await openRangeSnapshot(src.snapshotUrl, src.snapshotSizeBytes, src.request.headers);
  const name = src.snapshotUrl;
  if (snap.header.id !== src.snapshotId) {
    throw new SnapshotError(`${name} is snapshot ${snap.header.id}, not ${src.snapshotId} as the lease says`);
  }
  const config = snap.meta.config as TabConfig;
  if (!Array.isArray(config?.drives) || !Array.isArray(config.nics)) throw new SnapshotError(`${name}: the snapshot's VM config lacks drives or NICs`);
  if (config.drives.length !== src.drives.length || config.nics.length !== src.nics.length) {
    throw new SnapshotError(
      `${name}: the VM has ${config.drives.length} drives and ${config.nics.length} NICs, the tab was given ${src.drives.length} and ${src.nics.length}`,
    );
  }
  const state = snap.meta.machine;
  // The host names each disk by its file: the tab's drive i is the snapshot's block device i.
  const slots = (state.virtio?.slots ?? []) as (MmioTransportState | null)[];
  const disks = slots.filter((s) => s?.deviceId === VIRTIO_ID_BLOCK).map((s) => (s!.device ?? {}) as Partial<VirtioBlkState>);
  const diskPaths = disks.map((blk) => blk.disk?.path ?? "");
  // A host snapshot=on drive's overlay is in the saved device; the drive's URL serves the guest's view with it applied.
  for (const blk of disks) delete blk.backend;
  const d = await devices(src.drives, diskPaths, src.nics, config.rng === true, src.request.headers);
  try {
    const firmware: Firmware = state.firmware === "file" ? { kind: "file", image: { name: "", bytes: new Uint8Array(0) } } : { kind: state.firmware };
    const machine = new VirtMachine({
      ramSize: state.ramSize,
      harts: state.harts?.length,
      firmware,
      instructionsPerTick: config.icount,
      virtio: d.virtio,
      serial,
      boot: false,
    });
    machine.bootFrom(() => {
      throw new LoadError("a VM restored in a tab has its boot images on the host");
    });
    const why = machine.mismatch(state);
    if (why !== null) throw new SnapshotError(`cannot restore ${name}: ${why}`);
    const pages = new RangePageSource(snap);
    machine.bus.pages.attach(pages);
    try {
      machine.restore(state);
    } catch (e) {
      throw new SnapshotError(`cannot restore ${name}: ${(e as Error).message}`);
    }
    return { machine, config, disks: d.disks, links: d.links, pages, parentId: snap.header.id };
  } catch (e) {
    closeDevices(d);
    throw e;
  }
}
