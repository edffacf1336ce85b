import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthError, bearerToken, OWNER, TokenStore, type Principal } from "../../../src/hypervisor/auth/index.ts";

async function withStore(fn: (store: TokenStore, dir: string, clock: { t: number }) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tv-tokens-"));
  const clock = { t: Date.parse("2026-01-01T00:00:00Z") };
  try {
    await fn(await TokenStore.open(dir, { now: () => clock.t }), dir, clock);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const refused = (code: string) => (e: unknown) => e instanceof AuthError && e.code === code;

test("a created token authenticates as its role and scope; the file holds only a hash", () =>
  withStore(async (store, dir) => {
    const t = await store.create(OWNER, { name: "ci", role: "operator", scope: ["web1"] });
    assert.match(t.token, /^tvk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(store.authenticate(t.token), { tokenId: t.id, name: "ci", role: "operator", scope: ["web1"] });
    assert.deepEqual(store.authenticate(`Bearer ${t.token}`)?.tokenId, t.id);
    const file = await readFile(join(dir, "tokens.json"), "utf8");
    assert.ok(!file.includes(t.token.slice(t.token.lastIndexOf("_") + 1)), "the secret is not stored");
    assert.equal((await stat(join(dir, "tokens.json"))).mode & 0o777, 0o600);
    const reopened = await TokenStore.open(dir);
    assert.equal(reopened.authenticate(t.token)?.name, "ci", "tokens survive a restart");
  }));

test("wrong, malformed, huge and hostile bearer strings are refused", () =>
  withStore(async (store) => {
    const t = await store.create(OWNER, { name: "a", role: "viewer", scope: "*" });
    const wrongSecret = t.token.slice(0, -1) + (t.token.endsWith("A") ? "B" : "A");
    for (const bad of [wrongSecret, "", "tvk_", `tvk_${t.id}_`, t.token + "x", t.token.toUpperCase(), "x".repeat(1 << 20),
      `tvk_${t.id}_${"A".repeat(10000)}`, "Bearer", "tvk_../../etc_passwd", `Basic ${t.token}`, null as unknown as string, 42 as unknown as string])
      assert.equal(store.authenticate(bad), null, String(bad).slice(0, 40));
  }));

test("a token never grants more than its creator: role, scope and expiry only narrow", () =>
  withStore(async (store, _dir, clock) => {
    const op = await store.create(OWNER, { name: "op", role: "operator", scope: ["web1", "web2"], expiresInSeconds: 3600 });
    const opP = store.authenticate(op.token) as Principal;
    await assert.rejects(store.create(opP, { name: "x", role: "admin", scope: ["web1"], expiresInSeconds: 60 }), refused("forbidden"));
    await assert.rejects(store.create(opP, { name: "x", role: "viewer", scope: "*", expiresInSeconds: 60 }), refused("forbidden"));
    await assert.rejects(store.create(opP, { name: "x", role: "viewer", scope: ["web1", "db"], expiresInSeconds: 60 }), refused("forbidden"));
    await assert.rejects(store.create(opP, { name: "x", role: "viewer", scope: ["web1"], expiresInSeconds: 7200 }), refused("forbidden"));
    const child = await store.create(opP, { name: "child", role: "operator", scope: ["web2"] });
    assert.equal(child.expiresAt, op.expiresAt, "without an expiry the child inherits its creator's");
    const viewer = store.authenticate((await store.create(opP, { name: "v", role: "viewer", scope: ["web1"] })).token) as Principal;
    await assert.rejects(store.create(viewer, { name: "x", role: "viewer", scope: ["web1"] }), refused("forbidden"), "viewers cannot create tokens");
    clock.t += 3600_000;
    assert.equal(store.authenticate(op.token), null, "expired");
    assert.equal(store.authenticate(child.token), null, "expired with its creator");
  }));

test("revoking a token revokes those made with it; others cannot see or revoke it", () =>
  withStore(async (store) => {
    const a = await store.create(OWNER, { name: "a", role: "operator", scope: "*" });
    const b = await store.create(OWNER, { name: "b", role: "operator", scope: "*" });
    const aP = store.authenticate(a.token) as Principal;
    const bP = store.authenticate(b.token) as Principal;
    const a1 = await store.create(aP, { name: "a1", role: "viewer", scope: "*" });
    assert.deepEqual(store.list(aP).map((t) => t.name).sort(), ["a", "a1"]);
    assert.deepEqual(store.list(bP).map((t) => t.name), ["b"]);
    assert.equal(store.list(OWNER).length, 3);
    assert.ok(store.list(OWNER).every((t) => !("hash" in t) && !("token" in t)), "listings hold no hash or secret");
    await assert.rejects(store.revoke(bP, a1.id), refused("not_found"));
    await assert.rejects(store.revoke(OWNER, "ffffffffffffffff"), refused("not_found"));
    await store.revoke(OWNER, a.id);
    assert.equal(store.authenticate(a.token), null);
    assert.equal(store.authenticate(a1.token), null, "made with a revoked token");
    assert.ok(store.authenticate(b.token));
  }));

test("malformed requests and unknown roles are refused as invalid", () =>
  withStore(async (store) => {
    for (const body of [null, [], "x", { name: "x", role: "root", scope: "*" }, { name: "x", role: "__proto__", scope: "*" },
      { name: "", role: "viewer", scope: "*" }, { name: "a\nb", role: "viewer", scope: "*" }, { name: "x".repeat(65), role: "viewer", scope: "*" },
      { name: "x", role: "viewer", scope: [] }, { name: "x", role: "viewer", scope: ["../etc"] }, { name: "x", role: "viewer", scope: "web1" },
      { name: "x", role: "viewer", scope: Array.from({ length: 300 }, (_, i) => `vm${i}`) },
      { name: "x", role: "viewer", scope: "*", expiresInSeconds: 0 }, { name: "x", role: "viewer", scope: "*", expiresInSeconds: 1.5 },
      { name: "x", role: "viewer", scope: "*", expiresInSeconds: "60" }])
      await assert.rejects(store.create(OWNER, body), refused("invalid"), JSON.stringify(body)?.slice(0, 60));
  }));

test("a damaged tokens.json stops the store with a clear message instead of dropping tokens", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tv-tokens-"));
  try {
    for (const text of ["{", `{"version":1,"tokens":[{"id":"zz"}]}`, `{"version":2,"tokens":[]}`]) {
      await writeFile(join(dir, "tokens.json"), text);
      await assert.rejects(TokenStore.open(dir), /tokens\.json is damaged/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("concurrent creations all reach the file", () =>
  withStore(async (store, dir) => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.create(OWNER, { name: `t${i}`, role: "viewer", scope: "*" })));
    assert.equal((await TokenStore.open(dir)).list(OWNER).length, 20);
  }));

test("bearerToken takes the token from an Authorization header and nothing else", () => {
  const t = "tvk_0123456789abcdef_" + "A".repeat(43);
  assert.equal(bearerToken(`Bearer ${t}`), t);
  assert.equal(bearerToken(`bearer  ${t}`), t);
  for (const bad of [undefined, "", "Bearer", "Bearer ", `Basic ${t}`, `Bearer ${t} extra`, `Bearer ${"x".repeat(1 << 20)}`, `Bearer\t${t}`, `Token ${t}`])
    assert.equal(bearerToken(bad), null, String(bad).slice(0, 30));
});
