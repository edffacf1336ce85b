/**
 * What checking a bearer token costs per API request: TokenStore.authenticate
 * (SHA-256 of the 256-bit secret + constant-time compare) against what a
 * salted slow hash would cost instead (scrypt at Node's defaults, N=16384).
 * Run: node --import tsx bench/auth-token.ts
 */
import { scryptSync, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OWNER, TokenStore } from "../src/hypervisor/auth/index.ts";

const dir = await mkdtemp(join(tmpdir(), "tv-bench-auth-"));
try {
  const store = await TokenStore.open(dir);
  for (let i = 0; i < 999; i++) await store.create(OWNER, { name: `t${i}`, role: "viewer", scope: "*" });
  const { token } = await store.create(OWNER, { name: "probe", role: "operator", scope: "*" });
  const wrong = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");

  const perCall = (n: number, fn: () => unknown): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t0) / n / 1000;
  };
  perCall(10_000, () => store.authenticate(token)); // warm up
  const bad = perCall(100_000, () => store.authenticate(wrong));
  const ok = perCall(100_000, () => store.authenticate(token));
  const salt = randomBytes(16);
  const secret = token.slice(token.lastIndexOf("_") + 1);
  const scrypt = perCall(20, () => scryptSync(secret, salt, 32));
  console.log(`tokens in store:            1000`);
  console.log(`authenticate, valid token:  ${ok.toFixed(2)} µs`);
  console.log(`authenticate, wrong secret: ${bad.toFixed(2)} µs`);
  console.log(`scrypt (N=16384) instead:   ${scrypt.toFixed(0)} µs  (${(scrypt / ok).toFixed(0)}x)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
