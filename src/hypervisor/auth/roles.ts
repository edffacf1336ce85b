/**
 * Who may do what: three roles, each scoped to every VM ("*") or to named
 * VMs, in the spirit of Proxmox's path-scoped permissions. A scope narrows
 * only the vm.* permissions; a scoped token sees images, networks and the host
 * read-only, because those are shared by VMs outside its scope.
 */
export type Role = "admin" | "operator" | "viewer";
export type Scope = "*" | readonly string[];
/** tokenId null = the owner on the Unix socket (trusted by file permission). */
export interface Principal {
  tokenId: string | null;
  name: string;
  role: Role;
  scope: Scope;
}
export type Permission =
  | "vm.read" | "vm.create" | "vm.update" | "vm.delete" | "vm.power" | "vm.snapshot"
  | "vm.clone" | "vm.console" | "vm.console.write" | "vm.move"
  | "image.read" | "image.write" | "net.read" | "net.write"
  | "token.read" | "token.write" | "host.read" | "audit.read";

export const ROLES: readonly Role[] = ["viewer", "operator", "admin"];
/** viewer < operator < admin: each role holds every permission of the ones below it. */
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

const VIEWER: readonly Permission[] = [
  "vm.read", "vm.console", "image.read", "net.read", "token.read", "host.read", "audit.read",
];
const OPERATOR: readonly Permission[] = [
  ...VIEWER, "vm.power", "vm.snapshot", "vm.clone", "vm.console.write", "vm.move", "token.write",
];
const ADMIN: readonly Permission[] = [
  ...OPERATOR, "vm.create", "vm.update", "vm.delete", "image.write", "net.write",
];
export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(VIEWER),
  operator: new Set(OPERATOR),
  admin: new Set(ADMIN),
};

export const OWNER: Principal = Object.freeze({ tokenId: null, name: "owner", role: "admin", scope: "*" });

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && Object.hasOwn(RANK, value);
}

export function roleAtMost(role: Role, limit: Role): boolean {
  return RANK[role] <= RANK[limit];
}

export function scopeIncludes(scope: Scope, vmName: string): boolean {
  return scope === "*" || scope.includes(vmName);
}

export function scopeWithin(inner: Scope, outer: Scope): boolean {
  if (outer === "*") return true;
  if (inner === "*") return false;
  return inner.every((name) => outer.includes(name));
}

/**
 * May `p` use `perm` (on VM `vmName`)? For vm.* permissions of a scoped
 * principal: with a name, the name must be in scope; without one only
 * vm.read passes (a listing, which the caller filters with `scopeIncludes`),
 * so a route that carries a VM name must pass it. token.* work within the
 * scope (TokenStore narrows). audit.read needs scope "*": the log names VMs
 * outside a narrower scope.
 */
export function can(p: Principal, perm: Permission, vmName?: string): boolean {
  if (!isRole(p.role) || !ROLE_PERMISSIONS[p.role].has(perm)) return false;
  if (p.scope === "*") return true;
  if (perm === "audit.read") return false;
  if (perm.startsWith("vm.")) return vmName === undefined ? perm === "vm.read" : p.scope.includes(vmName);
  if (perm.startsWith("token.")) return true;
  return perm.endsWith(".read");
}
