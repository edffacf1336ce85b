import { test } from "node:test";
import assert from "node:assert/strict";
import { isStateChanging, ROUTE_POLICY, routePolicy } from "../../../src/hypervisor/auth/index.ts";

test("routes resolve to their permission and decoded path parameters", () => {
  const start = routePolicy("POST", "/v1/vms/web%2D1/actions/start?x=1");
  assert.equal(start?.rule.permission, "vm.power");
  assert.equal(start?.rule.vm, "path");
  assert.deepEqual(start?.params, { name: "web-1" });
  assert.equal(routePolicy("POST", "/v1/vms")?.rule.permission, "vm.create");
  assert.equal(routePolicy("POST", "/v1/vms/a/clone")?.rule.vm, "path+body");
  assert.deepEqual(routePolicy("DELETE", "/v1/vms/a/snapshots/s1")?.params, { name: "a", snap: "s1" });
  assert.equal(routePolicy("GET", "/v1/ping")?.rule.permission, null);
  assert.equal(routePolicy("POST", "/v1/tokens")?.rule.permission, "token.write");
});

test("unknown routes, wrong methods and hostile paths match nothing (default deny)", () => {
  for (const [m, u] of [["GET", "/v1/vms/a/actions/start"], ["PUT", "/v1/vms"], ["POST", "/v1/vms/a/actions/explode"],
    ["GET", "/v1/vms/%E0%A4%A"], ["GET", "/v1/vms/a%2Fb"], ["GET", "/v1/vms/"], ["GET", "/v1/../v1/ping"], ["GET", "/v1/vms/a/b/c/d/e"]])
    assert.equal(routePolicy(m, u), null, `${m} ${u}`);
});

test("every rule is unique and every write route needs a write-class permission", () => {
  const keys = ROUTE_POLICY.map((r) => `${r.method} ${r.path}`);
  assert.equal(new Set(keys).size, keys.length);
  for (const r of ROUTE_POLICY) {
    if (isStateChanging(r.method)) assert.ok(r.permission !== null && !r.permission.endsWith(".read") && r.permission !== "vm.console", `${r.method} ${r.path}`);
    if (r.path.includes("/vms/{name}")) assert.notEqual(r.vm, "none", `${r.path} must check its VM`);
  }
});
