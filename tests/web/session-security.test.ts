// The web console's security over raw HTTPS: CSP on every reply, the session
// cookie's flags, CSRF and Origin checks on cookie-authenticated changes and
// WebSocket upgrades, sessions that survive a restart and die with their
// token. The plugin runs in a fastify app with the real TokenStore; the
// daemon's own routes are tested end to end in console-browser.test.ts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { generate } from "selfsigned";
import { can, OWNER, TokenStore, type Principal } from "../../src/hypervisor/auth/index.ts";
import { createWebConsole, type WebConsole } from "../../src/api/web/web-console.ts";
import { call as rawCall, rawSignIn, REFUSED_UPGRADE, upgradeStatus } from "./raw-https.ts";

let dir: string;
let tokens: TokenStore;
let adminToken: string;
let viewerToken: string;
let app: FastifyInstance;
let web: WebConsole<Principal>;
let origin: string;
let pems: { private: string; cert: string };

async function startApp(): Promise<void> {
  web = await createWebConsole<Principal>({
    authenticate: (t) => tokens.authenticate(t),
    can,
    tls: true,
    keyFile: join(dir, "web-session.key"),
  });
  app = Fastify({ https: { key: pems.private, cert: pems.cert } });
  await web.install(app);
  // What the daemon's auth hook does with a request that has no bearer header.
  app.get("/v1/whoami", async (req, reply) => {
    const p = web.resolveSession(req);
    return p ? { name: p.name, role: p.role } : reply.code(401).send({ error: { code: "unauthorized", message: "no" } });
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  origin = address;
}

const call = (method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}) => rawCall(origin, method, path, opts);
const upgrade = (path: string, headers: Record<string, string>) => upgradeStatus(origin, path, headers);
const signIn = (token: string) => rawSignIn(origin, token);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tv-web-"));
  tokens = await TokenStore.open(dir);
  adminToken = (await tokens.create(OWNER, { name: "web-admin", role: "admin", scope: "*" })).token;
  viewerToken = (await tokens.create(OWNER, { name: "web-viewer", role: "viewer", scope: "*" })).token;
  pems = await generate([{ name: "commonName", value: "127.0.0.1" }], { keySize: 2048 });
  await startApp();
});

