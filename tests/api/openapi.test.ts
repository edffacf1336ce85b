/**
 * The OpenAPI document served at /openapi.json lists exactly the routes the
 * daemon serves, each with the permission of the auth module's route policy;
 * and malformed bodies on every route that takes one get a 4xx with a
 * message, never a 500.
 */
import { test } from "node:test";
import { statSync } from "node:fs";
import assert from "node:assert/strict";
import { ROUTE_POLICY } from "../../src/hypervisor/auth/index.ts";
import { ROUTES } from "../../src/api/routes.ts";
import { buildApi } from "../../src/api/server.ts";
import { TestDaemon } from "./harness.ts";
import { pino } from "pino";

const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

test("every served route is documented in /openapi.json and has a permission; every documented route is served", async () => {
  const d = await TestDaemon.start();
  try {
    const doc = (await d.tcp("GET", "/openapi.json", undefined, null)).body;
    assert.equal(doc.openapi, "3.0.3");
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { "x-permission": string | null; responses: object }>>)) {
      for (const [method, op] of Object.entries(methods)) {
        documented.add(key(method, path));
        const rule = ROUTE_POLICY.find((r) => key(r.method, r.path) === key(method, path));
        assert.ok(rule, `${key(method, path)} has a rule in ROUTE_POLICY`);
        assert.equal(op["x-permission"], rule.permission, `${key(method, path)} documents its permission`);
      }
    }
    // What Fastify actually registered, read back from the app.
    const served = new Set<string>();
    const app = await buildApi(
      { hypervisor: d.daemon.hypervisor, tokens: d.daemon.tokens, throttle: undefined as never, audit: undefined as never, auditFile: "", logger: pino({ level: "silent" }) },
      { kind: "unix" },
    );
    await app.ready();
    for (const r of ROUTES) {
      const found = app.hasRoute({ method: r.method, url: r.path.replace(/\{(\w+)\}/g, ":$1") });
      assert.ok(found, `${key(r.method, r.path)} is served`);
      served.add(key(r.method, r.path));
    }
    await app.close();
    assert.deepEqual([...served].sort(), [...documented].sort(), "served = documented");
    assert.deepEqual(ROUTE_POLICY.map((r) => key(r.method, r.path)).sort(), [...documented].sort(), "route policy = documented");
  } finally {
    await d.close();
  }
});

test("bad bodies and parameters on every route get 4xx with a code and a message, never 500", async () => {
  const d = await TestDaemon.start();
  const junk: unknown[] = ["{not json", "[]", "null", "42", '"text"', { name: 7 }, { name: "../etc" }, { name: "ok", extra: true }, { name: "x".repeat(300) }, { name: "a", memoryMiB: -1 }, { name: "a", nics: [{ user: "bogus=1" }] }, { name: "a", boot: { kind: "kernel", kernel: "/nonexistent" } }, { name: "a", disks: [{ image: "default/missing" }] }];
  try {
    for (const r of ROUTES) {
      if (r.special !== undefined) continue;
      const path = r.path.replace(/\{(\w+)\}/g, (_, p: string) => (p === "id" ? "x" : `t-${p}`));
      const bodies = r.body === undefined ? [undefined] : junk;
      for (const body of bodies) {
        const res = await d.unix(r.method, path, body);
        assert.ok(res.status < 500, `${key(r.method, path)} ${JSON.stringify(body)} → ${res.status} ${res.text}`);
        if (res.status >= 400) {
          assert.equal(typeof res.body?.error?.code, "string", `${key(r.method, path)}: error code`);
          assert.ok(res.body.error.message.length > 0, `${key(r.method, path)}: error message`);
        }
      }
    }
    assert.equal(statSync(d.daemon.socketPath).mode & 0o777, 0o600, "the Unix socket is the owner's alone");
    const unknown = await d.unix("GET", "/v1/nothing");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "not_found");
  } finally {
    await d.close();
  }
});
