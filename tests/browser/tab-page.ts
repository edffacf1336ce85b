/**
 * The test page's script: TabVm as a page would use it, driven from the
 * Node test through page.evaluate on `window.tabs`. Each VM's console is
 * kept as text so the test can wait for a pattern.
 */
import { TabVm, type TabBootSource, type TabRestoreSource } from "../../src/browser/tab-vm.ts";

const vms = new Map<number, TabVm>();
const consoles = new Map<number, string>();
let next = 1;

function add(vm: TabVm): number {
  const id = next++;
  vms.set(id, vm);
  consoles.set(id, "");
  const decoder = new TextDecoder();
  vm.onConsole((bytes) => consoles.set(id, consoles.get(id) + decoder.decode(bytes, { stream: true })));
  return id;
}

function vm(id: number): TabVm {
  const found = vms.get(id);
  if (found === undefined) throw new Error(`no VM ${id}`);
  return found;
}

const tabs = {
  async boot(src: TabBootSource): Promise<number> {
    return add(await TabVm.boot(src));
  },
  async restore(src: TabRestoreSource): Promise<number> {
    return add(await TabVm.restore(src));
  },
  /** Boots or restores and gives back the error message (or "no error"). */
  async failure(how: "boot" | "restore", src: TabBootSource | TabRestoreSource): Promise<string> {
    try {
      const id = add(how === "boot" ? await TabVm.boot(src as TabBootSource) : await TabVm.restore(src as TabRestoreSource));
      return `no error (VM ${id})`;
    } catch (e) {
      return (e as Error).message;
    }
  },
  console: (id: number) => consoles.get(id) ?? "",
  state: (id: number) => ({ state: vm(id).state, reason: vm(id).crashReason }),
  type: (id: number, text: string) => vm(id).writeConsole(new TextEncoder().encode(text)),
  pause: (id: number) => vm(id).pause(),
  resume: (id: number) => vm(id).resume(),
  stop: (id: number) => vm(id).stop(),
  syncDrives: (id: number) => vm(id).syncDrives(),
  stats: (id: number) => vm(id).stats(),
  /** Takes a snapshot and uploads it to the test server as `name`; its size and id. */
  async snapshot(id: number, name: string): Promise<{ bytes: number; id: string }> {
    const blob = await vm(id).snapshot();
    const res = await fetch(`/snapshots/${name}`, { method: "POST", body: blob });
    if (!res.ok) throw new Error(`upload: HTTP ${res.status}`);
    const head = new Uint8Array(await blob.slice(16, 32).arrayBuffer());
    return { bytes: blob.size, id: [...head].map((b) => b.toString(16).padStart(2, "0")).join("") };
  },
};

(window as unknown as { tabs: typeof tabs }).tabs = tabs;
export type Tabs = typeof tabs;
