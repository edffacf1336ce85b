/**
 * A VM in this browser tab (the issue-14 contract, docs/browser-contract.md):
 * the page's handle on a Web Worker (/ui/tab-worker.js, tab-worker.ts) that
 * runs the machine. Every method is a message to the worker and its reply.
 */
import type { TabEvent, TabInput, TabRequest, TabState, TabStats } from "./messages.ts";
import type { TabBootSource, TabRestoreSource } from "./tab-source.ts";

export type { TabBootSource, TabDrive, TabNic, TabRequestInit, TabRestoreSource } from "./tab-source.ts";
export type { TabState, TabStats } from "./messages.ts";

type Pending = { resolve: (value: unknown) => void; reject: (e: Error) => void };

export class TabVm {
  /** Where the worker script is served (the daemon's UI bundle). */
  static workerUrl = "/ui/tab-worker.js";

  private currentState: TabState = "running";
  private readonly stateListeners = new Set<(state: TabState, reason?: string) => void>();
  private readonly consoleListeners = new Set<(bytes: Uint8Array) => void>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Why the VM crashed, when it did. */
  crashReason: string | null = null;

  private constructor(private readonly worker: Worker) {}

  /** Boots a guest in a new worker; rejects with the reason (an image that cannot be fetched, bad sizes). */
  static boot(src: TabBootSource): Promise<TabVm> {
    return TabVm.start({ kind: "boot", source: src });
  }

  /** Restores a snapshot lazily: RAM pages are fetched by Range when first touched, the rest streamed in the background. */
  static restore(src: TabRestoreSource): Promise<TabVm> {
    return TabVm.start({ kind: "restore", source: src });
  }

  private static start(first: TabInput): Promise<TabVm> {
    const worker = new Worker(TabVm.workerUrl, { type: "module", name: "typevisor-tab" });
    const vm = new TabVm(worker);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        worker.terminate();
        reject(new Error(message));
      };
      worker.onerror = (e) => {
        if (!settled) return fail(`the tab worker failed to start: ${e.message || "cannot load " + TabVm.workerUrl}`);
        vm.crashReason = `the tab worker failed: ${e.message}`;
        vm.setState("crashed", vm.crashReason);
      };
      worker.onmessage = (e: MessageEvent<TabEvent>) => {
        const event = e.data;
        if (event.kind === "failed") fail(event.message);
        else if (event.kind === "ready" && !settled) {
          settled = true;
          resolve(vm);
        } else vm.receive(event);
      };
      worker.postMessage(first);
    });
  }

  get state(): TabState {
    return this.currentState;
  }

  onState(cb: (state: TabState, reason?: string) => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  onConsole(cb: (bytes: Uint8Array) => void): () => void {
    this.consoleListeners.add(cb);
    return () => this.consoleListeners.delete(cb);
  }

  writeConsole(bytes: Uint8Array): void {
    this.worker.postMessage({ kind: "console-in", bytes } satisfies TabInput);
  }

  async pause(): Promise<void> {
    await this.request("pause");
  }

  async resume(): Promise<void> {
    await this.request("resume");
  }

  /** Powers the VM off (disk writes already in the overlay stay there) and ends the worker. */
  async stop(): Promise<void> {
    try {
      if (this.currentState !== "stopped") await this.request("stop");
    } finally {
      this.worker.terminate();
      this.setState("stopped");
      for (const p of this.pending.values()) p.reject(new Error("the VM was stopped"));
      this.pending.clear();
    }
  }

  /** PUTs every overlay block written since the last sync to its drive's syncUrl; the bytes sent. */
  syncDrives(): Promise<{ bytes: number }> {
    return this.request("sync-drives") as Promise<{ bytes: number }>;
  }

  /** The paused VM as a snapshot file: full after boot(), a diff against the restored snapshot after restore(). */
  snapshot(): Promise<Blob> {
    return this.request("snapshot") as Promise<Blob>;
  }

  stats(): Promise<TabStats> {
    return this.request("stats") as Promise<TabStats>;
  }

  private request(kind: TabRequest["kind"]): Promise<unknown> {
    if (this.currentState === "stopped") return Promise.reject(new Error("the VM is stopped"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind, id } satisfies TabInput);
    });
  }

  private receive(event: TabEvent): void {
    switch (event.kind) {
      case "console":
        for (const cb of this.consoleListeners) cb(event.bytes);
        return;
      case "state":
        if (event.state === "crashed") this.crashReason = event.reason ?? "unknown";
        this.setState(event.state, event.reason);
        return;
      case "reply": {
        const p = this.pending.get(event.id);
        if (p === undefined) return;
        this.pending.delete(event.id);
        if (event.ok) p.resolve(event.value);
        else p.reject(new Error(event.message));
        return;
      }
    }
  }

  private setState(state: TabState, reason?: string): void {
    if (this.currentState === state) return;
    this.currentState = state;
    for (const cb of this.stateListeners) cb(state, reason);
  }
}
