import { test } from "node:test";
import assert from "node:assert/strict";
import { FailureThrottle } from "../../../src/hypervisor/auth/index.ts";

test("repeated failures from one address lock it out with a Retry-After; others are unaffected", () => {
  const clock = { t: 0 };
  const th = new FailureThrottle({ maxFailures: 3, windowSeconds: 60, lockoutSeconds: 10, now: () => clock.t });
  th.failed("1.2.3.4");
  th.failed("1.2.3.4");
  assert.equal(th.check("1.2.3.4").allowed, true);
  th.failed("1.2.3.4");
  assert.deepEqual(th.check("1.2.3.4"), { allowed: false, retryAfterSeconds: 10 });
  assert.equal(th.check("5.6.7.8").allowed, true);
  clock.t += 4_500;
  assert.deepEqual(th.check("1.2.3.4"), { allowed: false, retryAfterSeconds: 6 });
  clock.t += 5_500;
  assert.equal(th.check("1.2.3.4").allowed, true);
  for (let i = 0; i < 3; i++) th.failed("1.2.3.4");
  assert.equal(th.check("1.2.3.4").retryAfterSeconds, 20, "each lockout doubles");
});

test("failures spread wider than the window do not add up; a success forgets them", () => {
  const clock = { t: 0 };
  const th = new FailureThrottle({ maxFailures: 3, windowSeconds: 60, now: () => clock.t });
  for (let i = 0; i < 10; i++) {
    th.failed("a");
    clock.t += 31_000;
  }
  assert.equal(th.check("a").allowed, true);
  th.failed("b");
  th.failed("b");
  th.succeeded("b");
  th.failed("b");
  assert.equal(th.check("b").allowed, true);
});

test("memory stays bounded under a flood of addresses, forgetting the least recent first", () => {
  const th = new FailureThrottle({ maxFailures: 2, maxKeys: 100 });
  th.failed("victim");
  th.failed("victim");
  for (let i = 0; i < 50; i++) th.failed(`x${i}`);
  assert.equal(th.check("victim").allowed, false);
  for (let i = 0; i < 100_000; i++) th.failed(`flood${i}`);
  assert.equal(th.size, 100);
  assert.equal(th.check("flood99999").allowed, true);
  th.failed("flood99999");
  assert.equal(th.check("flood99999").allowed, false);
});
