import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLog, OWNER } from "../../../src/hypervisor/auth/index.ts";

test("every record is one appended JSON line; secrets never reach the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tv-audit-"));
  const file = join(dir, "logs", "audit.jsonl");
  const secret = "tvk_0123456789abcdef_" + "S".repeat(43);
  try {
    const log = await AuditLog.open(file, { now: () => Date.parse("2026-01-01T00:00:00Z") });
    await log.record({ principal: OWNER, method: "POST", path: "/v1/vms/web1/actions/start", status: 200 });
    await log.record({ principal: { tokenId: "0123456789abcdef", name: "ci\nFAKE LINE", role: "operator", scope: ["a"] },
      method: "POST", path: `/v1/tokens?token=${secret}&x=1`, status: 201,
      detail: { request: { name: "n", role: "viewer" }, token: secret, nested: { password: "p", note: `leaked ${secret}` }, big: "y".repeat(100_000) } });
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.record({ principal: OWNER, method: "DELETE", path: `/v1/vms/v${i}`, status: 204 })));
    await log.close();
    const again = await AuditLog.open(file);
    await again.record({ principal: OWNER, method: "POST", path: "/v1/networks", status: 409 });
    await again.close();

    const text = await readFile(file, "utf8");
    assert.ok(!text.includes("SSSSSSSSSS"), "no token secret in the log");
    assert.ok(!text.includes('"p"'), "no password in the log");
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 53, "one line per call, appended across reopenings");
    assert.deepEqual(lines[0], { time: "2026-01-01T00:00:00.000Z", tokenId: null, principal: "owner", role: "admin", method: "POST", path: "/v1/vms/web1/actions/start", status: 200 });
    assert.equal(lines[1].principal, "ci\nFAKE LINE", "a newline in a name stays inside its JSON string");
    assert.equal(lines[1].detail.request.name, "n");
    assert.ok(lines[1].detail.big.length < 600, "long values are cut");
    assert.deepEqual(lines.slice(2, 52).map((l) => l.path), Array.from({ length: 50 }, (_, i) => `/v1/vms/v${i}`), "in call order");
    assert.equal(lines[52].status, 409);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
