/** What the page (tab-vm.ts) and the tab's worker (tab-worker.ts) say to each other. */
import type { TabBootSource, TabRestoreSource } from "./tab-source.ts";

export type TabState = "running" | "paused" | "stopped" | "crashed";

export interface TabStats {
  /** Guest instructions retired by this tab. */
  instructions: number;
  /** Time the worker spent running the guest. */
  cpuSeconds: number;
  /** Guest RAM pages; pages brought in from the snapshot (restored tabs): touched by the guest, streamed. */
  ramPages: number;
  demandPages: number;
  streamedPages: number;
  /** Bytes of disk image fetched, and sent by syncDrives. */
  diskFetchedBytes: number;
  diskSyncedBytes: number;
  /** The last disk request the host could not serve (the guest got an I/O error), or null. */
  diskError: string | null;
  netTxFrames: number;
  netRxFrames: number;
}

/** The worker's first message. */
export type TabStart = { kind: "boot"; source: TabBootSource } | { kind: "restore"; source: TabRestoreSource };

export type TabRequest =
  | { kind: "pause" | "resume" | "stop" | "sync-drives" | "snapshot" | "stats"; id: number };

export type TabInput = TabStart | TabRequest | { kind: "console-in"; bytes: Uint8Array };

export type TabEvent =
  | { kind: "ready" }
  | { kind: "failed"; message: string }
  | { kind: "console"; bytes: Uint8Array }
  | { kind: "state"; state: TabState; reason?: string }
  | { kind: "reply"; id: number; ok: true; value: unknown }
  | { kind: "reply"; id: number; ok: false; message: string };
