/**
 * VMs this page runs in a browser tab (issue 14): "Run in browser" takes a
 * running VM from the daemon into a TabVm (a Web Worker of this page),
 * "Move to host" gives it back. The registry outlives the VM panels, so
 * selecting another VM does not stop the one running here; leaving the
 * page asks first.
 */
import { TabVm, type TabRestoreSource } from "../browser/tab-vm.ts";
import { api, csrfToken, vmPath, type Vm } from "./api.ts";

/** What POST …/actions/move-to-browser answers (the daemon's TabLease). */
export interface TabLease {
  vm: string;
  lease: string;
  memoryMiB: number;
  cpus: number;
  snapshot: { url: string; id: string; sizeBytes: number };
  drives: { index: number; url: string; sizeBytes: number; readonly: boolean; syncUrl: string }[];
  nics: { index: number; mac: string; url: string }[];
}

interface Running {
  vm: TabVm;
  lease: TabLease;
}

const running = new Map<string, Running>();
const listeners = new Set<() => void>();

addEventListener("beforeunload", (e) => {
  if (running.size > 0) e.preventDefault(); // closing the page would lose the VMs it runs (reclaim gets them back from the move)
});

export function tabVm(name: string): TabVm | null {
  return running.get(name)?.vm ?? null;
}

/** Calls `cb` whenever a VM starts or stops running in this page. */
export function onTabVmsChanged(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

function changed(): void {
  for (const cb of listeners) cb();
}

/** A path on this daemon as a WebSocket URL. */
function socketUrl(path: string): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

/** Moves VM `name` from the daemon into this page; if the tab cannot run it, the daemon takes it back (reclaim). */
export async function runInBrowser(name: string): Promise<TabVm> {
  const { lease } = await api<{ lease: TabLease }>("POST", `${vmPath(name)}/actions/move-to-browser`);
  const source: TabRestoreSource = {
    snapshotUrl: lease.snapshot.url,
    snapshotSizeBytes: lease.snapshot.sizeBytes,
    snapshotId: lease.snapshot.id,
    drives: lease.drives.map((d) => ({ url: d.url, sizeBytes: d.sizeBytes, readonly: d.readonly, syncUrl: d.syncUrl, overlayKey: `${name}/${lease.lease}/${d.index}` })),
    nics: lease.nics.map((n) => ({ mac: n.mac, url: socketUrl(n.url) })),
    request: { headers: { "x-typevisor-lease": lease.lease, "x-typevisor-csrf": csrfToken() } },
  };
  let vm: TabVm;
  try {
    vm = await TabVm.restore(source);
  } catch (e) {
    await api("POST", `${vmPath(name)}/actions/reclaim`).catch(() => {});
    throw new Error(`${name} could not run in this tab, so it runs on the host again: ${(e as Error).message}`);
  }
  running.set(name, { vm, lease });
  changed();
  return vm;
}

/** Moves VM `name` back to the daemon: pause, sync the drives, snapshot, upload; the tab's VM ends. */
export async function moveToHost(name: string): Promise<Vm> {
  const r = running.get(name);
  if (r === undefined) throw new Error(`${name} does not run in this page`);
  if (r.vm.state === "running") await r.vm.pause();
  try {
    await r.vm.syncDrives();
    const snapshot = await r.vm.snapshot();
    const view = await api<Vm>("POST", `${vmPath(name)}/actions/move-to-host`, snapshot, { "x-typevisor-lease": r.lease.lease });
    running.delete(name);
    await r.vm.stop().catch(() => {});
    changed();
    return view;
  } catch (e) {
    if (r.vm.state === "paused") await r.vm.resume().catch(() => {});
    throw e;
  }
}
