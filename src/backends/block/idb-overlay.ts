/**
 * A disk's writes in a browser tab: 4 KiB blocks kept in memory (reads see
 * the tab's own writes at once) and persisted in IndexedDB under the
 * drive's overlay key, so a reload or a fresh TabVm with the same key finds
 * them. Each block remembers whether it was synced to the server since it
 * was last written (`dirty`): syncDrives() sends only those.
 *
 * Database "typevisor-overlays", store "blocks", key [overlayKey, block],
 * value { data: ArrayBuffer(4096), dirty: boolean }.
 */

export const OVERLAY_BLOCK = 4096;

const DB_NAME = "typevisor-overlays";
const STORE = "blocks";

interface StoredBlock {
  data: ArrayBuffer;
  dirty: boolean;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("IndexedDB request failed"));
  });
}

function openDb(): Promise<IDBDatabase> {
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  return request(open);
}

export class IdbOverlay {
  /** Block number → its 4 KiB (replaced, never changed in place, on each write). */
  readonly blocks = new Map<number, Uint8Array>();
  /** Blocks written since they were last synced. */
  readonly dirty = new Set<number>();
  /** Writes to IndexedDB not yet committed. */
  private pending = new Set<Promise<void>>();
  /** The first IndexedDB failure: flush() reports it (the guest gets an I/O error). */
  private failure: Error | null = null;

  private constructor(
    private readonly db: IDBDatabase,
    readonly key: string,
  ) {}

  /** Opens the overlay `key`, loading every block it holds. */
  static async open(key: string): Promise<IdbOverlay> {
    let db: IDBDatabase;
    try {
      db = await openDb();
    } catch (e) {
      throw new Error(`cannot open IndexedDB for the disk overlay "${key}": ${(e as Error)?.message ?? e}`);
    }
    const overlay = new IdbOverlay(db, key);
    const store = db.transaction(STORE, "readonly").objectStore(STORE);
    const range = IDBKeyRange.bound([key, 0], [key, Number.MAX_SAFE_INTEGER]);
    const [keys, values] = await Promise.all([request(store.getAllKeys(range)), request(store.getAll(range))]);
    keys.forEach((k, i) => {
      const block = (k as [string, number])[1];
      const value = values[i] as StoredBlock;
      overlay.blocks.set(block, new Uint8Array(value.data));
      if (value.dirty) overlay.dirty.add(block);
    });
    return overlay;
  }

  /** Each [block, data] (4 KiB in a buffer of its own, owned by the overlay from now on) becomes that block, dirty. */
  put(entries: [number, Uint8Array][]): void {
    for (const [block, data] of entries) {
      this.blocks.set(block, data);
      this.dirty.add(block);
    }
    this.persist(entries.map(([block, data]) => [block, { data: data.buffer as ArrayBuffer, dirty: true }]));
  }

  /** The server has each [block, data]: clean, unless the block was written again since. */
  synced(entries: [number, Uint8Array][]): void {
    const clean = entries.filter(([block, data]) => this.blocks.get(block) === data);
    for (const [block] of clean) this.dirty.delete(block);
    if (clean.length > 0) this.persist(clean.map(([block, data]) => [block, { data: data.buffer as ArrayBuffer, dirty: false }]));
  }

  /** Resolves once every write so far is committed; false if IndexedDB failed. */
  async flush(): Promise<boolean> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    return this.failure === null;
  }

  close(): void {
    this.db.close();
  }

  private persist(entries: [number, StoredBlock][]): void {
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    for (const [block, value] of entries) store.put(value, [this.key, block]);
    const done: Promise<void> = new Promise<void>((resolve) => {
      tx.oncomplete = () => resolve();
      tx.onerror = tx.onabort = () => {
        this.failure ??= new Error(`IndexedDB: ${tx.error?.message ?? "transaction aborted"}`);
        resolve();
      };
    }).finally(() => this.pending.delete(done));
    this.pending.add(done);
  }
}
