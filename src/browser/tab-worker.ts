/**
 * The tab's Web Worker (served as /ui/tab-worker.js): builds the machine
 * from the first message (boot or restore), runs it, and serves the page's
 * requests between run-loop slices — the loop yields every ~10 ms, so
 * console input, requests, fetches and socket frames are handled while the
 * guest runs. Console output goes to the page as messages.
 */
import type { SerialSink } from "../machine/virt-machine.ts";
import { PAGE_SIZE } from "../machine/ram-pages.ts";
import { SnapshotError } from "../vmm/snapshot-error.ts";
import type { TabEvent, TabInput, TabRequest, TabState, TabStats } from "./messages.ts";
import { snapshotBlob } from "./snapshot-blob.ts";
import { bootTab, closeTab, restoreTab, type TabMachine } from "./tab-machine.ts";

const scope = self as unknown as {
  postMessage(message: TabEvent): void;
  onmessage: ((e: MessageEvent<TabInput>) => void) | null;
  close(): void;
};

const post = (event: TabEvent) => scope.postMessage(event);
const serial: SerialSink = { write: (bytes) => post({ kind: "console", bytes }) };

let tab: TabMachine | null = null;
let state: TabState = "paused";
let ran: Promise<void> | null = null;
let closed = false;

/** Lets go of the machine's backends (IndexedDB, sockets, the snapshot source), once. */
function finish(t: TabMachine): void {
  if (closed) return;
  closed = true;
  closeTab(t);
}

function setState(next: TabState, reason?: string): void {
  state = next;
  post(reason === undefined ? { kind: "state", state } : { kind: "state", state, reason });
}

function start(t: TabMachine): void {
  tab = t;
  setState("running");
  ran = t.machine.run().then(
    () => {
      finish(t); // the guest powered off: its disks and sockets are let go at once
      setState("stopped");
    },
    (e: Error) => {
      const why = e instanceof SnapshotError ? `guest RAM could not be loaded: ${e.message}` : `internal error: ${e?.stack ?? String(e)}`;
      setState("crashed", why);
    },
  );
  if (t.pages !== null) void t.pages.stream(t.machine.bus.pages);
}

function stats(t: TabMachine): TabStats {
  const instructions = t.machine.harts.reduce((sum, hart) => sum + hart.instretNow(), 0);
  return {
    instructions,
    cpuSeconds: t.machine.busyMs / 1000,
    ramPages: t.machine.ramSize / PAGE_SIZE,
    demandPages: t.pages?.counts.demandPages ?? 0,
    streamedPages: t.pages?.counts.streamedPages ?? 0,
    diskFetchedBytes: t.disks.reduce((sum, d) => sum + d.stats.fetchedBytes, 0),
    diskSyncedBytes: t.disks.reduce((sum, d) => sum + d.stats.syncedBytes, 0),
    diskError: t.disks.find((d) => d.lastError !== null)?.lastError ?? null,
    netTxFrames: t.links.reduce((sum, l) => sum + l.stats.txFrames, 0),
    netRxFrames: t.links.reduce((sum, l) => sum + l.stats.rxFrames, 0),
  };
}

async function serve(t: TabMachine, request: TabRequest): Promise<unknown> {
  const machine = t.machine;
  switch (request.kind) {
    case "pause":
      if (state !== "running") return null;
      await machine.pause();
      setState("paused");
      return null;
    case "resume":
      if (state !== "paused") return null;
      machine.resume();
      setState("running");
      return null;
    case "stop":
      if (state === "running" || state === "paused") {
        machine.quit(0);
        machine.resume();
        await ran;
      }
      finish(t);
      setState("stopped");
      return null; // the page ends the worker once it has this reply
    case "sync-drives": {
      let bytes = 0;
      for (const disk of t.disks) bytes += await disk.sync();
      return { bytes };
    }
    case "snapshot":
      if (state !== "paused") throw new Error(`the VM is ${state}: pause it before taking a snapshot`);
      return snapshotBlob(t);
    case "stats":
      return stats(t);
  }
}

async function begin(first: TabInput): Promise<void> {
  try {
    if (first.kind === "boot") start(await bootTab(first.source, serial));
    else if (first.kind === "restore") start(await restoreTab(first.source, serial));
    else throw new Error(`the tab worker was sent ${first.kind} before boot or restore`);
  } catch (e) {
    post({ kind: "failed", message: (e as Error)?.message ?? String(e) });
    scope.close();
    return;
  }
  post({ kind: "ready" });
}

scope.onmessage = (e) => {
  const message = e.data;
  if (tab === null) {
    if (message.kind === "boot" || message.kind === "restore") void begin(message);
    else if (message.kind !== "console-in") post({ kind: "reply", id: message.id, ok: false, message: "the VM is not built yet" });
    return;
  }
  if (message.kind === "console-in") {
    tab.machine.sendInput(message.bytes);
    return;
  }
  if (message.kind === "boot" || message.kind === "restore") return;
  const t = tab;
  serve(t, message).then(
    (value) => post({ kind: "reply", id: message.id, ok: true, value }),
    (err: Error) => post({ kind: "reply", id: message.id, ok: false, message: err?.message ?? String(err) }),
  );
};