after(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

test("the UI page carries a CSP without inline scripts, and the page has none", async () => {
  const page = await call("GET", "/");
  assert.equal(page.status, 200);
  const csp = String(page.headers["content-security-policy"]);
  // Scripts only from the daemon: no inline, no eval; WebAssembly may compile (a VM in the tab) and workers come from the daemon.
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.match(csp, /worker-src 'self'(;|$)/);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /style-src-attr 'none'/);
  // 'unsafe-inline' only for <style> elements (xterm.js's theme), never for scripts.
  assert.deepEqual(csp.split("; ").filter((d) => d.includes("unsafe")), ["script-src 'self' 'wasm-unsafe-eval'", "style-src-elem 'self' 'unsafe-inline'"]);
  assert.doesNotMatch(csp, /http:|https:|\*/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers["x-content-type-options"], "nosniff");
  assert.match(String(page.headers["strict-transport-security"]), /max-age=\d+/);
  // Every <script> names a file the daemon serves; none carries code.
  for (const m of page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
    assert.match(m[1], /src="\/ui\//);
    assert.equal(m[2].trim(), "");
  }
  assert.doesNotMatch(page.body, /\son[a-z]+=/i, "no inline event handlers");
  assert.doesNotMatch(page.body, /https?:\/\//, "no asset from elsewhere");
  const js = await call("GET", "/ui/app.js");
  assert.equal(js.status, 200);
  assert.match(String(js.headers["content-type"]), /javascript/);
  assert.ok(js.body.length > 100_000, "xterm.js and uPlot are bundled in");
  const css = await call("GET", "/ui/app.css");
  assert.match(css.body, /\.xterm/);
  assert.equal((await call("GET", "/ui/../../package.json")).status, 404);
});

test("CSP is on API replies too, errors included", async () => {
  const reply = await call("GET", "/v1/session");
  assert.equal(reply.status, 401);
  assert.match(String(reply.headers["content-security-policy"]), /default-src 'none'/);
  assert.equal(JSON.parse(reply.body).error.code, "unauthorized");
});

test("sign-in sets an HttpOnly, SameSite=Strict, Secure cookie that does not hold the token", async () => {
  const { reply, cookie, csrf } = await signIn(adminToken);
  const setCookie = String(([] as string[]).concat(reply.headers["set-cookie"] ?? [])[0]);
  assert.match(setCookie, /^tv_session=/);
  assert.match(setCookie, /HttpOnly/i);
  assert.match(setCookie, /SameSite=Strict/i);
  assert.match(setCookie, /Secure/i);
  assert.match(setCookie, /Path=\//);
  const secret = adminToken.split("_").pop()!;
  assert.ok(!setCookie.includes(secret) && !reply.body.includes(secret), "the token never comes back");
  const view = JSON.parse(reply.body);
  assert.equal(view.role, "admin");
  assert.ok(view.permissions.includes("vm.create"));
  assert.ok(csrf.length >= 32);
  const me = await call("GET", "/v1/whoami", { headers: { cookie } });
  assert.deepEqual(JSON.parse(me.body), { name: "web-admin", role: "admin" });
});

test("a bad token is refused, and a forged or altered cookie is nobody", async () => {
  const bad = await call("POST", "/v1/session", { body: { token: "tvk_nope_nope" } });
  assert.equal(bad.status, 401);
  assert.match(JSON.parse(bad.body).error.message, /not valid/);
  assert.equal((await call("POST", "/v1/session", { body: { tok: 1 } })).status, 400);
  const { cookie } = await signIn(adminToken);
  const value = cookie.slice("tv_session=".length);
  const flipped = value.slice(0, 20) + (value[20] === "A" ? "B" : "A") + value.slice(21);
  assert.equal((await call("GET", "/v1/whoami", { headers: { cookie: `tv_session=${flipped}` } })).status, 401);
  assert.equal((await call("GET", "/v1/session", { headers: { cookie: "tv_session=garbage" } })).status, 401);
});

test("sign-in from another site's page is refused (login CSRF)", async () => {
  const reply = await call("POST", "/v1/session", { body: { token: adminToken }, headers: { origin: "https://evil.example" } });
  assert.equal(reply.status, 403);
  assert.equal(reply.headers["set-cookie"], undefined);
});

test("a change made with the cookie needs the session's CSRF header and a same-origin Origin", async () => {
  const { cookie, csrf } = await signIn(viewerToken);
  const noHeader = await call("DELETE", "/v1/session", { headers: { cookie } });
  assert.equal(noHeader.status, 403);
  assert.match(JSON.parse(noHeader.body).error.message, /x-typevisor-csrf/);
  assert.equal((await call("DELETE", "/v1/session", { headers: { cookie, "x-typevisor-csrf": csrf.replace(/^./, (c) => (c === "a" ? "b" : "a")) } })).status, 403);
  assert.equal((await call("DELETE", "/v1/session", { headers: { cookie, "x-typevisor-csrf": csrf, origin: "https://evil.example" } })).status, 403);
  // Still signed in after the refused attempts; then a proper sign-out ends the session.
  assert.equal((await call("GET", "/v1/whoami", { headers: { cookie } })).status, 200);
  assert.equal((await call("DELETE", "/v1/session", { headers: { cookie, "x-typevisor-csrf": csrf, origin } })).status, 204);
  assert.equal((await call("GET", "/v1/whoami", { headers: { cookie } })).status, 401, "a copied cookie dies at sign-out");
});

test("a WebSocket upgrade on the cookie must come from the console's origin", async () => {
  const { cookie } = await signIn(adminToken);
  assert.ok(REFUSED_UPGRADE.includes(await upgrade("/v1/vms/x/console", { cookie, origin: "https://evil.example" })));
  assert.ok(REFUSED_UPGRADE.includes(await upgrade("/v1/vms/x/console", { cookie })), "no Origin at all is refused too");
  assert.notEqual(await upgrade("/v1/vms/x/console", { cookie, origin }), 403);
});

test("a session survives a daemon restart and ends when its token is revoked", async () => {
  const { cookie } = await signIn(viewerToken);
  await app.close();
  await startApp();
  const me = await call("GET", "/v1/whoami", { headers: { cookie } });
  assert.equal(me.status, 200, "the same key file opens the old cookie");
  const viewerId = viewerToken.split("_")[1];
  await tokens.revoke(OWNER, viewerId);
  assert.equal((await call("GET", "/v1/whoami", { headers: { cookie } })).status, 401);
  assert.equal((await call("GET", "/v1/session", { headers: { cookie } })).status, 401);
});
