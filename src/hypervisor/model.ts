/**
 * The objects the hypervisor keeps, as TypeBox schemas: one definition gives
 * the TypeScript types here, the request validation in the API and the
 * OpenAPI document (src/api/openapi.ts). Shapes follow docs/api-contract.md.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { LeaseRecord } from "./browser/lease.ts";

/** VM, image, pool, network and snapshot names: safe as file names, never a path. */
export const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$";
export const Name = Type.String({ pattern: NAME_PATTERN, description: "letters, digits, . _ - (1-63), starting with a letter or digit" });

export const Boot = Type.Union([
  Type.Object({ kind: Type.Literal("default-guest") }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal("kernel"),
      kernel: Type.String({ minLength: 1 }),
      initrd: Type.Optional(Type.String({ minLength: 1 })),
      append: Type.Optional(Type.String()),
      firmware: Type.Optional(Type.String({ minLength: 1, description: '"builtin", "none" or a firmware file path' })),
    },
    { additionalProperties: false },
  ),
]);
export type Boot = Static<typeof Boot>;

export const Disk = Type.Object(
  { image: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}/[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", description: "<pool>/<image>" }), readonly: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type Disk = Static<typeof Disk>;

export const Nic = Type.Union([
  Type.Object({ network: Name }, { additionalProperties: false }),
  Type.Object({ user: Type.String({ description: "QEMU -netdev user options, e.g. hostfwd=tcp::2222-:22" }) }, { additionalProperties: false }),
]);
export type Nic = Static<typeof Nic>;

const vmFields = {
  memoryMiB: Type.Integer({ minimum: 16, maximum: 3072 }),
  cpus: Type.Integer({ minimum: 1, maximum: 8 }),
  autostart: Type.Boolean(),
  boot: Boot,
  disks: Type.Array(Disk, { maxItems: 6 }),
  nics: Type.Array(Nic, { maxItems: 4 }),
  cpuWeight: Type.Integer({ minimum: 1, maximum: 10000, description: "recorded; not enforced (docs/hypervisor.md)" }),
  cpuCap: Type.Number({ exclusiveMinimum: 0, maximum: 1, description: "share of one host core per VM, enforced by duty-cycling" }),
};

export const VmCreate = Type.Object(
  {
    name: Name,
    memoryMiB: Type.Optional(vmFields.memoryMiB),
    cpus: Type.Optional(vmFields.cpus),
    autostart: Type.Optional(vmFields.autostart),
    boot: Type.Optional(vmFields.boot),
    disks: Type.Optional(vmFields.disks),
    nics: Type.Optional(vmFields.nics),
    cpuWeight: Type.Optional(vmFields.cpuWeight),
    cpuCap: Type.Optional(vmFields.cpuCap),
  },
  { additionalProperties: false },
);
export type VmCreate = Static<typeof VmCreate>;

export const VmUpdate = Type.Partial(Type.Object(vmFields, { additionalProperties: false }), { additionalProperties: false, minProperties: 1 });
export type VmUpdate = Static<typeof VmUpdate>;

/** What is persisted per VM (<data-dir>/state/vms/<name>.json). */
export interface VmRecord {
  name: string;
  memoryMiB: number;
  cpus: number;
  autostart: boolean;
  boot: Boot;
  disks: Disk[];
  nics: Nic[];
  cpuWeight: number;
  cpuCap: number;
  createdAt: string;
  /** Started at least once: after a daemon restart it shows as stopped, not created. */
  everStarted: boolean;
  /** A save file (--on-shutdown save) the next start resumes from. */
  saveFile: string | null;
  /** Set while the VM runs in a browser tab (docs/hypervisor.md "VMs in a browser tab"). */
  lease?: LeaseRecord | null;
}

export const VmStateName = Type.Union(["created", "running", "paused", "stopped", "crashed"].map((s) => Type.Literal(s)));
export type VmStateName = "created" | "running" | "paused" | "stopped" | "crashed";

export const VmStatsView = Type.Object({
  cpuSeconds: Type.Number(),
  instructions: Type.Number(),
  memoryBytes: Type.Number(),
  diskReadBytes: Type.Number(),
  diskWriteBytes: Type.Number(),
  netRxBytes: Type.Number(),
  netTxBytes: Type.Number(),
});
export type VmStatsView = Static<typeof VmStatsView>;

export const VmView = Type.Object({
  name: Type.String(),
  state: VmStateName,
  memoryMiB: Type.Integer(),
  cpus: Type.Integer(),
  autostart: Type.Boolean(),
  boot: Boot,
  disks: Type.Array(Disk),
  nics: Type.Array(Nic),
  cpuWeight: Type.Integer(),
  cpuCap: Type.Number(),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  crashReason: Type.Union([Type.String(), Type.Null()]),
  resumesFromSave: Type.Boolean({ description: "the next start resumes a VM saved at daemon shutdown" }),
  location: Type.Union([Type.Literal("host"), Type.Literal("browser")], { description: "browser: it runs in a browser tab (state is what it was when it moved)" }),
  stats: VmStatsView,
});
export type VmView = Static<typeof VmView>;

export const VmActionName = Type.Union(["start", "shutdown", "stop", "reboot", "pause", "resume"].map((s) => Type.Literal(s)));
export type VmActionName = "start" | "shutdown" | "stop" | "reboot" | "pause" | "resume";

/** What a tab needs to take a VM over (POST …/actions/move-to-browser); URLs are paths on the daemon. */
export const TabLease = Type.Object({
  vm: Type.String(),
  lease: Type.String({ description: "send as X-Typevisor-Lease (or ?lease= on the NIC WebSockets)" }),
  memoryMiB: Type.Integer(),
  cpus: Type.Integer(),
  snapshot: Type.Object({ url: Type.String(), id: Type.String(), sizeBytes: Type.Number() }),
  drives: Type.Array(Type.Object({ index: Type.Integer(), url: Type.String(), sizeBytes: Type.Number(), readonly: Type.Boolean(), syncUrl: Type.String() })),
  nics: Type.Array(Type.Object({ index: Type.Integer(), mac: Type.String(), url: Type.String() })),
});
export type TabLease = Static<typeof TabLease>;

export const DefaultGuestView = Type.Object({
  memoryMiB: Type.Integer(),
  append: Type.String(),
  kernel: Type.Object({ url: Type.String(), sizeBytes: Type.Number() }),
  initrd: Type.Object({ url: Type.String(), sizeBytes: Type.Number() }),
  disk: Type.Object({ url: Type.String(), sizeBytes: Type.Number() }),
});
export type DefaultGuestView = Static<typeof DefaultGuestView>;

export const SnapshotCreate = Type.Object({ name: Name }, { additionalProperties: false });
export const SnapshotView = Type.Object({
  name: Type.String(),
  vm: Type.String(),
  createdAt: Type.String(),
  sizeBytes: Type.Number(),
  parent: Type.Union([Type.String(), Type.Null()]),
});
export type SnapshotView = Static<typeof SnapshotView>;

export const CloneRequest = Type.Object({ name: Name }, { additionalProperties: false });

export const JobView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  state: Type.Union(["running", "succeeded", "failed"].map((s) => Type.Literal(s))),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  vm: Type.Optional(Type.String()),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(Type.String()),
});
export type JobView = Static<typeof JobView>;
export const JobAccepted = Type.Object({ job: JobView });

