/**
 * The one table of which permission each API route needs. The daemon looks a
 * request up with `routePolicy` and refuses routes not listed here (default
 * deny). `vm` says where the VM name the permission applies to comes from:
 * the path's {name}, the body's `name` (checked once the body is parsed), or
 * both (clone: the source and the new VM must both be allowed).
 */
import type { Permission } from "./roles.ts";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
export interface RouteRule {
  method: HttpMethod;
  path: string;
  /** null: no authentication (ping, OpenAPI document). */
  permission: Permission | null;
  vm: "none" | "path" | "body" | "path+body";
}

const rule = (method: HttpMethod, path: string, permission: Permission | null, vm: RouteRule["vm"] = "none"): RouteRule =>
  ({ method, path, permission, vm });

export const ROUTE_POLICY: readonly RouteRule[] = [
  rule("GET", "/v1/ping", null),
  rule("GET", "/openapi.json", null),
  rule("GET", "/metrics", "host.read"),
  rule("GET", "/v1/host", "host.read"),
  rule("GET", "/v1/audit", "audit.read"),
  rule("GET", "/v1/events", "vm.read"), // the daemon sends only events of VMs in scope
  rule("GET", "/v1/jobs/{id}", "vm.read"), // the daemon checks the job's VM, if it has one

  rule("GET", "/v1/vms", "vm.read"), // filtered by scope
  rule("POST", "/v1/vms", "vm.create", "body"),
  rule("GET", "/v1/vms/{name}", "vm.read", "path"),
  rule("PATCH", "/v1/vms/{name}", "vm.update", "path"),
  rule("DELETE", "/v1/vms/{name}", "vm.delete", "path"),
  ...["start", "shutdown", "stop", "reboot", "pause", "resume"].map((a) => rule("POST", `/v1/vms/{name}/actions/${a}`, "vm.power", "path")),
  rule("GET", "/v1/vms/{name}/snapshots", "vm.read", "path"),
  rule("POST", "/v1/vms/{name}/snapshots", "vm.snapshot", "path"),
  rule("POST", "/v1/vms/{name}/snapshots/{snap}/restore", "vm.snapshot", "path"),
  rule("DELETE", "/v1/vms/{name}/snapshots/{snap}", "vm.snapshot", "path"),
  rule("POST", "/v1/vms/{name}/clone", "vm.clone", "path+body"),
  // Input needs vm.console.write as well: without it the daemon drops the viewer's bytes.
  rule("GET", "/v1/vms/{name}/console", "vm.console", "path"),
  // A VM in a browser tab (docs/hypervisor.md): the /browser routes also need the lease (X-Typevisor-Lease).
  ...["move-to-browser", "move-to-host", "reclaim"].map((a) => rule("POST", `/v1/vms/{name}/actions/${a}`, "vm.move", "path")),
  rule("GET", "/v1/vms/{name}/browser/snapshot", "vm.move", "path"),
  rule("GET", "/v1/vms/{name}/browser/drives/{index}", "vm.move", "path"),
  rule("HEAD", "/v1/vms/{name}/browser/drives/{index}", "vm.move", "path"),
  rule("PUT", "/v1/vms/{name}/browser/drives/{index}", "vm.move", "path"),
  rule("GET", "/v1/vms/{name}/browser/nics/{index}", "vm.move", "path"),
  rule("GET", "/v1/guest/default", "host.read"),
  rule("GET", "/v1/guest/default/{artifact}", "host.read"),

  rule("GET", "/v1/pools", "image.read"),
  rule("POST", "/v1/pools", "image.write"),
  rule("GET", "/v1/images", "image.read"),
  rule("GET", "/v1/pools/{pool}/images", "image.read"),
  rule("POST", "/v1/pools/{pool}/images", "image.write"),
  rule("POST", "/v1/pools/{pool}/images/{image}/clone", "image.write"),
  rule("DELETE", "/v1/pools/{pool}/images/{image}", "image.write"),

  rule("GET", "/v1/networks", "net.read"),
  rule("POST", "/v1/networks", "net.write"),
  rule("GET", "/v1/networks/{name}", "net.read"),
  rule("DELETE", "/v1/networks/{name}", "net.write"),

  rule("GET", "/v1/tokens", "token.read"),
  rule("POST", "/v1/tokens", "token.write"),
  rule("DELETE", "/v1/tokens/{id}", "token.write"),
];

export interface RouteMatch { rule: RouteRule; params: Record<string, string> }

/** The rule for a request (query string ignored), with its path parameters decoded; null if no route matches. */
export function routePolicy(method: string, url: string): RouteMatch | null {
  const path = url.split("?", 1)[0];
  const parts = path.split("/");
  for (const r of ROUTE_POLICY) {
    if (r.method !== method) continue;
    const pattern = r.path.split("/");
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length && ok; i++) {
      const p = pattern[i];
      if (p.startsWith("{")) {
        const value = decodeSegment(parts[i]);
        ok = value !== null && value.length > 0;
        if (ok) params[p.slice(1, -1)] = value as string;
      } else ok = p === parts[i];
    }
    if (ok) return { rule: r, params };
  }
  return null;
}

/** Whether a call changes state and so belongs in the audit log. */
export function isStateChanging(method: string): boolean {
  return method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
}

function decodeSegment(s: string): string | null {
  try {
    const v = decodeURIComponent(s);
    return v.includes("/") ? null : v;
  } catch {
    return null;
  }
}
