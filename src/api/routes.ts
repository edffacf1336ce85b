/**
 * Every route of the API, as data: path, schemas (request validation and
 * the OpenAPI document come from the same TypeBox objects), and how a
 * request becomes one typed command (`command`) — handlers hold no logic.
 * The permission of each route is the auth module's ROUTE_POLICY
 * (src/hypervisor/auth/route-policy.ts); tests check both tables list the
 * same routes. A few routes are served specially (stream, WebSocket, text).
 */
import { Type, type TObject, type TSchema } from "@sinclair/typebox";
import type { Command } from "../hypervisor/commands.ts";
import {
  CloneRequest, DefaultGuestView, HostView, TabLease, ImageCreate, ImageView, JobAccepted, JobView, Name, NetworkCreate, NetworkView, PoolCreate, PoolView,
  SnapshotCreate, SnapshotView, VmCreate, VmUpdate, VmView, type ImageCreate as ImageCreateBody,
  type NetworkRecord, type PoolRecord, type VmCreate as VmCreateBody, type VmUpdate as VmUpdateBody,
} from "../hypervisor/model.ts";

/** Commands the API serves itself (tokens, audit) rather than the hypervisor. */
export type ApiCommand =
  | Command
  | { kind: "token.list" }
  | { kind: "token.create"; body: unknown }
  | { kind: "token.delete"; id: string }
  | { kind: "audit.read"; limit: number };

export type Special = "ping" | "openapi" | "metrics" | "events" | "console" | "browser-snapshot" | "browser-drive" | "browser-nic" | "guest-artifact";

export interface Parsed {
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface RouteDef {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** OpenAPI form: /v1/vms/{name} */
  path: string;
  operationId: string;
  summary: string;
  params?: TObject;
  query?: TObject;
  body?: TSchema;
  /** The body is bytes (application/octet-stream) of at most this many bytes, not JSON. */
  rawBodyLimit?: number;
  /** Success status → schema of the body (null: no body or not JSON). */
  responses: Record<number, TSchema | null>;
  command?: (req: Parsed) => ApiCommand;
  special?: Special;
}

const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
export { ErrorBody };

const VmParams = Type.Object({ name: Name });
const SnapParams = Type.Object({ name: Name, snap: Name });
const PoolParams = Type.Object({ pool: Name });
const ImageParams = Type.Object({ pool: Name, image: Name });
const TokenCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    role: Type.Union([Type.Literal("admin"), Type.Literal("operator"), Type.Literal("viewer")]),
    scope: Type.Union([Type.Literal("*"), Type.Array(Name, { minItems: 1, maxItems: 256 })]),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
const TokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  scope: Type.Union([Type.Literal("*"), Type.Array(Type.String())]),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  token: Type.Optional(Type.String({ description: "the secret, shown once at creation" })),
});

const p = (req: Parsed, key: string): string => req.params[key];
const leaseOf = (req: Parsed): string | undefined => {
  const h = req.headers["x-typevisor-lease"];
  return typeof h === "string" ? h : undefined;
};
const DriveParams = Type.Object({ name: Name, index: Type.Integer({ minimum: 0, maximum: 15 }) });
const NicParams = DriveParams;
/** The largest snapshot a tab may upload: the largest guest RAM (3 GiB) and room for the machine state. */
const MAX_SNAPSHOT_UPLOAD = 3 * 2 ** 30 + 64 * 2 ** 20;

const actions: RouteDef[] = (["start", "shutdown", "stop", "reboot", "pause", "resume"] as const).map((action) => ({
  method: "POST",
  path: `/v1/vms/{name}/actions/${action}`,
  operationId: `vm${action[0].toUpperCase()}${action.slice(1)}`,
  summary: {
    start: "Start the VM (a VM saved at daemon shutdown resumes)",
    shutdown: "Ask the guest to power off (console `poweroff`)",
    stop: "Power the VM off now",
    reboot: "Reset the VM: power off and boot again",
    pause: "Pause the guest (its clock stands still)",
    resume: "Resume a paused guest",
  }[action],
  params: VmParams,
  responses: { 200: VmView },
  command: (req) => ({ kind: "vm.action", vm: p(req, "name"), action }),
}));

