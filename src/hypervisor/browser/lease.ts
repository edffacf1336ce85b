/**
 * A VM's lease while it runs in a browser tab: what is persisted in its
 * record (so a restarted daemon still knows the VM is in a tab, and can
 * reclaim it), and what the daemon holds open for the tab meanwhile — its
 * drives as the guest sees them, and the WebSocket bridges of its NICs.
 * The lease id is the tab's credential for the /browser routes (with the
 * caller's own session or token): a tab that lost the lease cannot write
 * to a VM that has moved on.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import type { DriveConfig, NicConfig } from "../../vmm/config.ts";
import { closeSnapshot, openSnapshot, type SnapshotFile } from "../../vmm/snapshot.ts";
import type { SnapshotMeta } from "../../vmm/snapshot-reader.ts";
import { conflict, notFound } from "../errors.ts";
import { LeaseDrive } from "./lease-drive.ts";

/** virtio's device id of a block device (in each virtio slot's saved state). */
const VIRTIO_ID_BLOCK = 2;

export interface LeaseRecord {
  id: string;
  snapshotFile: string;
  snapshotId: string;
  sizeBytes: number;
  movedAt: string;
  drives: DriveConfig[];
  /** Every virtio-net slot's NIC, in slot order, with its MAC. */
  nics: (NicConfig & { mac: string })[];
}

export function newLeaseId(): string {
  return randomBytes(24).toString("base64url");
}

/** The daemon's side of a lease that is live now. */
export class ActiveLease {
  private readonly drives = new Map<number, LeaseDrive>();
  private readonly bridges = new Map<number, () => void>();
  private leaseMeta: SnapshotMeta | null = null;
  /** Closed while the VM moves back to the host: nothing may open the drives again meanwhile. */
  private closed = false;

  constructor(
    readonly record: LeaseRecord,
    readonly dir: string,
  ) {}

  /** Whether `id` is this lease (constant time). */
  matches(id: string | undefined): boolean {
    if (id === undefined) return false;
    const hash = (s: string) => createHash("sha256").update(s).digest();
    return timingSafeEqual(hash(id), hash(this.record.id));
  }

  /** The lease snapshot's metadata (config, machine state), read once. */
  meta(): SnapshotMeta {
    if (this.leaseMeta === null) {
      const file: SnapshotFile = openSnapshot(this.record.snapshotFile);
      closeSnapshot(file);
      this.leaseMeta = file.meta;
    }
    return this.leaseMeta;
  }

  /** Drive `index`, opened on first use. */
  drive(index: number): LeaseDrive {
    const config = this.record.drives[index];
    if (config === undefined) throw notFound(`drive ${index} of the VM`);
    if (this.closed) throw conflict("the VM is moving back to the host");
    let drive = this.drives.get(index);
    if (drive === undefined) {
      try {
        drive = LeaseDrive.open(config, blkStates(this.meta())[index]?.backend, join(this.dir, `drive-${index}.journal`));
      } catch (e) {
        throw conflict(`drive ${index} (${config.file}) cannot be opened for the tab: ${(e as Error).message}`);
      }
      this.drives.set(index, drive);
    }
    return drive;
  }

  nic(index: number): NicConfig & { mac: string } {
    const nic = this.record.nics[index];
    if (nic === undefined) throw notFound(`NIC ${index} of the VM`);
    return nic;
  }

  /** Registers NIC `index`'s bridge (a tab that reconnects replaces its old one); returns the unregister function. */
  attachBridge(index: number, close: () => void): () => void {
    this.bridges.get(index)?.();
    this.bridges.set(index, close);
    return () => {
      if (this.bridges.get(index) === close) this.bridges.delete(index);
    };
  }

  /**
   * `meta` (from the tab's snapshot or the lease snapshot) made the host's:
   * the host's config, the lease snapshot as parent of a diff, and every
   * virtio-blk slot's disk identity and overlay taken from the daemon's
   * drives (the tab synced its writes into them).
   */
  hostMeta(meta: SnapshotMeta): SnapshotMeta {
    const lease = this.meta();
    let parent: SnapshotMeta["parent"] = null;
    if (meta.parent !== null && meta.parent !== undefined) {
      if (meta.parent.id !== this.record.snapshotId) {
        throw conflict(`the snapshot is a diff against snapshot ${String(meta.parent.id)}, not this lease's ${this.record.snapshotId}: it is stale`);
      }
      parent = { path: this.record.snapshotFile, id: this.record.snapshotId };
    }
    const theirs = (meta.machine as { virtio?: { slots?: unknown[] } }).virtio?.slots;
    const ours = (lease.machine as unknown as { virtio: { slots: ({ deviceId: number; device: { disk: unknown } } | null)[] } }).virtio.slots;
    if (!Array.isArray(theirs) || theirs.length !== ours.length) throw conflict("the snapshot's virtio slots differ from the VM's");
    let drive = 0;
    const slots = theirs.map((slot, i) => {
      const own = ours[i];
      if (own?.deviceId !== VIRTIO_ID_BLOCK) return slot;
      const s = slot as { deviceId?: number; device?: Record<string, unknown> } | null;
      if (s?.deviceId !== VIRTIO_ID_BLOCK || typeof s.device !== "object" || s.device === null) throw conflict(`the snapshot's virtio slot ${i} is not the VM's disk`);
      const overlay = this.drive(drive++).overlayState();
      const device: Record<string, unknown> = { ...s.device, disk: own.device.disk };
      if (overlay === undefined) delete device.backend;
      else device.backend = overlay;
      return { ...s, device };
    });
    return { config: lease.config, machine: { ...meta.machine, virtio: { ...(meta.machine.virtio as object), slots } } as SnapshotMeta["machine"], parent };
  }

  /** After a failed move back to the host: the tab may use the drives again. */
  reopen(): void {
    this.closed = false;
  }

  /** Releases the drives (their images and locks) and ends the NIC bridges. */
  close(): void {
    this.closed = true;
    for (const close of [...this.bridges.values()]) close();
    this.bridges.clear();
    for (const d of this.drives.values()) d.close();
    this.drives.clear();
  }
}

/** The virtio-blk device states of a machine state, in slot order (= the VM's drive order). */
function blkStates(meta: SnapshotMeta): { backend?: unknown }[] {
  const slots = (meta.machine as unknown as { virtio: { slots: ({ deviceId: number; device: { backend?: unknown } } | null)[] } }).virtio.slots;
  return slots.filter((s) => s?.deviceId === VIRTIO_ID_BLOCK).map((s) => s!.device);
}
