import { test } from "node:test";
import assert from "node:assert/strict";
import { primeRestorePath } from "../../src/vmm/restore-primer.ts";

test("the restore primer takes the fork path with live queues on all three virtio device kinds", () => {
  // Its devices' queues are set up as a driver would, so the copy's restore checks (and loads) ring pages.
  const { liveDevices, pagesLoaded } = primeRestorePath();
  assert.equal(liveDevices, 3);
  assert.ok(pagesLoaded >= 4 * 3, `the copy's restore loaded ${pagesLoaded} ring pages`); // blk 1 queue, net 2, rng 1; 3 pages each
});
