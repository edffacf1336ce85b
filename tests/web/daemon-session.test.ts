// The web console inside the real daemon (in-process, TLS listener): the
// session cookie works on the API's routes with the same role as its token,
// cookie-made changes need the CSRF header, bearer calls do not, console
// upgrades check Origin, failed sign-ins share the API's throttle, and
// every API reply carries the CSP. No VM is started: creating a VM record
// and refusals are enough here (console-browser.test.ts boots one).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OWNER } from "../../src/hypervisor/auth/index.ts";
import { TestDaemon } from "../api/harness.ts";
import { call, rawSignIn, REFUSED_UPGRADE, upgradeStatus } from "./raw-https.ts";

let d: TestDaemon;
let origin: string;
let viewerToken: string;

before(async () => {
  d = await TestDaemon.start({ throttle: { maxFailures: 3, windowSeconds: 60, lockoutSeconds: 60 } });
  origin = `https://127.0.0.1:${d.daemon.tcpPort}`;
  viewerToken = (await d.daemon.tokens.create(OWNER, { name: "viewer", role: "viewer", scope: "*" })).token;
});

after(async () => {
  await d?.close();
});

test("the UI is served on the TLS listener, with the CSP on API replies too", async () => {
  const page = await call(origin, "GET", "/");
  assert.equal(page.status, 200);
  assert.match(page.body, /<script type="module" src="\/ui\/app.js">/);
  const api = await call(origin, "GET", "/v1/vms");
  assert.equal(api.status, 401, "no cookie, no bearer");
  assert.match(String(api.headers["content-security-policy"]), /script-src 'self'/);
});

test("the cookie stands for its token on API routes; changes need the CSRF header, bearer calls do not", async () => {
  const { cookie, csrf } = await rawSignIn(origin, d.adminToken);
  const list = await call(origin, "GET", "/v1/vms", { headers: { cookie } });
  assert.equal(list.status, 200, list.body);
  assert.deepEqual(JSON.parse(list.body), []);
  const vm = { name: "cookie-made", memoryMiB: 64 };
  const noCsrf = await call(origin, "POST", "/v1/vms", { headers: { cookie }, body: vm });
  assert.equal(noCsrf.status, 403);
  assert.match(JSON.parse(noCsrf.body).error.message, /x-typevisor-csrf/);
  const crossSite = await call(origin, "POST", "/v1/vms", { headers: { cookie, "x-typevisor-csrf": csrf, origin: "https://evil.example" }, body: vm });
  assert.equal(crossSite.status, 403);
  assert.equal((await d.unix("GET", "/v1/vms")).body.length, 0, "nothing was created by the refused calls");
  const made = await call(origin, "POST", "/v1/vms", { headers: { cookie, "x-typevisor-csrf": csrf, origin }, body: vm });
  assert.equal(made.status, 201, made.body);
  const bearer = await d.tcp("POST", "/v1/vms", { name: "bearer-made", memoryMiB: 64 });
  assert.equal(bearer.status, 201, "a bearer call needs no CSRF header");
  const audit = await d.unix("GET", "/v1/audit");
  assert.ok(JSON.stringify(audit.body).includes("cookie-made"), "cookie-made changes are audited like any other");
});

test("a viewer's cookie gets the viewer's rights: reads yes, power and create no", async () => {
  const { cookie, csrf } = await rawSignIn(origin, viewerToken);
  assert.equal((await call(origin, "GET", "/v1/vms/cookie-made", { headers: { cookie } })).status, 200);
  const start = await call(origin, "POST", "/v1/vms/cookie-made/actions/start", { headers: { cookie, "x-typevisor-csrf": csrf, origin } });
  assert.equal(start.status, 403);
  assert.match(JSON.parse(start.body).error.message, /viewer.*vm\.power/);
  const create = await call(origin, "POST", "/v1/vms", { headers: { cookie, "x-typevisor-csrf": csrf, origin }, body: { name: "nope" } });
  assert.equal(create.status, 403);
  const session = JSON.parse((await call(origin, "GET", "/v1/session", { headers: { cookie } })).body);
  assert.equal(session.role, "viewer");
  assert.ok(session.vmPermissions.includes("vm.console") && !session.vmPermissions.includes("vm.console.write"));
  assert.ok(!session.permissions.includes("vm.create"));
});

test("console upgrades on the cookie need the console's own Origin; the event stream opens on the cookie", async () => {
  const { cookie } = await rawSignIn(origin, viewerToken);
  assert.ok(REFUSED_UPGRADE.includes(await upgradeStatus(origin, "/v1/vms/cookie-made/console", { cookie, origin: "https://evil.example" })));
  assert.ok(REFUSED_UPGRADE.includes(await upgradeStatus(origin, "/v1/vms/cookie-made/console", { cookie })));
  assert.equal(await upgradeStatus(origin, "/v1/vms/cookie-made/console", { cookie, origin }), 101);
  assert.equal(await upgradeStatus(origin, "/v1/vms/cookie-made/console", { origin }), 401, "no cookie, no console");
  const events = await new Promise<{ status: number; type: string }>((resolve, reject) => {
    import("node:https").then(({ request }) => {
      const req = request(new URL("/v1/events", origin), { rejectUnauthorized: false, headers: { cookie } }, (res) => {
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]) });
        res.destroy();
      });
      req.on("error", reject);
      req.end();
    }, reject);
  });
  assert.equal(events.status, 200);
  assert.match(events.type, /text\/event-stream/);
});

test("failed sign-ins count in the API's throttle for that address", async () => {
  for (let i = 0; i < 3; i++) assert.equal((await call(origin, "POST", "/v1/session", { body: { token: `tvk_0000000000000000_guess${i}` } })).status, 401);
  const locked = await call(origin, "POST", "/v1/session", { body: { token: d.adminToken } });
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers["retry-after"]) > 0);
  assert.equal((await d.tcp("GET", "/v1/vms")).status, 429, "bearer calls from the address are held too");
});
