/**
 * Role checks for every route, table-driven from the route list: each
 * role (and a scoped token) gets 403 exactly where the auth module's can()
 * says no, and something other than 401/403 elsewhere; no token → 401;
 * repeated failures → 429; state-changing calls are audited; console
 * input needs vm.console.write.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { request as httpsRequest } from "node:https";
import { can, OWNER, routePolicy, type Principal } from "../../src/hypervisor/auth/index.ts";
import { ROUTES, type RouteDef } from "../../src/api/routes.ts";
import { TestDaemon } from "./harness.ts";
import { echoVmBody } from "./small-guest.ts";
import { ConsoleClient } from "./ws-client.ts";

const IN = "vm-in";
const OUT = "vm-out";

/** A body that passes validation (so authorization is what decides), naming VM `vm` where a body names one. */
function bodyFor(r: RouteDef, vm: string): unknown {
  switch (r.operationId) {
    case "vmCreate":
      return { name: vm, boot: { kind: "kernel", kernel: "/nonexistent/kernel" } };
    case "vmUpdate":
      return { memoryMiB: 64 };
    case "snapshotCreate":
    case "imageClone":
      return { name: "s1" };
    case "vmClone":
      return { name: vm };
    case "poolCreate":
      return { name: "p1", path: "/proc/typevisor-no-such-dir" }; // refused: Node's recursive mkdir would spin there
    case "imageCreate":
      return { name: "i1", sizeBytes: 1 << 20, format: "raw" };
    case "networkCreate":
      return { name: "n1", nat: true, subnet: "999.0.0.0/24" };
    case "tokenCreate":
      return { name: "t", role: "viewer", scope: [IN] };
    default:
      return undefined;
  }
}

function pathFor(r: RouteDef, vm: string): string {
  return r.path.replace(/\{(\w+)\}/g, (_, p: string) => (p === "name" && r.path.startsWith("/v1/vms") ? vm : p === "pool" ? "nopool" : `no-${p}`));
}

/** Status of a request whose answer may be an endless stream (events): the status line is enough. */
function status(d: TestDaemon, method: string, path: string, token: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const req = httpsRequest({ host: "127.0.0.1", port: d.daemon.tcpPort!, method, path, headers, ca: d.ca });
    req.on("error", reject);
    req.on("response", (res) => {
      resolve(res.statusCode!);
      res.destroy();
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test("every route × role: 403 exactly where can() refuses", async () => {
  const d = await TestDaemon.start();
  try {
    const principals: { p: Principal; token: string }[] = [];
    for (const [role, scope] of [["viewer", "*"], ["operator", "*"], ["admin", "*"], ["viewer", [IN]], ["operator", [IN]], ["admin", [IN]]] as const) {
      const t = await d.daemon.tokens.create(OWNER, { name: `${role}-${scope}`, role, scope });
      principals.push({ p: d.daemon.tokens.authenticate(t.token)!, token: t.token });
    }
    let checked = 0;
    for (const r of ROUTES) {
      const rule = routePolicy(r.method, r.path.replace(/\{(\w+)\}/g, "x"))!.rule;
      for (const { p, token } of principals) {
        for (const vm of [IN, OUT]) {
          const body = bodyFor(r, vm);
          const pathVm = rule.vm === "path" || rule.vm === "path+body" ? vm : undefined;
          const bodyVm = rule.vm === "body" || rule.vm === "path+body" ? (body as { name: string }).name : undefined;
          const allowed =
            rule.permission === null ||
            (rule.vm === "none" ? can(p, rule.permission) : (pathVm === undefined || can(p, rule.permission, pathVm)) && (bodyVm === undefined || can(p, rule.permission, bodyVm)));
          const got = await status(d, r.method, pathFor(r, vm), token, body);
          const label = `${r.method} ${pathFor(r, vm)} as ${p.role}/${p.scope === "*" ? "*" : p.scope.join(",")}`;
          if (allowed) assert.ok(got !== 401 && got !== 403, `${label}: allowed, got ${got}`);
          else assert.equal(got, 403, `${label}: forbidden`);
          checked++;
        }
      }
    }
    assert.ok(checked >= ROUTES.length * 12);
  } finally {
    await d.close();
  }
});

test("no token → 401 on every route that needs one; repeated failures → 429; refused and accepted changes are audited", async () => {
  const d = await TestDaemon.start({ throttle: { maxFailures: 1000 } });
  let secret = "";
  try {
    for (const r of ROUTES) {
      const rule = routePolicy(r.method, r.path.replace(/\{(\w+)\}/g, "x"))!.rule;
      const res = await d.tcp(r.method, pathFor(r, IN), bodyFor(r, IN), null);
      assert.equal(res.status, rule.permission === null ? 200 : 401, `${r.method} ${r.path} without a token`);
    }
    const created = await d.tcp("POST", "/v1/tokens", { name: "ci", role: "viewer", scope: "*" });
    assert.equal(created.status, 201);
    assert.match(created.body.token, /^tvk_/);
    secret = created.body.token;
  } finally {
    await d.close(false);
  }
  const audit = readFileSync(join(d.dataDir, "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(audit.some((e) => e.method === "POST" && e.path === "/v1/tokens" && e.status === 201 && e.principal === "test-admin"), "accepted token creation audited");
  assert.ok(audit.some((e) => e.method === "POST" && e.path === "/v1/vms" && e.status === 401), "refused creation audited");
  assert.ok(!readFileSync(join(d.dataDir, "audit.log"), "utf8").includes(secret), "the new secret never reaches the audit log");
  rmSync(d.dataDir, { recursive: true, force: true });

  const throttled = await TestDaemon.start({ throttle: { maxFailures: 3, lockoutSeconds: 60 } });
  try {
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await throttled.tcp("GET", "/v1/vms", undefined, "tvk_0000000000000000_bad")).status);
    assert.deepEqual(codes, [401, 401, 401, 429, 429]);
    assert.equal((await throttled.tcp("GET", "/v1/vms")).status, 429, "even a good token waits out the lockout from that address");
  } finally {
    await throttled.close();
  }
});

test("console: a viewer sees output but its input is dropped; an operator's input reaches the guest", async () => {
  const d = await TestDaemon.start();
  try {
    assert.equal((await d.unix("POST", "/v1/vms", await echoVmBody("echo1"))).status, 201);
    assert.equal((await d.unix("POST", "/v1/vms/echo1/actions/start")).body.state, "running");
    const viewer = (await d.daemon.tokens.create(OWNER, { name: "v", role: "viewer", scope: "*" })).token;
    const operator = (await d.daemon.tokens.create(OWNER, { name: "o", role: "operator", scope: ["echo1"] })).token;
    const v = await ConsoleClient.open(d.endpoint, "echo1", viewer);
    await v.waitFor(">"); // the scrollback: the guest's prompt
    v.send("abc");
    const o = await ConsoleClient.open(d.endpoint, "echo1", operator);
    o.send("xyz");
    await o.waitFor("yz{");
    await v.waitFor("yz{"); // the viewer sees the operator's echo...
    assert.ok(!v.output.includes("bcd"), "...but its own input never reached the guest");
    v.close();
    o.close();
    const outsider = (await d.daemon.tokens.create(OWNER, { name: "x", role: "operator", scope: ["other"] })).token;
    await assert.rejects(ConsoleClient.open(d.endpoint, "echo1", outsider), /HTTP 403/);
  } finally {
    await d.close();
  }
});
