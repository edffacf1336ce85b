/** What a tab boots or restores (the issue-14 contract, docs/browser-contract.md). */

export interface TabDrive {
  url: string;
  sizeBytes: number;
  readonly: boolean;
  /** IndexedDB key of this drive's write overlay. */
  overlayKey: string;
  /** Where syncDrives() PUTs dirty blocks (absent: never synced). */
  syncUrl?: string;
}

/** wss:// URL, one Ethernet frame per binary message. */
export interface TabNic {
  mac: string;
  url: string;
}

/** Headers for every request (CSRF, X-Typevisor-Lease); cookies go by themselves. */
export interface TabRequestInit {
  headers: Record<string, string>;
}

export interface TabBootSource {
  memoryMiB: number;
  cpus: number;
  kernelUrl: string;
  initrdUrl?: string;
  append: string;
  drives: TabDrive[];
  nics: TabNic[];
  request: TabRequestInit;
}

export interface TabRestoreSource {
  snapshotUrl: string;
  snapshotSizeBytes: number;
  snapshotId: string;
  drives: TabDrive[];
  nics: TabNic[];
  request: TabRequestInit;
}
