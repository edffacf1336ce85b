/**
 * Everything the API can ask of the hypervisor, one typed command per
 * request (as Firecracker's VmmAction): route handlers only parse a request
 * into one of these; `Hypervisor.execute` does the work.
 */
import type { ImageCreate, NetworkRecord, PoolRecord, VmActionName, VmCreate, VmUpdate } from "./model.ts";

export type Command =
  | { kind: "vm.list" }
  | { kind: "vm.create"; body: VmCreate }
  | { kind: "vm.get"; vm: string }
  | { kind: "vm.update"; vm: string; body: VmUpdate }
  | { kind: "vm.delete"; vm: string; force: boolean }
  | { kind: "vm.action"; vm: string; action: VmActionName }
  | { kind: "vm.clone"; vm: string; name: string }
  | { kind: "vm.move-to-browser"; vm: string }
  | { kind: "vm.move-to-host"; vm: string; lease: string | undefined; snapshot: Uint8Array }
  | { kind: "vm.reclaim"; vm: string }
  | { kind: "drive.sync"; vm: string; lease: string | undefined; index: number; offset: number; data: Uint8Array | undefined }
  | { kind: "guest.default" }
  | { kind: "snapshot.list"; vm: string }
  | { kind: "snapshot.create"; vm: string; name: string }
  | { kind: "snapshot.restore"; vm: string; snapshot: string }
  | { kind: "snapshot.delete"; vm: string; snapshot: string }
  | { kind: "job.get"; id: string }
  | { kind: "pool.list" }
  | { kind: "pool.create"; body: PoolRecord }
  | { kind: "image.list"; pool?: string }
  | { kind: "image.create"; pool: string; body: ImageCreate }
  | { kind: "image.clone"; pool: string; image: string; name: string }
  | { kind: "image.delete"; pool: string; image: string }
  | { kind: "network.list" }
  | { kind: "network.create"; body: NetworkRecord }
  | { kind: "network.get"; name: string }
  | { kind: "network.delete"; name: string }
  | { kind: "host.get" };

/** A command's answer: the HTTP status it maps to and the JSON body (none for 204). */
export interface Reply {
  status: 200 | 201 | 202 | 204;
  body?: unknown;
}