export const PoolCreate = Type.Object({ name: Name, path: Type.String({ pattern: "^/", description: "an absolute directory path" }) }, { additionalProperties: false });
export type PoolRecord = Static<typeof PoolCreate>;
export const PoolView = Type.Object({ name: Type.String(), path: Type.String(), images: Type.Integer() });

export const ImageCreate = Type.Union([
  Type.Object(
    { name: Name, sizeBytes: Type.Integer({ minimum: 512, maximum: 2 ** 44 }), format: Type.Union([Type.Literal("qcow2"), Type.Literal("raw")]) },
    { additionalProperties: false },
  ),
  Type.Object(
    { name: Name, importFrom: Type.String({ pattern: "^/", description: "an absolute path on the daemon's host" }), format: Type.Optional(Type.Union([Type.Literal("qcow2"), Type.Literal("raw")])) },
    { additionalProperties: false },
  ),
]);
export type ImageCreate = Static<typeof ImageCreate>;
export const ImageView = Type.Object({
  pool: Type.String(),
  name: Type.String(),
  format: Type.String(),
  sizeBytes: Type.Number({ description: "virtual size" }),
  allocatedBytes: Type.Number(),
  usedBy: Type.Array(Type.String()),
});
export type ImageView = Static<typeof ImageView>;

export const Forward = Type.Object(
  {
    proto: Type.Union([Type.Literal("tcp"), Type.Literal("udp")]),
    hostAddress: Type.Optional(Type.String({ format: "ipv4" })),
    hostPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    guestPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  },
  { additionalProperties: false },
);
export const NetworkCreate = Type.Object(
  {
    name: Name,
    nat: Type.Boolean({ description: "false: the guest reaches nothing outside (forwards still work)" }),
    subnet: Type.Optional(Type.String({ pattern: "^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$" })),
    forwards: Type.Optional(Type.Array(Forward, { maxItems: 32 })),
    allowApi: Type.Optional(Type.Boolean({ description: "let guests reach the daemon's TCP API port (default false)" })),
  },
  { additionalProperties: false },
);
export type NetworkRecord = Static<typeof NetworkCreate> & { createdAt?: string };
export const NetworkView = Type.Object({
  name: Type.String(),
  nat: Type.Boolean(),
  subnet: Type.String(),
  forwards: Type.Array(Forward),
  allowApi: Type.Boolean(),
  usedBy: Type.Array(Type.String()),
  socket: Type.String({ description: "the Unix socket of the network's switch (<data-dir>/run/net-<name>.sock)" }),
  switchOpen: Type.Boolean({ description: "false only when the switch could not be opened (see the daemon's log)" }),
  ports: Type.Integer({ description: "VM NICs plugged into the switch now" }),
});
export type NetworkView = Static<typeof NetworkView>;

export const HostView = Type.Object({
  version: Type.String(),
  cpus: Type.Integer(),
  memoryBytes: Type.Number(),
  budget: Type.Object({ memoryBytes: Type.Number(), vcpus: Type.Number(), overcommitRatio: Type.Number() }),
  used: Type.Object({ memoryBytes: Type.Number(), vcpus: Type.Number() }),
  vms: Type.Object({ total: Type.Integer(), running: Type.Integer() }),
});
export type HostView = Static<typeof HostView>;