export const ROUTES: readonly RouteDef[] = [
  { method: "GET", path: "/v1/ping", operationId: "ping", summary: "Liveness and version (no auth)", responses: { 200: Type.Object({ ok: Type.Boolean(), version: Type.String() }) }, special: "ping" },
  { method: "GET", path: "/openapi.json", operationId: "openapi", summary: "This document", responses: { 200: null }, special: "openapi" },
  { method: "GET", path: "/metrics", operationId: "metrics", summary: "Prometheus metrics (text format 0.0.4)", responses: { 200: null }, special: "metrics" },
  { method: "GET", path: "/v1/host", operationId: "hostGet", summary: "Host resources, budget and use", responses: { 200: HostView }, command: () => ({ kind: "host.get" }) },
  {
    method: "GET", path: "/v1/audit", operationId: "auditRead", summary: "The last entries of the audit log",
    query: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })) }),
    responses: { 200: Type.Array(Type.Unknown()) },
    command: (req) => ({ kind: "audit.read", limit: (req.query.limit as number | undefined) ?? 100 }),
  },
  { method: "GET", path: "/v1/events", operationId: "events", summary: "Server-sent events: VM state changes, creations, deletions, jobs", responses: { 200: null }, special: "events" },
  { method: "GET", path: "/v1/jobs/{id}", operationId: "jobGet", summary: "A long operation's progress", params: Type.Object({ id: Type.String({ maxLength: 64 }) }), responses: { 200: JobView }, command: (req) => ({ kind: "job.get", id: p(req, "id") }) },

  { method: "GET", path: "/v1/vms", operationId: "vmList", summary: "List VMs (those the token may read)", responses: { 200: Type.Array(VmView) }, command: () => ({ kind: "vm.list" }) },
  { method: "POST", path: "/v1/vms", operationId: "vmCreate", summary: "Define a VM (state created)", body: VmCreate, responses: { 201: VmView }, command: (req) => ({ kind: "vm.create", body: req.body as VmCreateBody }) },
  { method: "GET", path: "/v1/vms/{name}", operationId: "vmGet", summary: "One VM", params: VmParams, responses: { 200: VmView }, command: (req) => ({ kind: "vm.get", vm: p(req, "name") }) },
  { method: "PATCH", path: "/v1/vms/{name}", operationId: "vmUpdate", summary: "Change a stopped VM", params: VmParams, body: VmUpdate, responses: { 200: VmView }, command: (req) => ({ kind: "vm.update", vm: p(req, "name"), body: req.body as VmUpdateBody }) },
  {
    method: "DELETE", path: "/v1/vms/{name}", operationId: "vmDelete", summary: "Delete a stopped VM (force=true stops it first)", params: VmParams,
    query: Type.Object({ force: Type.Optional(Type.Boolean()) }), responses: { 204: null },
    command: (req) => ({ kind: "vm.delete", vm: p(req, "name"), force: req.query.force === true }),
  },
  ...actions,
  { method: "GET", path: "/v1/vms/{name}/snapshots", operationId: "snapshotList", summary: "A VM's snapshots", params: VmParams, responses: { 200: Type.Array(SnapshotView) }, command: (req) => ({ kind: "snapshot.list", vm: p(req, "name") }) },
  {
    method: "POST", path: "/v1/vms/{name}/snapshots", operationId: "snapshotCreate", summary: "Save the running VM as a snapshot", params: VmParams, body: SnapshotCreate,
    responses: { 201: SnapshotView }, command: (req) => ({ kind: "snapshot.create", vm: p(req, "name"), name: (req.body as { name: string }).name }),
  },
  { method: "POST", path: "/v1/vms/{name}/snapshots/{snap}/restore", operationId: "snapshotRestore", summary: "Run the VM from a snapshot (what runs now is stopped)", params: SnapParams, responses: { 200: VmView }, command: (req) => ({ kind: "snapshot.restore", vm: p(req, "name"), snapshot: p(req, "snap") }) },
  { method: "DELETE", path: "/v1/vms/{name}/snapshots/{snap}", operationId: "snapshotDelete", summary: "Delete a snapshot", params: SnapParams, responses: { 204: null }, command: (req) => ({ kind: "snapshot.delete", vm: p(req, "name"), snapshot: p(req, "snap") }) },
  {
    method: "POST", path: "/v1/vms/{name}/clone", operationId: "vmClone", summary: "Clone a VM as a job (running: a fork sharing RAM; stopped: disks copied)", params: VmParams, body: CloneRequest,
    responses: { 202: JobAccepted }, command: (req) => ({ kind: "vm.clone", vm: p(req, "name"), name: (req.body as { name: string }).name }),
  },
  {
    method: "POST", path: "/v1/vms/{name}/actions/move-to-browser", operationId: "vmMoveToBrowser",
    summary: "Move the running VM into a browser tab: pause, snapshot, end the host worker; answers the tab's lease", params: VmParams,
    responses: { 200: Type.Object({ lease: TabLease }) }, command: (req) => ({ kind: "vm.move-to-browser", vm: p(req, "name") }),
  },
  {
    method: "POST", path: "/v1/vms/{name}/actions/move-to-host", operationId: "vmMoveToHost",
    summary: "Bring the VM back from its tab: the body is the tab's snapshot (X-Typevisor-Lease; drives synced first)", params: VmParams,
    rawBodyLimit: MAX_SNAPSHOT_UPLOAD, responses: { 200: VmView },
    command: (req) => ({ kind: "vm.move-to-host", vm: p(req, "name"), lease: leaseOf(req), snapshot: (req.body as Uint8Array | undefined) ?? new Uint8Array(0) }),
  },
  {
    method: "POST", path: "/v1/vms/{name}/actions/reclaim", operationId: "vmReclaim",
    summary: "The tab is gone: run the VM on the host from its move-time snapshot (writes the tab did not sync are lost)", params: VmParams,
    responses: { 200: VmView }, command: (req) => ({ kind: "vm.reclaim", vm: p(req, "name") }),
  },
  { method: "GET", path: "/v1/vms/{name}/browser/snapshot", operationId: "browserSnapshot", summary: "The lease snapshot, with Range (X-Typevisor-Lease)", params: VmParams, responses: { 200: null, 206: null }, special: "browser-snapshot" },
  { method: "GET", path: "/v1/vms/{name}/browser/drives/{index}", operationId: "browserDriveRead", summary: "A drive as the guest sees it, with Range (X-Typevisor-Lease)", params: DriveParams, responses: { 200: null, 206: null }, special: "browser-drive" },
  { method: "HEAD", path: "/v1/vms/{name}/browser/drives/{index}", operationId: "browserDriveHead", summary: "A drive's size (X-Typevisor-Lease)", params: DriveParams, responses: { 200: null }, special: "browser-drive" },
  {
    method: "PUT", path: "/v1/vms/{name}/browser/drives/{index}", operationId: "browserDriveWrite",
    summary: "Write a block the tab synced: the body (n × 512 bytes, at most 4 MiB) at ?offset= (X-Typevisor-Lease)", params: DriveParams,
    query: Type.Object({ offset: Type.Integer({ minimum: 0 }) }), rawBodyLimit: 4 * 2 ** 20, responses: { 204: null },
    command: (req) => ({ kind: "drive.sync", vm: p(req, "name"), lease: leaseOf(req), index: Number(req.params.index), offset: req.query.offset as number, data: req.body as Uint8Array | undefined }),
  },
  { method: "GET", path: "/v1/vms/{name}/browser/nics/{index}", operationId: "browserNic", summary: "A NIC of the VM in a tab as a WebSocket: one Ethernet frame per binary message (?lease=)", params: NicParams, query: Type.Object({ lease: Type.Optional(Type.String({ maxLength: 128 })) }), responses: { 101: null }, special: "browser-nic" },
  { method: "GET", path: "/v1/guest/default", operationId: "guestDefault", summary: "The default guest's files, for a tab that boots one", responses: { 200: DefaultGuestView }, command: () => ({ kind: "guest.default" }) },
  {
    method: "GET", path: "/v1/guest/default/{artifact}", operationId: "guestDefaultFile", summary: "One of the default guest's files, with Range",
    params: Type.Object({ artifact: Type.Union([Type.Literal("kernel"), Type.Literal("initrd"), Type.Literal("disk")]) }), responses: { 200: null, 206: null }, special: "guest-artifact",
  },
  { method: "GET", path: "/v1/vms/{name}/console", operationId: "vmConsole", summary: "The serial console as a WebSocket (binary frames; input needs vm.console.write)", params: VmParams, responses: { 101: null }, special: "console" },

  { method: "GET", path: "/v1/pools", operationId: "poolList", summary: "Storage pools", responses: { 200: Type.Array(PoolView) }, command: () => ({ kind: "pool.list" }) },
  { method: "POST", path: "/v1/pools", operationId: "poolCreate", summary: "Add a directory as a pool", body: PoolCreate, responses: { 201: PoolView }, command: (req) => ({ kind: "pool.create", body: req.body as PoolRecord }) },
  { method: "GET", path: "/v1/images", operationId: "imageListAll", summary: "Images of every pool", responses: { 200: Type.Array(ImageView) }, command: () => ({ kind: "image.list" }) },
  { method: "GET", path: "/v1/pools/{pool}/images", operationId: "imageList", summary: "Images of one pool", params: PoolParams, responses: { 200: Type.Array(ImageView) }, command: (req) => ({ kind: "image.list", pool: p(req, "pool") }) },
  {
    method: "POST", path: "/v1/pools/{pool}/images", operationId: "imageCreate", summary: "Create an empty image, or import a file as a job", params: PoolParams, body: ImageCreate,
    responses: { 201: ImageView, 202: JobAccepted }, command: (req) => ({ kind: "image.create", pool: p(req, "pool"), body: req.body as ImageCreateBody }),
  },
  {
    method: "POST", path: "/v1/pools/{pool}/images/{image}/clone", operationId: "imageClone", summary: "Copy an image as a job", params: ImageParams, body: CloneRequest,
    responses: { 202: JobAccepted }, command: (req) => ({ kind: "image.clone", pool: p(req, "pool"), image: p(req, "image"), name: (req.body as { name: string }).name }),
  },
  { method: "DELETE", path: "/v1/pools/{pool}/images/{image}", operationId: "imageDelete", summary: "Delete an image no VM uses", params: ImageParams, responses: { 204: null }, command: (req) => ({ kind: "image.delete", pool: p(req, "pool"), image: p(req, "image") }) },

  { method: "GET", path: "/v1/networks", operationId: "networkList", summary: "Networks", responses: { 200: Type.Array(NetworkView) }, command: () => ({ kind: "network.list" }) },
  { method: "POST", path: "/v1/networks", operationId: "networkCreate", summary: "Create a network (user-mode NAT, port forwards)", body: NetworkCreate, responses: { 201: NetworkView }, command: (req) => ({ kind: "network.create", body: req.body as NetworkRecord }) },
  { method: "GET", path: "/v1/networks/{name}", operationId: "networkGet", summary: "One network", params: VmParams, responses: { 200: NetworkView }, command: (req) => ({ kind: "network.get", name: p(req, "name") }) },
  { method: "DELETE", path: "/v1/networks/{name}", operationId: "networkDelete", summary: "Delete a network no VM uses", params: VmParams, responses: { 204: null }, command: (req) => ({ kind: "network.delete", name: p(req, "name") }) },

  { method: "GET", path: "/v1/tokens", operationId: "tokenList", summary: "API tokens (own and those made with them; an unscoped admin sees all)", responses: { 200: Type.Array(TokenView) }, command: () => ({ kind: "token.list" }) },
  { method: "POST", path: "/v1/tokens", operationId: "tokenCreate", summary: "Create a token (the secret is shown once)", body: TokenCreate, responses: { 201: TokenView }, command: (req) => ({ kind: "token.create", body: req.body }) },
  { method: "DELETE", path: "/v1/tokens/{id}", operationId: "tokenDelete", summary: "Revoke a token and those made with it", params: Type.Object({ id: Type.String({ maxLength: 64 }) }), responses: { 204: null }, command: (req) => ({ kind: "token.delete", id: p(req, "id") }) },
];
